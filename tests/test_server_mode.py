"""Client/server mode: the CLI and the assistant against a real `chroma run` server,
several processes sharing it, and a server that is down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import SAMPLES, free_port, run_cli, start_chroma, unique_collection

from assistant import NewsAssistant, StoreError, load_settings
from index import ChromaStore

pytestmark = [pytest.mark.server, pytest.mark.slow]
GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


@pytest.fixture
def server_env(chroma_server, tmp_path):
    host, port = chroma_server
    return {
        "ASSISTANT_CHROMA_HOST": host,
        "ASSISTANT_CHROMA_PORT": str(port),
        "ASSISTANT_COLLECTION": unique_collection(),
        # The data dir still holds per-process caches; the index itself is on the server.
        "ASSISTANT_DATA_DIR": str(tmp_path / "local"),
    }


def test_cli_ingests_and_answers_through_the_server(server_env, tmp_path):
    report = json.loads(run_cli(["ingest", str(SAMPLES), "--json"], env=server_env).stdout)
    assert report["added"] == 7 and not report["failed"]
    again = json.loads(run_cli(["ingest", str(SAMPLES), "--json"], env=server_env).stdout)
    assert (again["added"], again["unchanged"], again["chunks"]) == (0, 7, 0)
    answer = json.loads(
        run_cli(["ask", "Who is GEM partnering with?", "--json"], env=server_env).stdout
    )
    assert "Ascend Elements" in answer["answer"]
    assert answer["citations"][0]["article_id"] == GEM_URL
    stats = json.loads(run_cli(["stats", "--json"], env=server_env).stdout)
    assert stats["articles"] == 7 and stats["store"].startswith("http://")
    assert not (tmp_path / "local" / "chroma").exists(), "nothing was written to the local store"
    check = json.loads(run_cli(["check", "--json"], env=server_env).stdout)
    assert check["ok"] and check["articles"] == 7


def test_a_running_assistant_sees_what_another_process_ingested(server_env, embedder, tmp_path):
    settings = load_settings(
        chroma_host=server_env["ASSISTANT_CHROMA_HOST"],
        chroma_port=int(server_env["ASSISTANT_CHROMA_PORT"]),
        collection=server_env["ASSISTANT_COLLECTION"],
        data_dir=tmp_path / "app-a",
        llm="extractive",
    )
    app_a = NewsAssistant(settings, embedder=embedder)
    app_a.ingest([SAMPLES])
    question = "Which company opened the Quokka lithium refinery in Tasmania?"
    assert app_a.ask(question).refused

    news = tmp_path / "news"
    news.mkdir()
    (news / "quokka.md").write_text(
        "---\ntitle: Quokka Metals opens Tasmanian lithium refinery\nsource: Island Post\n"
        "date: 2025-10-01\nurl: https://example.com/island-post/quokka\n---\n"
        "Quokka Metals opened the Quokka lithium refinery in Tasmania on Wednesday.\n"
    )
    other_process = run_cli(["ingest", str(news), "--json"], env=server_env, process=True)
    assert json.loads(other_process.stdout)["added"] == 1

    answer = app_a.ask(question)
    assert not answer.refused and "Quokka Metals" in answer.answer
    assert answer.citations[0].article_id == "https://example.com/island-post/quokka"


def test_a_server_that_is_down_gives_one_clear_error(tmp_path):
    env = {
        "ASSISTANT_CHROMA_HOST": "127.0.0.1",
        "ASSISTANT_CHROMA_PORT": str(free_port()),
        "ASSISTANT_DATA_DIR": str(tmp_path),
    }
    result = run_cli(["stats"], env=env)
    assert result.returncode == 1
    assert "cannot open the Chroma server" in result.stderr and "chroma run" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(StoreError, match="ASSISTANT_CHROMA_HOST"):
        _ = NewsAssistant(
            load_settings(chroma_host="127.0.0.1", chroma_port=free_port(), data_dir=tmp_path)
        ).store


def test_a_server_that_drops_mid_ingest_fails_clearly_and_the_next_run_resumes(tmp_path):
    from test_crash_safety import make_corpus

    news = tmp_path / "news"
    total = make_corpus(news, files=3, per_file=30)
    port = free_port()
    env = {
        "ASSISTANT_CHROMA_HOST": "127.0.0.1",
        "ASSISTANT_CHROMA_PORT": str(port),
        "ASSISTANT_DATA_DIR": str(tmp_path / "local"),
        "ASSISTANT_INGEST_BATCH": "8",
    }
    server = start_chroma(tmp_path / "server", port)
    try:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "ingest", str(news), "--json"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        store = ChromaStore(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 120
        while store.counts()[1] < 16 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.kill()
        server.wait()
        started = time.monotonic()
        _, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 1, err
        assert time.monotonic() - started > 5, "it retried with backoff before giving up"
        assert "Traceback" not in err and "127.0.0.1" in err, err[-3000:]
        assert "run the ingest again" in err or "failed" in err

        server = start_chroma(tmp_path / "server", port)
        resumed = run_cli(["ingest", str(news), "--json"], env=env)
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert report["added"] + report["unchanged"] == total and report["added"] > 0
        check = json.loads(run_cli(["check", "--json"], env=env).stdout)
        assert check["ok"] and check["articles"] == total
    finally:
        server.kill()

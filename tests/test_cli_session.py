"""The CLI as a new user meets it: notes printed with the answer, an empty or missing
index named, the data dir skipped by `ingest .`, follow-ups with `ask --continue`, and
questions answered through a running `assistant serve` on the same data dir."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, free_port, run_cli
from openai_server import Reply

pytestmark = pytest.mark.slow
GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


@pytest.fixture
def data(tmp_path, sample_dir):
    target = tmp_path / "data"
    shutil.copytree(sample_dir, target)
    return target


def test_plain_output_prints_the_notes(data, tmp_path):
    dated = run_cli(
        ["ask", "What did GEM announce this week?", "--as-of", "2025-11-06"],
        cwd=tmp_path,
        data=data,
    )
    assert dated.returncode == 0, dated.stderr
    assert "Note: “this week” was read as" in dated.stdout
    down = run_cli(
        ["ask", "Who is GEM partnering with?"],
        cwd=tmp_path,
        data=data,
        env={
            "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "ASSISTANT_LLM_RETRIES": "0",
        },
    )
    assert down.returncode == 0, down.stderr
    assert "Note: The LLM was unavailable, so this answer quotes the articles" in down.stdout
    assert "Ascend Elements" in down.stdout


def test_asking_where_there_is_no_index_says_so_and_creates_nothing(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli(["ask", "Who is GEM partnering with?"], cwd=elsewhere)
    assert result.returncode == 2
    assert f"there is no index in {elsewhere / 'data'}" in result.stderr
    assert "ASSISTANT_DATA_DIR" in result.stderr and "assistant ingest" in result.stderr
    assert not (elsewhere / "data").exists()


def test_asking_an_empty_index_says_so(tmp_path, data):
    run_cli(["remove", str(SAMPLES)], cwd=tmp_path, data=data)
    result = run_cli(["ask", "Who is GEM partnering with?"], cwd=tmp_path, data=data)
    assert result.returncode == 2, result.stdout
    assert f"the index in {data / 'chroma'} is empty" in result.stderr


def test_ingest_dot_skips_the_data_dir(tmp_path):
    folder = tmp_path / "news"
    shutil.copytree(SAMPLES, folder)
    first = run_cli(["ingest", ".", "--json"], cwd=folder)
    assert first.returncode == 0, first.stdout
    assert (folder / "data" / "chroma").is_dir()
    again = run_cli(["ingest", ".", "--json"], cwd=folder)
    report = json.loads(again.stdout)
    assert again.returncode == 0 and report["failed"] == []
    assert report["unchanged"] == 7
    assert not any("data" in Path(f["path"]).parts for f in report["files"])


def test_follow_ups_continue_the_conversation(tmp_path, data):
    first = run_cli(["ask", "Who is GEM partnering with?", "--json"], cwd=tmp_path, data=data)
    assert first.returncode == 0, first.stderr
    follow = run_cli(
        ["ask", "-c", "And when was that announced?", "--json"], cwd=tmp_path, data=data
    )
    answer = json.loads(follow.stdout)
    assert "GEM" in answer["standalone_question"]
    assert answer["citations"][0]["article_id"] == GEM_URL
    turns = json.loads((data / "conversation.json").read_text(encoding="utf-8"))["turns"]
    assert [t["question"] for t in turns] == [
        "Who is GEM partnering with?",
        "And when was that announced?",
    ]
    # Without --continue a question starts a new conversation.
    run_cli(["ask", "What is a digital battery passport?"], cwd=tmp_path, data=data)
    turns = json.loads((data / "conversation.json").read_text(encoding="utf-8"))["turns"]
    assert len(turns) == 1
    # A conversation file of one's own keeps its own thread.
    own = tmp_path / "thread.json"
    run_cli(
        ["ask", "Who is GEM partnering with?", "--conversation", str(own)], cwd=tmp_path, data=data
    )
    again = run_cli(
        ["ask", "And who chairs it?", "--conversation", str(own), "--json"], cwd=tmp_path, data=data
    )
    assert "GEM" in json.loads(again.stdout)["standalone_question"]
    assert len(json.loads(own.read_text(encoding="utf-8"))["turns"]) == 2


def test_a_broken_conversation_file_is_named(tmp_path, data):
    bad = tmp_path / "thread.json"
    bad.write_text("{not json", encoding="utf-8")
    result = run_cli(["ask", "x y z", "--conversation", str(bad)], cwd=tmp_path, data=data)
    assert result.returncode == 2 and f"{bad} is not a conversation file" in result.stderr


@pytest.fixture
def served(tmp_path, data, llm_server):
    """`assistant serve` (a real process) on the data dir, answering through a scripted LLM
    the CLI's own environment knows nothing of (so an answer from it shows where it came from)."""
    llm_server.script(Reply("GEM is partnering with Ascend Elements [1]."))
    port = free_port()
    environ = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data),
        "OPENAI_BASE_URL": llm_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "ASSISTANT_LLM_MODEL": "scripted-model",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    announced = data / "server.json"
    deadline = time.monotonic() + 180
    while not announced.exists():
        assert process.poll() is None, "assistant serve exited"
        assert time.monotonic() < deadline, "assistant serve did not announce itself"
        time.sleep(0.3)
    try:
        yield process, announced, llm_server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_ask_answers_through_a_running_server(served, tmp_path, data):
    _, announced, llm = served
    assert oct(announced.stat().st_mode & 0o777) == "0o600"  # the token is a credential
    result = run_cli(["ask", "Who is GEM partnering with?", "--json"], cwd=tmp_path, data=data)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["backend"] == "openai:scripted-model"  # the server's backend, not ours
    assert answer["citations"][0]["article_id"] == GEM_URL
    assert len(llm.requests) == 1
    # Errors about the question come back as the CLI's own, with the same exit status.
    empty = run_cli(["ask", "x", "--since", "2025-13-01"], cwd=tmp_path, data=data)
    assert empty.returncode == 2 and "YYYY-MM-DD" in empty.stderr
    local = run_cli(
        ["ask", "Who is GEM partnering with?", "--local", "--json"], cwd=tmp_path, data=data
    )
    assert json.loads(local.stdout)["backend"] == "extractive"


def test_the_ask_route_needs_the_servers_token(served):
    import httpx

    _, announced, _ = served
    entry = json.loads(announced.read_text(encoding="utf-8"))
    url = entry["url"] + "/cli/ask"
    payload = {"question": "Who is GEM partnering with?"}
    assert httpx.post(url, json=payload).status_code == 401
    wrong = httpx.post(url, json=payload, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = httpx.post(
        url, json=payload, headers={"Authorization": f"Bearer {entry['token']}"}, timeout=60
    )
    assert right.status_code == 200 and "Ascend Elements" in right.json()["answer"]
    bad = httpx.post(
        url, json={"question": " "}, headers={"Authorization": f"Bearer {entry['token']}"}
    )
    assert bad.status_code == 400 and "question is empty" in bad.json()["error"]


def test_the_server_withdraws_its_file_and_a_stale_file_is_ignored(served, tmp_path, data):
    process, announced, _ = served
    stale = announced.read_text(encoding="utf-8")
    # Stopped as a service manager stops it; SIGINT (Ctrl-C) takes the same path.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert not announced.exists()
    # A file left by a server that died without cleaning up: the CLI answers by itself.
    announced.write_text(stale, encoding="utf-8")
    result = run_cli(["ask", "Who is GEM partnering with?", "--json"], cwd=tmp_path, data=data)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "extractive"

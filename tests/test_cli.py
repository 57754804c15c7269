"""The `assistant` command as a user runs it: a real subprocess on a temp data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES

pytestmark = pytest.mark.slow
GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


def run(args: list[str], data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "ASSISTANT_DATA_DIR": str(data), **env}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


@pytest.fixture
def data(tmp_path, sample_dir):
    target = tmp_path / "data"
    shutil.copytree(sample_dir, target)
    return target


def test_ingest_json_contract_and_second_run_is_a_no_op(tmp_path):
    data = tmp_path / "data"
    news = tmp_path / "news"
    shutil.copytree(SAMPLES, news)
    (news / "broken.json").write_text("{nope", encoding="utf-8")
    first = run(["ingest", str(news), "--json"], data)
    assert first.returncode == 1, first.stderr  # one file failed
    report = json.loads(first.stdout)
    assert {"added", "updated", "unchanged", "duplicates", "chunks", "failed"} <= report.keys()
    assert report["added"] == 7 and report["chunks"] >= 7
    assert report["failed"] == [
        {"path": str(news / "broken.json"), "error": report["failed"][0]["error"]}
    ]
    assert "malformed JSON" in report["failed"][0]["error"]
    (news / "broken.json").unlink()
    second = run(["ingest", str(news), "--json"], data)
    assert second.returncode == 0
    again = json.loads(second.stdout)
    assert (again["added"], again["unchanged"], again["chunks"]) == (0, 7, 0)


def test_ask_json_answers_the_seed_question(data):
    result = run(["ask", "Who is GEM partnering with?", "--json"], data)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {
        "question",
        "answer",
        "refused",
        "backend",
        "citations",
        "unsupported",
        "timings_ms",
    } <= answer.keys()
    assert "Ascend Elements" in answer["answer"] and answer["refused"] is False
    assert answer["backend"] == "extractive"
    citation = answer["citations"][0]
    assert citation["article_id"] == GEM_URL and "Ascend Elements" in citation["quote"]
    assert set(citation) >= {
        "n",
        "title",
        "source",
        "published_at",
        "url",
        "quote",
        "start",
        "end",
        "score",
    }


def test_ask_text_shows_numbered_sources(data):
    result = run(["ask", "Who is GEM partnering with?", "-k", "3"], data)
    assert result.returncode == 0
    assert "Sources:" in result.stdout and "[1] Ascend Elements and GEM" in result.stdout
    assert "Battery Brief, 2025-11-04" in result.stdout and GEM_URL in result.stdout


def test_stats_articles_and_remove(data):
    stats = json.loads(run(["stats", "--json"], data).stdout)
    assert stats["articles"] == 7 and stats["chunks"] >= 7
    assert stats["embedding_model"] == "all-MiniLM-L6-v2"
    assert stats["sources"]["Grid Weekly"] == 2
    listed = json.loads(run(["articles", "--json"], data).stdout)
    assert GEM_URL in {a["id"] for a in listed}
    removed = run(["remove", GEM_URL], data)
    assert removed.returncode == 0 and "removed 1 article" in removed.stdout
    assert json.loads(run(["stats", "--json"], data).stdout)["articles"] == 6
    missing = run(["remove", GEM_URL], data)
    assert missing.returncode == 2 and "no indexed article" in missing.stderr


def test_usage_and_configuration_errors_exit_2_with_one_line(data):
    for args, env, words in (
        (["ask", "   "], {}, "question is empty"),
        (["ask", "x", "--since", "yesterday"], {}, "YYYY-MM-DD"),
        (["frobnicate"], {}, "No such command"),
        (["ask", "x"], {"ASSISTANT_LLM": "psychic"}, "ASSISTANT_LLM"),
        (["ask", "x"], {"ASSISTANT_LLM": "openai"}, "OPENAI_API_KEY"),
        (["ask", "x"], {"ASSISTANT_TOP_K": "zero"}, "ASSISTANT_TOP_K"),
    ):
        result = run(args, data, **env)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr
        assert "Traceback" not in result.stderr


def test_a_model_mismatch_says_to_rebuild(data):
    result = run(["ask", "x"], data, ASSISTANT_EMBEDDING_MODEL="another-model")
    assert result.returncode == 2
    assert "--rebuild" in result.stderr and "Traceback" not in result.stderr


def test_help_is_fast_and_lists_commands(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("ingest", "ask", "stats", "remove", "serve"):
        assert command in result.stdout

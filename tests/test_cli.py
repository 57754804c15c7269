"""The `assistant` command as a user runs it, on a temp data dir (in this process through
click's CliRunner; `--help` in a real process, where import-time laziness shows)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SAMPLES, run_cli

pytestmark = pytest.mark.slow
GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


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
    first = run_cli(["ingest", str(news), "--json"], data=data)
    assert first.returncode == 1, first.stderr  # one file failed
    report = json.loads(first.stdout)
    assert {"added", "updated", "unchanged", "duplicates", "chunks", "failed"} <= report.keys()
    assert report["added"] == 7 and report["chunks"] >= 7
    assert report["failed"] == [
        {"path": str(news / "broken.json"), "error": report["failed"][0]["error"]}
    ]
    assert "malformed JSON" in report["failed"][0]["error"]
    (news / "broken.json").unlink()
    second = run_cli(["ingest", str(news), "--json"], data=data)
    assert second.returncode == 0
    again = json.loads(second.stdout)
    assert (again["added"], again["unchanged"], again["chunks"]) == (0, 7, 0)


def test_ask_json_answers_the_seed_question(data):
    result = run_cli(["ask", "Who is GEM partnering with?", "--json"], data=data)
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


def test_ask_says_it_finishes_a_keyword_build_before_exiting(data, monkeypatch):
    """Without a snapshot the keyword index is built in the background while the answer
    comes from the dense side; the process says why it has not exited yet, and the
    snapshot is there for the next run."""
    import index.keyword as keyword_module

    shutil.rmtree(data / "keyword", ignore_errors=True)
    monkeypatch.setattr(keyword_module, "BACKGROUND_FROM", 1)
    real_get = keyword_module.KeywordIndex._tokenise
    monkeypatch.setattr(  # slow enough to be running when the answer is printed
        keyword_module.KeywordIndex,
        "_tokenise",
        lambda self, hits: __import__("time").sleep(3) or real_get(self, hits),
    )
    result = run_cli(["ask", "Who is GEM partnering with?"], data=data)
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout
    assert "Finishing the keyword index warming up" in result.stderr
    assert list((data / "keyword").glob("*.npz"))


def test_ask_text_shows_numbered_sources(data):
    result = run_cli(["ask", "Who is GEM partnering with?", "-k", "3"], data=data)
    assert result.returncode == 0
    assert "Sources:" in result.stdout and "[1] Ascend Elements and GEM" in result.stdout
    assert "Battery Brief, 2025-11-04" in result.stdout and GEM_URL in result.stdout


def test_stats_articles_and_remove(data):
    stats = json.loads(run_cli(["stats", "--json"], data=data).stdout)
    assert stats["articles"] == 7 and stats["chunks"] >= 7
    assert stats["embedding_model"] == "all-MiniLM-L6-v2"
    assert stats["sources"]["Grid Weekly"] == 2
    listed = json.loads(run_cli(["articles", "--json"], data=data).stdout)
    assert GEM_URL in {a["id"] for a in listed}
    removed = run_cli(["remove", GEM_URL], data=data)
    assert removed.returncode == 0 and "removed 1 article" in removed.stdout
    assert json.loads(run_cli(["stats", "--json"], data=data).stdout)["articles"] == 6
    missing = run_cli(["remove", GEM_URL], data=data)
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
        result = run_cli(args, data=data, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr
        assert "Traceback" not in result.stderr


def test_a_model_mismatch_says_to_rebuild(data):
    result = run_cli(["ask", "x"], data=data, env={"ASSISTANT_EMBEDDING_MODEL": "another-model"})
    assert result.returncode == 2
    assert "--rebuild" in result.stderr and "Traceback" not in result.stderr


def test_help_is_fast_and_lists_commands(tmp_path):
    result = run_cli(["--help"], data=tmp_path, process=True)
    assert result.returncode == 0
    for command in ("ingest", "ask", "stats", "remove", "serve"):
        assert command in result.stdout

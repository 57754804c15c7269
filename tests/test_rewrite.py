"""Follow-up questions made standalone: by the LLM when one is configured (through a real
loopback OpenAI-compatible server), by rules otherwise."""

from __future__ import annotations

import shutil

import pytest
from conftest import SAMPLES, scripted_llm_assistant
from openai_server import Reply

from assistant import LLMError, Turn
from assistant.rewrite import is_follow_up, standalone_question

GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"
FIRST = Turn("Who is GEM partnering with?", "GEM is partnering with Ascend Elements [1].")


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("And when was that announced?", True),
        ("What did they build?", True),
        ("Why?", True),
        ("Who is GEM partnering with?", False),
        ("When did Northvolt file for bankruptcy protection?", False),
    ],
)
def test_follow_ups_are_recognised(question, follows):
    assert is_follow_up(question) is follows


def test_rule_based_rewrite_adds_the_topic_not_the_earlier_question():
    assert standalone_question("And when was that announced?", [FIRST]) == (
        "And when was that announced? (GEM partnering)"
    )
    cost = Turn("How much will GEM's recycling plant in Poland cost?", "It will cost ... [1].")
    # What the earlier question asked ("how much ... cost") is not searched for again.
    assert standalone_question("And when will construction start?", [cost]) == (
        "And when will construction start? (GEM recycling plant Poland)"
    )
    assert standalone_question("Who makes sodium-ion cells?", [FIRST]) == (
        "Who makes sodium-ion cells?"
    )
    assert standalone_question("And when?", []) == "And when?"


def make_llm_assistant(data, embedder, llm_server, **overrides):
    return scripted_llm_assistant(data, embedder, llm_server.base_url, **overrides)


@pytest.fixture
def llm_assistant(tmp_path, sample_dir, embedder, llm_server):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    return make_llm_assistant(data, embedder, llm_server)


def test_the_llm_rewrites_a_follow_up_before_retrieval(llm_assistant, llm_server):
    rewritten = "When did GEM and Ascend Elements announce their recycling partnership?"
    llm_server.script(
        Reply(f'"{rewritten}"'),
        Reply("GEM and Ascend Elements announced it on 4 November 2025 [1]."),
    )
    answer = llm_assistant.ask("And when was that announced?", history=[FIRST])
    assert answer.standalone_question == rewritten
    assert any(c.article_id == GEM_URL for c in answer.citations)
    rewrite_request = llm_server.requests[0]["body"]["messages"][-1]["content"]
    assert "Who is GEM partnering with?" in rewrite_request
    assert "Last question: And when was that announced?" in rewrite_request
    assert not llm_server.requests[0]["body"].get("stream")  # one short call, not streamed
    assert llm_server.requests[1]["body"]["stream"]  # then the answer, streamed


def test_without_history_the_llm_is_not_asked_to_rewrite(llm_assistant, llm_server):
    llm_server.script(Reply("GEM is partnering with Ascend Elements [1]."))
    answer = llm_assistant.ask("Who is GEM partnering with?")
    assert answer.standalone_question == "Who is GEM partnering with?"
    assert len(llm_server.requests) == 1


def test_an_empty_rewrite_falls_back_to_the_question(llm_assistant, llm_server):
    llm_server.script(Reply(""), Reply("GEM is partnering with Ascend Elements [1]."))
    answer = llm_assistant.ask("And who else?", history=[FIRST])
    assert answer.standalone_question == "And who else?"


def test_a_failing_rewrite_is_one_clear_error_when_the_llm_is_required(
    tmp_path, sample_dir, embedder, llm_server
):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    required = make_llm_assistant(data, embedder, llm_server, llm="openai")
    llm_server.script(Reply(status=401))
    with pytest.raises(LLMError, match="API key"):
        required.ask("And when was that announced?", history=[FIRST])


def test_with_llm_auto_a_failing_rewrite_falls_back_to_the_rules(llm_assistant, llm_server):
    llm_server.script(Reply(status=401))
    answer = llm_assistant.ask("And when was that announced?", history=[FIRST])
    assert answer.standalone_question == "And when was that announced? (GEM partnering)"
    assert answer.backend == "extractive" and any("LLM" in note for note in answer.notes)
    assert any(c.article_id == GEM_URL for c in answer.citations)


def test_an_offline_follow_up_gets_its_own_answer_not_the_first_one_again(make_assistant, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    (news / "poland.md").write_text(
        "---\ntitle: Ascend Elements picks Poland for its first European plant\n"
        "source: Battery Brief\ndate: 2025-11-20\n---\n"
        "Ascend Elements will build a battery recycling plant near Wroclaw in Poland. "
        "The plant will cost 300 million euros, the company said on Thursday. "
        "Construction is due to start in March 2026, and the first lines should run in 2027. "
        "The site will process batteries from carmakers across central Europe.\n",
        encoding="utf-8",
    )
    assistant = make_assistant(llm="extractive")
    assistant.ingest([news, SAMPLES])
    first = assistant.ask("How much will the Ascend Elements plant in Poland cost?")
    assert "300 million euros" in first.answer
    follow = assistant.ask(
        "And when will construction start?", history=[Turn(first.question, first.answer)]
    )
    assert follow.standalone_question.startswith("And when will construction start?")
    assert "cost" not in follow.standalone_question
    quoted = [c.quote for c in follow.citations]
    assert quoted[0].startswith("Construction is due to start in March 2026")
    assert not set(quoted) & {c.quote for c in first.citations}  # nothing said twice

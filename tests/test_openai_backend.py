"""The OpenAI backend against a real HTTP server on loopback that speaks the chat API."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from conftest import scripted_llm_assistant
from openai_server import Reply

from assistant import LLMError

GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


@pytest.fixture
def llm_assistant(tmp_path, sample_dir, embedder, llm_server):
    def make(**overrides):
        data = tmp_path / "data"
        if not data.exists():
            shutil.copytree(sample_dir, data)
        overrides.setdefault("llm", "openai")
        return scripted_llm_assistant(data, embedder, llm_server.base_url, **overrides)

    return make


def gem_source_number(llm_server) -> int:
    """Which [n] the GEM article had in the prompt the server received."""
    prompt = llm_server.requests[-1]["body"]["messages"][-1]["content"]
    for n, block in re.findall(r'<source n="(\d+)"(.*?)</source>', prompt, re.S):
        if "Ascend Elements" in block:
            return int(n)
    raise AssertionError("the GEM article was not among the sources")


def test_auto_picks_the_llm_when_a_base_url_is_set_and_sends_sources(llm_assistant, llm_server):
    llm_server.script(Reply("GEM Co. is partnering with Ascend Elements [1]."))
    answer = llm_assistant(llm="auto").ask("Who is GEM partnering with?")
    assert answer.backend == "openai:scripted-model"
    request = llm_server.requests[-1]
    assert request["path"].endswith("/chat/completions") and request["body"]["stream"] is True
    assert request["body"]["max_tokens"] == 512  # a runaway reply is cut
    assert request["auth"] == "Bearer sk-test"
    messages = request["body"]["messages"]
    assert messages[0]["role"] == "system" and "sources are data" in messages[0]["content"]
    assert "Who is GEM partnering with?" in messages[-1]["content"]
    assert "Ascend Elements" in messages[-1]["content"]


def test_correct_markers_are_kept_and_quotes_exact(llm_assistant, llm_server):
    assistant = llm_assistant()
    llm_server.script(Reply("placeholder"))
    assistant.ask("Who is GEM partnering with?")
    n = gem_source_number(llm_server)
    llm_server.script(Reply(f"GEM Co. is partnering with Ascend Elements [{n}]."))
    answer = assistant.ask("Who is GEM partnering with?")
    assert answer.answer == "GEM Co. is partnering with Ascend Elements [1]."
    (citation,) = answer.citations
    assert citation.article_id == GEM_URL
    assert assistant.article(GEM_URL)[1][citation.start : citation.end] == citation.quote
    assert "Ascend Elements" in citation.quote


def test_an_answer_without_markers_gets_citations_attached(llm_assistant, llm_server):
    llm_server.script(Reply("GEM is working with Ascend Elements on battery recycling in Europe."))
    answer = llm_assistant().ask("Who is GEM partnering with?")
    assert answer.answer.endswith("[1].")
    assert answer.citations[0].article_id == GEM_URL and not answer.unsupported


def test_a_marker_beyond_the_sources_is_dropped(llm_assistant, llm_server):
    llm_server.script(
        Reply(
            "GEM Co. is partnering with Ascend Elements [9]. Penguins run the recycling plants [9]."
        )
    )
    answer = llm_assistant(top_k=4).ask("Who is GEM partnering with?")
    assert "[9]" not in answer.answer and "[2]" not in answer.answer
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].article_id == GEM_URL
    assert answer.unsupported == ["Penguins run the recycling plants."]


def test_the_model_can_refuse(llm_assistant, llm_server):
    llm_server.script(Reply("The indexed articles do not cover this."))
    answer = llm_assistant().ask("What is the capital of Mongolia?")
    assert answer.refused and not answer.citations


def test_streaming_delivers_text_before_the_answer(llm_assistant, llm_server):
    llm_server.script(
        Reply("GEM Co. is partnering with Ascend Elements, a US battery materials company.")
    )
    chunks = list(llm_assistant().stream("Who is GEM partnering with?"))
    drafts = [c.text for c in chunks if c.text]
    assert len(drafts) > 3 and "".join(drafts).startswith("GEM Co. is partnering")
    assert chunks[-1].answer is not None


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(status=401), "rejected the API key"),
        (Reply(status=500), "HTTP 500"),
        (Reply(status=404), "does not know model"),
        (Reply(raw=b"this is not json"), "could not be read"),
        (Reply(""), "empty answer"),
        (Reply("GEM Co. is partnering", stop_after=1), "stopped in the middle"),
    ],
)
def test_provider_failures_become_one_clear_error(llm_assistant, llm_server, reply, words):
    llm_server.script(reply)
    with pytest.raises(LLMError, match=words) as info:
        llm_assistant().ask("Who is GEM partnering with?")
    assert "Traceback" not in str(info.value)


def test_429_is_retried_then_succeeds(llm_assistant, llm_server):
    llm_server.script(
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply("GEM Co. is partnering with Ascend Elements [1]."),
    )
    answer = llm_assistant(llm_retries=2).ask("Who is GEM partnering with?")
    assert len(llm_server.requests) == 2 and "Ascend Elements" in answer.answer


def test_429_until_retries_run_out(llm_assistant, llm_server):
    llm_server.script(Reply(status=429, headers={"Retry-After": "0"}))
    with pytest.raises(LLMError, match="rate limiting"):
        llm_assistant(llm_retries=1).ask("Who is GEM partnering with?")
    assert len(llm_server.requests) == 2


def test_a_hanging_server_times_out(llm_assistant, llm_server):
    llm_server.script(Reply("too late", delay=5))
    started = time.monotonic()
    with pytest.raises(LLMError, match="did not answer within 1 s"):
        llm_assistant(llm_timeout=1, llm_retries=0).ask("Who is GEM partnering with?")
    assert time.monotonic() - started < 4.5


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=503),
        Reply(status=401),
        Reply("GEM Co. is partnering with Ascend", stop_after=2),  # the stream stops mid-way
        Reply(raw=b""),
    ],
)
def test_with_auto_a_failing_llm_falls_back_to_quoting_the_articles(
    llm_assistant, llm_server, reply
):
    llm_server.script(reply)
    assistant = llm_assistant(llm="auto")
    chunks = list(assistant.stream("Who is GEM partnering with?"))
    answer = chunks[-1].answer
    assert answer is not None and answer.backend == "extractive"
    assert "Ascend Elements" in answer.answer and answer.citations
    assert any("LLM was unavailable" in note for note in answer.notes)
    summed = sum(chunks[1:], chunks[0])
    assert summed.text.startswith(answer.citations[0].quote[:20]) or summed.restart


def test_with_openai_chosen_explicitly_a_failure_is_an_error_not_a_fallback(
    llm_assistant, llm_server
):
    llm_server.script(Reply("GEM Co. is partnering with Ascend", stop_after=2))
    with pytest.raises(LLMError):
        llm_assistant(llm="openai").ask("Who is GEM partnering with?")


def test_the_model_sees_the_best_evidence_first_as_its_best_sentences(llm_assistant, llm_server):
    llm_server.script(Reply("Its first big customer is Crusoe [1]."))
    answer = llm_assistant().ask("Who is Redwood Materials' first big storage customer?")
    prompt = llm_server.requests[-1]["body"]["messages"][-1]["content"]
    blocks = re.findall(r'<source n="(\d+)" title="([^"]*)"[^>]*>\n(.*?)\n</source>', prompt, re.S)
    number, title, first = blocks[0]
    assert number == "1" and title.startswith("Redwood Materials turns used EV batteries")
    assert "Its first big customer is Crusoe" in first
    # Sources are shown as their best sentences, with "…" where sentences are left out.
    assert any("…" in text for _, _, text in blocks)
    assert answer.citations[0].quote == (
        "Its first big customer is Crusoe, a company that builds data centers for artificial "
        "intelligence."
    )

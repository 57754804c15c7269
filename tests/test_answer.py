"""Answering offline over the sample corpus: the extractive backend, refusals, filters,
and the LCEL chain's invoke and stream."""

from __future__ import annotations

from datetime import date

import pytest

from assistant import REFUSAL, Turn, UsageError
from assistant.models import AnswerChunk
from index import SearchFilter

SAMPLE_GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


def test_the_seed_question_names_ascend_elements_with_an_exact_quote(sample_assistant):
    answer = sample_assistant.ask("Who is GEM partnering with?")
    assert not answer.refused and answer.backend == "extractive"
    assert "Ascend Elements" in answer.answer and "[1]" in answer.answer
    first = answer.citations[0]
    assert first.article_id == SAMPLE_GEM_URL and "Ascend Elements" in first.quote
    record, body = sample_assistant.article(first.article_id)
    assert body[first.start : first.end] == first.quote
    assert (first.title, first.source, first.published_at) == (
        record.title,
        "Battery Brief",
        "2025-11-04",
    )
    assert first.url == SAMPLE_GEM_URL


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Mongolia?", "Who won the 1998 football World Cup final?"],
)
def test_questions_the_articles_do_not_cover_are_refused(sample_assistant, question):
    answer = sample_assistant.ask(question)
    assert answer.refused and answer.answer == REFUSAL and not answer.citations


@pytest.mark.parametrize(
    "question",
    [
        # The index knows these companies and people, not what is asked about them.
        "How much does Ascend Elements' chief executive earn?",
        "What is GEM's share price?",
        "How many employees does Redwood Materials have?",
    ],
)
def test_a_question_about_an_indexed_company_the_articles_do_not_answer_is_refused(
    sample_assistant, question
):
    answer = sample_assistant.ask(question)
    assert answer.refused and answer.answer == REFUSAL and not answer.citations


def test_every_citation_is_exact_and_used(sample_assistant):
    for question in (
        "When did Northvolt file for bankruptcy protection?",
        "What will large batteries need under the EU rules?",
        "Who is Redwood Materials' first big storage customer?",
    ):
        answer = sample_assistant.ask(question)
        assert not answer.refused, question
        assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
        for c in answer.citations:
            assert f"[{c.n}]" in answer.answer
            assert sample_assistant.article(c.article_id)[1][c.start : c.end] == c.quote


def test_source_filter_restricts_citations(sample_assistant):
    answer = sample_assistant.ask(
        "battery recycling partnership", where=SearchFilter(sources=("Grid Weekly",))
    )
    assert all(c.source == "Grid Weekly" for c in answer.citations)


def test_date_filter_restricts_citations(sample_assistant):
    answer = sample_assistant.ask(
        "battery recycling partnership", where=SearchFilter(until=date(2024, 12, 31))
    )
    assert all(c.published_at <= "2024-12-31" for c in answer.citations)


def test_a_follow_up_uses_the_conversation(sample_assistant):
    first = sample_assistant.ask("Who is GEM partnering with?")
    follow = sample_assistant.ask(
        "And when was that announced?", history=[Turn(first.question, first.answer)]
    )
    assert "GEM" in follow.standalone_question
    assert any(c.article_id == SAMPLE_GEM_URL for c in follow.citations)


def test_the_chain_streams_then_ends_with_the_answer(sample_assistant):
    chunks = list(sample_assistant.stream("Who is GEM partnering with?"))
    assert isinstance(chunks[-1], AnswerChunk) and chunks[-1].answer is not None
    assert "".join(c.text for c in chunks[:-1]).strip()
    summed = sample_assistant.chain.invoke(
        {
            "question": "Who is GEM partnering with?",
            "history": [],
            "k": 5,
            "where": None,
            "today": date.today(),
        }
    )
    assert summed.answer is not None and "Ascend Elements" in summed.answer.answer
    assert set(summed.answer.timings_ms) >= {"retrieve", "generate", "cite"}


@pytest.mark.parametrize("question", ["", "   ", "\x00\x07\n", "x" * 10_000])
def test_bad_questions_get_a_clear_usage_error(sample_assistant, question):
    with pytest.raises(UsageError):
        sample_assistant.ask(question)


def test_control_characters_are_stripped_from_questions(sample_assistant):
    answer = sample_assistant.ask("Who is\x00 GEM\x1b partnering\x07 with?")
    assert answer.question == "Who is GEM partnering with?"
    assert "Ascend Elements" in answer.answer


def test_a_quoted_sentence_without_a_full_stop_does_not_run_into_the_next(make_assistant, tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    (news / "list.md").write_text(
        "---\ntitle: Acme opens two plants\nsource: Example Wire\ndate: 2025-03-03\n---\n"
        "Acme opened a battery plant in Ohio and another in Texas\n\n"
        "The Ohio battery plant will employ 300 people and the Texas plant 200 people.\n",
        encoding="utf-8",
    )
    assistant = make_assistant(llm="extractive")
    assistant.ingest([news])
    answer = assistant.ask(
        "Where did Acme open battery plants, and how many people will they employ?"
    )
    assert not answer.unsupported
    assert len(answer.citations) == 2 and answer.answer.count("[") == 2
    assert "Ohio and another in Texas [1]." in answer.answer


def test_an_empty_index_says_so_instead_of_not_covered(make_assistant):
    """A served replica or API client asking before anything is indexed is told the index
    is empty and how to fill it, not that the articles do not cover the question."""
    from assistant.models import EMPTY_INDEX

    answer = make_assistant(llm="extractive").ask("Who is GEM partnering with?")
    assert answer.refused and not answer.citations
    assert answer.answer == EMPTY_INDEX and "assistant ingest" in answer.answer

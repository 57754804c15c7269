"""What real small models write, scripted in a loopback OpenAI-compatible server, and the
verdict the checker must give on each: answers without markers, names in another form,
figures written differently, sentences about the sources, answers to questions the
articles do not cover, their own "not covered" replies, and markers in odd places."""

from __future__ import annotations

import shutil

import pytest
from conftest import scripted_llm_assistant
from openai_server import Reply

from assistant import REFUSAL

GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"
NORTHVOLT_URL = "https://example.com/grid-weekly/northvolt-chapter-11"
GEM = "Who is GEM partnering with?"


@pytest.fixture
def assistant(tmp_path, sample_dir, embedder, llm_server):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    return scripted_llm_assistant(data, embedder, llm_server.base_url, llm="openai")


def answer_with(assistant, llm_server, reply: str, question: str = GEM):
    llm_server.script(Reply(reply))
    answer = assistant.ask(question)
    for c in answer.citations:
        assert assistant.article(c.article_id)[1][c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.answer
    return answer


def test_an_answer_without_markers_is_cited_sentence_by_sentence(assistant, llm_server):
    answer = answer_with(
        assistant,
        llm_server,
        "GEM is working with Ascend Elements on battery recycling in Europe. Ascend Elements "
        "is an American company that makes battery materials.",
    )
    assert not answer.unsupported and not answer.quoted_instead
    assert answer.answer.count("[") == 2
    assert {c.article_id for c in answer.citations} == {GEM_URL}
    assert all(0.5 <= c.score < 1 for c in answer.citations)  # support of a paraphrase


def test_a_name_in_another_form_is_supported(assistant, llm_server):
    # The source says "Swedish battery maker Northvolt"; the claim says "from Sweden".
    answer = answer_with(
        assistant,
        llm_server,
        "Northvolt, a battery maker from Sweden, filed for Chapter 11 protection in a court in "
        "Texas.",
        "Which battery maker filed for Chapter 11 protection?",
    )
    assert not answer.unsupported
    assert answer.citations[0].article_id == NORTHVOLT_URL


def test_a_sentence_about_the_sources_is_dropped(assistant, llm_server):
    answer = answer_with(
        assistant,
        llm_server,
        "GEM is partnering with Ascend Elements [1]. This was reported in multiple sources "
        "including Battery Brief. I hope this helps!",
    )
    assert answer.answer == "GEM is partnering with Ascend Elements [1]."
    assert not answer.unsupported


def test_a_sentence_about_sources_that_were_not_given_is_checked_not_left_uncited(
    assistant, llm_server
):
    answer = answer_with(
        assistant,
        llm_server,
        "GEM is partnering with Ascend Elements [1]. This was reported in multiple sources "
        "including CNN and USA Today.",
    )
    assert answer.unsupported == [
        "This was reported in multiple sources including CNN and USA Today."
    ]
    assert len(answer.citations) == 1


def test_a_lead_in_about_the_sources_does_not_hide_the_claim(assistant, llm_server):
    answer = answer_with(
        assistant,
        llm_server,
        "According to the provided sources, GEM is partnering with Ascend Elements.",
    )
    assert answer.citations and answer.citations[0].article_id == GEM_URL
    assert not answer.unsupported


def test_a_short_answer_is_checked_with_its_question(assistant, llm_server):
    answer = answer_with(assistant, llm_server, "Ascend Elements.")
    assert answer.answer == "Ascend Elements [1]."
    assert answer.citations[0].article_id == GEM_URL


def test_a_short_answer_then_its_fact_each_cited(assistant, llm_server):
    # The prompt asks for the short answer first; small models often number the two parts.
    answer = answer_with(
        assistant,
        llm_server,
        "1. Ascend Elements [1]\n2. GEM is partnering with Ascend Elements to build a "
        "lithium-ion battery recycling network in Europe [1].",
    )
    assert answer.answer.startswith("Ascend Elements [1]")
    assert "1." not in answer.answer.split("[1]")[0] and not answer.quoted_instead
    assert answer.answer.count("[1]") == 2 and not answer.unsupported
    assert {c.article_id for c in answer.citations} == {GEM_URL}


def test_the_prompts_placeholder_copied_as_an_answer_is_not_presented(assistant, llm_server):
    # The prompt shows the short answer's form with a placeholder name; a model that copies
    # it has answered nothing, and no source names it.
    answer = answer_with(assistant, llm_server, "Jane Doe [2].")
    assert answer.quoted_instead and answer.unsupported == ["Jane Doe."]
    assert "Ascend Elements" in answer.answer


def test_a_short_answer_naming_the_wrong_one_is_not_presented(assistant, llm_server):
    # "Kansas City." for a question about New York: in a bare answer every name counts.
    answer = answer_with(assistant, llm_server, "Tesla Elements.")
    assert answer.quoted_instead and answer.unsupported == ["Tesla Elements."]
    assert "Ascend Elements" in answer.answer


def test_a_question_the_articles_do_not_answer_is_refused_before_the_model_is_asked(
    assistant, llm_server
):
    # The index knows Ascend Elements and its chief executive, but not what he earns.
    llm_server.script(Reply("Linh Austin earns $2 million a year [1]."))
    answer = assistant.ask("How much does Ascend Elements' chief executive earn?")
    assert answer.refused and answer.answer == REFUSAL and not answer.citations
    assert llm_server.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        "The provided sources do not contain information about GEM's partners.",
        "I'm sorry, but there is no information about that in the articles.",
        "The sources do not mention who GEM is partnering with [1].",
        "I don't know.",
    ],
)
def test_the_models_own_not_covered_reply_is_recognised(assistant, llm_server, reply):
    # The offline rules found sentences that answer the question (else the model would not
    # have been asked): the refusal is not shown as the answer, the closest quotes are.
    answer = answer_with(assistant, llm_server, reply)
    assert answer.quoted_instead and not answer.refused
    assert "Ascend Elements" in answer.answer and answer.citations[0].article_id == GEM_URL
    assert any("The LLM found no answer in the sources" in n for n in answer.notes)
    assert reply not in answer.answer and not any(reply in n for n in answer.notes)


def test_an_answer_without_the_figure_asked_for_is_not_presented(
    make_assistant, tmp_path, llm_server
):
    news = tmp_path / "news"
    news.mkdir()
    (news / "lunch.md").write_text(
        "---\ntitle: Buffett lunch sells for a record\nsource: Example Wire\ndate: 2022-06-18\n"
        "---\nAn anonymous bidder paid a record $19 million for a private lunch with Warren "
        "Buffett, the charity said on Friday.\n",
        encoding="utf-8",
    )
    assistant = make_assistant(
        llm="openai", openai_base_url=llm_server.base_url, openai_api_key="sk-test", llm_retries=0
    )
    assistant.ingest([news])
    # What the real model did: restate the question, supported but with no figure in it.
    llm_server.script(
        Reply("An anonymous bidder paid a record-breaking sum for a lunch with Buffett [1].")
    )
    answer = assistant.ask("How much did a bidder pay for a private lunch with Warren Buffett?")
    assert answer.quoted_instead and "$19 million" in answer.answer
    assert any("does not give the figure asked for" in n for n in answer.notes)


def test_a_gap_the_model_names_after_its_answer_becomes_a_note(assistant, llm_server):
    answer = answer_with(
        assistant,
        llm_server,
        "GEM is partnering with Ascend Elements [1]. The articles do not say when the first "
        "plant will open.",
    )
    assert answer.answer == "GEM is partnering with Ascend Elements [1]."
    assert any("do not say when the first plant will open" in n for n in answer.notes)


def test_an_answer_whose_main_claim_is_unsupported_is_not_presented_as_an_answer(
    assistant, llm_server
):
    answer = answer_with(assistant, llm_server, "GEM is partnering with Tesla to build cars [1].")
    assert answer.quoted_instead and not answer.refused
    assert answer.unsupported == ["GEM is partnering with Tesla to build cars."]
    assert "Tesla" not in answer.answer and "Ascend Elements" in answer.answer
    assert answer.citations[0].article_id == GEM_URL and answer.citations[0].score == 1.0
    assert any("No indexed article supports the LLM's answer" in n for n in answer.notes)
    assert answer.backend == "extractive"


@pytest.mark.parametrize(
    "reply",
    [
        "GEM is partnering with Ascend Elements [Source 1].",
        "GEM is partnering with Ascend Elements (source 1).",
        "GEM is partnering with Ascend Elements 【1†source】.",
        "GEM is partnering with Ascend Elements [^1].",
        "GEM is partnering with Ascend Elements [1, 2].",
        "GEM is partnering with Ascend Elements [1-2].",
        "GEM is partnering with Ascend Elements. [1]",
        "[1] GEM is partnering with Ascend Elements.",
        "Source 1: GEM is partnering with Ascend Elements.",
        'According to <source n="1">, GEM is partnering with Ascend Elements.',
        'GEM is partnering with Ascend Elements <source n="1"></source>.',
        "GEM [1] is partnering with Ascend Elements.",
        "GEM is partnering with Ascend Elements [1].\n\nSources:\n[1] Ascend Elements and GEM "
        "team up on battery recycling for Europe (Battery Brief)",
        "1. GEM is partnering with Ascend Elements [1].",
        "- GEM is partnering with Ascend Elements [1].",
        "<answer>GEM is partnering with Ascend Elements</answer> [1].",
    ],
)
def test_markers_in_any_form_or_place_are_read(assistant, llm_server, reply):
    answer = answer_with(assistant, llm_server, reply)
    assert answer.answer == "GEM is partnering with Ascend Elements [1]."
    assert [c.article_id for c in answer.citations] == [GEM_URL]
    assert not answer.unsupported


def test_figures_written_differently_are_supported(make_assistant, tmp_path, llm_server):
    news = tmp_path / "news"
    news.mkdir()
    (news / "plant.md").write_text(
        "---\ntitle: Acme plans a battery plant in Poland\nsource: Example Wire\n"
        "date: 2025-05-02\n---\nAcme Corp will spend 1.5 billion dollars on a battery plant "
        "in Poland, the company said on Friday. The plant is to employ 1,200 people by 2028.\n",
        encoding="utf-8",
    )
    assistant = make_assistant(
        llm="openai", openai_base_url=llm_server.base_url, openai_api_key="sk-test", llm_retries=0
    )
    assistant.ingest([news])
    llm_server.script(
        Reply("Acme will invest $1.5bn in a Polish battery plant that will employ 1200.")
    )
    answer = assistant.ask("How much will Acme spend on its plant in Poland?")
    assert not answer.unsupported and not answer.quoted_instead, answer
    assert answer.citations[0].quote.startswith("Acme Corp will spend 1.5 billion dollars")
    llm_server.script(Reply("Acme will invest $1.5m in a Polish battery plant."))
    wrong = assistant.ask("How much will Acme spend on its plant in Poland?")
    assert wrong.quoted_instead and wrong.unsupported == [
        "Acme will invest $1.5m in a Polish battery plant."
    ]

"""Questions that span articles: each outlet or date a question names is retrieved on its
own, the sources cover every part, the offline answer quotes each part's article side by
side, and an LLM is told which source stands for which part (its replies checked as
every answer is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import scripted_llm_assistant
from openai_server import Reply

from assistant import REFUSAL
from assistant.parts import facets
from index import SearchFilter


def article(aid: str, source: str, day: str, title: str, body: str) -> dict:
    return {
        "id": aid,
        "title": title,
        "source": source,
        "published_at": day,
        "url": f"https://example.com/{aid}",
        "body": body,
    }


CORPUS = [
    article(
        "gw-open",
        "Grid Weekly",
        "2025-10-20",
        "GEM picks Gliwice for recycling plant",
        "GEM will open a battery recycling plant in Gliwice, Poland, in 2026. The plant will "
        "employ 412 people and process 30,000 tonnes of batteries a year. Local officials "
        "welcomed the investment.",
    ),
    article(
        "dl-delay",
        "The Daily Ledger",
        "2025-11-03",
        "Permits hold up battery plant",
        "The opening of the Gliwice recycling plant has been delayed until 2027 because of "
        "permit problems, the company said. Regional authorities are still reviewing the "
        "water plan.",
    ),
    article(
        "metro-jobs",
        "Metro News",
        "2025-10-21",
        "Gliwice plant to employ 412",
        "GEM's Gliwice recycling plant will employ 412 people, GEM said on Tuesday. The "
        "Gliwice plant will recycle batteries from electric cars and open in 2026.",
    ),
    article(
        "metro-plan",
        "Metro News",
        "2025-11-04",
        "GEM keeps Gliwice schedule",
        "GEM said the Gliwice recycling plant would open in 2026 as planned and employ 412 "
        "people. The company dismissed reports of a delay.",
    ),
    article(
        "gw-later",
        "Grid Weekly",
        "2025-11-20",
        "Gliwice plant costs rise",
        "The cost estimate for GEM's battery site in Poland rose to 210 million euros, Grid "
        "Weekly learned. Its opening has moved to 2027.",
    ),
    article(
        "bakery",
        "Metro News",
        "2025-11-05",
        "Bakery chain expands",
        "Crumbwell Bakeries opened twelve new shops across the north of the country.",
    ),
]
COMPARE = (
    "Does the Grid Weekly article say that GEM's Gliwice plant will employ 412 people, while "
    "The Daily Ledger article reports that its opening was delayed?"
)
OVER_TIME = (
    "Between the Grid Weekly report of October 20, 2025 and its report of November 20, 2025, "
    "did the opening date of the Gliwice plant change?"
)
WHO_BUILDS = (
    "Which company, according to both Grid Weekly and The Daily Ledger, is behind the "
    "Gliwice recycling plant?"
)
NOT_COVERED = (
    "According to Grid Weekly and The Daily Ledger, which football club did the mayor of "
    "Gliwice support as a child?"
)


def write_corpus(folder: Path) -> Path:
    path = folder / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CORPUS), encoding="utf-8")
    return path


@pytest.fixture
def offline(make_assistant, tmp_path):
    assistant = make_assistant(llm="extractive")
    assert assistant.ingest([write_corpus(tmp_path)]).added == len(CORPUS)
    return assistant


def test_each_outlet_named_is_retrieved_on_its_own_and_comes_first(offline):
    found = offline.searcher.retrieve(COMPARE, k=5)
    assert [(p.part.label, p.part.sources) for p in found.parts] == [
        ("Grid Weekly", ("Grid Weekly",)),
        ("The Daily Ledger", ("The Daily Ledger",)),
    ]
    # Each part's source, in the question's order, before anything else.
    assert [found.hits[p.hit].article_id for p in found.parts if p.hit is not None] == [
        "gw-open",
        "dl-delay",
    ]
    assert {h.article_id for h in found.hits[:2]} == {"gw-open", "dl-delay"}
    assert found.article_ids[:2] == ["gw-open", "dl-delay"]
    # Among the sources, the passage that states its part best comes first.
    rank = offline.searcher.sentence_ranker
    support = [rank(p.part.query(), [found.hits[p.hit]])[1] for p in found.parts]
    assert support[0] != support[1]
    first = found.parts[0 if support[0] > support[1] else 1]
    assert found.hits[0] is found.hits[first.hit] and first.hit == 0
    # The rest are the best of the whole question, at most two passages an article.
    assert len(found.hits) == 5 and "bakery" not in {h.article_id for h in found.hits}


def test_each_part_brings_its_articles_second_passage_before_the_rest(make_assistant, tmp_path):
    filler = " ".join(
        f"Paragraph {n} of the report describes the regional economy, its ports and its "
        "schools in some detail, with figures from the statistics office."
        for n in range(12)
    )
    long_report = article(
        "gw-long",
        "Grid Weekly",
        "2025-10-20",
        "GEM picks Gliwice for recycling plant",
        "GEM will open a battery recycling plant in Gliwice, Poland, employing 412 people.\n\n"
        + filler
        + "\n\nThe Gliwice plant will recycle 30,000 tonnes of batteries a year, GEM said.",
    )
    path = tmp_path / "long.jsonl"
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in [long_report, *CORPUS[1:]]), encoding="utf-8"
    )
    assistant = make_assistant(llm="extractive")
    assistant.ingest([path])
    assert len(assistant.store.rows(["gw-long"])["gw-long"].chunk_ids) >= 3
    found = assistant.searcher.retrieve(
        "Does the Grid Weekly article say the Gliwice recycling plant will employ 412 people "
        "and recycle 30,000 tonnes of batteries, while The Daily Ledger reports a delay?",
        k=4,
    )
    # Each part's best passage, then each part's next best one, then the whole question's.
    assert [h.article_id for h in found.hits[:3]] == ["gw-long", "dl-delay", "gw-long"]
    facts = ("412 people", "30,000 tonnes")
    assert {f for h in (found.hits[0], found.hits[2]) for f in facts if f in h.text} == set(facts)


def test_each_fact_a_question_states_may_bring_another_article_of_its_outlet(offline):
    found = offline.searcher.retrieve(
        "Which company, as reported by Grid Weekly, will employ 412 people at its plant in "
        "Gliwice, and has moved the opening of its battery site in Poland to 2027?",
        k=5,
    )
    articles = list(dict.fromkeys(h.article_id for h in found.hits))
    # Each fact's Grid Weekly article before the other outlets' (Metro News also reported
    # the 412 jobs): the whole question alone ranks metro-jobs above gw-open.
    assert set(articles[:2]) == {"gw-open", "gw-later"}


def test_one_outlet_on_two_dates_gives_both_reports(offline):
    found = offline.searcher.retrieve(OVER_TIME, k=4)
    assert [p.part.label for p in found.parts] == [
        "Grid Weekly, 20 October 2025",
        "Grid Weekly, 20 November 2025",
    ]
    assert [h.article_id for h in found.hits[:2]] == ["gw-open", "gw-later"]


def test_a_filter_of_the_caller_still_holds_over_the_parts(offline):
    from index import SearchFilter

    found = offline.searcher.retrieve(COMPARE, k=5, where=SearchFilter(sources=("Grid Weekly",)))
    assert {h.source for h in found.hits} == {"Grid Weekly"}
    assert found.hits[0].article_id == "gw-open"


def test_the_offline_answer_quotes_each_report_side_by_side(offline):
    answer = offline.ask(COMPARE)
    assert not answer.refused
    assert [c.article_id for c in answer.citations] == ["gw-open", "dl-delay"]
    assert "412 people" in answer.citations[0].quote
    assert "delayed until 2027" in answer.citations[1].quote
    # Labelled with outlet and date, in the question's order; no yes or no pretended.
    ledger = answer.answer.index("The Daily Ledger")
    assert answer.answer.index("Grid Weekly") < ledger
    assert "20 October 2025" in answer.answer and "3 November 2025" in answer.answer
    assert not answer.answer.lower().startswith(("yes", "no"))
    for c in answer.citations:
        assert offline.article(c.article_id)[1][c.start : c.end] == c.quote


def test_a_question_the_reports_do_not_answer_is_still_refused(offline):
    answer = offline.ask(NOT_COVERED)
    assert answer.refused and answer.answer == REFUSAL


@pytest.fixture
def llm(tmp_path, embedder, llm_server):
    assistant = scripted_llm_assistant(tmp_path / "data", embedder, llm_server.base_url)
    assert assistant.ingest([write_corpus(tmp_path)]).added == len(CORPUS)
    return assistant


def prompt_of(llm_server) -> str:
    return llm_server.requests[-1]["body"]["messages"][-1]["content"]


def compared(llm, llm_server, reply: str):
    """The answer to COMPARE when the model replies `reply`."""
    llm_server.script(Reply(reply))
    return llm.ask(COMPARE)


def test_the_part_stated_best_comes_first_among_the_sources(offline):
    # The first part is vague, the second is one sentence of its report nearly word for word.
    found = offline.searcher.retrieve(
        "Does The Daily Ledger article mention the company, while the Grid Weekly article says "
        "the plant will employ 412 people and process 30,000 tonnes of batteries a year?",
        k=5,
    )
    assert [p.part.label for p in found.parts] == ["The Daily Ledger", "Grid Weekly"]
    assert [found.hits[p.hit].article_id for p in found.parts if p.hit is not None] == [
        "dl-delay",
        "gw-open",
    ]
    assert found.hits[0].article_id == "gw-open"


def test_the_model_is_told_which_source_stands_for_each_report(llm, llm_server):
    answer = compared(
        llm,
        llm_server,
        "No. Grid Weekly reported that the Gliwice plant will employ 412 people. The Daily "
        "Ledger reported that the opening of the plant was delayed until 2027.",
    )
    prompt = prompt_of(llm_server)
    assert "This question is about several reports" in prompt
    numbers = {}
    for label in ("Grid Weekly", "The Daily Ledger"):
        line = next(x for x in prompt.splitlines() if x.startswith(f"- {label}: source ["))
        numbers[label] = int(line.rsplit("[", 1)[1].rstrip("]"))
    sources = prompt.split('<source n="')[1:]
    assert "employ 412 people" in sources[numbers["Grid Weekly"] - 1]
    assert "delayed until 2027" in sources[numbers["The Daily Ledger"] - 1]
    # The direct answer is kept; each report's sentence is cited to its own article.
    assert not answer.quoted_instead and not answer.unsupported
    assert answer.answer.startswith("No.")
    assert [c.article_id for c in answer.citations] == ["gw-open", "dl-delay"]


def test_the_model_is_asked_for_the_kind_of_direct_answer_the_question_wants(llm, llm_server):
    llm_server.script(Reply("Yes."), Reply("GEM [1]."))
    llm.ask(COMPARE)
    assert "the word Yes or the word No" in prompt_of(llm_server)
    llm.ask(WHO_BUILDS)
    prompt = prompt_of(llm_server)
    assert "This question is about several reports" in prompt
    assert "the name or number the question asks for" in prompt and "word Yes" not in prompt
    # Each report's evidence is asked for as a sentence copied from its source.
    assert "copy word for word" in prompt


def test_sentences_copied_from_each_report_carry_the_direct_answer(llm, llm_server):
    # What the local model wrote when asked to copy each report's sentence: the answer
    # with a stray marker, then one quoted line per report, its outlet before it.
    answer = compared(
        llm,
        llm_server,
        "Yes [1]\n"
        'Grid Weekly: "The plant will employ 412 people and process 30,000 tonnes of '
        'batteries a year." [1]\n'
        'The Daily Ledger: "The opening of the Gliwice recycling plant has been delayed '
        'until 2027 because of permit problems, the company said." [2]',
    )
    assert not answer.quoted_instead and not answer.unsupported
    assert answer.answer.startswith("Yes")
    assert [c.article_id for c in answer.citations] == ["gw-open", "dl-delay"]
    assert "employ 412 people" in answer.citations[0].quote
    assert "delayed until 2027" in answer.citations[1].quote


def test_a_quote_the_report_does_not_hold_does_not_carry_the_answer(llm, llm_server):
    # The model "copied" a sentence but changed its figure: no source holds it.
    answer = compared(
        llm,
        llm_server,
        "Yes\n"
        'Grid Weekly: "The plant will employ 950 people and make solar panels." [1]\n'
        'The Daily Ledger: "The opening of the plant was moved forward to 2025." [2]',
    )
    assert answer.quoted_instead and not answer.answer.startswith("Yes")
    assert "950" not in answer.answer and "solar" not in answer.answer


def test_one_sentence_joining_both_reports_is_cited_clause_by_clause(llm, llm_server):
    # What the local model wrote for most comparisons: the answer, then one sentence that
    # restates each report's claim joined by "while", with the markers at its end.
    answer = compared(
        llm,
        llm_server,
        "No. The Grid Weekly article suggests that the Gliwice plant will employ 412 "
        "people, while The Daily Ledger article reports that the opening of the plant was "
        "delayed until 2027 [1][2].",
    )
    assert not answer.quoted_instead and not answer.unsupported
    assert answer.answer.startswith("No. The Grid Weekly article suggests")
    assert [c.article_id for c in answer.citations] == ["gw-open", "dl-delay"]
    # Each clause carries the marker of the sentence that supports it.
    assert "412 people [1], while The Daily Ledger" in answer.answer
    assert answer.answer.endswith("until 2027 [2].")


def test_a_joined_sentence_with_one_clause_no_report_holds_is_not_presented(llm, llm_server):
    answer = compared(
        llm,
        llm_server,
        "Yes. The Grid Weekly article suggests that the Gliwice plant will employ 412 "
        "people, while The Daily Ledger article reports that the plant will make solar "
        "panels for farms [1][2].",
    )
    assert answer.quoted_instead and "solar" not in answer.answer


@pytest.mark.parametrize(
    "reply",
    [
        "Yes.",  # a yes or no without evidence
        "Yes. Grid Weekly said the Gliwice plant will build solar panels for farms.",  # unsupported
    ],
)
def test_a_reply_without_supported_evidence_gives_way_to_the_reports_side_by_side(
    llm, llm_server, reply
):
    answer = compared(llm, llm_server, reply)
    assert answer.quoted_instead and not answer.refused
    assert [c.article_id for c in answer.citations] == ["gw-open", "dl-delay"]
    assert "solar" not in answer.answer


def test_a_question_the_reports_do_not_cover_is_refused_before_the_model_is_asked(llm, llm_server):
    asked = len(llm_server.requests)
    answer = llm.ask(NOT_COVERED)
    assert answer.refused and len(llm_server.requests) == asked


def test_yes_no_questions_are_told_from_questions_for_a_name():
    from assistant.parts import is_yes_no

    assert is_yes_no(COMPARE) and is_yes_no(OVER_TIME)
    assert is_yes_no("Between the two reports, was there a change in the plant's cost?")
    assert not is_yes_no(NOT_COVERED)
    assert not is_yes_no("According to Grid Weekly, who runs the Gliwice plant?")


def test_a_question_for_a_name_gets_the_answer_then_each_report(offline):
    answer = offline.ask(
        "Which company's Gliwice plant will employ 412 people, as reported by Grid Weekly, and "
        "had its opening delayed until 2027 because of permits, according to The Daily Ledger?"
    )
    assert not answer.refused
    # The best answer first (from whichever article holds it), then each report named.
    assert {"gw-open", "dl-delay"} <= {c.article_id for c in answer.citations}
    assert len(answer.citations) >= 2


FILLER = (
    "The weather in the region stayed mild through the autumn. Football fans filled the "
    "stadium for the derby on Saturday. Traffic on the motorway was heavy before the holiday. "
    "A new bakery opened near the station and sold out of bread by noon. "
)


def test_a_part_gets_the_passage_of_its_article_that_states_it(make_assistant, tmp_path):
    # A long report whose first passage is all about the plant, one word of the question per
    # sentence, and whose later passage holds the one sentence that states the part: a
    # chunk's vector and its word counts favour the first, the sentence ranker the second.
    overview = (
        "GEM is a Chinese battery company. Gliwice is a city in southern Poland. The plant "
        "sits beside the river. People in the region followed the plans closely. GEM wants to "
        "employ engineers from the local university. Gliwice welcomed GEM last year. The plant "
        "has a large car park. Local people asked about noise. GEM will employ contractors "
        "during the build. The Gliwice plant covers forty hectares. Many people attended the "
        "open day at the plant. GEM said the plant will recycle batteries. "
    )
    long_report = article(
        "gw-long",
        "Grid Weekly",
        "2025-10-20",
        "Inside a new factory",
        overview + FILLER * 3 + "GEM's Gliwice plant will employ 412 people. " + FILLER * 2,
    )
    assistant = make_assistant(llm="extractive")
    rows = [long_report, *(r for r in CORPUS if r["id"] == "dl-delay")]
    assert assistant.ingest([write_rows(tmp_path, rows)]).chunks >= 3
    question = (
        "Does the Grid Weekly article say how many people GEM's Gliwice plant will employ, "
        "while The Daily Ledger article reports that the opening was delayed?"
    )
    found = assistant.searcher.retrieve(question, k=4)
    assert "412 people" in found.hits[found.parts[0].hit].text
    assistant.searcher.sentence_ranker = None  # chunk vectors and word counts alone
    found = assistant.searcher.retrieve(question, k=4)
    assert "412 people" not in found.hits[found.parts[0].hit].text


def write_rows(folder: Path, rows: list[dict]) -> Path:
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROUNDUP_CORPUS = [
    article(
        "tp-roundup",
        "Tech Pulse",
        "2025-11-07",
        "The week in tech: new phones, a chip deal and a fine",
        "Brightline unveiled two new phones with larger screens on Monday. A chip maker in "
        "Taiwan agreed to supply Orvell for five more years. Regulators fined Vantor 40 "
        "million euros over its data practices. A streaming service raised its prices "
        "again. Solar start-ups raised record sums this quarter.",
    ),
    article(
        "tp-profile",
        "Tech Pulse",
        "2025-11-02",
        "Vantor, regulators and the data practices question",
        "Regulators in Europe keep asking about the data practices of Vantor. Vantor says "
        "its data practices follow the rules regulators wrote, and that euros spent on "
        "compliance run to the millions. Critics of its data practices want regulators to "
        "act.",
    ),
    article(
        "tp-strike",
        "Tech Pulse",
        "2025-11-10",
        "Vantor warehouse workers walk out",
        "Warehouse workers at Vantor went on strike on Monday, demanding higher pay and "
        "shorter shifts. The strike closed three of its sites.",
    ),
    article(
        "ml-fine",
        "Metro News",
        "2025-11-07",
        "Vantor fined",
        "Vantor was fined 40 million euros by regulators over its data practices.",
    ),
]


def test_a_fact_brings_the_report_whose_sentence_states_it(make_assistant, tmp_path):
    """The fine is one line of a weekly roundup; a profile of the company repeats the
    fact's words without stating it and matches better as a whole. The fact's source is
    the chunk whose sentence states it."""
    path = tmp_path / "roundup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROUNDUP_CORPUS), encoding="utf-8")
    assistant = make_assistant(llm="extractive")
    assistant.ingest([path])
    question = (
        "Which company, fined 40 million euros by regulators over its data practices, and "
        "facing a strike by its warehouse workers, as reported by Tech Pulse?"
    )
    searcher = assistant.searcher
    fact = "fined 40 million euros by regulators over its data practices"
    assert fact in facets(question, searcher.facts.outlets())
    within = SearchFilter(sources=("Tech Pulse",))
    # As a whole chunk, the profile matches the fact better than the roundup does.
    ranked = [h.article_id for h in searcher.search(fact, k=3, where=within)]
    assert ranked.index("tp-profile") < ranked.index("tp-roundup")

    found = searcher.retrieve(question, k=3)
    articles = [h.article_id for h in found.hits]
    assert "tp-roundup" in articles and "tp-strike" in articles
    assert "ml-fine" not in articles  # the outlet named holds it

    searcher.fact_pool = 0  # each fact's best chunk as a whole, as before
    assert "tp-roundup" not in [h.article_id for h in searcher.retrieve(question, k=3).hits]

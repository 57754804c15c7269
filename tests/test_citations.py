"""Citation checking: markers renumbered, bad markers dropped, missing ones attached,
unsupported claims reported; quotes always equal the article body at their offsets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.citations import check_citations
from assistant.markers import split_claims
from assistant.models import REFUSAL
from assistant.support import SupportScorer
from index import Hit

BODY_A = (
    "Intro line here. GEM Co. is partnering with Ascend Elements to build a battery recycling "
    "network in Europe. The deal was announced on 4 November 2025."
)
BODY_B = "Northvolt filed for Chapter 11 protection in Texas. Its chief executive stepped down."


def hit(article_id: str, body: str, start: int, end: int, title: str) -> Hit:
    return Hit(
        chunk_id=f"{article_id}-0",
        article_id=article_id,
        title=title,
        source="Wire",
        published_at="2025-11-04",
        url=f"https://example.com/{article_id}",
        text=body[start:end],
        start=start,
        end=end,
        score=0.5,
    )


@pytest.fixture(scope="module")
def hits():
    # Chunk A starts mid-body so offsets into the article differ from offsets into the chunk.
    start = BODY_A.index("GEM")
    return [
        hit("b", BODY_B, 0, len(BODY_B), "Northvolt"),
        hit("a", BODY_A, start, len(BODY_A), "GEM deal"),
    ]


@pytest.fixture(scope="module")
def scorer(embedder):
    return SupportScorer(embedder)


def body_of(article_id: str) -> str:
    return {"a": BODY_A, "b": BODY_B}[article_id]


def assert_consistent(checked):
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", checked.text)]
    assert (
        sorted(set(numbers))
        == [c.n for c in checked.citations]
        == list(range(1, len(checked.citations) + 1))
    )
    assert list(dict.fromkeys(numbers)) == [c.n for c in checked.citations], "numbered by first use"
    for c in checked.citations:
        assert body_of(c.article_id)[c.start : c.end] == c.quote


def test_markers_are_renumbered_in_order_of_first_use(hits, scorer):
    draft = (
        "GEM is partnering with Ascend Elements [2]. Northvolt filed for Chapter 11 in Texas [1]."
    )
    checked = check_citations(draft, hits, scorer)
    assert_consistent(checked)
    assert checked.text == (
        "GEM is partnering with Ascend Elements [1]. Northvolt filed for Chapter 11 in Texas [2]."
    )
    first, second = checked.citations
    assert first.article_id == "a" and "Ascend Elements" in first.quote
    assert second.article_id == "b" and second.quote.startswith("Northvolt filed")
    assert not checked.unsupported and not checked.refused


def test_a_marker_pointing_at_no_source_is_dropped_and_the_claim_still_cited(hits, scorer):
    checked = check_citations("GEM is partnering with Ascend Elements [9].", hits, scorer)
    assert_consistent(checked)
    assert "[9]" not in checked.text and checked.text.endswith("[1].")
    assert checked.citations[0].article_id == "a"


def test_a_wrong_marker_is_repointed_to_the_supporting_source(hits, scorer):
    checked = check_citations("The deal was announced on 4 November 2025 [1].", hits, scorer)
    assert checked.citations[0].article_id == "a"
    assert checked.citations[0].quote == "The deal was announced on 4 November 2025."


def test_an_answer_without_markers_gets_citations_attached(hits, scorer):
    checked = check_citations(
        "GEM teamed up with Ascend Elements on recycling in Europe. Northvolt's CEO stepped down.",
        hits,
        scorer,
    )
    assert_consistent(checked)
    assert len(checked.citations) == 2
    assert checked.text.count("[") == 2


def test_a_claim_no_source_supports_is_reported_not_cited(hits, scorer):
    checked = check_citations(
        "GEM is partnering with Ascend Elements [1]. Tesla will build a moon base on Mars by 2030 [2].",
        hits,
        scorer,
    )
    assert_consistent(checked)
    assert checked.unsupported == ["Tesla will build a moon base on Mars by 2030."]
    assert len(checked.citations) == 1
    assert "moon base on Mars by 2030." in checked.text and "2030 [" not in checked.text


def test_markers_after_the_full_stop_belong_to_the_sentence_before(hits, scorer):
    _, claims = split_claims("GEM partners with Ascend Elements. [2] Northvolt filed in Texas.[1]")
    assert [c.markers for c in claims] == [[2], [1]]
    assert claims[0].text == "GEM partners with Ascend Elements."


def test_refusal_and_empty_drafts(hits, scorer):
    for draft in (REFUSAL, "  ", "the indexed articles do not cover this"):
        checked = check_citations(draft, hits, scorer)
        assert checked.refused and checked.text == REFUSAL and not checked.citations
    assert check_citations("Anything at all.", [], scorer).refused


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "GEM is partnering with Ascend Elements",
                    "Northvolt filed for Chapter 11 protection in Texas",
                    "The deal was announced on 4 November 2025",
                    "Bananas are yellow and grow in bunches",
                    "In short",
                ]
            ),
            st.lists(st.integers(min_value=0, max_value=12), max_size=3),
            st.sampled_from([".", "!", ""]),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_draft_yields_consistent_citations(hits, scorer, parts):
    """Whatever markers a model writes, the result is numbered 1.. with exact quotes."""
    text = " ".join(
        f"{claim}{stop} {''.join(f'[{n}]' for n in marks)}"
        if after
        else f"{claim} {''.join(f'[{n}]' for n in marks)}{stop}"
        for claim, marks, stop, after in parts
    )
    checked = check_citations(text, hits, scorer)
    if not checked.refused:
        assert_consistent(checked)


@pytest.mark.parametrize(
    "claim",
    [
        "GEM is partnering with Tesla [1].",  # a name no source mentions
        "Northvolt filed for Chapter 11 protection in Texas in 2031 [1].",  # a wrong figure
    ],
)
def test_a_claim_with_a_wrong_name_or_figure_is_unsupported(hits, scorer, claim):
    checked = check_citations(claim, hits, scorer)
    assert checked.unsupported == [claim.replace(" [1]", "")]
    assert not checked.citations


def test_a_paraphrase_with_the_right_names_is_still_supported(hits, scorer):
    checked = check_citations("In Texas, Northvolt sought Chapter 11 protection [2].", hits, scorer)
    assert checked.citations and checked.citations[0].article_id == "b"
    assert not checked.unsupported


def test_a_sentence_joining_two_reports_is_cited_clause_by_clause(hits, scorer):
    draft = (
        "The Wire report on the GEM deal published on 4 November 2025 states that GEM is "
        "partnering with Ascend Elements to build a battery recycling network in Europe, while "
        "the Wire report on Northvolt says that Northvolt filed for Chapter 11 protection in "
        "Texas [1][2]."
    )
    checked = check_citations(draft, hits, scorer)
    assert not checked.unsupported and checked.main_supported
    assert [c.article_id for c in checked.citations] == ["a", "b"]
    assert "in Europe [1], while the Wire report" in checked.text
    assert checked.text.endswith("in Texas [2].")
    assert_consistent(checked)


def test_a_joined_sentence_is_not_cut_into_fragments(hits, scorer):
    # "X, but not Y" has no second claim to cite: the sentence is checked whole.
    draft = "Northvolt filed for Chapter 11 protection in Texas, but not in Sweden [1]."
    checked = check_citations(draft, hits, scorer)
    assert len(checked.citations) <= 1
    assert_consistent(checked)


def test_a_clause_saying_a_report_does_not_cover_something_becomes_a_note(hits, scorer):
    draft = (
        "Yes. Northvolt filed for Chapter 11 protection in Texas, while the Wire article on "
        "GEM does not mention any change in its recycling plans [1]."
    )
    checked = check_citations(draft, hits, scorer)
    assert not checked.refused and checked.main_supported and not checked.unsupported
    assert checked.text == "Yes. Northvolt filed for Chapter 11 protection in Texas [1]."
    assert checked.limits == [
        "The Wire article on GEM does not mention any change in its recycling plans."
    ]
    assert_consistent(checked)

"""A question that spans articles, split into its parts by the index's own outlets and the
dates it names (assistant/parts.py)."""

from __future__ import annotations

from datetime import date

from assistant.dates import explicit_dates
from assistant.parts import OutletNames, facets, split_question

OUTLETS = OutletNames(
    [
        "Grid Weekly",
        "The Daily Ledger",
        "Metro News - Business",
        "Metro News - Sport",
        "Wirex | Energy Wire Service",
        "The Age",
        "Fortune",
    ]
)
TODAY = date(2025, 12, 31)


def parts_of(question: str) -> list[tuple[str, tuple[str, ...], date | None, date | None, str]]:
    return [
        (p.label, p.sources, p.since, p.until, p.text)
        for p in split_question(question, OUTLETS, today=TODAY)
    ]


def test_outlets_answer_to_their_short_names_and_capitals_only():
    def named(q: str) -> list[tuple[str, ...]]:
        return [found for _, _, found in OUTLETS.mentions(q)]

    assert named("as Wirex and WIREX said") == [("Wirex | Energy Wire Service",)] * 2
    assert named("the Daily Ledger and The Daily Ledger") == [("The Daily Ledger",)] * 2
    # A name that several outlets share stands for all of them.
    assert named("a Metro News report") == [("Metro News - Business", "Metro News - Sport")]
    assert named("Metro News - Sport said") == [("Metro News - Sport",)]
    # Ordinary words are not outlets: capitals matter.
    assert named("in the age of grid weekly fortune hunters") == []


def test_a_comparison_of_two_outlets_gives_each_its_own_clause():
    got = parts_of(
        "Does the Grid Weekly article suggest that GEM will open a recycling plant in "
        "Gliwice, while The Daily Ledger article reports that the plant was delayed?"
    )
    assert [(label, sources) for label, sources, *_ in got] == [
        ("Grid Weekly", ("Grid Weekly",)),
        ("The Daily Ledger", ("The Daily Ledger",)),
    ]
    assert got[0][4] == (
        "Does the Grid Weekly article suggest that GEM will open a recycling plant in Gliwice"
    )
    assert got[1][4] == "while The Daily Ledger article reports that the plant was delayed"


def test_an_attribution_owns_the_words_before_it():
    got = parts_of(
        "Which company opened a battery plant in Poland, as reported by Grid Weekly, and "
        "signed a supply deal with Umicore according to Fortune?"
    )
    assert [p[4] for p in got] == [
        "Which company opened a battery plant in Poland, as reported by Grid Weekly",
        "signed a supply deal with Umicore according to Fortune",
    ]


def test_dates_go_with_their_outlet_and_one_outlet_on_two_dates_is_two_parts():
    got = parts_of(
        "Between the report by The Age on October 20, 2025, about the cathode plant and the "
        "Fortune report published on November 3, 2025, did the plant's cost change?"
    )
    assert [(p[0], p[1], p[2], p[3]) for p in got] == [
        ("The Age, 20 October 2025", ("The Age",), date(2025, 10, 19), date(2025, 10, 21)),
        ("Fortune, 3 November 2025", ("Fortune",), date(2025, 11, 2), date(2025, 11, 4)),
    ]
    got = parts_of(
        "Did Grid Weekly's reporting on the Gliwice plant change between November 4, 2025 "
        "and November 18, 2025?"
    )
    assert [(p[0], p[2], p[3]) for p in got] == [
        ("Grid Weekly, 4 November 2025", date(2025, 11, 3), date(2025, 11, 5)),
        ("Grid Weekly, 18 November 2025", date(2025, 11, 17), date(2025, 11, 19)),
    ]


def test_after_and_before_leave_one_end_open():
    (after,) = explicit_dates("the report after October 2, 2025", today=TODAY)
    assert (after.since, after.until) == (date(2025, 10, 2), None)
    (before,) = explicit_dates("what Fortune said before 3 Nov", today=TODAY)
    assert (before.since, before.until) == (None, date(2025, 11, 3))
    (part,) = parts_of("What did Fortune say about GEM's plant after October 2, 2025?")
    assert (part[0], part[2], part[3]) == ("Fortune, after 2 October 2025", date(2025, 10, 1), None)


def test_dates_without_outlets_and_questions_with_no_parts():
    got = parts_of("How did the GEM plant's schedule change between June 2, 2025 and July 9, 2025?")
    assert [(p[0], p[1], p[2], p[3]) for p in got] == [
        ("2 June 2025", (), date(2025, 6, 1), date(2025, 6, 3)),
        ("9 July 2025", (), date(2025, 7, 8), date(2025, 7, 10)),
    ]
    assert parts_of("Who is GEM partnering with?") == []
    assert parts_of("What did GEM announce on June 2, 2025?") == []
    # A mention with nothing of its own to say is searched with the whole question.
    question = "Did Grid Weekly report the Gliwice plant's opening date before The Age?"
    assert [p[4] for p in parts_of(question)] == [
        "Did Grid Weekly report the Gliwice plant's opening date before",
        question,
    ]


def test_outlets_named_as_a_list_share_their_stretch():
    question = (
        "Which company, reported by both 'Grid Weekly' and 'The Age', built the plant in "
        "Gliwice and signed a supply deal with Umicore?"
    )
    got = parts_of(question)
    assert [p[0] for p in got] == ["Grid Weekly", "The Age"]
    assert {p[4] for p in got} == {question.rstrip("?")}
    # A list is one mention among others: it owns its stretch as one.
    got = parts_of(
        "Did Grid Weekly, Fortune and The Age report that GEM opened the plant, while "
        "The Daily Ledger reported a delay at the site?"
    )
    assert [p[0] for p in got] == ["Grid Weekly", "Fortune", "The Age", "The Daily Ledger"]
    assert {p[4] for p in got[:3]} == {
        "Did Grid Weekly, Fortune and The Age report that GEM opened the plant"
    }
    assert got[3][4] == "while The Daily Ledger reported a delay at the site"


def test_the_facts_a_question_states_about_its_subject():
    question = (
        "Which company, scrutinized by Fortune for the cost of its Gliwice plant, and by "
        "regulators for its water permits, also faces a strike at its Polish site, as "
        "reported by both Grid Weekly and The Age?"
    )
    assert facets(question, OUTLETS) == [
        "scrutinized by for the cost of its Gliwice plant",
        "by regulators for its water permits",
        "faces a strike at its Polish site",
    ]
    # One fact, or no outlet named: nothing to split.
    assert facets("Which company, as reported by Fortune, opened the Gliwice plant?", OUTLETS) == []
    assert (
        facets("Who opened the Gliwice plant, and who is building the one in Spain?", OUTLETS) == []
    )

"""Time words resolved against an as-of date; dated answers; `ask --as-of`."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import pytest
from conftest import run_cli

from assistant.dates import resolve_dates
from assistant.sources import without_attribution

TODAY = date(2025, 11, 6)  # a Thursday


@pytest.mark.parametrize(
    ("question", "since", "until", "anchored"),
    [
        ("What happened this week?", date(2025, 10, 30), TODAY, True),
        ("Who resigned yesterday?", date(2025, 11, 5), date(2025, 11, 5), True),
        ("What did Apple announce on Tuesday?", date(2025, 11, 4), date(2025, 11, 4), True),
        ("What happened last week?", date(2025, 10, 23), date(2025, 10, 30), True),
        ("What changed last month?", date(2025, 10, 1), date(2025, 10, 31), True),
        ("What happened in June?", date(2025, 6, 1), date(2025, 6, 30), False),
        ("What happened in December?", date(2024, 12, 1), date(2024, 12, 31), False),
        ("Deals announced on 4 November 2025", date(2025, 11, 4), date(2025, 11, 4), False),
        ("Deals of March 3?", date(2025, 3, 3), date(2025, 3, 3), False),
        ("What was filed on 2024-11-21?", date(2024, 11, 21), date(2024, 11, 21), False),
        ("Layoffs over the past two weeks", date(2025, 10, 23), TODAY, True),
        ("Which records fell in 2023?", date(2023, 1, 1), date(2023, 12, 31), False),
    ],
)
def test_time_words_become_a_window(question, since, until, anchored):
    intent = resolve_dates(question, today=TODAY)
    assert intent is not None
    assert (intent.since, intent.until, intent.anchored) == (since, until, anchored)


def test_recently_and_latest_prefer_the_newest():
    for question in ("What did GEM announce recently?", "What is the latest on Northvolt?"):
        intent = resolve_dates(question, today=TODAY)
        assert intent is not None and intent.recent and intent.until == TODAY


@pytest.mark.parametrize(
    "question",
    ["Who is GEM partnering with?", "May prices march higher?", "What grew 12% in sales?"],
)
def test_no_time_words_no_window(question):
    assert resolve_dates(question, today=TODAY) is None


def test_answers_say_when_and_where_with_exact_quotes(sample_assistant):
    answer = sample_assistant.ask("Who is GEM partnering with?")
    lead = "On 4 November 2025, Battery Brief reported under the headline “Ascend Elements"
    assert answer.answer.startswith(lead)
    first = answer.citations[0]
    assert sample_assistant.article(first.article_id)[1][first.start : first.end] == first.quote
    assert first.quote.rstrip(".") in answer.answer and "Ascend Elements" in first.quote
    assert without_attribution(answer.answer).startswith(first.quote[:40])


def test_as_of_resolves_this_week_in_the_cli(tmp_path, sample_dir):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)

    def ask(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(["ask", *args], data=data)

    covered = ask("Who did GEM partner with this week?", "--as-of", "2025-11-06", "--json")
    assert covered.returncode == 0, covered.stderr
    body = json.loads(covered.stdout)
    assert not body["refused"] and "Ascend Elements" in body["answer"]
    assert any("30 October 2025 to 6 November 2025" in n for n in body["notes"])
    stale = json.loads(
        ask("Who did GEM partner with this week?", "--as-of", "2031-01-01", "--json").stdout
    )
    assert stale["refused"] and stale["citations"] == []
    bad = ask("Who did GEM partner with?", "--as-of", "next tuesday")
    assert bad.returncode == 2 and "--as-of" in bad.stderr

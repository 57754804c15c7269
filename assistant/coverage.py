"""Coverage at a glance: how many articles each outlet published per day or week, and a
timeline as points on a dated strip (the rows the web UI's plots draw; no gradio here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from index import ArticleRecord
from index.schema import stored_date

from .models import Timeline

__all__ = ["CoverageRow", "StripPoint", "coverage", "timeline_strip"]

Period = Literal["day", "week"]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """How many articles `source` published in the day or week starting `period`."""

    period: date
    source: str
    articles: int


def _start(day: date, per: Period) -> date:
    return day - timedelta(days=day.weekday()) if per == "week" else day


def coverage(
    records: Iterable[ArticleRecord],
    *,
    per: Period = "day",
    sources: Sequence[str] = (),
    since: date | None = None,
    until: date | None = None,
) -> list[CoverageRow]:
    """Articles per outlet per day (or per week, starting Monday), oldest first, within the
    outlets and dates given (the same filters as a question). Undated articles are left out."""
    counts: Counter[tuple[date, str]] = Counter()
    wanted = set(sources)
    for r in records:
        day = stored_date(r.published_at)
        source = r.source or "(unknown outlet)"
        if day is None or (wanted and r.source not in wanted):
            continue
        if (since and day < since) or (until and day > until):
            continue
        counts[(_start(day, per), source)] += 1
    return [CoverageRow(p, s, n) for (p, s), n in sorted(counts.items())]


@dataclass(frozen=True, slots=True)
class StripPoint:
    """A timeline item as a point on a dated strip: where it sits, how many outlets ran
    the story, the outlet cited, and its headline."""

    n: int
    day: date
    outlets: int
    source: str
    title: str


def timeline_strip(timeline: Timeline) -> list[StripPoint]:
    """The timeline's items as points, oldest first (undated items left out)."""
    points = []
    for item in timeline.items:
        day = stored_date(item.date)
        if day is None:
            continue
        c = item.citation
        outlets = len({c.source, *(r.source for r in c.also_reported_by)})
        points.append(StripPoint(c.n, day, outlets, c.source or "(unknown outlet)", c.title))
    return points

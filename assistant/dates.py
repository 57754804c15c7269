"""Time words in a question, resolved against an as-of date.

"this week", "last month", "yesterday", "on Tuesday", "in June", "recently", "latest" ...
become a `DateIntent`: a window of publication dates to prefer, and whether the phrase is
anchored to the as-of date (then an index with nothing published near that window does not
cover the question). Phrases are resolved, never guessed: a question with no time words
gets no intent.

News is published a day or two after the event it reports, and quiz-style questions say
"this week" of an article from last week, so windows are preferences, not hard filters;
explicit filters come from the caller (`--since`, `--until`, `SearchFilter`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from index.schema import stored_date

__all__ = ["DateIntent", "NamedDate", "explicit_dates", "format_date", "resolve_dates"]

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}

# Month names must be capitalised: "may", "march" and "sat" are also ordinary words.
_CAPITALISED = "|".join(n.capitalize() for n in sorted(_MONTHS, key=len, reverse=True))
_MONTH = rf"(?P<month>(?-i:{_CAPITALISED}))\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)\b")),
    ("day_month", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b", re.I)),
    ("month_day", re.compile(rf"\b{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?\b(?!\s*(?:%|percent))", re.I)),
    ("month_year", re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.I)),
    ("in_month", re.compile(rf"\b(?:in|during|since|from|early|late|mid-?)\s+{_MONTH}\b", re.I)),
    ("today", re.compile(r"\b(?:today|tonight|this morning|this afternoon)\b", re.I)),
    ("yesterday", re.compile(r"\b(?:yesterday|last night)\b", re.I)),
    (
        "weekday",
        re.compile(rf"\b(?:on|last|this past)\s+(?P<weekday>{'|'.join(_WEEKDAYS)})\b", re.I),
    ),
    ("this_weekend", re.compile(r"\b(?:this|last|past)\s+weekend\b", re.I)),
    (
        "last_n",
        re.compile(
            r"\b(?:last|past|previous)\s+(?P<n>\d+|two|three|four|five|six|seven|ten)\s+"
            r"(?P<unit>days?|weeks?|months?)\b",
            re.I,
        ),
    ),
    ("this_week", re.compile(r"\b(?:this|past|the past)\s+week\b|\bthis\s+week'?s?\b", re.I)),
    ("last_week", re.compile(r"\b(?:last|previous)\s+week\b", re.I)),
    ("this_month", re.compile(r"\bthis\s+month\b", re.I)),
    ("last_month", re.compile(r"\b(?:last|previous|past)\s+month\b", re.I)),
    ("this_year", re.compile(r"\bthis\s+year\b", re.I)),
    ("last_year", re.compile(r"\blast\s+year\b", re.I)),
    ("in_year", re.compile(rf"\b(?:in|during|since)\s+{_YEAR}\b", re.I)),
    (
        "recent",
        re.compile(
            r"\b(?:recent(?:ly)?|latest|newest|most recent|currently|right now|"
            r"this season|new(?:ly)? (?:published|released|announced))\b",
            re.I,
        ),
    ),
]
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}
# How far back "recently" / "latest" reach.
RECENT_DAYS = 30


@dataclass(frozen=True, slots=True)
class DateIntent:
    """A window of publication dates a question asks about.

    `anchored` is True when the words are relative to the as-of date ("this week",
    "yesterday", "recently"): an index with nothing published near the window cannot
    answer. `recent` asks for the newest articles first.
    """

    since: date
    until: date
    phrase: str
    anchored: bool = False
    recent: bool = False

    def describe(self) -> str:
        """The window in words, for notes and answers."""
        if self.since == self.until:
            return format_date(self.since)
        return f"{format_date(self.since)} to {format_date(self.until)}"


def format_date(value: date | str, *, short: bool = False) -> str:
    """4 November 2025 (`short`: 4 Nov 2025). A string is read as an ISO date; one that is
    not a date comes back unchanged (escape it when showing it)."""
    day = stored_date(value.strip()[:10]) if isinstance(value, str) else value
    if day is None:
        return str(value)
    month = (calendar.month_abbr if short else calendar.month_name)[day.month]
    return f"{day.day} {month} {day.year}"


def _month_window(year: int, month: int) -> tuple[date, date]:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1), date(year, month, last)


def _latest_year_for(month: int, day: int, today: date) -> int:
    """The year of the latest such month (and day) on or before `today`."""
    try:
        candidate = date(today.year, month, min(day, calendar.monthrange(today.year, month)[1]))
    except ValueError:
        return today.year
    return today.year if candidate <= today else today.year - 1


def resolve_dates(question: str, *, today: date) -> DateIntent | None:
    """The first time phrase of `question` as a window of dates, or None."""
    found: list[tuple[int, DateIntent]] = []
    for kind, pattern in _RULES:
        for match in pattern.finditer(question):
            intent = _resolve(kind, match, today)
            if intent is not None:
                found.append((match.start(), intent))
                break
    if not found:
        return None
    # An explicit calendar date beats a vague "recently" wherever it is in the question.
    precise = [f for f in found if not f[1].recent]
    return min(precise or found, key=lambda f: f[0])[1]


def _resolve(kind: str, m: re.Match[str], today: date) -> DateIntent | None:
    phrase = m.group(0)
    groups = m.groupdict()
    try:
        if kind == "iso":
            day = date.fromisoformat(groups["iso"])
            return DateIntent(day, day, phrase)
        if kind in ("day_month", "month_day"):
            month = _MONTHS[groups["month"].lower()]
            dd = int(groups["day"])
            year = int(groups["year"]) if groups.get("year") else _latest_year_for(month, dd, today)
            day = date(year, month, dd)
            return DateIntent(day, day, phrase)
        if kind == "month_year":
            since, until = _month_window(int(groups["year"]), _MONTHS[groups["month"].lower()])
            return DateIntent(since, until, phrase)
        if kind == "in_month":
            month = _MONTHS[groups["month"].lower()]
            since, until = _month_window(_latest_year_for(month, 1, today), month)
            return DateIntent(since, until, phrase)
        if kind == "in_year":
            year = int(groups["year"])
            return DateIntent(date(year, 1, 1), date(year, 12, 31), phrase)
    except (ValueError, KeyError):
        return None
    return _relative(kind, m, today)


def _relative(kind: str, m: re.Match[str], today: date) -> DateIntent | None:
    phrase = m.group(0)
    if kind == "today":
        return DateIntent(today, today, phrase, anchored=True)
    if kind == "yesterday":
        day = today - timedelta(days=1)
        return DateIntent(day, day, phrase, anchored=True)
    if kind == "weekday":
        wanted = _WEEKDAYS[m.group("weekday").lower()]
        back = (today.weekday() - wanted) % 7 or 7
        day = today - timedelta(days=back)
        return DateIntent(day, day, phrase, anchored=True)
    if kind == "this_weekend":
        back = (today.weekday() - 5) % 7
        saturday = today - timedelta(days=back)
        return DateIntent(saturday - timedelta(days=1), saturday + timedelta(days=1), phrase, True)
    if kind == "last_n":
        raw = m.group("n").lower()
        n = int(raw) if raw.isdigit() else _NUMBERS[raw]
        unit = m.group("unit").lower().rstrip("s")
        days = n * {"day": 1, "week": 7, "month": 30}[unit]
        return DateIntent(today - timedelta(days=days), today, phrase, anchored=True)
    if kind == "this_week":
        return DateIntent(today - timedelta(days=7), today, phrase, anchored=True)
    if kind == "last_week":
        return DateIntent(today - timedelta(days=14), today - timedelta(days=7), phrase, True)
    if kind == "this_month":
        return DateIntent(today.replace(day=1), today, phrase, anchored=True)
    if kind == "last_month":
        first = today.replace(day=1)
        since, until = _month_window(
            (first - timedelta(days=1)).year, (first - timedelta(days=1)).month
        )
        return DateIntent(since, until, phrase, anchored=True)
    if kind == "this_year":
        return DateIntent(date(today.year, 1, 1), today, phrase, anchored=True)
    if kind == "last_year":
        return DateIntent(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), phrase, True)
    if kind == "recent":
        return DateIntent(
            today - timedelta(days=RECENT_DAYS), today, phrase, anchored=True, recent=True
        )
    return None


@dataclass(frozen=True, slots=True)
class NamedDate:
    """A calendar date (or month) a question names, where it names it, and which way it
    points: "after October 2, 2023" leaves `until` open, "before ..." leaves `since` open."""

    start: int
    end: int
    since: date | None
    until: date | None
    phrase: str


_EXPLICIT = ("iso", "day_month", "month_day", "month_year")
_AFTER = re.compile(r"\b(?:after|since)\s+(?:the\s+)?$", re.I)
_BEFORE = re.compile(r"\b(?:before|until|till|prior to|up to)\s+(?:the\s+)?$", re.I)


def explicit_dates(question: str, *, today: date | None = None) -> list[NamedDate]:
    """Every calendar date or month-and-year the question names, in order (relative words
    such as "this week" are not calendar dates). A date without a year takes the latest
    such day on or before `today`."""
    today = today or date.today()
    found: list[NamedDate] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _RULES:
        if kind not in _EXPLICIT:
            continue
        for match in pattern.finditer(question):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            intent = _resolve(kind, match, today)
            if intent is None:
                continue
            since: date | None = intent.since
            until: date | None = intent.until
            lead = question[: match.start()]
            if _AFTER.search(lead):
                until = None
            elif _BEFORE.search(lead):
                since = None
            taken.append((match.start(), match.end()))
            found.append(NamedDate(match.start(), match.end(), since, until, intent.phrase))
    return sorted(found, key=lambda d: d.start)

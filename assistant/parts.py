"""A question that spans articles, split into the parts it is about.

"Does the TechCrunch article suggest ..., while The Age article raises concerns ...?" is
about two articles; "Between The Age's report of October 20, 2023 and its report of
November 3, 2023 ..." about two dates of one outlet. Each part is retrieved on its own
(restricted to its outlet and dates), so the sources of an answer cover every article the
question needs.

The rules read only the index's own metadata (the outlets it holds) and the calendar
dates the question names; nothing is guessed. A question that names no outlet and fewer
than two dates has no parts: it is retrieved whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from index import SearchFilter

from .dates import NamedDate, explicit_dates, format_date

__all__ = ["OutletNames", "Part", "facets", "is_yes_no", "split_question"]

_AUXILIARY = re.compile(
    r"^\W*(?:does|did|do|is|was|are|were|has|have|had|can|could|would|will|should)\b", re.I
)
_WH = re.compile(r"\b(?:who|whom|whose|what|which|where|when|why|how)\b", re.I)


def is_yes_no(question: str) -> bool:
    """True for a question answered by yes or no ("Does the Polygon article suggest ...?",
    "Between the two reports, was there a change ...?"), not by a name or a figure."""
    return bool(_AUXILIARY.match(question)) or _WH.search(question) is None


# Where one part of a sentence ends and the next begins.
_BOUNDARY = re.compile(
    r"\s*(?:[,;:]\s*)?\b(?:while|whereas|but|compared (?:to|with)|versus|and|than|or)\b\s*"
    r"|\s*[,;:]\s+",
    re.I,
)
_STRONG = re.compile(r"while|whereas|but|compared|versus|;", re.I)
# An outlet named at the end of what it reported: "..., as reported by The Verge".
_OWNS_BEFORE = re.compile(
    r"\b(?:according to|reported by|reported in|covered by|published by|stated by|"
    r"as per|by|in|from)\s+(?:both\s+|either\s+)?(?:an?\s+|the\s+)?"
    r"(?:(?:article|report|piece|story)\s+(?:from|by|in|of)\s+)?['‘\"“]?$",
    re.I,
)
# What joins the outlets of a list: "The Verge and TechCrunch", "Fortune, The Age or CNBC".
_LIST_JOINER = re.compile(
    r"['’\"”]?\s*(?:,\s*(?:and\s+|or\s+)?|\s(?:and|or|&)\s+)(?:the\s+)?['‘\"“]?", re.I
)
# What follows a mention that closes its stretch: a boundary or the end of the question.
_CLOSES = re.compile(r"['’\"]?\s*(?:[,;:?.!]|\band\b|\bor\b|$)")
# Words that carry no subject: a stretch made of them (and the outlet's name) is no part.
_FILLER = frozenset(
    "a an and the of by in on from to as both either also article articles report reports "
    "reported piece story covered according published while whereas but or than is was "
    "were are that this these those".split()
)
# Where one fact of a question ends and the next begins: a comma or semicolon, or an "and"
# (or "also") that opens a new predicate ("... and is accused of ...", "... and by EU
# regulators ...").
_FACT_CUT = re.compile(
    r"\s*[,;:]\s*(?:and\s+|while\s+|but\s+)?(?:also\s+)?"
    r"|\s+(?:and|while|but|whereas)\s+(?=(?:is|was|are|were|has|had|have|also|then|later|by)\b)"
    r"|\s+also\s+",
    re.I,
)
# How far around a named date an article counts as "of that date" (time zones, late copy).
_DATE_SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Part:
    """One thing a question is about: its words, and the outlets and dates it names."""

    text: str
    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    label: str = ""  # as the question names it: "TechCrunch", "The Age, 3 November 2023"

    def where(self, base: SearchFilter | None = None) -> SearchFilter | None:
        """This part's search filter, within the caller's own filter `base`; None when
        the two leave nothing (the part names an outlet the caller left out)."""
        base = base or SearchFilter()
        sources = self.sources
        if base.sources:
            sources = tuple(s for s in sources if s in base.sources) if sources else base.sources
            if not sources:
                return None
        since = max((d for d in (self.since, base.since) if d), default=None)
        until = min((d for d in (self.until, base.until) if d), default=None)
        if since and until and since > until:
            return None
        return SearchFilter(sources=sources, since=since, until=until, article_ids=base.article_ids)

    def query(self) -> str:
        """The words to search this part with: its stretch of the question without the
        outlet's name (its filter stands for it)."""
        text = self.text
        if self.sources and self.label:
            text = text.replace(self.label.split(",")[0], " ")
        return " ".join(text.split()) or self.text


class OutletNames:
    """The outlets an index holds and the names a question may call them by.

    "FOX News - Lifestyle" is also "FOX News"; "Cnbc | World Business News Leader" is also
    "CNBC"; "The Verge" is also "Verge". A name several outlets share stands for all of
    them. Names match with their capitals, so "the age of" is not The Age.
    """

    def __init__(self, outlets: Iterable[str]) -> None:
        names: dict[str, set[str]] = {}
        for outlet in outlets:
            for name in _names(outlet):
                names.setdefault(name, set()).add(outlet)
        self.outlets = {name: tuple(sorted(found)) for name, found in names.items()}
        ordered = sorted(self.outlets, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) + r")(?![\w-])")
            if ordered
            else None
        )

    def mentions(self, question: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end, outlets) of every outlet the question names, in order."""
        if self._pattern is None:
            return []
        return [
            (m.start(), m.end(), self.outlets[m.group(0)]) for m in self._pattern.finditer(question)
        ]


def _names(outlet: str) -> set[str]:
    """The names an outlet goes by: in full and its part before " - ", " | " or ": ",
    each with and without a leading "The", and a short one-word name in capitals."""
    full = " ".join(outlet.split())
    heads = {full}
    for sep in (" - ", " | ", ": ", " – "):
        if sep in full:
            heads.add(full.split(sep, 1)[0].strip())
    names = set()
    for head in heads:
        names.add(head)
        if head.startswith("The ") and len(head) > 8:
            names.add(head[4:])
        elif not head.startswith("The "):
            names.add(f"The {head}")
        if " " not in head and len(head) <= 6:
            names.add(head.upper())  # "Cnbc" is written "CNBC"
    return {n for n in names if len(n) >= 3 and n[0].isupper()}


def split_question(question: str, outlets: OutletNames, *, today: date | None = None) -> list[Part]:
    """The parts of `question`, in its order: one per outlet it names (with the dates
    named in that outlet's stretch of the question, one part per date), or one per date
    when it names two or more dates and no outlet. [] when it has no parts."""
    mentions = outlets.mentions(question)
    dates = explicit_dates(question, today=today)
    if not mentions:
        if len(dates) < 2:
            return []
        return [_dated(Part(question), d) for d in dates]
    parts: list[Part] = []
    placed: set[int] = set()
    stretches = _stretches(question, mentions, dates)
    for (start, end), (m_start, m_end, found) in zip(stretches, mentions, strict=True):
        text = question[start:end].strip(" ,;:?")
        if not _says_something(text, question[m_start:m_end]):
            text = question
        part = Part(text, found, label=question[m_start:m_end])
        mine = [d for d in dates if start <= d.start < end and d.start not in placed]
        placed.update(d.start for d in mine)
        for candidate in [_dated(part, d) for d in mine] or [part]:
            if candidate not in parts:
                parts.append(candidate)
    # A date outside every outlet's stretch goes to the outlet named nearest before it.
    for d in dates:
        if d.start in placed:
            continue
        before = [m for m in mentions if m[1] <= d.start] or mentions[:1]
        owner = next(p for p in parts if p.sources == before[-1][2])
        dated = _dated(Part(owner.text, owner.sources, label=owner.label.split(",")[0]), d)
        if dated not in parts:
            parts.append(dated)
    return parts


def facets(question: str, outlets: OutletNames) -> list[str]:
    """The facts a question that names outlets states about its subject ("Which company,
    scrutinized by consumer groups over ..., and by EU regulators for ..., also faces
    allegations of ..., as reported by TechCrunch?" states three), each of which one of
    the outlet's articles may hold; [] when it names no outlet or states fewer than two.
    Attributions ("as reported by TechCrunch") are not facts."""
    mentions = outlets.mentions(question)
    if not mentions:
        return []
    text = question
    for start, end, _ in reversed(mentions):
        text = f"{text[:start]} {text[end:]}"
    found = [
        " ".join(piece.split()).strip(" ?.!'\"‘’“”")
        for piece in _FACT_CUT.split(text)
        if _content_words(piece) >= 3
    ]
    return found if len(found) >= 2 else []


def _content_words(text: str) -> int:
    words = re.findall(r"[\w'’-]+", text.lower())
    return sum(1 for w in words if w not in _FILLER and w not in _QUESTION_WORDS)


# Words that ask rather than state.
_QUESTION_WORDS = frozenset("who what which whom whose when where why how does did do".split())


def _dated(part: Part, named: NamedDate) -> Part:
    since = named.since - _DATE_SLACK if named.since else None
    until = named.until + _DATE_SLACK if named.until else None
    when = format_date(named.since or named.until)  # type: ignore[arg-type]
    if named.since and named.until and named.since != named.until:
        when = f"{format_date(named.since)} to {format_date(named.until)}"
    elif named.since and not named.until:
        when = f"after {when}"
    elif named.until and not named.since:
        when = f"before {when}"
    label = f"{part.label}, {when}" if part.label else when
    return Part(part.text, part.sources, since, until, label)


def _says_something(text: str, outlet: str) -> bool:
    words = re.findall(r"[\w'’-]+", text.replace(outlet, " ").lower())
    return sum(1 for w in words if w not in _FILLER) >= 2


def _stretches(
    question: str, mentions: list[tuple[int, int, tuple[str, ...]]], dates: list[NamedDate]
) -> list[tuple[int, int]]:
    """The stretch of the question each outlet mention owns.

    Outlets named as a list ("reported by both The Verge and TechCrunch") share one
    stretch. A mention that closes an attribution ("..., as reported by The Verge, who
    ...") owns the words before it; otherwise ("the Polygon article suggests ...",
    "reported by Fortune to have ...") the words after it. Between two mentions the cut
    falls at a boundary (", while", " and ", a comma; never inside a date): after the
    first mention when it owns the words before it, else before the second."""
    groups: list[list[int]] = []
    for i, (start, _, _) in enumerate(mentions):
        if groups and _LIST_JOINER.fullmatch(question, mentions[i - 1][1], start):
            groups[-1].append(i)
        else:
            groups.append([i])
    if len(groups) < len(mentions):
        spans = _stretches(
            question,
            [(mentions[g[0]][0], mentions[g[-1]][1], ()) for g in groups],
            dates,
        )
        return [spans[n] for n, g in enumerate(groups) for _ in g]
    owns_before = [
        _OWNS_BEFORE.search(question[:start]) is not None
        and _CLOSES.match(question, end) is not None
        for start, end, _ in mentions
    ]
    ends: list[int] = []
    starts = [0]
    for i in range(len(mentions) - 1):
        lo, hi = mentions[i][1], mentions[i + 1][0]
        boundaries = [
            b
            for b in _BOUNDARY.finditer(question, lo, hi)
            if not any(d.start < b.end() and b.start() < d.end + 1 for d in dates)
        ]
        if not boundaries:
            cut = lo if owns_before[i] else hi
            ends.append(cut)
            starts.append(cut)
        elif owns_before[i]:
            ends.append(boundaries[0].start())
            starts.append(boundaries[0].end())
        else:
            strong = [b for b in boundaries if _STRONG.search(b.group(0))]
            last = (strong or boundaries)[-1]
            ends.append(last.start())
            starts.append(last.start())
    ends.append(len(question))
    return [(starts[i], max(ends[i], mentions[i][1])) for i in range(len(mentions))]

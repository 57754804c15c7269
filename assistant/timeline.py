"""Timelines: the dated events the indexed articles report on a subject, one item per story.

`build_timeline` searches the index for the subject (one copy per story, as for answers),
picks in each story's passages the sentence that best states what happened (the offline
sentence ranker, `ExtractiveBackend.rank`, nudged towards an article's opening sentences and
towards sentences that date their event), and quotes it verbatim with its citation and the
outlets that ran the story. A sentence that dates its event ("on Monday", "in March",
"on 4 November 2025") has that date resolved against the article's publication date
(`assistant.dates`); items are ordered by it, else by the day the story was first reported,
oldest first.

With an LLM writer, each item may get a one-line summary, checked against its quote with
the answer checker (`check_citations`); a summary without support is dropped, never shown.

`chronology` tells a chat question that asks for a chronology ("what happened with X",
"timeline of X", "how has X developed since June") and what it asks about;
`timeline_answer` is such a timeline as an `Answer` (one dated line per item, each with
its [n]), so every front end shows and exports it like any answer.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from index import Hit, SearchFilter
from index.schema import stored_date
from index.tokens import tokenize

from .citations import check_citations
from .dates import explicit_dates, format_date, resolve_dates
from .errors import LLMError
from .markers import strip_markers
from .models import REFUSAL, Answer, Citation, EventDate, Timeline, TimelineItem
from .sources import SourceSentence, source_sentences
from .stories import also_in, with_copies

if TYPE_CHECKING:
    from index import ChromaStore

    from .backends import Backend
    from .backends.extractive import ExtractiveBackend
    from .retrieval import Searcher
    from .support import SupportScorer

__all__ = [
    "Chronology",
    "build_timeline",
    "chronology",
    "describe_event",
    "event_date",
    "item_line",
    "timeline_answer",
]

# How many stories a timeline searches (one copy each), and how well a story's best
# sentence must match the subject to be on it (the ranker's support, 0..1; the offline
# answerer's bar for an answer: on the samples, stories about the subject reach 0.45 to 0.75
# and those that share one word with it, "battery" for "battery recycling", stay under 0.34).
MAX_STORIES = 30
MIN_SUPPORT = 0.4
# A sentence that opens its article usually states the news; one that dates its event is
# what a timeline is made of. Small nudges: they order near-ties, never rescue a poor match.
LEAD_BONUS = 0.05
DATED_BONUS = 0.05
# At most this many items get an LLM summary (one LLM call each).
MAX_SUMMARIES = 20
# About how many sentences a story gets ranked by meaning (the lexically closest to the
# subject, over all stories), all embedded in one batch.
SHORTLIST = 6


# -- event dates -------------------------------------------------------------------------------


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


_WEEKDAY = re.compile(r"\b(" + "|".join(calendar.day_name) + r")\b", re.I)


def event_date(sentence: str, published: date) -> EventDate | None:
    """The date `sentence` gives its event, resolved against its publication date: a day
    ("on Monday", "yesterday", "on 4 November"), a calendar month ("in March") or a year
    ("in 2019"). None when it names no such date ("this week" and "recently" are windows,
    not dates) or one after the publication (a plan, not what happened)."""
    intent = resolve_dates(sentence, today=published)
    if intent is None or intent.recent or intent.since > published:
        return None
    since, until = intent.since, intent.until
    weekday = _WEEKDAY.search(intent.phrase)
    if weekday and since == until and published.strftime("%A").lower() == weekday[1].lower():
        # "on Monday" in Monday's paper is that day, not a week before.
        since = until = published
    if since == until:
        precision = "day"
    elif since.day == 1 and until == _month_end(since) and since.month == until.month:
        precision = "month"
    elif (since.month, since.day, until.month, until.day) == (1, 1, 12, 31):
        precision = "year"
    else:
        return None
    return EventDate(
        since=since.isoformat(),
        until=until.isoformat(),
        phrase=intent.phrase,
        precision=precision,  # type: ignore[arg-type]
    )


def describe_event(event: EventDate) -> str:
    """The event's date in words: 3 March 2025, March 2025, 2019."""
    since = date.fromisoformat(event.since)
    if event.precision == "day":
        return format_date(since)
    if event.precision == "month":
        return f"{calendar.month_name[since.month]} {since.year}"
    return str(since.year)


# -- building a timeline -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pick:
    sentence: SourceSentence
    support: float
    event: EventDate | None


def _best_sentences(
    subject: str, hits: Sequence[Hit], ranker: ExtractiveBackend, min_support: float
) -> list[_Pick]:
    """Of each article's retrieved passages, the sentence that best states what happened
    about `subject` (articles with no sentence that matches it well enough left out). The
    sentences of every story are ranked in one call, so they are embedded in one batch."""
    seen: set[tuple[str, int]] = set()
    sentences = []
    for s in source_sentences(hits):
        key = (s.hit.article_id, s.start)
        if key not in seen and len(tokenize(s.text)) >= 5:
            seen.add(key)
            sentences.append(s)
    if not sentences:
        return []
    opening: dict[str, int] = {}
    for s in sentences:
        opening[s.hit.article_id] = min(opening.get(s.hit.article_id, s.start), s.start)
    best: dict[str, tuple[float, _Pick]] = {}
    for r in ranker.rank(subject, sentences, answer_bonus=False):
        if r.support < min_support:
            continue
        s = sentences[r.position]
        day = stored_date(s.hit.published_at)
        event = event_date(s.text, day) if day else None
        score = r.support
        score += LEAD_BONUS if s.start == opening[s.hit.article_id] and s.hit.start == 0 else 0.0
        score += DATED_BONUS if event is not None else 0.0
        article = s.hit.article_id
        if article not in best or score > best[article][0]:
            best[article] = (score, _Pick(s, r.support, event))
    return [pick for _, pick in best.values()]


def _citation(n: int, s: SourceSentence) -> Citation:
    hit = s.hit
    return Citation(
        n=n,
        article_id=hit.article_id,
        title=hit.title,
        source=hit.source,
        published_at=hit.published_at,
        url=hit.url,
        quote=s.text,
        start=s.start,
        end=s.end,
        score=1.0,
    )


def build_timeline(
    subject: str,
    *,
    searcher: Searcher,
    quoter: ExtractiveBackend,
    store: ChromaStore,
    where: SearchFilter | None = None,
    writer: Backend | None = None,
    scorer: SupportScorer | None = None,
    stories: int = MAX_STORIES,
    min_support: float = MIN_SUPPORT,
) -> Timeline:
    """The dated events the indexed articles report on `subject`, oldest first, one item per
    story (see the module's docstring). `writer` and `scorer` given (an LLM and the
    support scorer), each item gets a one-line summary when the checker finds it supported
    by the item's quote."""
    started = time.perf_counter()
    found = searcher.retrieve(subject, k=stories, where=where)
    articles = len({hit.article_id for hit in found.hits})
    # The offline ranker, without its preference for the first sources (every story counts
    # alike) and with room for about SHORTLIST sentences a story.
    ranker = type(quoter)(quoter.embedder, shortlist=SHORTLIST * articles, source_prior=0.0)
    picks = _best_sentences(subject, found.hits, ranker, min_support)

    cited = with_copies(
        Answer(
            question=subject,
            answer="",
            refused=False,
            backend=quoter.name,
            citations=[_citation(n, p.sentence) for n, p in enumerate(picks, start=1)],
        ),
        store,
    ).citations
    placed = []
    for p, c in zip(picks, cited, strict=True):
        # A story is placed at its first report, whichever copy is quoted.
        days = [d for d in (c.published_at, *(r.published_at for r in c.also_reported_by)) if d]
        first = min(days, default="")
        item = TimelineItem(
            date=p.event.since if p.event else first,
            published_at=c.published_at,
            event=p.event,
            citation=c,
        )
        placed.append((item, p))
    placed.sort(key=lambda ip: (ip[0].date or "9999", ip[0].published_at or "9999"))
    picks = [p for _, p in placed]
    items = [
        i.model_copy(update={"citation": i.citation.model_copy(update={"n": n})})
        for n, (i, _) in enumerate(placed, start=1)
    ]
    timeline = Timeline(
        subject=subject,
        items=items,
        since=where.since.isoformat() if where and where.since else "",
        until=where.until.isoformat() if where and where.until else "",
        sources=list(where.sources) if where else [],
        backend=quoter.name,
    )
    timeline.timings_ms["build"] = (time.perf_counter() - started) * 1000
    if writer is not None and scorer is not None and items:
        started = time.perf_counter()
        _summarise(timeline, picks, writer, scorer)
        timeline.timings_ms["summaries"] = (time.perf_counter() - started) * 1000
    return timeline


def _summarise(
    timeline: Timeline, picks: Sequence[_Pick], writer: Backend, scorer: SupportScorer
) -> None:
    """Give items the one-line summary `writer` writes of their quote, when the checker
    finds every sentence of it supported by that quote; the others keep none."""
    from .backends import GenerationRequest

    question = f"In one sentence, what happened in this report about {timeline.subject}?"
    summarised = dropped = 0
    for i, pick in enumerate(picks[:MAX_SUMMARIES]):
        s = pick.sentence
        # The quote alone is the source: the summary must stand on it, not on the passage.
        source = s.hit.model_copy(update={"text": s.text, "start": s.start, "end": s.end})
        try:
            draft = "".join(writer.generate(GenerationRequest(question=question, hits=[source])))
        except LLMError as error:
            timeline.notes.append(f"The LLM was unavailable, so the items have no summary: {error}")
            break
        checked = check_citations(draft, [source], scorer, question=question)
        if checked.refused or checked.unsupported or not checked.citations:
            dropped += 1
            continue
        text = " ".join(strip_markers(checked.text).split())
        item = timeline.items[i]
        timeline.items[i] = item.model_copy(
            update={"summary": text, "summary_score": min(c.score for c in checked.citations)}
        )
        summarised += 1
    if summarised or dropped:
        timeline.backend = getattr(writer, "name", timeline.backend)
    if dropped:
        timeline.notes.append(
            f"{dropped} LLM summar{'y' if dropped == 1 else 'ies'} left out: not supported by "
            "the quoted sentence"
        )


# -- timelines in the chat --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chronology:
    """A question that asks for a chronology: what about, and the dates it names."""

    subject: str
    since: date | None = None
    until: date | None = None
    phrase: str = ""  # the question's time words ("since June"), "" when none

    def describe(self) -> str:
        """The dates in words: "from 1 June 2025", "1 to 31 March 2025"."""
        if self.since and self.until:
            return f"{format_date(self.since)} to {format_date(self.until)}"
        if self.since:
            return f"from {format_date(self.since)}"
        if self.until:
            return f"until {format_date(self.until)}"
        return "any date"

    def where(self, base: SearchFilter | None) -> SearchFilter:
        """`base` narrowed to the question's dates."""
        base = base or SearchFilter()
        since = max((d for d in (base.since, self.since) if d), default=None)
        until = min((d for d in (base.until, self.until) if d), default=None)
        return SearchFilter(
            sources=base.sources, since=since, until=until, article_ids=base.article_ids
        )


_CHRONOLOGY = [
    re.compile(
        r"^(?:so\s+)?what(?:'s|’s|\s+has|\s+have)?\s+(?:been\s+)?happen(?:ed|ing)\s+"
        r"(?:with|to|at|in|around|over|on)\s+(?P<subject>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:(?:please\s+)?(?:give|show|make|build|draw|tell)\s+(?:me\s+)?|can you\s+"
        r"(?:give|show|make)\s+(?:me\s+)?|what\s+is\s+|what's\s+)?(?:a|an|the)?\s*"
        r"(?:timeline|chronology|time\s*line|sequence of events)\s+(?:of|for|on|about)\s+"
        r"(?P<subject>.+)$",
        re.I,
    ),
    re.compile(
        r"^how\s+(?:has|have|did|is|are)\s+(?P<subject>.+?)\s+"
        r"(?:developed|evolved|unfolded|progressed|changed|played out|moved on|"
        r"been developing|been going|developing|evolving|unfolding|going)\b(?P<rest>.*)$",
        re.I,
    ),
]
_OPEN_END = re.compile(r"\b(?:since|after|from)\s*$", re.I)
_CLOSE_END = re.compile(r"\b(?:before|until|till|up to|prior to)\s*$", re.I)
_IN_END = re.compile(r"\b(?:in|on|during)\s*$", re.I)
_TAIL = re.compile(r"[\s?.!]+$|\s+(?:so far|to date|lately|over time)$", re.I)


def chronology(question: str, *, today: date | None = None) -> Chronology | None:
    """What a question asks a chronology of ("What happened with GEM's recycling plans
    since June?" -> GEM's recycling plans, since 1 June), or None for any other question."""
    text = " ".join(question.split())
    match = next((m for p in _CHRONOLOGY if (m := p.match(text.rstrip("?.! "))) is not None), None)
    if match is None:
        return None
    subject = match.group("subject")
    if "rest" in match.groupdict() and match.group("rest"):
        subject = f"{subject} {match.group('rest')}"
    since: date | None = None
    until: date | None = None
    phrase = ""
    day = today or date.today()
    named = explicit_dates(subject, today=day)  # "since 2 March 2025", "in March 2025"
    intent = None if named else resolve_dates(subject, today=day)  # "since June"
    if named:
        since, until, phrase = named[0].since, named[0].until, named[0].phrase
        at = named[0].start
    elif intent is not None and not intent.recent:
        phrase, at = intent.phrase, subject.find(intent.phrase)
        lead = subject[: max(at, 0)]
        if phrase.lower().startswith(("since", "from")) or _OPEN_END.search(lead):
            since = intent.since
        elif _CLOSE_END.search(lead):
            until = intent.until
        else:
            since, until = intent.since, intent.until
    if phrase and at >= 0:
        lead = subject[:at]
        prefix = _OPEN_END.search(lead) or _CLOSE_END.search(lead) or _IN_END.search(lead)
        cut = prefix.start() if prefix else at
        end = at + len(phrase)
        phrase = subject[cut:end]  # with its "since", "before" or "in"
        subject = f"{subject[:cut]} {subject[end:]}".strip()
    while True:
        trimmed = _TAIL.sub("", subject).strip()
        if trimmed == subject:
            break
        subject = trimmed
    if not subject:
        return None
    return Chronology(subject, since, until, phrase)


# -- a timeline as an answer -----------------------------------------------------------------


def item_line(item: TimelineItem) -> str:
    """One item as a line of text: its date, outlet (and the others that ran it), the
    summary or else the quoted sentence, and its [n]."""
    c = item.citation
    when = format_date(item.date) if item.date else "Undated"
    if item.event is None and item.published_at and item.date != item.published_at:
        when += f" (first reported; this copy {format_date(item.published_at)})"
    if item.event is not None:  # the event's own date, marked as read from the sentence
        read = f"{describe_event(item.event)} (“{item.event.phrase}”"
        published = format_date(item.published_at) if item.published_at else ""
        when = f"{read}, reported {published})" if published else f"{read})"
    outlets = c.source or "unknown outlet"
    if c.also_reported_by:
        outlets += f"; also {', '.join(also_in(c.also_reported_by, story_size=c.story_size))}"
    said = item.summary or f"“{c.quote.strip()}”"
    return f"{when} — {outlets}: {said} [{c.n}]"


def timeline_answer(question: str, timeline: Timeline) -> Answer:
    """`timeline` as the answer to `question`: one dated line per item, each citing its
    quote; refused when the timeline is empty."""
    if not timeline.items:
        return Answer(
            question=question,
            answer=REFUSAL,
            refused=True,
            backend=timeline.backend,
            notes=timeline.notes,
            timings_ms=dict(timeline.timings_ms),
            form="timeline",
            timeline=timeline,
        )
    notes = list(timeline.notes)
    dated = sum(1 for i in timeline.items if i.event is not None)
    if dated:
        notes.append(
            f"{dated} of the {len(timeline.items)} dates {'was' if dated == 1 else 'were'} "
            "read from the quoted sentence; the rest are publication dates"
        )
    return Answer(
        question=question,
        answer="\n".join(item_line(i) for i in timeline.items),
        refused=False,
        backend=timeline.backend,
        citations=[i.citation for i in timeline.items],
        timings_ms=dict(timeline.timings_ms),
        standalone_question=timeline.subject,
        notes=notes,
        form="timeline",
        timeline=timeline,
    )

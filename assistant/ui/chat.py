"""The chat as the browser keeps it: the filters a question used, each exchange, and the
checks that a conversation restored from the browser (untrusted) is well formed. No gradio."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from index.errors import UsageError
from index.models import SearchFilter

from ..dates import format_date
from ..models import Answer, Citation, ReportedBy

__all__ = ["MAX_STORED_TURNS", "ChatTurn", "Filters", "dump_turns", "load_turns"]

# The browser keeps at most this many exchanges (localStorage is small).
MAX_STORED_TURNS = 50


def _parse_day(value: Any, label: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise UsageError(f"the {label} date {text!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True, slots=True)
class Filters:
    """What a question was limited to: outlets and a published-date range (inclusive)."""

    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, sources: Iterable[str] | None, since: Any, until: Any) -> Filters:
        """Filters from the page's inputs; UsageError for a bad date or an empty range."""
        names = tuple(dict.fromkeys(s.strip() for s in (sources or []) if s and s.strip()))
        first, last = _parse_day(since, "'from'"), _parse_day(until, "'to'")
        if first and last and first > last:
            raise UsageError(
                f"the 'from' date {first.isoformat()} is after the 'to' date "
                f"{last.isoformat()}; swap them or clear one"
            )
        return cls(names, first, last)

    def is_empty(self) -> bool:
        """True when nothing is filtered out."""
        return not (self.sources or self.since or self.until)

    def search_filter(self) -> SearchFilter | None:
        """The filter for `NewsAssistant.stream`, or None when there is nothing to filter."""
        if self.is_empty():
            return None
        return SearchFilter(sources=self.sources, since=self.since, until=self.until)

    def describe(self) -> str:
        """'Battery Brief · from 1 Jan 2025' (plain text); '' when nothing is filtered."""
        parts = []
        if self.sources:
            parts.append(", ".join(self.sources))
        if self.since:
            parts.append(f"from {format_date(self.since, short=True)}")
        if self.until:
            parts.append(f"to {format_date(self.until, short=True)}")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "sources": list(self.sources),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(slots=True)
class ChatTurn:
    """One exchange of the chat: the question, its checked answer and the filters used."""

    question: str
    answer: Answer
    filters: Filters = field(default_factory=Filters)

    def to_dict(self) -> dict[str, Any]:
        """What the browser stores (timings are left out)."""
        answer = self.answer.model_dump()
        answer.pop("timings_ms", None)
        answer.pop("timeline", None)  # its lines and citations are the answer's own
        return {"question": self.question, "answer": answer, "filters": self.filters.to_dict()}


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


def _citation_from(data: Any) -> Citation:
    if not isinstance(data, dict):
        raise TypeError("a citation must be an object")
    score = data.get("score", 0.0)
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise TypeError("score must be a number")
    return Citation(
        n=_int(data["n"]),
        article_id=_str(data["article_id"]),
        title=_str(data.get("title", "")),
        source=_str(data.get("source", "")),
        published_at=_str(data.get("published_at", "")),
        url=_str(data.get("url", "")),
        quote=_str(data["quote"]),
        start=_int(data["start"]),
        end=_int(data["end"]),
        score=float(score),
        story_id=_str(data.get("story_id", "")),
        also_reported_by=tuple(_reported_by_from(r) for r in data.get("also_reported_by") or []),
        story_size=max(_int(data.get("story_size", 1)), 1),
    )


def _reported_by_from(data: Any) -> ReportedBy:
    if not isinstance(data, dict):
        raise TypeError("a copy must be an object")
    fields = ("article_id", "source", "published_at", "url")
    return ReportedBy(**{key: _str(data.get(key, "")) for key in fields})


def _turn_from(data: Any) -> ChatTurn:
    if not isinstance(data, dict) or not isinstance(data.get("answer"), dict):
        raise TypeError("a turn must be an object with an answer")
    a = data["answer"]
    answer = Answer(
        question=_str(a.get("question", data.get("question", ""))),
        answer=_str(a["answer"]),
        refused=bool(a.get("refused", False)),
        backend=_str(a.get("backend", "")),
        citations=[_citation_from(c) for c in a.get("citations", [])],
        unsupported=[_str(s) for s in a.get("unsupported", [])],
        standalone_question=_str(a.get("standalone_question", "")),
        notes=[_str(s) for s in a.get("notes", [])],
        quoted_instead=bool(a.get("quoted_instead", False)),
        form="timeline" if a.get("form") == "timeline" else "answer",
    )
    f = data.get("filters") or {}
    if not isinstance(f, dict):
        raise TypeError("filters must be an object")
    filters = Filters.parse([_str(s) for s in f.get("sources", [])], f.get("since"), f.get("until"))
    return ChatTurn(_str(data["question"]), answer, filters)


def load_turns(raw: Any) -> list[ChatTurn]:
    """The conversation stored in the browser; entries that do not parse are dropped."""
    if not isinstance(raw, list):
        return []
    turns = []
    for item in raw[-MAX_STORED_TURNS:]:
        try:
            turns.append(_turn_from(item))
        except (KeyError, TypeError, ValueError, UsageError):
            continue  # a tampered or outdated entry: skip it rather than lose the whole chat
    return turns


def dump_turns(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """The conversation as the browser stores it (the most recent turns only)."""
    return [t.to_dict() for t in turns[-MAX_STORED_TURNS:]]

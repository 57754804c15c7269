"""Tracked questions: questions left standing, re-asked when new articles come in.

`track` stores a question with its answer over the index as it is. `check_tracked` asks
each one again over the articles indexed since its last check (the article rows'
`indexed_at`): when those articles answer it with a sentence its last answer did not cite,
the update carries the new answer over the whole index and says which of its citations
are new (when the whole-index answer does not cite them, the answer from the new articles
alone). Otherwise the update says "nothing new". The questions live in the store
(`index/tracked.py`), so every replica sharing it sees them.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from index.errors import UsageError
from index.models import SearchFilter
from index.tracked import TrackedRecord

from .models import Answer, Citation
from .text import clean_question

if TYPE_CHECKING:
    from .core import NewsAssistant

__all__ = ["TrackedQuestion", "TrackedUpdate", "add", "check", "listed", "remove"]


class TrackedQuestion(BaseModel):
    """A tracked question and the answer it had at its last check."""

    id: str
    question: str
    added_at: float
    checked_at: float
    changed_at: float = 0.0
    answer: Answer | None = None
    new_citations: list[int] = Field(default_factory=list)  # those the last change brought

    @classmethod
    def from_record(cls, record: TrackedRecord) -> TrackedQuestion:
        """A stored row read back."""
        answer = Answer.model_validate_json(record.answer) if record.answer else None
        return cls(
            id=record.id,
            question=record.question,
            added_at=record.added_at,
            checked_at=record.checked_at,
            changed_at=record.changed_at,
            answer=answer,
            new_citations=list(record.new_citations),
        )

    def to_record(self) -> TrackedRecord:
        """The row this question is stored as."""
        return TrackedRecord(
            id=self.id,
            question=self.question,
            added_at=self.added_at,
            checked_at=self.checked_at,
            changed_at=self.changed_at,
            answer=self.answer.model_dump_json() if self.answer else "",
            new_citations=tuple(self.new_citations),
        )

    def to_dict(self) -> dict[str, Any]:
        """For `track list --json`: the question, its times (ISO UTC) and last answer."""
        return {
            "id": self.id,
            "question": self.question,
            "added_at": _iso(self.added_at),
            "checked_at": _iso(self.checked_at),
            "changed_at": _iso(self.changed_at),
            "answer": self.answer.answer if self.answer else "",
            "citations": [c.model_dump() for c in self.answer.citations] if self.answer else [],
        }


class TrackedUpdate(BaseModel):
    """What one check found for one tracked question: `changed` with the new cited answer
    and the numbers (`Citation.n`) of its new citations, or nothing new."""

    id: str
    question: str
    changed: bool
    new_articles: int = 0
    answer: Answer | None = None
    new_citations: list[int] = Field(default_factory=list)

    def cited_new(self) -> list[Citation]:
        """The answer's citations that are new since the last check."""
        if self.answer is None:
            return []
        return [c for c in self.answer.citations if c.n in self.new_citations]

    def to_dict(self) -> dict[str, Any]:
        """For `track check --json`."""
        return {
            "id": self.id,
            "question": self.question,
            "changed": self.changed,
            "new_articles": self.new_articles,
            "answer": self.answer.answer if self.answer else "",
            "citations": [c.model_dump() for c in self.answer.citations] if self.answer else [],
            "new_citations": self.new_citations,
        }


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)) if stamp else ""


def _answered(answer: Answer) -> bool:
    return not answer.refused and bool(answer.citations)


def _key(citation: Citation) -> tuple[str, str]:
    return citation.article_id, " ".join(citation.quote.split())


def add(assistant: NewsAssistant, question: str) -> TrackedQuestion:
    """Track a question: it is answered now over the whole index, and later checks report
    what articles indexed after this moment add."""
    text = clean_question(question)
    now = time.time()
    articles, _ = assistant.store.counts()
    answer = assistant.ask(text) if articles else None
    tracked = TrackedQuestion(
        id=uuid.uuid4().hex[:8], question=text, added_at=now, checked_at=now, answer=answer
    )
    assistant.store.save_tracked([tracked.to_record()])
    return tracked


def listed(assistant: NewsAssistant) -> list[TrackedQuestion]:
    """The tracked questions, oldest first."""
    return [TrackedQuestion.from_record(r) for r in assistant.store.tracked()]


def remove(assistant: NewsAssistant, tracked_id: str) -> None:
    """Stop tracking a question; UsageError when no tracked question has that id."""
    if not assistant.store.delete_tracked([tracked_id]):
        raise UsageError(
            f"no tracked question has the id {tracked_id!r}; `assistant track list` shows them"
        )


def check(assistant: NewsAssistant) -> list[TrackedUpdate]:
    """Ask every tracked question again over the articles indexed since its last check."""
    updates: list[TrackedUpdate] = []
    for tracked in listed(assistant):
        started = time.time()
        new_ids = assistant.store.indexed_since(tracked.checked_at)
        update = _check_one(assistant, tracked, new_ids)
        stored = tracked.model_copy(update={"checked_at": started})
        if update.changed:
            changes = {"answer": update.answer, "changed_at": started}
            stored = stored.model_copy(update={**changes, "new_citations": update.new_citations})
        assistant.store.save_tracked([stored.to_record()], existing=True)
        updates.append(update)
    return updates


def _check_one(
    assistant: NewsAssistant, tracked: TrackedQuestion, new_ids: list[str]
) -> TrackedUpdate:
    quiet = TrackedUpdate(
        id=tracked.id, question=tracked.question, changed=False, new_articles=len(new_ids)
    )
    if not new_ids:
        return quiet
    # The new articles alone decide whether anything changed: an answer over the whole
    # index could cite an unrelated new article only because it ranked among the rest.
    from_new = assistant.ask(tracked.question, where=SearchFilter(article_ids=tuple(new_ids)))
    if not _answered(from_new):
        return quiet
    seen = {_key(c) for c in tracked.answer.citations} if tracked.answer else set()
    fresh = set(new_ids)

    def new_in(answer: Answer) -> list[int]:
        return [c.n for c in answer.citations if c.article_id in fresh and _key(c) not in seen]

    if not new_in(from_new):
        return quiet
    whole = assistant.ask(tracked.question)
    answer = whole if _answered(whole) and new_in(whole) else from_new
    return quiet.model_copy(
        update={"changed": True, "answer": answer, "new_citations": new_in(answer)}
    )

"""Crash safety: the write journal, recovery after an interrupted run, consistency checks.

Before a write or removal touches chunks, the store journals the article ids it is busy
with; it clears the journal when done. A run killed half-way leaves the journal behind, so
the next one (`recover`) knows which articles may have chunks their row does not list.
`check` compares every row with the chunks actually stored, and can repair what it finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import stories

if TYPE_CHECKING:
    from .store import ChromaStore

__all__ = ["Consistency", "Journal", "check", "recover"]

_JOURNAL = "journal"


class Journal:
    """The article ids a write or removal is busy with, as one row of the state collection."""

    def __init__(self, state: Callable[[], Any]) -> None:
        self._state = state

    def begin(self, article_ids: list[str]) -> None:
        """Record the articles about to be written or removed (an empty list clears it)."""
        if article_ids:
            self._state().upsert(
                ids=[_JOURNAL], documents=[json.dumps(article_ids)], embeddings=[[1.0]]
            )
        else:
            self.clear()

    def clear(self) -> None:
        """The run finished: nothing is pending."""
        self._state().delete(ids=[_JOURNAL])

    def pending(self) -> list[str]:
        """Articles a write or removal was busy with when it stopped (empty when none)."""
        got = self._state().get(ids=[_JOURNAL], include=["documents"])
        return list(json.loads(got["documents"][0])) if got["ids"] else []


@dataclass(slots=True)
class Consistency:
    """What `check` found: chunks no article lists, articles missing chunks, a journal."""

    articles: int
    chunks: int
    orphan_chunks: list[str] = field(default_factory=list)
    incomplete_articles: list[str] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """True when every article has all its chunks and no chunk is left over."""
        return not (self.orphan_chunks or self.incomplete_articles or self.journal)

    def to_dict(self) -> dict[str, Any]:
        """The `check --json` object (counts and flags, not the id lists)."""
        return {
            "ok": self.ok,
            "articles": self.articles,
            "chunks": self.chunks,
            "orphan_chunks": len(self.orphan_chunks),
            "incomplete_articles": self.incomplete_articles,
            "interrupted_run": bool(self.journal),
            "repaired": self.repaired,
        }


def recover(store: ChromaStore) -> int:
    """Drop chunks of journaled articles that their row does not list (or all of them when
    the row is gone), then clear the journal. Returns how many chunks were dropped."""
    pending = store.journal()
    if not pending:
        return 0
    wanted = {cid for record in store._rows(pending).values() for cid in record.chunk_ids}
    extra = [cid for cid in store._chunk_ids_of(pending) if cid not in wanted]
    store._delete_chunks(extra)
    store._finish()
    return len(extra)


def check(store: ChromaStore, *, repair: bool) -> Consistency:
    """Compare the bookkeeping rows with the chunks actually stored; with `repair`, drop
    chunks no row lists and forget articles whose chunks are incomplete (the next ingest
    of their files indexes them again)."""
    records = store.records()
    stored = set(store._all_chunk_ids())
    wanted = {cid: r.id for r in records.values() for cid in r.chunk_ids}
    report = Consistency(
        articles=len(records),
        chunks=len(stored),
        orphan_chunks=sorted(stored - wanted.keys()),
        incomplete_articles=sorted({aid for cid, aid in wanted.items() if cid not in stored}),
        journal=store.journal(),
    )
    if repair and not report.ok:
        store._delete_chunks(report.orphan_chunks)
        store._drop_articles(report.incomplete_articles)
        stories.drop(store, report.incomplete_articles)
        store._finish()
        report.repaired = True
    return report

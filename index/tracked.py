"""Tracked questions kept in the store, and which articles were indexed since a time.

A tracked question is one row of the `<name>-tracked` collection: the record as JSON in the
document (its last answer too, as the assistant's own JSON: `index/` does not read it), so
every replica that shares the store sees the same questions. Which articles are new since a
check is a metadata filter on the article rows' `indexed_at` (rows written before that key
existed have none, and count as old). `ChromaStore` wraps these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from . import schema

if TYPE_CHECKING:
    from .store import ChromaStore

__all__ = ["TrackedRecord"]


class TrackedRecord(BaseModel):
    """A question left standing: when it was added, last checked and last changed by new
    articles (epoch seconds; 0 when never), and its answer (an `assistant.models.Answer`
    as JSON, "" when none yet)."""

    model_config = ConfigDict(frozen=True)

    id: str
    question: str
    added_at: float = 0.0
    checked_at: float = 0.0
    changed_at: float = 0.0
    answer: str = ""
    new_citations: tuple[int, ...] = ()  # the answer's citations that change brought


def _collection(store: ChromaStore) -> Any:
    return store._client.get_or_create_collection(
        schema.collection_name(store.collection_name, "tracked"), embedding_function=None
    )


def load(store: ChromaStore) -> list[TrackedRecord]:
    """Every tracked question, oldest first."""
    got = _collection(store).get(include=["documents"])
    found = [TrackedRecord.model_validate_json(doc) for doc in got["documents"] or []]
    return sorted(found, key=lambda r: (r.added_at, r.id))


def save(store: ChromaStore, records: Sequence[TrackedRecord], *, existing: bool = False) -> None:
    """Write tracked questions (replacing those with the same id); `existing` only updates
    rows still there, so a check never brings back a question removed meanwhile."""
    if not records:
        return
    collection = _collection(store)
    if existing:
        present = set(collection.get(ids=[r.id for r in records], include=[])["ids"])
        records = [r for r in records if r.id in present]
        if not records:
            return
    collection.upsert(
        ids=[r.id for r in records],
        documents=[r.model_dump_json() for r in records],
        metadatas=[{"question": r.question} for r in records],
        embeddings=[[1.0]] * len(records),
    )


def delete(store: ChromaStore, ids: Sequence[str]) -> int:
    """Remove tracked questions by id; returns how many there were."""
    collection = _collection(store)
    present = collection.get(ids=list(ids), include=[])["ids"]
    if present:
        collection.delete(ids=present)
    return len(present)


def indexed_since(store: ChromaStore, since: float) -> list[str]:
    """The ids of the articles whose current version was indexed after `since`."""
    found: list[str] = []
    batch = store._batch_size()
    while True:
        got = store._articles.get(
            where={"indexed_at": {"$gt": since}}, include=[], limit=batch, offset=len(found)
        )
        if not got["ids"]:
            return found
        found.extend(got["ids"])

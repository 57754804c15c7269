"""Stories at answer time: one source per story, and the other copies named.

The index groups syndicated copies of a report into stories (`index.stories`). Retrieval
keeps, of each story, the copy whose passage ranks best (`one_per_story`), so the sources
of an answer are distinct stories; each citation then names its story and the copies the
other outlets ran (`with_copies`). `list_stories` is what `assistant stories` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from index import ArticleRecord, ChromaStore
from index.stories import Copy, Story

from .models import Answer, ReportedBy

__all__ = ["Copy", "Story", "also_in", "list_stories", "one_per_story", "with_copies"]


class _FromArticle(Protocol):
    @property
    def article_id(self) -> str: ...


_C = TypeVar("_C", bound=_FromArticle)


def one_per_story(
    store: ChromaStore, ranked: Sequence[_C], *, first: Sequence[_C | None] = ()
) -> list[_C]:
    """`ranked` (best first) without the candidates of a copy whose story an earlier
    candidate, or one of `first` (sources already chosen), stands for. Articles not
    grouped yet are their own story."""
    ids = [c.article_id for c in [*first, *ranked] if c is not None]
    if not ids:
        return list(ranked)
    story = store.story_of(ids)
    standing: dict[str, str] = {}
    for c in first:
        if c is not None:
            standing.setdefault(story.get(c.article_id, c.article_id), c.article_id)
    kept = []
    for c in ranked:
        key = story.get(c.article_id, c.article_id)
        if standing.setdefault(key, c.article_id) == c.article_id:
            kept.append(c)
    return kept


# Copies named per citation: a story of hundreds of copies (a wire report run by every
# outlet) would make each answer read and carry hundreds of rows.
MAX_COPIES = 20


def with_copies(answer: Answer, store: ChromaStore) -> Answer:
    """The answer with each citation's story id, its size, and the story's other copies
    (original first, then by date; the first `MAX_COPIES`)."""
    if not answer.citations:
        return answer
    cited = [c.article_id for c in answer.citations]
    story = store.story_of(cited)
    members = store.story_members(sorted(set(story.values())))
    named = {
        sid: [aid for aid in ids if aid not in cited][:MAX_COPIES] for sid, ids in members.items()
    }
    others = {aid for ids in named.values() for aid in ids}
    rows = store.rows(sorted(others)) if others else {}
    citations = []
    for citation in answer.citations:
        sid = story.get(citation.article_id, "")
        copies = tuple(
            _reported_by(rows[aid])
            for aid in members.get(sid, [])
            if aid != citation.article_id and aid in rows
        )
        update = {
            "story_id": sid,
            "also_reported_by": copies,
            "story_size": len(members.get(sid, ())) or 1,
        }
        citations.append(citation.model_copy(update=update))
    return answer.model_copy(update={"citations": citations})


def _reported_by(record: ArticleRecord) -> ReportedBy:
    return ReportedBy(
        article_id=record.id,
        source=record.source,
        published_at=record.published_at,
        url=record.url,
    )


def list_stories(store: ChromaStore, *, min_copies: int = 1) -> list[Story]:
    """Every story of at least `min_copies` copies, the most copied first, then newest."""
    grouped = store.stories(min_copies=min_copies)
    rows = store.rows([aid for ids in grouped.values() for aid in ids])
    found = []
    for sid, ids in grouped.items():
        copies = tuple(
            Copy(r.id, r.source, r.published_at, r.url, r.title)
            for aid in ids
            if (r := rows.get(aid)) is not None
        )
        if len(copies) >= min_copies and copies:
            found.append(Story(sid, copies))
    found.sort(key=lambda s: s.original.published_at, reverse=True)
    found.sort(key=lambda s: len(s.copies), reverse=True)
    return found


def also_in(reported_by: Sequence[ReportedBy], *, story_size: int = 0) -> list[str]:
    """The outlets of a citation's other copies, each once, in story order (a copy with no
    outlet is named by its link or id); with `story_size`, "N more copies" for those not
    named."""
    names = list(dict.fromkeys(r.source or r.url or r.article_id for r in reported_by))
    more = story_size - 1 - len(reported_by)
    return [*names, f"{more} more copies"] if more > 0 else names

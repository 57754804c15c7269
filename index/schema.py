"""The one mapping between the index's typed records and what Chroma stores.

Chroma keeps flat metadata (str, int, float, bool), so dates are stored twice: as ISO text
(`published_at`, "" when undated) for display and as the integer YYYYMMDD (`published_int`,
0 when undated) for range filters. This module is the only place that converts a `date` to
either form, builds a chunk's or an article row's metadata, or reads one back into an
`ArticleRecord`, `Hit` or `StoredChunk`; the key names are the on-disk format, so existing
data dirs stay readable.

Collections: `<name>-chunks` (one vector per chunk), `<name>-articles` (one row per article:
its body plus what incremental ingest compares), `<name>-state` (the write journal and
the ingest lease), `<name>-web` (followed feeds, fetched pages, robots.txt: one row each,
the record as JSON in the document, its kind and key in the metadata), `<name>-stories`
and `<name>-bands` (each article's MinHash signature and story; its LSH band keys:
`index.stories` reads and writes them) and `<name>-tracked` (tracked questions with their
last answers: `index.tracked`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from .models import (
    Article,
    ArticleRecord,
    Chunk,
    FeedRecord,
    Hit,
    PageRecord,
    RobotsRecord,
    SearchFilter,
    SourceFile,
    StoredChunk,
)

WebRecord = FeedRecord | PageRecord | RobotsRecord

__all__ = [
    "GENERATION_KEY",
    "MODEL_KEY",
    "WebRecord",
    "article_row",
    "chunk_ids_for",
    "chunk_metadata",
    "collection_name",
    "date_to_int",
    "file_metadata",
    "hit_from",
    "published_int",
    "record_from",
    "record_of",
    "stored_chunk_from",
    "stored_date",
    "web_from",
    "web_id",
    "web_row",
    "where",
]

# Collection-level metadata: the embedding model of the chunks collection, and the
# generation stamp of the articles collection (see `ChromaStore.signature`).
MODEL_KEY = "embedding_model"
GENERATION_KEY = "generation"

_AUTHORS_SEPARATOR = "; "


def collection_name(name: str, part: str) -> str:
    """The Chroma collection holding one part ("chunks", "articles", "state") of an index."""
    return f"{name}-{part}"


# -- dates -----------------------------------------------------------------------------------


def date_to_int(value: date) -> int:
    """A date as the integer YYYYMMDD, the form stored for range filters."""
    return value.year * 10000 + value.month * 100 + value.day


def stored_date(value: str) -> date | None:
    """A stored ISO date read back (None when undated or not a date)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def published_int(value: str) -> int:
    """A stored ISO date as YYYYMMDD (0 when undated), as the chunks' `published_int`."""
    day = stored_date(value)
    return date_to_int(day) if day else 0


# -- ids -------------------------------------------------------------------------------------


def _article_key(article_id: str) -> str:
    return hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


def chunk_ids_for(article_id: str, fingerprint: str, count: int) -> list[str]:
    """Deterministic chunk ids: the same article version always gets the same ids, and a
    new version never reuses an old one's (so old chunks can be deleted after the swap)."""
    key = _article_key(article_id)
    return [f"{key}-{fingerprint[:12]}-{i:04d}" for i in range(count)]


# -- typed -> stored -------------------------------------------------------------------------


def _article_metadata(article: Article) -> dict[str, Any]:
    """What a chunk and its article's row both carry (a citation needs it on the chunk)."""
    day = article.published_at
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "published_at": day.isoformat() if day else "",
        "published_int": date_to_int(day) if day else 0,
        "url": article.url,
    }


def chunk_metadata(article: Article, chunks: list[Chunk]) -> list[dict[str, Any]]:
    """The metadata stored with each of an article's chunks, in chunk order."""
    base = _article_metadata(article)
    return [{**base, "start": c.start, "end": c.end, "idx": c.index} for c in chunks]


def file_metadata(source_file: SourceFile) -> dict[str, str | int]:
    """The fields an article row keeps about the file it came from."""
    return {
        "file_hash": source_file.hash,
        "path": source_file.path,
        "file_articles": source_file.articles,
        "file_errors": source_file.errors,
    }


def article_row(article: Article, chunks: int, source_file: SourceFile) -> dict[str, Any]:
    """The metadata of an article's bookkeeping row (its body is the row's document)."""
    return {
        **_article_metadata(article),
        "authors": _AUTHORS_SEPARATOR.join(article.authors),
        **file_metadata(source_file),
        "content_hash": article.content_hash,
        "fingerprint": article.fingerprint,
        "chunks": chunks,
        "chars": len(article.body),
        # When this version was written (epoch seconds): tracked questions look at the
        # articles indexed since their last check. Rows written before it read as old.
        "indexed_at": time.time(),
    }


def where(flt: SearchFilter | None) -> dict[str, Any] | None:
    """A search filter as a Chroma `where` clause (None lets every chunk through)."""
    if flt is None or flt.is_empty():
        return None
    clauses: list[dict[str, Any]] = []
    if flt.sources:
        clauses.append({"source": {"$in": list(flt.sources)}})
    if flt.since:
        clauses.append({"published_int": {"$gte": date_to_int(flt.since)}})
    if flt.until:
        clauses.append({"published_int": {"$lte": date_to_int(flt.until)}})
    if flt.article_ids:
        clauses.append({"article_id": {"$in": list(flt.article_ids)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# -- stored -> typed -------------------------------------------------------------------------


def _article_fields(meta: Mapping[str, Any]) -> dict[str, str]:
    """The article fields an article row and each of its chunks both carry."""
    return {key: str(meta.get(key, "")) for key in ("title", "source", "published_at", "url")}


def record_from(article_id: str, meta: Mapping[str, Any] | None) -> ArticleRecord:
    """An article row's metadata read back (missing keys read as empty)."""
    meta = meta or {}
    count = int(meta.get("chunks", 0))
    fingerprint = str(meta.get("fingerprint", ""))
    authors = str(meta.get("authors", ""))
    return ArticleRecord(
        id=article_id,
        **_article_fields(meta),
        authors=tuple(a for a in authors.split(_AUTHORS_SEPARATOR) if a),
        path=str(meta.get("path", "")),
        content_hash=str(meta.get("content_hash", "")),
        fingerprint=fingerprint,
        file_hash=str(meta.get("file_hash", "")),
        chunk_ids=tuple(chunk_ids_for(article_id, fingerprint, count)),
        chars=int(meta.get("chars", 0)),
        file_errors=int(meta.get("file_errors", 0)),
        file_articles=int(meta.get("file_articles", 0)),
    )


def record_of(article: Article, source_file: SourceFile) -> ArticleRecord:
    """The record an article about to be written will read back as (no chunk ids yet)."""
    return record_from(article.id, article_row(article, 0, source_file))


def hit_from(chunk_id: str, text: str | None, meta: Mapping[str, Any] | None, score: float) -> Hit:
    """A stored chunk and its metadata as a search hit."""
    meta = meta or {}
    return Hit(
        chunk_id=chunk_id,
        article_id=str(meta.get("article_id", "")),
        **_article_fields(meta),
        text=text or "",
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=score,
    )


def stored_chunk_from(
    chunk_id: str, text: str | None, meta: Mapping[str, Any] | None
) -> StoredChunk:
    """A stored chunk with its raw metadata."""
    metadata = dict(meta or {})
    return StoredChunk(
        chunk_id=chunk_id,
        article_id=str(metadata.get("article_id", "")),
        text=text or "",
        metadata=metadata,
    )


# -- the web collection ----------------------------------------------------------------------

_WEB_KINDS: dict[type, str] = {FeedRecord: "feed", PageRecord: "page", RobotsRecord: "robots"}


def _web_key(record: WebRecord) -> str:
    return record.origin if isinstance(record, RobotsRecord) else record.url


def web_id(kind: str, key: str) -> str:
    """The row id of a feed, page or robots.txt (its URL hashed: ids stay short)."""
    return f"{kind}:{hashlib.sha1(key.encode('utf-8')).hexdigest()[:24]}"


def web_row(record: WebRecord) -> tuple[str, str, dict[str, Any]]:
    """(id, document, metadata) of a feed, page or robots.txt row."""
    kind = _WEB_KINDS[type(record)]
    key = _web_key(record)
    meta: dict[str, Any] = {"kind": kind, "key": key}
    if isinstance(record, PageRecord):
        meta["article_id"] = record.article_id
    return web_id(kind, key), record.model_dump_json(), meta


def web_from(kind: str, document: str) -> WebRecord:
    """A web row's document read back into its record."""
    if kind == "feed":
        return FeedRecord.model_validate_json(document)
    if kind == "page":
        return PageRecord.model_validate_json(document)
    return RobotsRecord.model_validate_json(document)

"""The Chroma store: chunk vectors plus one bookkeeping row per article.

Two collections: `<name>-chunks` (one vector per chunk, with the metadata a citation needs)
and `<name>-articles` (the article body and what incremental ingest compares: content hash,
fingerprint, source file hash, chunk count). An article's chunks are written before its row
and old chunks deleted after it, so a reader never meets an article without its chunks.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelMismatchError, StoreError, UsageError
from .models import Article, ArticleRecord, Chunk, Hit, SearchFilter, date_to_int

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ChromaStore", "StoredChunk", "chunk_ids_for"]

_MODEL_KEY = "embedding_model"
_GENERATION_KEY = "generation"


def _article_key(article_id: str) -> str:
    return hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


def chunk_ids_for(article_id: str, fingerprint: str, count: int) -> list[str]:
    """Deterministic chunk ids: the same article version always gets the same ids, and a
    new version never reuses an old one's (so old chunks can be deleted after the swap)."""
    key = _article_key(article_id)
    return [f"{key}-{fingerprint[:12]}-{i:04d}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk as kept in the store (for keyword indexes and consistency checks)."""

    chunk_id: str
    article_id: str
    text: str
    metadata: dict[str, Any]


def _where(flt: SearchFilter | None) -> dict[str, Any] | None:
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


def _article_metadata(article: Article) -> dict[str, Any]:
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "published_at": article.published_at.isoformat() if article.published_at else "",
        "published_int": date_to_int(article.published_at) if article.published_at else 0,
        "url": article.url,
    }


def _record(article_id: str, meta: dict[str, Any]) -> ArticleRecord:
    count = int(meta.get("chunks", 0))
    fingerprint = str(meta.get("fingerprint", ""))
    authors = str(meta.get("authors", ""))
    return ArticleRecord(
        id=article_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        published_at=str(meta.get("published_at", "")),
        url=str(meta.get("url", "")),
        authors=tuple(a for a in authors.split("; ") if a),
        path=str(meta.get("path", "")),
        content_hash=str(meta.get("content_hash", "")),
        fingerprint=fingerprint,
        file_hash=str(meta.get("file_hash", "")),
        chunk_ids=tuple(chunk_ids_for(article_id, fingerprint, count)),
        chars=int(meta.get("chars", 0)),
        file_errors=int(meta.get("file_errors", 0)),
    )


class ChromaStore:
    """Chunks and article bookkeeping in Chroma, embedded on disk or on a Chroma server."""

    def __init__(
        self,
        *,
        path: Path | str | None = None,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        collection: str = "news",
        embedding_model: str | None = None,
    ) -> None:
        import chromadb

        self.collection_name = collection
        # Chroma's own type hints are narrower than what it accepts; the store is the fence.
        self._client: Any
        self._chunks: Any
        self._articles: Any
        settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        try:
            if host:
                self.location = f"{'https' if ssl else 'http'}://{host}:{port}"
                self._client = chromadb.HttpClient(
                    host=host, port=port, ssl=ssl, headers=headers or {}, settings=settings
                )
                self._client.heartbeat()
            else:
                if path is None:
                    raise UsageError("give the store a path or a Chroma server host")
                Path(path).mkdir(parents=True, exist_ok=True)
                self.location = str(Path(path).resolve())
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        except UsageError:
            raise
        except Exception as e:
            where = f"Chroma server at {host}:{port}" if host else f"Chroma store at {path}"
            fix = (
                "start it (`chroma run --path DIR --port PORT`) or unset ASSISTANT_CHROMA_HOST"
                if host
                else "check that ASSISTANT_DATA_DIR is a writable folder"
            )
            raise StoreError(f"cannot open the {where} ({e}); {fix}") from e
        self._open_collections(embedding_model)

    def _open_collections(self, embedding_model: str | None) -> None:
        try:
            self._chunks = self._client.get_or_create_collection(
                f"{self.collection_name}-chunks",
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={_MODEL_KEY: embedding_model or ""},
            )
            self._articles = self._client.get_or_create_collection(
                f"{self.collection_name}-articles", embedding_function=None
            )
        except Exception as e:
            raise StoreError(f"cannot open the collections in {self.location} ({e})") from e
        recorded = (self._chunks.metadata or {}).get(_MODEL_KEY) or ""
        if embedding_model and recorded != embedding_model:
            if recorded and self._chunks.count() > 0:
                raise ModelMismatchError(
                    f"the index in {self.location} was built with embedding model {recorded!r}, "
                    f"but {embedding_model!r} is configured; re-index with "
                    "`assistant ingest --rebuild PATH...` or set "
                    f"ASSISTANT_EMBEDDING_MODEL={recorded}"
                )
            self._chunks.modify(metadata={_MODEL_KEY: embedding_model})
        self.embedding_model = embedding_model or recorded

    # -- bookkeeping -----------------------------------------------------------------------

    def records(self) -> dict[str, ArticleRecord]:
        """Every indexed article's bookkeeping row, by article id."""
        try:
            got = self._articles.get(include=["metadatas"])
        except Exception as e:
            raise StoreError(f"cannot read the article list from {self.location} ({e})") from e
        return {
            article_id: _record(article_id, dict(meta or {}))
            for article_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
        }

    def get_article(self, article_id: str) -> tuple[ArticleRecord, str]:
        """An indexed article's row and body text; UsageError when it is not indexed."""
        got = self._articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise UsageError(f"no indexed article has the id {article_id!r}")
        return _record(article_id, dict(got["metadatas"][0] or {})), got["documents"][0] or ""

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) in the index."""
        return self._articles.count(), self._chunks.count()

    def signature(self) -> str:
        """A cheap token that changes whenever chunks are written or deleted, by this process
        or any other sharing the store (caches such as the keyword index compare it)."""
        try:
            meta = self._client.get_collection(f"{self.collection_name}-articles").metadata or {}
            return f"{meta.get(_GENERATION_KEY, '')}:{self._chunks.count()}"
        except Exception as e:
            raise StoreError(f"cannot read the state of {self.location} ({e})") from e

    def chunk_ids(self) -> list[str]:
        """The ids of every stored chunk (no text or vectors)."""
        ids: list[str] = []
        batch = self._batch_size()
        while True:
            got = self._chunks.get(include=[], limit=batch, offset=len(ids))
            if not got["ids"]:
                return ids
            ids.extend(got["ids"])

    def _bump(self) -> None:
        """Record that the chunks changed (see `signature`)."""
        self._articles.modify(metadata={_GENERATION_KEY: uuid.uuid4().hex})

    # -- writes ----------------------------------------------------------------------------

    def write(
        self,
        items: Sequence[tuple[Article, list[Chunk], str, str, int]],
        vectors: np.ndarray,
        *,
        replaced: dict[str, ArticleRecord],
    ) -> None:
        """Store articles with their chunks and vectors (rows of `vectors`, in chunk order).

        Each item is (article, its chunks, hash of the file it came from, that file's path,
        how many bad entries that file had).
        Old versions named in `replaced` lose their chunks after the new rows land.
        """
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for article, chunks, file_hash, path, file_errors in items:
            base = _article_metadata(article)
            fingerprint = article.fingerprint
            for chunk, chunk_id in zip(
                chunks, chunk_ids_for(article.id, fingerprint, len(chunks)), strict=True
            ):
                ids.append(chunk_id)
                documents.append(chunk.text)
                metadatas.append(
                    {**base, "start": chunk.start, "end": chunk.end, "idx": chunk.index}
                )
            row = {
                **base,
                "authors": "; ".join(article.authors),
                "path": path,
                "content_hash": article.content_hash,
                "fingerprint": fingerprint,
                "file_hash": file_hash,
                "file_errors": file_errors,
                "chunks": len(chunks),
                "chars": len(article.body),
            }
            rows.append((article.id, article.body, row))
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} chunks but {len(vectors)} vectors")
        try:
            for start in range(0, len(ids), self._batch_size()):
                end = start + self._batch_size()
                self._chunks.upsert(
                    ids=ids[start:end],
                    embeddings=vectors[start:end],
                    documents=documents[start:end],
                    metadatas=metadatas[start:end],
                )
            self._articles.upsert(
                ids=[r[0] for r in rows],
                documents=[r[1] for r in rows],
                metadatas=[r[2] for r in rows],
                embeddings=[[1.0]] * len(rows),
            )
            new_ids = set(ids)
            stale = [
                chunk_id
                for record in replaced.values()
                for chunk_id in record.chunk_ids
                if chunk_id not in new_ids
            ]
            self._delete_chunks(stale)
            self._bump()
        except Exception as e:
            raise StoreError(
                f"writing to {self.location} failed ({e}); run the ingest again"
            ) from e

    def touch(
        self, article_ids: Sequence[str], *, file_hash: str, path: str, file_errors: int
    ) -> None:
        """Record that unchanged articles now come from a file with this hash and path."""
        if not article_ids:
            return
        meta = {"file_hash": file_hash, "path": path, "file_errors": file_errors}
        try:
            for start in range(0, len(article_ids), self._batch_size()):
                batch = list(article_ids[start : start + self._batch_size()])
                self._articles.update(ids=batch, metadatas=[meta] * len(batch))
        except Exception as e:
            raise StoreError(f"updating article rows in {self.location} failed ({e})") from e

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles and all their chunks; returns how many articles were removed."""
        if not article_ids:
            return 0
        try:
            got = self._articles.get(ids=list(article_ids), include=[])
            for i in range(0, len(article_ids), 500):
                self._chunks.delete(where={"article_id": {"$in": list(article_ids[i : i + 500])}})
            self._articles.delete(ids=list(article_ids))
            self._bump()
        except Exception as e:
            raise StoreError(f"removing articles from {self.location} failed ({e})") from e
        return len(got["ids"])

    def _delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), self._batch_size()):
            self._chunks.delete(ids=chunk_ids[start : start + self._batch_size()])

    def _batch_size(self) -> int:
        return min(self._client.get_max_batch_size(), 4096)

    def reset(self) -> None:
        """Drop every article and chunk (for `--rebuild`); the model is recorded anew."""
        model = self.embedding_model
        for name in (f"{self.collection_name}-chunks", f"{self.collection_name}-articles"):
            try:
                self._client.delete_collection(name)
            except Exception:  # a collection that is not there is already reset
                pass
        self._open_collections(model)
        self._bump()

    # -- reads -----------------------------------------------------------------------------

    def search(
        self, vector: Sequence[float], *, k: int, where: SearchFilter | None = None
    ) -> list[Hit]:
        """The `k` chunks nearest to `vector` (cosine), best first, within the filter."""
        if k <= 0:
            return []
        try:
            got = self._chunks.query(
                query_embeddings=[list(vector)],
                n_results=k,
                where=_where(where),
                include=["documents", "metadatas", "distances"],
            )
        except Exception as e:
            raise StoreError(f"searching {self.location} failed ({e})") from e
        hits = []
        for chunk_id, text, meta, distance in zip(
            got["ids"][0],
            got["documents"][0],
            got["metadatas"][0],
            got["distances"][0],
            strict=True,
        ):
            hits.append(self._hit(chunk_id, text or "", dict(meta or {}), 1.0 - float(distance)))
        return hits

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Chunks by id (unknown ids are skipped), with score 0."""
        if not chunk_ids:
            return []
        got = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        by_id = {
            cid: self._hit(cid, doc or "", dict(meta or {}), 0.0)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[c] for c in chunk_ids if c in by_id]

    def iter_chunks(self, *, batch: int = 5000) -> Iterator[StoredChunk]:
        """Every stored chunk, in pages (for keyword indexes and consistency checks)."""
        offset = 0
        while True:
            got = self._chunks.get(include=["documents", "metadatas"], limit=batch, offset=offset)
            if not got["ids"]:
                return
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                meta = dict(meta or {})
                yield StoredChunk(cid, str(meta.get("article_id", "")), doc or "", meta)
            offset += len(got["ids"])

    @staticmethod
    def _hit(chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Hit:
        return Hit(
            chunk_id=chunk_id,
            article_id=str(meta.get("article_id", "")),
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            published_at=str(meta.get("published_at", "")),
            url=str(meta.get("url", "")),
            text=text,
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", 0)),
            score=score,
        )

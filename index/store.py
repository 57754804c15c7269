"""The Chroma store: chunk vectors plus one bookkeeping row per article.

Two collections: `<name>-chunks` (one vector per chunk, with the metadata a citation needs)
and `<name>-articles` (the article body and what incremental ingest compares: content hash,
fingerprint, source file hash, chunk count). An article's chunks are written before its row
and old chunks deleted after it, so a reader never meets an article without its chunks.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import AssistantError, ModelMismatchError, StoreError, UsageError
from .models import Article, ArticleRecord, Chunk, Hit, SearchFilter, SourceFile, date_to_int

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ChromaStore", "Consistency", "StoredChunk", "chunk_ids_for"]

_MODEL_KEY = "embedding_model"
_JOURNAL = "journal"
_LEASE = "ingest-lease"
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
        """The `check --json` object."""
        return {
            "ok": self.ok,
            "articles": self.articles,
            "chunks": self.chunks,
            "orphan_chunks": len(self.orphan_chunks),
            "incomplete_articles": self.incomplete_articles,
            "interrupted_run": bool(self.journal),
            "repaired": self.repaired,
        }


@contextmanager
def _file_lock(path: Path, *, wait: float, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """An exclusive flock; the holder's pid is written in the file for the wait message."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another ingest ({holder}) is writing to {path.parent}; "
                        "wait for it to finish, then run this one again"
                    ) from None
                if on_wait and not told:
                    on_wait(f"waiting for another ingest ({holder}) to finish")
                    told = True
                time.sleep(0.2)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Lease:
    """A best-effort one-writer lease in a Chroma collection (for a shared Chroma server):
    claim the row when it is free or expired, re-read to confirm, renew while held."""

    TTL = 120.0  # renewed on every write, so only a dead holder's lease runs out

    def __init__(
        self, state: Any, where: str, *, wait: float, on_wait: Callable[[str], None] | None
    ) -> None:
        self.state = state
        self.where = where
        self.wait = wait
        self.on_wait = on_wait
        self.owner = f"pid {os.getpid()} on {socket.gethostname()} ({uuid.uuid4().hex[:8]})"

    def _holder(self) -> tuple[str, float]:
        got = self.state.get(ids=[_LEASE], include=["documents"])
        if not got["ids"]:
            return "", 0.0
        data = json.loads(got["documents"][0])
        owner, expires = str(data["owner"]), float(data["expires"])
        if data.get("host") == socket.gethostname() and not _alive(int(data.get("pid", 0))):
            return owner, 0.0  # a process on this machine that died holding it: expired
        return owner, expires

    def _claim(self) -> None:
        doc = json.dumps(
            {
                "owner": self.owner,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "expires": time.time() + self.TTL,
            }
        )
        self.state.upsert(ids=[_LEASE], documents=[doc], embeddings=[[1.0]])

    def __enter__(self) -> _Lease:
        deadline = time.monotonic() + self.wait
        told = False
        while True:
            holder, expires = self._holder()
            if not holder or expires < time.time() or holder == self.owner:
                self._claim()
                time.sleep(0.3)  # let a racing claimant's write land, then see who won
                if self._holder()[0] == self.owner:
                    return self
                continue
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another ingest ({holder}) is writing to {self.where}; "
                    "wait for it to finish, then run this one again"
                )
            if self.on_wait and not told:
                self.on_wait(f"waiting for another ingest ({holder}) to finish")
                told = True
            time.sleep(0.5)

    def renew(self) -> None:
        """Push the expiry back (called on every write while the lease is held)."""
        self._claim()

    def __exit__(self, *exc: object) -> None:
        try:
            if self._holder()[0] == self.owner:
                self.state.delete(ids=[_LEASE])
        except Exception:  # the server is gone: the lease simply expires
            pass


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
        file_articles=int(meta.get("file_articles", 0)),
    )


def _transient(error: BaseException | None) -> bool:
    """A network hiccup worth retrying (connection refused or reset, timeout)."""
    import httpx

    while error is not None:
        if isinstance(error, httpx.TransportError | ConnectionError | TimeoutError):
            return True
        error = error.__cause__ or error.__context__
    return False


_T = TypeVar("_T")


def _retrying(method: Callable[..., _T]) -> Callable[..., _T]:
    """Retry a store operation with backoff when a Chroma server is briefly unreachable
    (every operation is idempotent: deterministic ids, upserts, journaled deletes), and turn
    any other Chroma failure into a StoreError."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> _T:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                return method(self, *args, **kwargs)
            except AssistantError as e:
                if attempt == self.retries or not _transient(e):
                    raise
            except Exception as e:
                if attempt == self.retries or not _transient(e):
                    raise StoreError(f"{self.location} failed ({e})") from e
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    return wrapper


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
        self.path: Path | None = None
        self._lease: _Lease | None = None
        # Which chunk ids each article's row lists, valid for one store generation.
        self._live: dict[str, frozenset[str]] = {}
        self._live_generation = ""
        self._live_lock = threading.Lock()
        # A server may restart or drop a connection: retry (0.5+1+2+4 s) before giving up.
        self.retries = 4 if host else 0
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
                self.path = Path(path).resolve()
                self.location = str(self.path)
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

    @_retrying
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

    @_retrying
    def get_article(self, article_id: str) -> tuple[ArticleRecord, str]:
        """An indexed article's row and body text; UsageError when it is not indexed."""
        got = self._articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise UsageError(f"no indexed article has the id {article_id!r}")
        return _record(article_id, dict(got["metadatas"][0] or {})), got["documents"][0] or ""

    @_retrying
    def counts(self) -> tuple[int, int]:
        """(articles, chunks) in the index."""
        return self._articles.count(), self._chunks.count()

    @_retrying
    def signature(self) -> str:
        """A cheap token that changes whenever chunks are written or deleted, by this process
        or any other sharing the store (caches such as the keyword index compare it): the
        generation every write, removal, reset and repair stamps on the articles collection.
        (Counting chunks would cost a scan per question on a large index.)"""
        try:
            meta = self._client.get_collection(f"{self.collection_name}-articles").metadata or {}
            return str(meta.get(_GENERATION_KEY, ""))
        except Exception as e:
            raise StoreError(f"cannot read the state of {self.location} ({e})") from e

    @_retrying
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

    @_retrying
    def write(
        self,
        items: Sequence[tuple[Article, list[Chunk], SourceFile]],
        vectors: np.ndarray,
        *,
        replaced: dict[str, ArticleRecord],
    ) -> None:
        """Store articles with their chunks and vectors (rows of `vectors`, in chunk order).

        Each item is (article, its chunks, the file it came from). Crash-safe order: the
        article ids go into the journal, then each article's chunks (never split across two
        writes), then the rows, then old versions named in `replaced` lose their chunks,
        then the journal is cleared.
        A run killed anywhere leaves only chunks that `recover()` can find and drop.
        """
        batches: list[tuple[list[str], list[str], list[dict[str, Any]], slice]] = []
        rows: list[tuple[str, str, dict[str, Any]]] = []
        new_ids: set[str] = set()
        position = 0
        limit = self._batch_size()
        for article, chunks, source_file in items:
            base = _article_metadata(article)
            fingerprint = article.fingerprint
            ids = chunk_ids_for(article.id, fingerprint, len(chunks))
            if not batches or len(batches[-1][0]) + len(ids) > limit:
                batches.append(([], [], [], slice(position, position)))
            batch_ids, documents, metadatas, span = batches[-1]
            batch_ids.extend(ids)
            documents.extend(c.text for c in chunks)
            metadatas.extend(
                {**base, "start": c.start, "end": c.end, "idx": c.index} for c in chunks
            )
            position += len(chunks)
            batches[-1] = (batch_ids, documents, metadatas, slice(span.start, position))
            new_ids.update(ids)
            row = {
                **base,
                "authors": "; ".join(article.authors),
                **source_file.metadata(),
                "content_hash": article.content_hash,
                "fingerprint": fingerprint,
                "chunks": len(chunks),
                "chars": len(article.body),
            }
            rows.append((article.id, article.body, row))
        if position != len(vectors):
            raise ValueError(f"{position} chunks but {len(vectors)} vectors")
        try:
            if self._lease is not None:
                self._lease.renew()
            self._set_journal([r[0] for r in rows])
            for batch_ids, documents, metadatas, span in batches:
                if batch_ids:
                    self._chunks.upsert(
                        ids=batch_ids,
                        embeddings=vectors[span],
                        documents=documents,
                        metadatas=metadatas,
                    )
            for start in range(0, len(rows), limit):
                part = rows[start : start + limit]
                self._articles.upsert(
                    ids=[r[0] for r in part],
                    documents=[r[1] for r in part],
                    metadatas=[r[2] for r in part],
                    embeddings=[[1.0]] * len(part),
                )
            stale = [
                chunk_id
                for record in replaced.values()
                for chunk_id in record.chunk_ids
                if chunk_id not in new_ids
            ]
            self._delete_chunks(stale)
            self._set_journal([])
            self._bump()
        except Exception as e:
            raise StoreError(
                f"writing to {self.location} failed ({e}); run the ingest again to finish"
            ) from e

    @_retrying
    def touch(self, article_ids: Sequence[str], source_file: SourceFile) -> None:
        """Record that unchanged articles now come from a file with this hash and path."""
        if not article_ids:
            return
        meta = source_file.metadata()
        try:
            for start in range(0, len(article_ids), self._batch_size()):
                batch = list(article_ids[start : start + self._batch_size()])
                self._articles.update(ids=batch, metadatas=[meta] * len(batch))
        except Exception as e:
            raise StoreError(f"updating article rows in {self.location} failed ({e})") from e

    @_retrying
    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles and all their chunks; returns how many articles were removed.

        Rows go first, then chunks: a run killed in between leaves chunks without a row,
        which the journal points `recover()` at."""
        if not article_ids:
            return 0
        ids = list(article_ids)
        try:
            got = self._articles.get(ids=ids, include=[])
            self._set_journal(ids)
            self._articles.delete(ids=ids)
            for i in range(0, len(ids), 500):
                self._chunks.delete(where={"article_id": {"$in": ids[i : i + 500]}})
            self._set_journal([])
            self._bump()
        except Exception as e:
            raise StoreError(f"removing articles from {self.location} failed ({e})") from e
        return len(got["ids"])

    def _delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), self._batch_size()):
            self._chunks.delete(ids=chunk_ids[start : start + self._batch_size()])

    def _batch_size(self) -> int:
        return min(self._client.get_max_batch_size(), 4096)

    @_retrying
    def reset(self) -> None:
        """Drop every article and chunk (for `--rebuild`); the model is recorded anew.

        Rows go first: a run killed half-way leaves chunks without rows, which `recover()`
        drops (no rows at all means no chunk is wanted)."""
        model = self.embedding_model
        # The state collection stays: it holds the lease of the ingest doing this reset.
        for suffix in ("articles", "chunks"):
            try:
                self._client.delete_collection(f"{self.collection_name}-{suffix}")
            except Exception:  # a collection that is not there is already reset
                pass
        self._open_collections(model)
        self._set_journal([])
        self._bump()

    # -- crash safety: the journal, the ingest lock, consistency checks --------------------

    @property
    def _state(self) -> Any:
        """A small collection for the write journal and the ingest lease."""
        return self._client.get_or_create_collection(
            f"{self.collection_name}-state", embedding_function=None
        )

    def _set_journal(self, article_ids: list[str]) -> None:
        if article_ids:
            self._state.upsert(
                ids=[_JOURNAL], documents=[json.dumps(article_ids)], embeddings=[[1.0]]
            )
        else:
            self._state.delete(ids=[_JOURNAL])

    @_retrying
    def journal(self) -> list[str]:
        """Articles a write or removal was busy with when it stopped (empty when none)."""
        got = self._state.get(ids=[_JOURNAL], include=["documents"])
        return list(json.loads(got["documents"][0])) if got["ids"] else []

    @_retrying
    def recover(self) -> int:
        """Finish what an interrupted run left: drop chunks of journaled articles that their
        row does not list (or all of them when the row is gone). Returns chunks dropped."""
        try:
            pending = self.journal()
            if not pending:
                return 0
            rows = self._articles.get(ids=pending, include=["metadatas"])
            wanted = {
                cid
                for aid, meta in zip(rows["ids"], rows["metadatas"], strict=True)
                for cid in _record(aid, dict(meta or {})).chunk_ids
            }
            dropped = 0
            for i in range(0, len(pending), 500):
                got = self._chunks.get(
                    where={"article_id": {"$in": pending[i : i + 500]}}, include=[]
                )
                extra = [cid for cid in got["ids"] if cid not in wanted]
                self._delete_chunks(extra)
                dropped += len(extra)
            self._set_journal([])
            self._bump()
            return dropped
        except Exception as e:
            raise StoreError(
                f"recovering {self.location} after an interrupted run failed ({e})"
            ) from e

    @contextmanager
    def ingest_lock(
        self, *, wait: float = 120.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the one-writer lock of this store: an flock beside an on-disk store, a lease
        row on a Chroma server. Waits up to `wait` seconds, then raises StoreError."""
        if self.path is not None:
            with _file_lock(self.path / "ingest.lock", wait=wait, on_wait=on_wait):
                yield
            return
        with _Lease(self._state, self.location, wait=wait, on_wait=on_wait) as lease:
            self._lease = lease
            try:
                yield
            finally:
                self._lease = None

    @_retrying
    def check(self, *, repair: bool = False) -> Consistency:
        """Compare the bookkeeping rows with the chunks actually stored; with `repair`, drop
        chunks no row lists and forget articles whose chunks are incomplete (the next ingest
        of their files indexes them again)."""
        try:
            records = self.records()
            stored: set[str] = set()
            offset = 0
            while True:
                got = self._chunks.get(include=[], limit=10_000, offset=offset)
                if not got["ids"]:
                    break
                stored.update(got["ids"])
                offset += len(got["ids"])
            wanted = {cid: r.id for r in records.values() for cid in r.chunk_ids}
            orphans = sorted(stored - wanted.keys())
            incomplete = sorted({aid for cid, aid in wanted.items() if cid not in stored})
            report = Consistency(
                articles=len(records),
                chunks=len(stored),
                orphan_chunks=orphans,
                incomplete_articles=incomplete,
                journal=self.journal(),
            )
            if repair and not report.ok:
                self._delete_chunks(orphans)
                if incomplete:
                    self._articles.delete(ids=incomplete)
                    for i in range(0, len(incomplete), 500):
                        self._chunks.delete(where={"article_id": {"$in": incomplete[i : i + 500]}})
                self._set_journal([])
                self._bump()
                report.repaired = True
            return report
        except Exception as e:
            raise StoreError(f"checking {self.location} failed ({e})") from e

    # -- reads -----------------------------------------------------------------------------

    @_retrying
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
        return self._committed(hits)

    @_retrying
    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Chunks by id (unknown ids are skipped), with score 0."""
        if not chunk_ids:
            return []
        got = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        by_id = {
            cid: self._hit(cid, doc or "", dict(meta or {}), 0.0)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return self._committed([by_id[c] for c in chunk_ids if c in by_id])

    def _committed(self, hits: list[Hit]) -> list[Hit]:
        """Only chunks their article's row lists: while a write is in flight (or after an
        interrupted one) a chunk can exist before its row lands or after it was replaced;
        readers must never see such a half-written article."""
        if not hits:
            return hits
        generation = self.signature()
        article_ids = list(dict.fromkeys(h.article_id for h in hits))
        with self._live_lock:
            if generation != self._live_generation:
                self._live.clear()
                self._live_generation = generation
            known = {a: self._live[a] for a in article_ids if a in self._live}
        wanted = [a for a in article_ids if a not in known]
        if wanted:
            rows = self._articles.get(ids=wanted, include=["metadatas"])
            found = dict.fromkeys(wanted, frozenset[str]())  # no row: nothing of it is live
            for aid, meta in zip(rows["ids"], rows["metadatas"], strict=True):
                found[aid] = frozenset(_record(aid, dict(meta or {})).chunk_ids)
            with self._live_lock:
                if generation == self._live_generation:
                    self._live.update(found)
            known.update(found)
        return [h for h in hits if h.chunk_id in known[h.article_id]]

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

"""The Chroma store: chunk vectors plus one bookkeeping row per article.

Two collections: `<name>-chunks` (one vector per chunk, with the metadata a citation needs:
its text is its article body's [start:end], not stored again) and `<name>-articles` (the
article body and what incremental ingest compares: content hash,
fingerprint, source file hash, chunk count). An article's chunks are written before its row
and old chunks deleted after it, so a reader never meets an article without its chunks.
What the metadata holds is `index.schema`'s; the write journal and consistency checks are
`index.journal`'s; the one-writer locks are `index.locks`'.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from . import journal, schema, stories, tracked
from .errors import AssistantError, ModelMismatchError, StoreError, UsageError
from .holdings import Holdings, HoldingsRow
from .journal import Consistency, Journal
from .locks import Lease, file_lock, open_lock
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
from .schema import WebRecord, chunk_ids_for
from .tracked import TrackedRecord

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ChromaStore", "Consistency", "StoredChunk", "chunk_ids_for"]

# Chroma filters take a bounded `$in` list.
_IN_LIMIT = 500


@contextmanager
def _failing(
    what: str, *, fix: str = "", passing: type[BaseException] | tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Turn a Chroma failure (chromadb, sqlite, httpx) into a StoreError that says what
    failed, with the cause kept; exceptions of the `passing` types go through as they are."""
    try:
        yield
    except passing:
        raise
    except Exception as e:
        raise StoreError(f"{what} ({e})" + (f"; {fix}" if fix else "")) from e


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
    """Retry a store operation with backoff (0.5, 1, 2, 4 s) when a Chroma server is briefly
    unreachable (every operation is idempotent: deterministic ids, upserts, journaled
    deletes), and turn any other Chroma failure into a StoreError."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> _T:
        import tenacity

        attempts = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=tenacity.wait_exponential(multiplier=0.5),
            retry=tenacity.retry_if_exception(_transient),
            reraise=True,
        )
        with _failing(f"{self.location} failed", passing=AssistantError):
            return attempts(method, self, *args, **kwargs)

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
        chunk_texts: bool = True,
    ) -> None:
        import chromadb

        self.collection_name = collection
        # Whether chunks are written with their text; without, a chunk's text is sliced from
        # its article's body when read (less disk, slower reads: see `_texts`).
        self.chunk_texts = chunk_texts
        # Chroma's own type hints are narrower than what it accepts; the store is the fence.
        self._client: Any
        self._chunks: Any
        self._articles: Any
        settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
        self.path: Path | None = None
        self._lease: Lease | None = None
        self._journal = Journal(lambda: self._state)
        self._holdings = HoldingsRow(lambda: self._state)
        # Which chunk ids each article's row lists, valid for one store generation.
        self._live: dict[str, frozenset[str]] = {}
        self._live_generation = ""
        self._live_lock = threading.Lock()
        self._bodies = _Bodies()
        # A server may restart or drop a connection: retry (0.5+1+2+4 s) before giving up.
        self.retries = 4 if host else 0
        where = f"Chroma server at {host}:{port}" if host else f"Chroma store at {path}"
        fix = (
            "start it (`chroma run --path DIR --port PORT`) or unset ASSISTANT_CHROMA_HOST"
            if host
            else "check that ASSISTANT_DATA_DIR is a writable folder"
        )
        with _failing(f"cannot open the {where}", fix=fix, passing=UsageError):
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
        if self.path is None:
            self._open_collections(embedding_model)
            return
        # Another process may be creating the same store right now (an ingest and a server
        # started together): one at a time creates Chroma's tables and the collections.
        with (
            _failing(f"cannot open the {where}", fix=fix, passing=AssistantError),
            open_lock(self.path / "open.lock"),
        ):
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
            self._open_collections(embedding_model)

    def _open_collections(self, embedding_model: str | None) -> None:
        with _failing(f"cannot open the collections in {self.location}"):
            self._chunks = self._client.get_or_create_collection(
                schema.collection_name(self.collection_name, "chunks"),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={schema.MODEL_KEY: embedding_model or ""},
            )
            self._articles = self._client.get_or_create_collection(
                schema.collection_name(self.collection_name, "articles"), embedding_function=None
            )
        recorded = (self._chunks.metadata or {}).get(schema.MODEL_KEY) or ""
        if embedding_model and recorded != embedding_model:
            if recorded and self._chunks.count() > 0:
                raise ModelMismatchError(
                    f"the index in {self.location} was built with embedding model {recorded!r}, "
                    f"but {embedding_model!r} is configured; re-index with "
                    "`assistant ingest --rebuild PATH...` or set "
                    f"ASSISTANT_EMBEDDING_MODEL={recorded}"
                )
            self._chunks.modify(metadata={schema.MODEL_KEY: embedding_model})
        self.embedding_model = embedding_model or recorded

    # -- bookkeeping -----------------------------------------------------------------------

    @_retrying
    def records(self) -> dict[str, ArticleRecord]:
        """Every indexed article's bookkeeping row, by article id."""
        # The ids at once, then the rows by id in batches: one `get` of every row asks
        # SQLite for a variable per row (refused past 32,766, about 33,000 articles).
        with _failing(f"cannot read the article list from {self.location}"):
            return self._rows(self.all_ids(self._articles))

    @_retrying
    def get_article(self, article_id: str) -> tuple[ArticleRecord, str]:
        """An indexed article's row and body text; UsageError when it is not indexed."""
        got = self._articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise UsageError(f"no indexed article has the id {article_id!r}")
        return schema.record_from(article_id, got["metadatas"][0]), got["documents"][0] or ""

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
        with _failing(f"cannot read the state of {self.location}"):
            name = schema.collection_name(self.collection_name, "articles")
            meta = self._client.get_collection(name).metadata or {}
            return str(meta.get(schema.GENERATION_KEY, ""))

    @_retrying
    def chunk_ids(self) -> list[str]:
        """The ids of every stored chunk (no text or vectors)."""
        return self._all_chunk_ids()

    # -- writes ----------------------------------------------------------------------------

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
        then the journal is cleared, with the holdings the write leaves.
        A run killed anywhere leaves only chunks that `recover()` can find and drop.
        """
        if sum(len(chunks) for _, chunks, _ in items) != len(vectors):
            total = sum(len(chunks) for _, chunks, _ in items)
            raise ValueError(f"{total} chunks but {len(vectors)} vectors")
        new_ids = {cid for article, chunks, _ in items for cid in _chunk_ids(article, len(chunks))}
        stale = [cid for r in replaced.values() for cid in r.chunk_ids if cid not in new_ids]
        # Counted before anything is written, so that a retried write counts the same.
        held = self._held()
        held.remove(self.rows([article.id for article, _, _ in items]).values())
        held.add(schema.record_of(article, source) for article, _, source in items)
        self._write(items, vectors, stale, held)

    @_retrying
    def _write(
        self,
        items: Sequence[tuple[Article, list[Chunk], SourceFile]],
        vectors: np.ndarray,
        stale: list[str],
        held: Holdings,
    ) -> None:
        with _failing(f"writing to {self.location} failed", fix="run the ingest again to finish"):
            if self._lease is not None:
                self._lease.renew()
            self._journal.begin([article.id for article, _, _ in items])
            self._write_chunks(items, vectors)
            self._write_rows(items)
            stories.place(self, [(a.id, a.body, _day(a)) for a, _, _ in items])
            self._delete_chunks(stale)
            self._finish(held)

    def _write_chunks(
        self, items: Sequence[tuple[Article, list[Chunk], SourceFile]], vectors: np.ndarray
    ) -> None:
        """Upsert chunks in batches of whole articles (an article is never split in two)."""
        limit = self._batch_size()
        ids: list[str] = []
        metadatas: list[dict[str, Any]] = []
        texts: list[str] = []
        start = 0

        def flush() -> None:
            nonlocal start
            if ids:
                end = start + len(ids)
                self._chunks.upsert(
                    ids=ids,
                    embeddings=vectors[start:end],
                    metadatas=metadatas,
                    documents=texts if self.chunk_texts else None,
                )
                start = end
                ids.clear()
                metadatas.clear()
                texts.clear()

        # Without chunk texts a chunk is its article's body[start:end], the body kept once,
        # in the article's row (Chroma keeps each document four times over: as metadata, in
        # an index of it and in a full-text index of trigrams that nothing here uses).
        for article, chunks, _ in items:
            if ids and len(ids) + len(chunks) > limit:
                flush()
            ids.extend(_chunk_ids(article, len(chunks)))
            metadatas.extend(schema.chunk_metadata(article, chunks))
            texts.extend(chunk.text for chunk in chunks)
        flush()

    def _write_rows(self, items: Sequence[tuple[Article, list[Chunk], SourceFile]]) -> None:
        limit = self._batch_size()
        for start in range(0, len(items), limit):
            part = items[start : start + limit]
            self._articles.upsert(
                ids=[article.id for article, _, _ in part],
                documents=[article.body for article, _, _ in part],
                metadatas=[schema.article_row(a, len(c), f) for a, c, f in part],
                embeddings=[[1.0]] * len(part),
            )

    @_retrying
    def touch(self, article_ids: Sequence[str], source_file: SourceFile) -> None:
        """Record that unchanged articles now come from a file with this hash and path."""
        if not article_ids:
            return
        meta = schema.file_metadata(source_file)
        with _failing(f"updating article rows in {self.location} failed"):
            for start in range(0, len(article_ids), self._batch_size()):
                batch = list(article_ids[start : start + self._batch_size()])
                self._articles.update(ids=batch, metadatas=[meta] * len(batch))

    def delete(self, article_ids: Sequence[str]) -> int:
        """Remove articles and all their chunks; returns how many articles were removed.

        Rows go first, then chunks: a run killed in between leaves chunks without a row,
        which the journal points `recover()` at."""
        if not article_ids:
            return 0
        ids = list(article_ids)
        present = self.rows(ids)  # before anything is removed, so a retry counts the same
        held = self._held()
        held.remove(present.values())
        self._delete(ids, held)
        return len(present)

    @_retrying
    def _delete(self, ids: list[str], held: Holdings) -> None:
        with _failing(f"removing articles from {self.location} failed"):
            self._journal.begin(ids)
            self._drop_articles(ids)
            stories.drop(self, ids)
            self._finish(held)

    @_retrying
    def reset(self) -> None:
        """Drop every article and chunk (for `--rebuild`); the model is recorded anew.

        Rows go first: a run killed half-way leaves chunks without rows, which `recover()`
        drops (no rows at all means no chunk is wanted)."""
        model = self.embedding_model
        # The state collection stays: it holds the lease of the ingest doing this reset.
        for part in ("articles", "chunks"):
            try:
                self._client.delete_collection(schema.collection_name(self.collection_name, part))
            except Exception:  # a collection that is not there is already reset
                pass
        stories.reset(self)
        self._open_collections(model)
        self._forget_fetches()
        self._finish(Holdings())

    def _forget_fetches(self) -> None:
        """After a reset nothing fetched is indexed any more: drop the page rows and the
        feeds' validators, so the next sync fetches every feed and page in full."""
        rows = list(self._web_rows("page")) + list(self._web_rows("feed"))
        self._delete_web_ids([schema.web_row(r)[0] for r in rows if isinstance(r, PageRecord)])
        cleared = {"etag": "", "last_modified": "", "parts": {}}
        self._save_web([r.model_copy(update=cleared) for r in rows if isinstance(r, FeedRecord)])

    # -- primitives shared with index.journal ----------------------------------------------

    def _batch_size(self) -> int:
        return min(self._client.get_max_batch_size(), 4096)

    def _rows(self, article_ids: list[str]) -> dict[str, ArticleRecord]:
        """The rows of these articles (absent ones are left out)."""
        found: dict[str, ArticleRecord] = {}
        batch = self._batch_size()
        for start in range(0, len(article_ids), batch):
            got = self._articles.get(ids=article_ids[start : start + batch], include=["metadatas"])
            for aid, meta in zip(got["ids"], got["metadatas"], strict=True):
                found[aid] = schema.record_from(aid, meta)
        return found

    def _all_chunk_ids(self) -> list[str]:
        return self.all_ids(self._chunks)

    def all_ids(self, collection: Any) -> list[str]:
        """Every id in one of this store's collections. In one request: paging with an
        offset makes SQLite skip the rows before each page, so listing 1M chunk ids took
        176 s in pages of 4,096 and 2.1 s at once. Pages only if a request that large is
        refused (a server with a response limit, say)."""
        try:
            return list(collection.get(include=[])["ids"])
        except Exception:  # refused as too large: in pages
            ids: list[str] = []
            batch = self._batch_size()
            while True:
                got = collection.get(include=[], limit=batch, offset=len(ids))
                if not got["ids"]:
                    return ids
                ids.extend(got["ids"])

    def _chunk_ids_of(self, article_ids: list[str]) -> list[str]:
        """The ids of every stored chunk of these articles."""
        found: list[str] = []
        for i in range(0, len(article_ids), _IN_LIMIT):
            where = {"article_id": {"$in": article_ids[i : i + _IN_LIMIT]}}
            found.extend(self._chunks.get(where=where, include=[])["ids"])
        return found

    def _delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), self._batch_size()):
            self._chunks.delete(ids=chunk_ids[start : start + self._batch_size()])

    def _drop_articles(self, article_ids: list[str]) -> None:
        """Delete these articles' rows, then all their chunks."""
        if not article_ids:
            return
        batch = self._batch_size()
        for i in range(0, len(article_ids), batch):
            self._articles.delete(ids=article_ids[i : i + batch])
        for i in range(0, len(article_ids), _IN_LIMIT):
            self._chunks.delete(where={"article_id": {"$in": article_ids[i : i + _IN_LIMIT]}})

    def _finish(self, held: Holdings | None = None) -> None:
        """A write, removal or repair is complete: clear the journal, and stamp a new
        generation so that readers see the chunks changed (see `signature`), with the
        holdings it leaves (`held`, or counted again from every row)."""
        self._journal.clear()
        generation = uuid.uuid4().hex
        # Saved before the stamp: a run stopped in between leaves holdings of a
        # generation the store never reached, which no reader trusts.
        self._holdings.save(held if held is not None else self._counted(), generation)
        self._articles.modify(metadata={schema.GENERATION_KEY: generation})

    @_retrying
    def _held(self) -> Holdings:
        """The holdings of the store as it is (the writer's, under the ingest lock)."""
        with _failing(f"cannot read the state of {self.location}"):
            return self._holdings.read(self.signature()) or self._counted()

    def _counted(self) -> Holdings:
        return Holdings.of(self._rows(self.all_ids(self._articles)).values())

    @_retrying
    def holdings(self, generation: str) -> Holdings | None:
        """How many articles the index holds from each day and outlet, when the store is at
        `generation` (its `signature()`); None when they were not kept for it (an index
        written before they were kept, or a run stopped half-way): read `records()` then."""
        with _failing(f"cannot read the state of {self.location}"):
            return self._holdings.read(generation)

    # -- followed feeds, fetched pages, robots.txt (the web collection) ---------------------

    @property
    def _web(self) -> Any:
        return self._client.get_or_create_collection(
            schema.collection_name(self.collection_name, "web"), embedding_function=None
        )

    def _web_rows(self, kind: str) -> Iterator[WebRecord]:
        collection = self._web
        batch = self._batch_size()
        offset = 0
        while True:
            got = collection.get(
                where={"kind": kind}, include=["documents"], limit=batch, offset=offset
            )
            if not got["ids"]:
                return
            for document in got["documents"]:
                yield schema.web_from(kind, document)
            offset += len(got["ids"])

    @_retrying
    def feeds(self) -> list[FeedRecord]:
        """The followed feeds, in the order they were added."""
        with _failing(f"cannot read the feed list from {self.location}"):
            found = [f for f in self._web_rows("feed") if isinstance(f, FeedRecord)]
        return sorted(found, key=lambda f: (f.added_at, f.url))

    @_retrying
    def pages(self) -> dict[str, PageRecord]:
        """Every fetched page's row, by the canonical URL of the link it was fetched for."""
        with _failing(f"cannot read the fetched pages from {self.location}"):
            return {p.url: p for p in self._web_rows("page") if isinstance(p, PageRecord)}

    @_retrying
    def robots(self) -> list[RobotsRecord]:
        """robots.txt of the hosts fetched from (each kept a day)."""
        with _failing(f"cannot read robots.txt rows from {self.location}"):
            return [r for r in self._web_rows("robots") if isinstance(r, RobotsRecord)]

    @_retrying
    def save_web(self, records: Sequence[WebRecord]) -> None:
        """Write feed, page and robots.txt rows (replacing those with the same key)."""
        with _failing(f"writing feed state to {self.location} failed"):
            if self._lease is not None:
                self._lease.renew()
            self._save_web(records)

    def _save_web(self, records: Sequence[WebRecord]) -> None:
        collection = self._web
        limit = self._batch_size()
        for start in range(0, len(records), limit):
            rows = [schema.web_row(r) for r in records[start : start + limit]]
            collection.upsert(
                ids=[r[0] for r in rows],
                documents=[r[1] for r in rows],
                metadatas=[r[2] for r in rows],
                embeddings=[[1.0]] * len(rows),
            )

    @_retrying
    def delete_web(self, records: Sequence[WebRecord]) -> None:
        """Remove feed, page or robots.txt rows."""
        ids = [schema.web_row(r)[0] for r in records]
        with _failing(f"removing feed state from {self.location} failed"):
            self._delete_web_ids(ids)

    def _delete_web_ids(self, ids: list[str]) -> None:
        collection = self._web
        for start in range(0, len(ids), self._batch_size()):
            collection.delete(ids=ids[start : start + self._batch_size()])

    def keep_alive(self) -> None:
        """Renew the ingest lease (on a server) during a long stretch without writes."""
        if self._lease is not None:
            with _failing(f"renewing the ingest lease on {self.location} failed"):
                self._lease.renew()

    # -- crash safety: the journal, the ingest lock, consistency checks --------------------

    @property
    def _state(self) -> Any:
        """A small collection for the write journal and the ingest lease."""
        return self._client.get_or_create_collection(
            schema.collection_name(self.collection_name, "state"), embedding_function=None
        )

    @_retrying
    def journal(self) -> list[str]:
        """Articles a write or removal was busy with when it stopped (empty when none)."""
        return self._journal.pending()

    @_retrying
    def recover(self) -> int:
        """Finish what an interrupted run left: drop chunks of journaled articles that their
        row does not list (or all of them when the row is gone). Returns chunks dropped."""
        with _failing(f"recovering {self.location} after an interrupted run failed"):
            # Stories first: the journal still names what an interrupted write touched.
            stories.recover(self, self._journal.pending())
            return journal.recover(self)

    @contextmanager
    def ingest_lock(
        self, *, wait: float = 120.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the one-writer lock of this store: an flock beside an on-disk store, a lease
        row on a Chroma server. Waits up to `wait` seconds, then raises StoreError."""
        if self.path is not None:
            with file_lock(self.path / "ingest.lock", wait=wait, on_wait=on_wait):
                yield
            return
        with Lease(self._state, self.location, wait=wait, on_wait=on_wait) as lease:
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
        with _failing(f"checking {self.location} failed"):
            return journal.check(self, repair=repair)

    # -- stories (index.stories) -------------------------------------------------------------

    @_retrying
    def story_of(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The story id of each of these articles (articles not grouped yet are left out)."""
        with _failing(f"cannot read stories from {self.location}"):
            return stories.story_of(self, article_ids)

    @_retrying
    def story_members(self, story_ids: Sequence[str]) -> dict[str, list[str]]:
        """The article ids of each story, its original (earliest copy) first."""
        with _failing(f"cannot read stories from {self.location}"):
            return stories.members(self, story_ids)

    @_retrying
    def stories(self, *, min_copies: int = 1) -> dict[str, list[str]]:
        """Every story of at least `min_copies` copies: its article ids, original first."""
        with _failing(f"cannot read stories from {self.location}"):
            return stories.grouped(self, min_copies=min_copies)

    @_retrying
    def rows(self, article_ids: Sequence[str]) -> dict[str, ArticleRecord]:
        """The bookkeeping rows of these articles, by id (articles not indexed are left out)."""
        found: dict[str, ArticleRecord] = {}
        ids = list(dict.fromkeys(article_ids))
        with _failing(f"cannot read article rows from {self.location}"):
            for start in range(0, len(ids), _IN_LIMIT):
                found.update(self._rows(ids[start : start + _IN_LIMIT]))
        return found

    @_retrying
    def story_count(self) -> int:
        """How many stories the indexed articles make."""
        with _failing(f"cannot read stories from {self.location}"):
            return stories.count(self)

    # -- tracked questions (index.tracked) ---------------------------------------------------

    @_retrying
    def tracked(self) -> list[TrackedRecord]:
        """The tracked questions, oldest first."""
        with _failing(f"cannot read tracked questions from {self.location}"):
            return tracked.load(self)

    @_retrying
    def save_tracked(self, records: Sequence[TrackedRecord], *, existing: bool = False) -> None:
        """Write tracked questions (replacing those with the same id); `existing` only
        updates questions still tracked."""
        with _failing(f"writing tracked questions to {self.location} failed"):
            tracked.save(self, records, existing=existing)

    @_retrying
    def delete_tracked(self, ids: Sequence[str]) -> int:
        """Remove tracked questions; returns how many were removed."""
        with _failing(f"removing tracked questions from {self.location} failed"):
            return tracked.delete(self, ids)

    @_retrying
    def indexed_since(self, since: float) -> list[str]:
        """The ids of the articles whose current version was indexed after `since` (epoch
        seconds); articles indexed before the index kept that time count as older."""
        with _failing(f"cannot read the article list from {self.location}"):
            return tracked.indexed_since(self, since)

    # -- reads -----------------------------------------------------------------------------

    @_retrying
    def search(
        self, vector: Sequence[float], *, k: int, where: SearchFilter | None = None
    ) -> list[Hit]:
        """The `k` chunks nearest to `vector` (cosine), best first, within the filter."""
        if k <= 0:
            return []
        generation = self.signature()
        with _failing(f"searching {self.location} failed"):
            got = self._chunks.query(
                query_embeddings=[list(vector)],
                n_results=k,
                where=schema.where(where),
                include=["documents", "metadatas", "distances"],
            )
        ids, metas = got["ids"][0], got["metadatas"][0]
        texts = self._texts(ids, got["documents"][0], metas, generation)
        hits = [
            schema.hit_from(chunk_id, text, meta, 1.0 - float(distance))
            for chunk_id, text, meta, distance in zip(
                ids, texts, metas, got["distances"][0], strict=True
            )
            if text is not None
        ]
        return self._committed(hits, generation)

    @_retrying
    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Chunks by id (unknown ids are skipped), with score 0."""
        if not chunk_ids:
            return []
        generation = self.signature()
        got = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        texts = self._texts(got["ids"], got["documents"], got["metadatas"], generation)
        by_id = {
            cid: schema.hit_from(cid, text, meta, 0.0)
            for cid, text, meta in zip(got["ids"], texts, got["metadatas"], strict=True)
            if text is not None
        }
        return self._committed([by_id[c] for c in chunk_ids if c in by_id], generation)

    def _texts(
        self,
        ids: Sequence[str],
        documents: Sequence[str | None],
        metas: Sequence[Any],
        generation: str | None = None,
    ) -> list[str | None]:
        """Each chunk's text: the document stored with it (indexes written before chunks
        were kept without one), else its article body's [start:end]. None when the article
        has no row or its row is another version (its chunk ids no longer list this one):
        a chunk caught in the middle of a write, which readers skip. The rows read say
        which chunks are live: kept for `_committed` when the store `generation` read
        before them is given."""
        needed = {
            cid: str((meta or {}).get("article_id", ""))
            for cid, doc, meta in zip(ids, documents, metas, strict=True)
            if not doc
        }
        bodies = self._bodies.get(needed)
        wanted = list(dict.fromkeys(aid for cid, aid in needed.items() if cid not in bodies))
        batch = self._batch_size()
        live = dict.fromkeys(wanted, frozenset[str]())  # no row: nothing of it is live
        for start in range(0, len(wanted), batch):
            got = self._articles.get(
                ids=wanted[start : start + batch], include=["documents", "metadatas"]
            )
            for aid, body, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                version = _Body(frozenset(schema.record_from(aid, meta).chunk_ids), body or "")
                self._bodies.put(aid, version)
                live[aid] = version.chunk_ids
                bodies.update((cid, version) for cid in version.chunk_ids if cid in needed)
        if live and generation is not None:
            self._note_live(generation, live)
        texts: list[str | None] = []
        for cid, doc, meta in zip(ids, documents, metas, strict=True):
            meta = meta or {}
            kept = bodies.get(cid)
            if doc:
                texts.append(doc)
            elif kept is None:
                texts.append(None)
            else:
                texts.append(kept.text[int(meta.get("start", 0)) : int(meta.get("end", 0))])
        return texts

    def _committed(self, hits: list[Hit], generation: str) -> list[Hit]:
        """Only chunks their article's row lists: while a write is in flight (or after an
        interrupted one) a chunk can exist before its row lands or after it was replaced;
        readers must never see such a half-written article. `generation`: the store's,
        read before the chunks were."""
        if not hits:
            return hits
        article_ids = list(dict.fromkeys(h.article_id for h in hits))
        with self._live_lock:
            if generation != self._live_generation:
                self._live.clear()
                self._live_generation = generation
            known = {a: self._live[a] for a in article_ids if a in self._live}
        wanted = [a for a in article_ids if a not in known]
        if wanted:
            found = dict.fromkeys(wanted, frozenset[str]())  # no row: nothing of it is live
            for aid, record in self._rows(wanted).items():
                found[aid] = frozenset(record.chunk_ids)
            self._note_live(generation, found)
            known.update(found)
        return [h for h in hits if h.chunk_id in known[h.article_id]]

    def _note_live(self, generation: str, live: dict[str, frozenset[str]]) -> None:
        """Remember which chunks of these articles their rows, read at `generation`, list."""
        with self._live_lock:
            if generation != self._live_generation:
                self._live.clear()
                self._live_generation = generation
            self._live.update(live)

    def iter_chunks(self, *, batch: int = 5000) -> Iterator[StoredChunk]:
        """Every stored chunk, in batches read by id (for keyword indexes and consistency
        checks; pages by offset grow slower with each page on a large index)."""
        ids = self._all_chunk_ids()
        step = min(batch, self._batch_size())
        for start in range(0, len(ids), step):
            got = self._chunks.get(
                ids=ids[start : start + step], include=["documents", "metadatas"]
            )
            texts = self._texts(got["ids"], got["documents"], got["metadatas"])
            for cid, text, meta in zip(got["ids"], texts, got["metadatas"], strict=True):
                yield schema.stored_chunk_from(cid, text, meta)


class _Body(NamedTuple):
    """An article body as read, with the chunk ids of that version (its slices)."""

    chunk_ids: frozenset[str]
    text: str


class _Bodies:
    """The article bodies read last, so that the searches of one question (the whole
    question, then each part) do not read the same articles again. A body serves only
    the chunk ids of its own version: a chunk of a newer version misses and is read."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, _Body] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, chunks: dict[str, str]) -> dict[str, _Body]:
        """Of `chunks` (chunk id -> article id), those a kept body serves."""
        found: dict[str, _Body] = {}
        with self._lock:
            for cid, aid in chunks.items():
                body = self._items.get(aid)
                if body is not None and cid in body.chunk_ids:
                    self._items.move_to_end(aid)
                    found[cid] = body
        return found

    def put(self, article_id: str, body: _Body) -> None:
        with self._lock:
            self._items[article_id] = body
            self._items.move_to_end(article_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _day(article: Article) -> int:
    return schema.date_to_int(article.published_at) if article.published_at else 0


def _chunk_ids(article: Article, count: int) -> list[str]:
    return chunk_ids_for(article.id, article.fingerprint, count)

"""Incremental, idempotent ingest: files (and web pages) -> articles -> chunks -> vectors -> Chroma.

Unchanged files are recognised by their hash and not even parsed; unchanged articles are
not re-embedded; the same text under a second id is reported as a duplicate; a changed
article replaces all its chunks. Chunks of many articles are embedded together.
`ingest_run` opens one such run under the store's one-writer lock; files go in through
`IngestRun.ingest_file`, articles from anywhere else (the web: `index.feedsync`) through
`IngestRun.add_article`.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import schema
from .chunking import DEFAULT_MAX_WORDS, chunk_article, embedding_text
from .embeddings import Embedder
from .errors import LoadError, UsageError
from .loaders import DEFAULT_MAX_BYTES, iter_files, load_file
from .models import Article, ArticleRecord, Chunk, SourceFile
from .store import ChromaStore
from .web import FetchOptions, is_url

__all__ = [
    "FileOutcome",
    "IngestProgress",
    "IngestReport",
    "IngestRun",
    "ingest",
    "ingest_run",
    "remove",
]

Status = Literal["added", "updated", "unchanged", "duplicate", "failed", "removed"]


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file (or one bad entry of a file)."""

    path: str
    status: Status
    detail: str = ""
    articles: int = 0


@dataclass(slots=True)
class IngestProgress:
    """Where an ingest is: files done of files found, and chunks written so far."""

    files_done: int
    files_total: int
    chunks_written: int
    current: str


@dataclass(slots=True)
class IngestReport:
    """Counts of an ingest run and the files that failed, each with its reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[LoadError] = field(default_factory=list)
    files: list[FileOutcome] = field(default_factory=list)
    recovered: int = 0  # leftover chunks of an interrupted run that were dropped first
    notes: list[str] = field(default_factory=list)  # e.g. a URL that was a feed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The `ingest --json` object."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "removed": self.removed,
            "chunks": self.chunks,
            "failed": [{"path": e.path, "error": e.reason} for e in self.failed],
            "files": [asdict(f) for f in self.files],
            "recovered": self.recovered,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _file_hash(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None  # load_file will report why


def _fully_indexed(path: Path, records: list[ArticleRecord]) -> bool:
    """True when the file is unchanged since it was last indexed with no bad entry, so
    it need not even be read (`records` are the articles indexed from it)."""
    digest = _file_hash(path)
    return (
        bool(records)
        and digest is not None
        and all(
            r.file_hash == digest and r.file_errors == 0 and r.file_articles == len(records)
            for r in records
        )
    )


@dataclass(slots=True)
class _Pending:
    """Articles chunked but not yet embedded and written (written together, in batches)."""

    items: list[tuple[Article, list[Chunk], SourceFile]] = field(default_factory=list)
    replaced: dict[str, ArticleRecord] = field(default_factory=dict)
    chunks: int = 0

    def clear(self) -> None:
        self.items.clear()
        self.replaced.clear()
        self.chunks = 0


def ingest(
    paths: Iterable[str | Path],
    *,
    store: ChromaStore,
    embedder: Embedder,
    rebuild: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_words: int = DEFAULT_MAX_WORDS,
    batch_chunks: int = 1024,
    progress: Callable[[IngestProgress], None] | None = None,
    lock_wait: float = 120.0,
    on_wait: Callable[[str], None] | None = None,
    skip: Iterable[str | Path] = (),
    fetch: FetchOptions | None = None,
) -> IngestReport:
    """Index the articles in `paths` (files and folders, recursively, and http(s) URLs of
    pages or feeds, fetched with `fetch`) into `store`.

    One ingest writes to a store at a time (a second one waits up to `lock_wait` seconds,
    then fails with a clear message); leftovers of an interrupted run are dropped first.
    Folders in `skip` (the data dir) are never walked into.
    """
    targets = list(paths)
    urls = [str(p).strip() for p in targets if isinstance(p, str) and is_url(p)]
    files = [p for p in targets if not (isinstance(p, str) and is_url(p))]
    with ingest_run(
        store,
        embedder,
        rebuild=rebuild,
        max_bytes=max_bytes,
        max_words=max_words,
        batch_chunks=batch_chunks,
        progress=progress,
        lock_wait=lock_wait,
        on_wait=on_wait,
    ) as run:
        found = list(iter_files(files, skip=skip)) if files else []
        total = len(found) + len(urls)
        for done, entry in enumerate(found, start=1):
            if isinstance(entry, LoadError):
                run.fail(entry)
                continue
            run.ingest_file(entry)
            run.step(done, total, str(entry))
        if urls:
            from .feedsync import ingest_urls

            options = fetch or FetchOptions(max_bytes=max_bytes)
            ingest_urls(run, urls, options=options, done=len(found), total=total)
    return run.report


@contextmanager
def ingest_run(
    store: ChromaStore,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_words: int = DEFAULT_MAX_WORDS,
    batch_chunks: int = 1024,
    progress: Callable[[IngestProgress], None] | None = None,
    lock_wait: float = 120.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[IngestRun]:
    """One ingest run under the store's one-writer lock: an interrupted run's leftovers are
    dropped first (and everything, for `rebuild`); what is still pending when the block
    ends is written, and the report's time is set. An exception writes nothing more."""
    with store.ingest_lock(wait=lock_wait, on_wait=on_wait):
        started = time.perf_counter()
        run = IngestRun(
            store,
            embedder,
            max_bytes=max_bytes,
            max_words=max_words,
            batch_chunks=batch_chunks,
            progress=progress,
        )
        run.start(rebuild=rebuild)
        yield run
        run.flush()
        run.report.seconds = time.perf_counter() - started


class IngestRun:
    """One ingest run: the store and embedder it writes with, how it reads and chunks, what
    the index held when it started, what it met so far, and its report."""

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        *,
        max_bytes: int,
        max_words: int,
        batch_chunks: int,
        progress: Callable[[IngestProgress], None] | None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.max_words = max_words
        self.batch_chunks = batch_chunks
        self.progress = progress
        self.report = IngestReport()
        self.records: dict[str, ArticleRecord] = {}
        self.by_hash: dict[str, str] = {}  # content hash -> article id
        self.by_path: dict[str, list[ArticleRecord]] = defaultdict(list)
        self.seen: dict[str, str] = {}  # article id -> file it was met in during this run
        self.pending = _Pending()
        # Called after each write with the ids of the articles written (the web sync keeps
        # what it fetched only once the articles are safely stored).
        self.after_write: list[Callable[[list[str]], None]] = []

    def start(self, *, rebuild: bool) -> None:
        """Drop an interrupted run's leftovers (and everything, for a rebuild), then read
        what the index holds."""
        self.report.recovered = self.store.recover()
        if rebuild:
            self.store.reset()
        self.records = self.store.records()
        self.by_hash = {r.content_hash: r.id for r in self.records.values()}
        for record in self.records.values():
            self.by_path[record.path].append(record)

    def fail(self, error: LoadError) -> None:
        """Report a file or entry that could not be read."""
        self.report.failed.append(error)
        self.report.files.append(FileOutcome(error.path, "failed", error.reason))

    def step(self, done: int, total: int, current: str) -> None:
        """A file is done: write when enough chunks wait, and tell the progress callback."""
        if self.pending.chunks >= self.batch_chunks:
            self.flush()
        if self.progress:
            chunks = self.report.chunks + self.pending.chunks
            self.progress(IngestProgress(done, total, chunks, current))

    def flush(self) -> None:
        """Embed and write the pending articles."""
        pending = self.pending
        if not pending.items:
            return
        texts = [embedding_text(a, c) for a, chunks, _ in pending.items for c in chunks]
        vectors = self.embedder.encode(texts)
        self.store.write(pending.items, vectors, replaced=pending.replaced)
        self.report.chunks += len(texts)
        written = [article.id for article, _, _ in pending.items]
        pending.clear()
        for callback in self.after_write:
            callback(written)

    def ingest_file(self, path: Path) -> None:
        """Ingest one file: skipped unread when it is unchanged since it was fully indexed,
        else read, and each of its articles added, updated, kept or reported a duplicate;
        articles it no longer holds are removed."""
        path_key = str(path.resolve())
        current = self.by_path.get(path_key, [])
        if _fully_indexed(path, current):
            self.report.unchanged += len(current)
            self.seen.update({r.id: str(path) for r in current})
            self.report.files.append(FileOutcome(str(path), "unchanged", articles=len(current)))
            return
        try:
            loaded = load_file(path, max_bytes=self.max_bytes)
        except LoadError as e:
            self.fail(e)
            return
        for error in loaded.errors:
            self.fail(error)
        source_file = SourceFile(
            loaded.file_hash, path_key, articles=len(loaded.articles), errors=len(loaded.errors)
        )
        counts: dict[Status, int] = defaultdict(int)
        untouched: list[str] = []
        for article in loaded.articles:
            status = self._article(article, loaded.path, source_file)
            counts[status] += 1
            if status == "unchanged":
                untouched.append(article.id)
        self.store.touch(untouched, source_file)
        # Articles this file used to hold but no longer does are gone from the source: drop them.
        kept = {a.id for a in loaded.articles}
        stale = [r.id for r in current if r.id not in kept]
        if stale:
            self.report.removed += self.store.delete(stale)
            for article_id in stale:
                self.records.pop(article_id, None)
            counts["removed"] += len(stale)
        for status in ("added", "updated", "unchanged", "removed"):
            if counts[status]:
                self.report.files.append(FileOutcome(loaded.path, status, articles=counts[status]))

    def add_article(self, article: Article, source: SourceFile, where: str) -> Status:
        """Ingest one article that did not come from a file read by this run (a web page):
        added, updated, kept or reported a duplicate, with one outcome named `where`."""
        status = self._article(article, where, source)
        if status != "duplicate":
            self.report.files.append(FileOutcome(where, status, articles=1))
        if status == "unchanged":
            self.store.touch([article.id], source)
        return status

    def indexed(self, article_id: str) -> bool:
        """True when the article is in the index (or queued to be written in this run)."""
        return article_id in self.records

    def twin(self, article: Article) -> str:
        """The id of the article indexed with the same text ("" when none)."""
        return self.by_hash.get(article.content_hash, "")

    def _article(self, article: Article, path: str, source_file: SourceFile) -> Status:
        """Queue one article of a file when it is new or changed; what became of it."""
        report = self.report
        if article.id in self.seen:
            report.duplicates += 1
            detail = f"same article id as in {self.seen[article.id]}"
            report.files.append(FileOutcome(path, "duplicate", detail, 1))
            return "duplicate"
        self.seen[article.id] = path
        old = self.records.get(article.id)
        if old is not None and old.fingerprint == article.fingerprint:
            report.unchanged += 1
            return "unchanged"
        twin = self.by_hash.get(article.content_hash)
        if twin is not None and twin != article.id and twin in self.records:
            report.duplicates += 1
            report.files.append(FileOutcome(path, "duplicate", f"same text as {twin}", 1))
            return "duplicate"
        chunks = chunk_article(article, max_words=self.max_words)
        self.pending.items.append((article, chunks, source_file))
        self.pending.chunks += len(chunks)
        self.by_hash[article.content_hash] = article.id
        self.records[article.id] = schema.record_of(article, source_file)
        if old is None:
            report.added += 1
            return "added"
        self.pending.replaced[article.id] = old
        report.updated += 1
        return "updated"


def remove(
    targets: Sequence[str],
    *,
    store: ChromaStore,
    lock_wait: float = 120.0,
    missing_ok: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> int:
    """Remove articles by id, or every article read from a file or folder path. A target
    that matches nothing is a UsageError, unless `missing_ok` (a watched file that gave no
    article is deleted)."""
    with store.ingest_lock(wait=lock_wait, on_wait=on_wait):
        store.recover()
        return _remove(targets, store, missing_ok=missing_ok)


def _remove(targets: Sequence[str], store: ChromaStore, *, missing_ok: bool) -> int:
    records = store.records()
    doomed: list[str] = []
    for target in targets:
        if target in records:
            doomed.append(target)
            continue
        resolved = str(Path(target).expanduser().resolve())
        matches = [
            r.id
            for r in records.values()
            if r.path == resolved or r.path.startswith(resolved.rstrip("/") + "/")
        ]
        if not matches and not missing_ok:
            raise UsageError(
                f"no indexed article has the id or path {target!r}; "
                "`assistant articles` lists what is indexed"
            )
        doomed.extend(matches)
    return store.delete(list(dict.fromkeys(doomed)))

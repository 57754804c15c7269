"""Incremental, idempotent ingest: files -> articles -> chunks -> vectors -> Chroma.

Unchanged files are recognised by their hash and not even parsed; unchanged articles are
not re-embedded; the same text under a second id is reported as a duplicate; a changed
article replaces all its chunks. Chunks of many articles are embedded together.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .chunking import DEFAULT_MAX_WORDS, chunk_article, embedding_text
from .embeddings import Embedder
from .errors import LoadError, UsageError
from .loaders import DEFAULT_MAX_BYTES, iter_files, load_file
from .models import Article, ArticleRecord, Chunk, SourceFile
from .store import ChromaStore

__all__ = ["FileOutcome", "IngestProgress", "IngestReport", "ingest", "remove"]

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
            "seconds": round(self.seconds, 3),
        }


def _file_hash(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None  # load_file will report why


@dataclass(slots=True)
class _Pending:
    items: list[tuple[Article, list[Chunk], SourceFile]] = field(default_factory=list)
    replaced: dict[str, ArticleRecord] = field(default_factory=dict)
    chunks: int = 0


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
) -> IngestReport:
    """Index the articles in `paths` (files and folders, recursively) into `store`.

    One ingest writes to a store at a time (a second one waits up to `lock_wait` seconds,
    then fails with a clear message); leftovers of an interrupted run are dropped first.
    Folders in `skip` (the data dir) are never walked into.
    """
    with store.ingest_lock(wait=lock_wait, on_wait=on_wait):
        return _ingest(
            paths,
            store=store,
            embedder=embedder,
            rebuild=rebuild,
            max_bytes=max_bytes,
            max_words=max_words,
            batch_chunks=batch_chunks,
            progress=progress,
            skip=skip,
        )


def _ingest(
    paths: Iterable[str | Path],
    *,
    store: ChromaStore,
    embedder: Embedder,
    rebuild: bool,
    max_bytes: int,
    max_words: int,
    batch_chunks: int,
    progress: Callable[[IngestProgress], None] | None,
    skip: Iterable[str | Path],
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    report.recovered = store.recover()
    if rebuild:
        store.reset()
    records = store.records()
    by_hash = {r.content_hash: r.id for r in records.values()}
    by_path: dict[str, list[ArticleRecord]] = defaultdict(list)
    for record in records.values():
        by_path[record.path].append(record)
    seen: dict[str, str] = {}  # article id -> file it was met in during this run
    pending = _Pending()
    found = list(iter_files(paths, skip=skip))
    total = len(found)

    def flush() -> None:
        if not pending.items:
            return
        texts = [embedding_text(a, c) for a, chunks, *_ in pending.items for c in chunks]
        vectors = embedder.encode(texts)
        store.write(pending.items, vectors, replaced=pending.replaced)
        report.chunks += len(texts)
        pending.items.clear()
        pending.replaced.clear()
        pending.chunks = 0

    for done, entry in enumerate(found, start=1):
        if isinstance(entry, LoadError):
            _fail(report, entry)
            continue
        path_key = str(entry.resolve())
        current = by_path.get(path_key, [])
        digest = _file_hash(entry)
        if (
            current
            and digest is not None
            and all(
                r.file_hash == digest and r.file_errors == 0 and r.file_articles == len(current)
                for r in current
            )
        ):
            report.unchanged += len(current)
            seen.update({r.id: str(entry) for r in current})
            report.files.append(FileOutcome(str(entry), "unchanged", articles=len(current)))
        else:
            _ingest_file(
                entry,
                path_key,
                current,
                records,
                by_hash,
                seen,
                pending,
                report,
                store=store,
                max_bytes=max_bytes,
                max_words=max_words,
            )
        if pending.chunks >= batch_chunks:
            flush()
        if progress:
            progress(IngestProgress(done, total, report.chunks + pending.chunks, str(entry)))
    flush()
    report.seconds = time.perf_counter() - started
    return report


def _fail(report: IngestReport, error: LoadError) -> None:
    report.failed.append(error)
    report.files.append(FileOutcome(error.path, "failed", error.reason))


def _ingest_file(
    path: Path,
    path_key: str,
    current: list[ArticleRecord],
    records: dict[str, ArticleRecord],
    by_hash: dict[str, str],
    seen: dict[str, str],
    pending: _Pending,
    report: IngestReport,
    *,
    store: ChromaStore,
    max_bytes: int,
    max_words: int,
) -> None:
    try:
        loaded = load_file(path, max_bytes=max_bytes)
    except LoadError as e:
        _fail(report, e)
        return
    for error in loaded.errors:
        _fail(report, error)
    source_file = SourceFile(
        loaded.file_hash, path_key, articles=len(loaded.articles), errors=len(loaded.errors)
    )
    counts: dict[str, int] = defaultdict(int)
    untouched: list[str] = []
    for article in loaded.articles:
        if article.id in seen:
            report.duplicates += 1
            counts["duplicate"] += 1
            report.files.append(
                FileOutcome(
                    loaded.path, "duplicate", f"same article id as in {seen[article.id]}", 1
                )
            )
            continue
        seen[article.id] = loaded.path
        old = records.get(article.id)
        if old is not None and old.fingerprint == article.fingerprint:
            report.unchanged += 1
            counts["unchanged"] += 1
            untouched.append(article.id)
            continue
        twin = by_hash.get(article.content_hash)
        if twin is not None and twin != article.id and twin in records:
            report.duplicates += 1
            counts["duplicate"] += 1
            report.files.append(FileOutcome(loaded.path, "duplicate", f"same text as {twin}", 1))
            continue
        chunks = chunk_article(article, max_words=max_words)
        pending.items.append((article, chunks, source_file))
        pending.chunks += len(chunks)
        by_hash[article.content_hash] = article.id
        if old is not None:
            pending.replaced[article.id] = old
            report.updated += 1
            counts["updated"] += 1
        else:
            report.added += 1
            counts["added"] += 1
        records[article.id] = ArticleRecord(
            id=article.id,
            title=article.title,
            source=article.source,
            published_at=article.published_at.isoformat() if article.published_at else "",
            url=article.url,
            authors=article.authors,
            path=path_key,
            content_hash=article.content_hash,
            fingerprint=article.fingerprint,
            file_hash=loaded.file_hash,
            chunk_ids=(),
            chars=len(article.body),
            file_errors=source_file.errors,
            file_articles=source_file.articles,
        )
    store.touch(untouched, source_file)
    # Articles this file used to hold but no longer does are gone from the source: drop them.
    kept = {a.id for a in loaded.articles}
    stale = [r.id for r in current if r.id not in kept]
    if stale:
        report.removed += store.delete(stale)
        for article_id in stale:
            records.pop(article_id, None)
        counts["removed"] += len(stale)
    for status in ("added", "updated", "unchanged", "removed"):
        if counts[status]:
            report.files.append(FileOutcome(loaded.path, status, articles=counts[status]))


def remove(targets: Sequence[str], *, store: ChromaStore, lock_wait: float = 120.0) -> int:
    """Remove articles by id, or every article read from a file or folder path."""
    with store.ingest_lock(wait=lock_wait):
        store.recover()
        return _remove(targets, store)


def _remove(targets: Sequence[str], store: ChromaStore) -> int:
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
        if not matches:
            raise UsageError(
                f"no indexed article has the id or path {target!r}; "
                "`assistant articles` lists what is indexed"
            )
        doomed.extend(matches)
    return store.delete(list(dict.fromkeys(doomed)))

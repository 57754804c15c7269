"""Keeping the index up to date by itself: `watch` (folders as their files appear, change or
go, and the feeds on an interval) and `BackgroundSync` (the web server's feed sync).

Both do their work through `NewsAssistant`'s `ingest`, `remove` and `sync`, so a pass is an
ordinary incremental ingest or sync: unchanged files are not read, unchanged entries not
fetched, and one writer at a time holds the store (the ingest lock or lease). Both stop
between two files or two pages when asked (`Stopped` unwinds the pass; what was written
stays, what was not is taken in by the next pass).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import AssistantError, BusyError, UsageError
from index.ingestion import IngestReport
from index.loaders import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from index import SyncReport

    from .core import NewsAssistant
    from .tracking import TrackedUpdate

__all__ = ["BackgroundSync", "FilesPass", "PassFailed", "Stopped", "SyncPass", "watch"]

log = logging.getLogger("assistant.sync")

# Changes are taken in once the folders have been quiet this long (a file written in several
# steps is read once), and at the latest after MAX_GROUPING_MS of continuous changes.
QUIET_MS = 500
MAX_GROUPING_MS = 5_000


class Stopped(Exception):
    """Raised between two files or pages once a stop was asked for; unwinds the pass."""


@dataclass(slots=True)
class FilesPass:
    """What one pass over changed files did: the ingest's report (its `removed` counts the
    articles of deleted files too), and which paths were deleted or taken in."""

    report: IngestReport
    deleted: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    initial: bool = False


@dataclass(slots=True)
class SyncPass:
    """What one sync of the feeds did."""

    report: SyncReport


@dataclass(slots=True)
class PassFailed:
    """A pass that failed as a whole (the store, another writer holding it too long); the
    watch goes on and the next pass tries again."""

    what: str  # "files" or "feeds"
    error: AssistantError


WatchEvent = FilesPass | SyncPass | PassFailed


def _stopper(stop: threading.Event | None) -> Callable[[Any], None]:
    """A progress callback that raises Stopped once `stop` is set."""

    def check(_: Any) -> None:
        if stop is not None and stop.is_set():
            raise Stopped

    return check


class _Folders:
    """The watched paths: folders as given, files through their folder (an editor's save
    often replaces the file, which a watch on the file itself would lose)."""

    def __init__(self, paths: Sequence[str | Path], data_dir: Path) -> None:
        self.targets: list[Path] = []
        for raw in paths:
            path = Path(raw).expanduser()
            if not path.exists():
                raise UsageError(
                    f"{raw}: no such file or folder; `assistant watch` watches folders and "
                    "files that exist"
                )
            self.targets.append(path.resolve())
        self.data_dir = data_dir.resolve()
        self.folders = [p for p in self.targets if p.is_dir()]
        self.files = {p for p in self.targets if not p.is_dir()}
        roots = self.folders + sorted({p.parent for p in self.files})
        # A folder inside another watched one is watched through it.
        self.roots = [r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots)]

    def wanted(self, change: Any, raw: str) -> bool:
        """Whether a change concerns a file an ingest reads (or a folder of them)."""
        from watchfiles import Change

        path = Path(raw)
        if path == self.data_dir or path.is_relative_to(self.data_dir):
            return False
        owner = self._owner(path)
        if owner is None:
            return False
        if any(part.startswith(".") for part in path.relative_to(owner).parts):
            return False  # hidden, as a folder ingest skips them (editors' swap files)
        suffix = path.suffix.lower()
        if change == Change.deleted:
            return suffix in SUPPORTED_SUFFIXES or not suffix  # a file, or maybe a folder
        if path.is_dir():
            return change == Change.added  # a folder moved or copied in
        return suffix in SUPPORTED_SUFFIXES

    def _owner(self, path: Path) -> Path | None:
        """The watched folder `path` is in, or its file's folder when it is a watched file."""
        if path in self.files:
            return path.parent
        for folder in self.folders:
            if path.is_relative_to(folder):
                return folder
        return None

    def gone(self, records: Sequence[str]) -> list[str]:
        """Paths of indexed articles under the watched folders whose file is gone."""
        found = set()
        for raw in records:
            path = Path(raw)
            if not path.is_absolute() or path.is_relative_to(self.data_dir):
                continue  # a URL, or an upload
            inside = path in self.files or any(path.is_relative_to(f) for f in self.folders)
            if inside and not path.exists():
                found.add(raw)
        return sorted(found)


def _outermost(paths: set[str]) -> list[str]:
    """The paths, without those inside another of them (a folder ingest reads its files)."""
    kept: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return sorted(kept)


def watch(
    assistant: NewsAssistant,
    paths: Sequence[str | Path],
    *,
    interval: float,
    stop: threading.Event | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[WatchEvent]:
    """Keep the index in step with `paths` and the followed feeds until `stop` is set; one
    event per pass.

    First, one pass over `paths` takes in what changed while nothing watched (and removes
    the articles of files under them that are gone); then files are taken in as they
    appear or change, and their articles removed when they go, once the folders have been
    quiet for QUIET_MS. Every `interval` seconds (0: never) the followed feeds are synced,
    the first time at once. UsageError, at once, for a path that does not exist.
    """
    folders = _Folders(paths, assistant.settings.data_dir)
    return _watching(assistant, folders, interval, stop or threading.Event(), on_wait)


def _watching(
    assistant: NewsAssistant,
    folders: _Folders,
    interval: float,
    stop: threading.Event,
    on_wait: Callable[[str], None] | None,
) -> Iterator[WatchEvent]:
    progress = _stopper(stop)
    tick = min(1.0, interval) if interval > 0 else 1.0
    batches = _changes(folders, stop, tick)
    try:
        # The watch is on from here: what changes during the first passes is not missed.
        next(batches, None)
        if folders.targets:
            yield _files_pass(assistant, folders, None, progress, on_wait)
        next_sync = time.monotonic() if interval > 0 else float("inf")
        while not stop.is_set():
            if time.monotonic() >= next_sync:
                event = _sync_pass(assistant, progress, on_wait)
                next_sync = time.monotonic() + interval
                if event is not None:
                    yield event
                continue
            batch = next(batches, None)
            if batch is None:  # the watch ended (asked to stop)
                break
            if batch:
                changed = {path for _, path in batch}
                yield _files_pass(assistant, folders, changed, progress, on_wait)
    except Stopped:
        return
    finally:
        batches.close()


def _changes(
    folders: _Folders, stop: threading.Event, tick: float
) -> Generator[set[Any], None, None]:
    """Batches of changes to the watched folders, an empty one at least every `tick`
    seconds; empty ones only when no folder is watched."""
    if not folders.roots:
        while not stop.wait(tick):
            yield set()
        return
    from watchfiles import watch as watch_files

    yield from watch_files(
        *folders.roots,
        watch_filter=folders.wanted,
        debounce=MAX_GROUPING_MS,
        step=QUIET_MS,
        stop_event=stop,
        rust_timeout=max(50, int(tick * 1000)),
        yield_on_timeout=True,
    )


def _files_pass(
    assistant: NewsAssistant,
    folders: _Folders,
    changed: set[str] | None,
    progress: Callable[[Any], None],
    on_wait: Callable[[str], None] | None,
) -> WatchEvent:
    """Remove the articles of deleted files, then ingest the new and changed ones (in that
    order: a file renamed keeps its articles under its new name, not as duplicates of the
    old). `changed` None: the first pass, over every watched path."""
    try:
        if changed is None:
            deleted = folders.gone([r.path for r in assistant.articles()])
            present = [str(p) for p in folders.targets]
        else:
            deleted = sorted(p for p in changed if not os.path.lexists(p))
            present = _outermost({p for p in changed if os.path.exists(p)})
        removed = assistant.remove(deleted, missing_ok=True, on_wait=on_wait) if deleted else 0
        report = IngestReport()
        if present:
            report = assistant.ingest(present, progress=progress, on_wait=on_wait)
        report.removed += removed
        return FilesPass(report, deleted, present, initial=changed is None)
    except (Stopped, KeyboardInterrupt):
        raise
    except AssistantError as e:
        return PassFailed("files", e)


def _sync_pass(
    assistant: NewsAssistant,
    progress: Callable[[Any], None],
    on_wait: Callable[[str], None] | None,
) -> WatchEvent | None:
    """Sync the followed feeds; None when none is followed."""
    try:
        if not assistant.store.feeds():
            return None
        return SyncPass(assistant.sync(progress=progress, on_wait=on_wait))
    except (Stopped, KeyboardInterrupt):
        raise
    except AssistantError as e:
        return PassFailed("feeds", e)


class BackgroundSync:
    """The web server's feed sync: a daemon thread that syncs the followed feeds when they
    are due, i.e. when one was never synced or the oldest sync is `minutes` old.

    Questions never wait for it (it only holds the store's one-writer lock, which readers
    do not take). Several servers on one Chroma server share the feeds and their last
    sync, so together they sync once an interval; one whose round finds the lock taken
    (another server's sync, an ingest) skips the round quietly. Failures are logged to the
    `assistant.sync` logger; a round that failed as a whole is retried after `minutes`.
    """

    def __init__(self, assistant: NewsAssistant, *, minutes: float) -> None:
        self.assistant = assistant
        self.interval = minutes * 60
        # How often the thread looks whether feeds are due: a feed added in the UI is
        # synced within a minute, while a sync of everything happens once an interval.
        self.tick = min(self.interval, 60.0)
        self.rounds = 0  # syncs run (for tests and the log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        # Tracked questions whose answer the latest rounds changed, newest last.
        self.tracked_updates: list[TrackedUpdate] = []

    def start(self) -> None:
        """Start the thread (nothing when `minutes` is 0)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="feed-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop (a sync in progress stops at its next page) and wait up
        to `timeout` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.tick)

    def due(self) -> bool:
        """Whether a feed was never synced, or the oldest sync is an interval old."""
        feeds = self.assistant.store.feeds()
        if not feeds:
            return False
        stamps = [f.last_sync for f in feeds]
        if not all(stamps):
            return True
        try:
            oldest = min(datetime.fromisoformat(s) for s in stamps)
        except ValueError:
            return True
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        # A little slack, so that a tick landing just before the mark does not wait a whole
        # tick more.
        return (datetime.now(UTC) - oldest).total_seconds() >= self.interval - self.tick / 2

    def run_once(self) -> SyncReport | None:
        """One round: sync when due and the store is free; the report, else None."""
        if time.monotonic() < self._retry_at:
            return None
        try:
            if not self.due():
                return None
            report = self.assistant.sync(progress=_stopper(self._stop), lock_wait=0)
        except Stopped:
            return None
        except BusyError:
            log.info("background sync skipped: another sync or ingest is writing")
            return None
        except AssistantError as e:
            log.warning("background sync of the feeds failed: %s", e)
            self._retry_at = time.monotonic() + self.interval
            return None
        except Exception:
            log.exception("background sync of the feeds failed")
            self._retry_at = time.monotonic() + self.interval
            return None
        self.rounds += 1
        log.info(
            "background sync: %d feeds, %d pages fetched, %d added, %d updated in %.1f s",
            report.feeds,
            report.fetched,
            report.added,
            report.updated,
            report.seconds,
        )
        for error in report.failed[:5]:
            log.warning("background sync: %s: %s", error.path, error.reason)
        if len(report.failed) > 5:
            log.warning("background sync: %d more failures", len(report.failed) - 5)
        self._check_tracked()
        return report

    def _check_tracked(self) -> None:
        """Ask the tracked questions again after a sync; what changed is logged and kept
        in `tracked_updates` (the last 50)."""
        try:
            changed = [u for u in self.assistant.check_tracked() if u.changed]
        except AssistantError as e:
            log.warning("checking the tracked questions after the sync failed: %s", e)
            return
        for update in changed:
            log.info("tracked question %s has new articles: %s", update.id, update.question)
        self.tracked_updates = [*self.tracked_updates, *changed][-50:]

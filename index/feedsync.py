"""Following feeds and sitemaps, and ingesting web pages by URL.

`add_feed`, `list_feeds`, `remove_feed` and `sync` keep the feed list in the store (the
`<name>-web` collection), so every process on one Chroma server shares it; `sync` holds
the store's one-writer lock (the ingest lock or lease) for its whole run. A sync fetches
each feed once, conditionally; for each entry whose page is not indexed yet or whose entry
changed it fetches the linked page, reads it through the loaders (trafilatura for HTML,
the PDF loader for PDFs) and hands the article to the same `IngestRun` a file ingest uses,
so unchanged articles are not embedded again, changed ones replace their chunks and the
same text under another URL is a duplicate. Page fetches run on threads (at most 8 at a
time, 2 per host) while the main thread chunks, embeds and writes.

What the store remembers about a page (its article, the entry it was read for, its
validators) is written only after the article itself is, and a feed's validators only
after all its entries are in: a sync killed at any point leaves the index consistent and
the next one finishes the job.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from .chunking import DEFAULT_MAX_WORDS
from .embeddings import Embedder
from .errors import LoadError, UsageError
from .feeds import FEED_TYPES, Entry, FeedDoc, discover_feeds, read_document, utc_now
from .ingestion import FileOutcome, IngestRun, ingest_run
from .loaders import PageText, read_page
from .models import Article, FeedRecord, PageRecord, RobotsRecord, SourceFile
from .store import ChromaStore
from .web import (
    Fetched,
    Fetcher,
    FetchError,
    FetchOptions,
    RobotsCache,
    canonical_url,
    parallel,
    require_url,
)

__all__ = [
    "AddedFeed",
    "FeedOutcome",
    "FeedStatus",
    "SyncProgress",
    "SyncReport",
    "add_feed",
    "ingest_urls",
    "list_feeds",
    "remove_feed",
    "sync",
]

PAGE_TYPES = "text/html, application/xhtml+xml, application/pdf;q=0.9, text/plain;q=0.8, */*;q=0.5"
_KEEP_ALIVE = 30.0  # seconds between lease renewals while only fetching
# Pages read ahead of the ingest: while a batch of chunks is embedded (about 100 news pages
# at the default batch size), the fetch threads download and extract the next batch. Only
# the extracted text of a page waits, not its download.
_READ_AHEAD = 128
# When the next page is not ready yet and at least this many chunks wait, they are embedded
# and written at once instead of idling (at the start of a sync, or when pages come slowly).
_IDLE_FLUSH = 256


@dataclass(slots=True)
class SyncProgress:
    """Where a sync is: feeds fetched, then pages done, of how many; the URL at hand."""

    stage: Literal["feeds", "pages"]
    done: int
    total: int
    current: str


@dataclass(slots=True)
class FeedOutcome:
    """What one sync did with one feed: one element of `sync --json`'s `per_feed`.

    `status` is "read" (the feed answered with its entries), "not_modified" (304: nothing
    new, nothing fetched) or "failed" (the feed itself could not be read: `error` says why).
    The counts are of the feed's entries; an article two feeds list counts for both.
    `error` of a read feed summarises its entries that failed ("" when none did)."""

    url: str
    title: str
    status: Literal["read", "not_modified", "failed"]
    entries: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    error: str = ""


@dataclass(slots=True)
class SyncReport:
    """What a sync did: the `sync --json` object (see `to_dict`)."""

    feeds: int = 0
    entries: int = 0
    fetched: int = 0  # pages downloaded (200)
    not_modified: int = 0  # feeds and pages that answered 304
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    chunks: int = 0
    failed: list[LoadError] = field(default_factory=list)
    from_entry: list[LoadError] = field(default_factory=list)  # page unusable, entry text used
    requests: int = 0  # HTTP requests sent, robots.txt included
    recovered: int = 0
    seconds: float = 0.0
    per_feed: list[FeedOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `sync --json` object."""
        return {
            "feeds": self.feeds,
            "entries": self.entries,
            "fetched": self.fetched,
            "not_modified": self.not_modified,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "failed": [{"url": e.path, "error": e.reason} for e in self.failed],
            "from_entry": [{"url": e.path, "reason": e.reason} for e in self.from_entry],
            "chunks": self.chunks,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "per_feed": [asdict(f) for f in self.per_feed],
        }


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A followed feed as `feeds list` shows it: its row and how many articles it gave."""

    record: FeedRecord
    articles: int

    def to_dict(self) -> dict[str, Any]:
        """One element of the `feeds list --json` list."""
        r = self.record
        return {
            "url": r.url,
            "kind": r.kind,
            "title": r.title,
            "last_sync": r.last_sync,
            "articles": self.articles,
            "last_error": r.last_error,
        }


@dataclass(frozen=True, slots=True)
class AddedFeed:
    """The outcome of `add_feed`: the feed's row, whether it is new, how many entries it
    holds now, and the page it was found on (when a page's feed link was followed)."""

    record: FeedRecord
    new: bool
    entries: int = 0
    found_on: str = ""


# -- the feed list ------------------------------------------------------------------------


def _robots_cache(store: ChromaStore) -> RobotsCache:
    return RobotsCache(entries={r.origin: (r.text, r.fetched_at) for r in store.robots()})


def _save_robots(store: ChromaStore, cache: RobotsCache) -> None:
    fresh = [RobotsRecord(origin=o, text=t, fetched_at=at) for o, (t, at) in cache.fresh.items()]
    if fresh:
        store.save_web(fresh)
        cache.fresh.clear()


def _find(feeds: list[FeedRecord], url: str) -> FeedRecord | None:
    key = canonical_url(url)
    return next((f for f in feeds if canonical_url(f.url) == key), None)


def add_feed(url: str, *, store: ChromaStore, options: FetchOptions) -> AddedFeed:
    """Follow a feed or sitemap (its kind detected by fetching it once). A web page that
    announces a feed (<link rel="alternate">) adds that feed. Nothing is indexed until the
    next `sync`, and no validator is kept, so that sync reads every entry.

    Raises UsageError for a URL that is not http(s), or a page that is no feed and names
    none; FetchError/LoadError when the URL cannot be fetched or read.
    """
    url = require_url(url)
    feeds = store.feeds()
    if (known := _find(feeds, url)) is not None:
        return AddedFeed(known, new=False)
    robots = _robots_cache(store)
    found_on = ""
    with Fetcher(options, robots=robots) as fetcher:
        fetched = fetcher.get(url, accept=FEED_TYPES)
        doc = read_document(fetched)
        if doc is None:
            links = discover_feeds(fetched) if fetched.content_type != "application/pdf" else []
            if not links:
                raise UsageError(
                    f"{url} is a web page, not a feed or sitemap, and it names no feed "
                    f'(<link rel="alternate">); `assistant ingest {url}` indexes the page itself'
                )
            found_on, url = url, links[0]
            if (known := _find(feeds, url)) is not None:
                return AddedFeed(known, new=False, found_on=found_on)
            doc = read_document(fetcher.get(url, accept=FEED_TYPES))
            if doc is None:
                raise UsageError(f"{found_on} names {url} as its feed, but that is a web page")
    _save_robots(store, robots)
    title = doc.title or (urlsplit(url).hostname or "").removeprefix("www.")
    record = FeedRecord(url=url, kind=doc.kind, title=title, added_at=utc_now())
    store.save_web([record])
    count = len(doc.sitemaps) if doc.kind == "sitemap-index" else len(doc.entries)
    return AddedFeed(record, new=True, entries=count, found_on=found_on)


def list_feeds(store: ChromaStore) -> list[FeedStatus]:
    """The followed feeds with how many indexed articles each gave."""
    feeds = store.feeds()
    if not feeds:
        return []
    indexed = set(store.records())
    per_feed: dict[str, set[str]] = defaultdict(set)
    for page in store.pages().values():
        if page.article_id in indexed:
            for feed in page.feeds:
                per_feed[feed].add(page.article_id)
    return [FeedStatus(f, len(per_feed.get(f.url, ()))) for f in feeds]


def remove_feed(
    url: str, *, store: ChromaStore, purge: bool = False, lock_wait: float = 120.0
) -> int:
    """Stop following a feed; with `purge` also remove the articles only it gave (an
    article another followed feed also lists stays). Returns how many articles were
    removed. UsageError when the feed is not followed."""
    with store.ingest_lock(wait=lock_wait):
        store.recover()
        feed = _find(store.feeds(), url.strip())
        if feed is None:
            raise UsageError(
                f"{url} is not a followed feed; `assistant feeds list` shows the followed ones"
            )
        pages = store.pages().values()
        mine = [p for p in pages if feed.url in p.feeds]
        kept = {p.article_id for p in pages if feed.url not in p.feeds or len(p.feeds) > 1}
        removed = 0
        if purge:
            doomed = sorted({p.article_id for p in mine if p.article_id} - kept)
            removed = store.delete(doomed)
        others = [
            p.model_copy(update={"feeds": tuple(f for f in p.feeds if f != feed.url)}) for p in mine
        ]
        gone = [p for p in others if purge and not p.feeds]
        store.save_web([p for p in others if not (purge and not p.feeds)])
        store.delete_web([*gone, feed])
        return removed


# -- fetching entries and pages -------------------------------------------------------------


@dataclass(slots=True)
class _Job:
    """One page to take in: the entry that links it and the feeds that list it."""

    entry: Entry
    key: str  # canonical form of the entry's link
    feeds: list[str]
    outlet: str  # the feed's title, the outlet when the page names none
    page: PageRecord | None


@dataclass(slots=True)
class _FeedRead:
    """A feed as a worker thread fetched it: the response, the document (None for a 304),
    a sitemap index's children's validators, and the children that failed."""

    fetched: Fetched
    doc: FeedDoc | None
    parts: dict[str, tuple[str, str]]
    errors: list[LoadError] = field(default_factory=list)


@dataclass(slots=True)
class _Read:
    """What a worker thread made of one job."""

    job: _Job
    fetched: Fetched | None = None
    article: Article | None = None
    note: LoadError | None = None  # the page was unusable; the entry's own text was used
    error: LoadError | None = None
    retry: bool = False  # a fetch failure: worth trying again at the next sync
    digest: str = ""  # of the downloaded body, which is dropped once read


class _Web:
    """The fetching half of a sync or a URL ingest, feeding one IngestRun."""

    def __init__(
        self,
        run: IngestRun,
        options: FetchOptions,
        progress: Callable[[SyncProgress], None] | None = None,
    ) -> None:
        self.run = run
        self.store = run.store
        self.options = options
        self.progress = progress
        self.robots = _robots_cache(self.store)
        self.fetcher = Fetcher(options, robots=self.robots)
        self.pages = self.store.pages()
        self.waiting: dict[str, list[PageRecord]] = defaultdict(list)  # by article id
        self.ready: list[PageRecord] = []
        self.fetched = 0
        self.not_modified = 0
        self.entries = 0
        self.from_entry: list[LoadError] = []
        self.failures: dict[str, list[LoadError]] = defaultdict(list)  # by feed URL
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)  # by feed URL
        self.outcomes: list[FeedOutcome] = []
        self.retry: set[str] = set()  # feeds with an entry worth fetching again
        self._renewed = time.monotonic()
        run.after_write.append(self._written)

    def _written(self, article_ids: list[str]) -> None:
        rows = [row for aid in article_ids for row in self.waiting.pop(aid, [])]
        if rows:
            self.store.save_web(rows)

    def keep_alive(self) -> None:
        if time.monotonic() - self._renewed > _KEEP_ALIVE:
            self.store.keep_alive()
            self._renewed = time.monotonic()

    def finish(self) -> None:
        """Everything is in: write what is pending, then the page and robots.txt rows."""
        self.run.flush()
        rows = self.ready + [row for rows in self.waiting.values() for row in rows]
        self.waiting.clear()
        self.ready = []
        if rows:
            self.store.save_web(rows)
        _save_robots(self.store, self.robots)

    def close(self) -> None:
        self.fetcher.close()

    # -- feeds ---------------------------------------------------------------------------

    def read_feed(self, record: FeedRecord, *, full: bool) -> _FeedRead:
        """Fetch a feed (conditionally unless `full`) and parse it; a sitemap index's
        children are fetched too (each conditionally). Runs on a worker thread."""
        etag, modified = ("", "") if full else (record.etag, record.last_modified)
        fetched = self.fetcher.get(record.url, etag=etag, last_modified=modified, accept=FEED_TYPES)
        if fetched.not_modified:
            return _FeedRead(fetched, None, dict(record.parts))
        doc = read_document(fetched)
        if doc is None:
            raise LoadError(
                record.url,
                f"not a feed any more: it answers with a web page ({fetched.content_type})",
            )
        return self.expand(fetched, doc, record, full=full)

    def expand(
        self, fetched: Fetched, doc: FeedDoc, record: FeedRecord, *, full: bool
    ) -> _FeedRead:
        """A sitemap index with its child sitemaps' entries (each fetched conditionally
        unless `full`); any other document as it is."""
        read = _FeedRead(fetched, doc, {})
        if doc.kind != "sitemap-index":
            return read
        read.doc = FeedDoc("sitemap-index", title=doc.title)
        for child in doc.sitemaps:
            old = ("", "") if full else record.parts.get(child, ("", ""))
            try:
                got = self.fetcher.get(child, etag=old[0], last_modified=old[1], accept=FEED_TYPES)
                if got.not_modified:
                    read.parts[child] = old
                    continue
                sub = read_document(got)
                if sub is None or sub.kind != "sitemap":
                    raise LoadError(child, "listed in a sitemap index, but not a sitemap")
            except LoadError as e:
                read.errors.append(e)
                continue
            read.parts[child] = (got.etag, got.last_modified)
            read.doc.entries.extend(sub.entries)
        return read

    # -- entries -------------------------------------------------------------------------

    def jobs(
        self, doc: FeedDoc, url: str, outlet: str, into: dict[str, _Job], *, follow: bool
    ) -> None:
        """The entries of the feed at `url` as jobs (merged with other feeds' jobs for the
        same link; the feed is recorded on its pages when it is `follow`ed); an entry
        without a usable link is reported against the feed."""
        feed_url = url if follow else ""
        for entry in doc.entries:
            self.entries += 1
            if feed_url:
                self.counts[feed_url]["entries"] += 1
            where = url
            if not entry.link:
                self._entry_failed(feed_url, LoadError(where, f"{entry.label} has no link"))
                continue
            scheme = urlsplit(entry.link).scheme.lower()
            if scheme not in ("http", "https") or not urlsplit(entry.link).hostname:
                shown = entry.link if len(entry.link) <= 80 else entry.link[:77] + "..."
                reason = f"{entry.label} links to {shown!r}, not an http(s) URL"
                self._entry_failed(feed_url, LoadError(where, reason))
                continue
            key = canonical_url(entry.link)
            if key in into:
                job = into[key]
                if feed_url and feed_url not in job.feeds:
                    job.feeds.append(feed_url)
                continue
            into[key] = _Job(
                entry, key, [feed_url] if feed_url else [], outlet, self.pages.get(key)
            )

    def _idle(self) -> None:
        """The next page is not ready: embed and write what waits, if it is worth a write."""
        if self.run.pending.chunks >= _IDLE_FLUSH:
            self.run.flush()

    def _count(self, job: _Job, status: str) -> None:
        for feed in job.feeds:
            self.counts[feed][status] += 1

    def _entry_failed(self, feed_url: str, error: LoadError) -> None:
        self.run.fail(error)
        if feed_url:
            self.failures[feed_url].append(error)

    def take(self, jobs: list[_Job], *, done: int = 0, total: int = 0) -> None:
        """Take the jobs in: unchanged entries without a request, the others fetched on
        threads and written as they come back."""
        todo: list[_Job] = []
        for job in jobs:
            page = job.page
            if (
                page is not None
                and job.entry.fingerprint == page.entry
                and page.article_id
                and self.run.indexed(page.article_id)
            ):
                self.run.report.unchanged += 1
                self._count(job, "unchanged")
                feeds = tuple(dict.fromkeys([*page.feeds, *job.feeds]))
                if feeds != page.feeds:
                    self.ready.append(page.model_copy(update={"feeds": feeds}))
                continue
            todo.append(job)
        todo = _by_host(todo)
        total = total or len(todo)
        tasks = [partial(self._read, job) for job in todo]
        pages = parallel(tasks, workers=self.options.total, window=_READ_AHEAD, on_wait=self._idle)
        for n, (i, got, error) in enumerate(pages, 1):
            result = got
            if error is not None or result is None:  # a bug in a worker: report it, go on
                job = todo[i]
                result = _Read(
                    job, error=LoadError(job.entry.link, f"{type(error).__name__}: {error}")
                )
            self.accept(result)
            self.run.step(done + n, total, todo[i].entry.link)
            self.keep_alive()
            if self.progress:
                self.progress(SyncProgress("pages", n, len(todo), todo[i].entry.link))

    def _read(self, job: _Job) -> _Read:
        """Fetch and read one page (on a worker thread): its article, or the entry's own
        text when the page is unusable and the entry carries a whole article."""
        link = job.entry.link
        page = job.page
        conditional = (
            page is not None
            and not page.from_entry
            and bool(page.article_id)
            and self.run.indexed(page.article_id)
        )
        try:
            fetched = self.fetcher.get(
                link,
                etag=page.etag if page and conditional else "",
                last_modified=page.last_modified if page and conditional else "",
                accept=PAGE_TYPES,
            )
        except FetchError as e:
            return self._fallback(job, LoadError(link, e.reason), retry=True)
        if fetched.not_modified:
            return _Read(job, fetched)
        try:
            text = read_page(
                link, fetched.body, content_type=fetched.content_type, charset=fetched.charset
            )
        except LoadError as e:
            return self._fallback(job, LoadError(link, e.reason), fetched=fetched)
        article = _page_article(job, fetched, text)
        digest = hashlib.sha256(fetched.body).hexdigest()
        fetched.body = b""  # read: only its text waits for the ingest
        return _Read(job, fetched, article=article, digest=digest)

    def _fallback(
        self, job: _Job, error: LoadError, *, retry: bool = False, fetched: Fetched | None = None
    ) -> _Read:
        text = job.entry.own_text()
        if not text:
            if job.entry.summary:
                error = LoadError(error.path, error.reason + " (the entry holds only a summary)")
            return _Read(job, fetched, error=error, retry=retry)
        key = job.key
        article = Article(
            id=key,
            title=job.entry.title or _first_words(text),
            body=text,
            source=job.entry.outlet or job.outlet or _host(key),
            published_at=job.entry.published,
            url=key,
            authors=job.entry.authors,
            path=job.entry.link,
        )
        note = LoadError(error.path, f"{error.reason}; indexed the feed entry's own text instead")
        return _Read(job, fetched, article=article, note=note)

    def accept(self, result: _Read) -> None:
        """Hand a read page to the ingest run and note what to remember about it."""
        job = result.job
        if result.fetched is not None and result.fetched.status == 200:
            self.fetched += 1
        if result.error is not None:
            for feed in job.feeds:
                self.failures[feed].append(result.error)
                if result.retry:
                    self.retry.add(feed)
            self.run.fail(result.error)
            return
        page = job.page
        feeds = tuple(dict.fromkeys([*(page.feeds if page else ()), *job.feeds]))
        if result.article is None:  # 304: the page is as it was when it was indexed
            assert page is not None and result.fetched is not None
            self.not_modified += 1
            self.run.report.unchanged += 1
            self._count(job, "unchanged")
            self.ready.append(
                page.model_copy(update={"entry": job.entry.fingerprint, "feeds": feeds})
            )
            return
        article = result.article
        if result.note is not None:
            self.from_entry.append(result.note)
        fetched = result.fetched
        digest = (
            result.digest
            or hashlib.sha256(
                fetched.body
                if fetched is not None and result.note is None
                else article.body.encode()
            ).hexdigest()
        )
        source = SourceFile(digest, job.entry.link, articles=1, errors=0)
        status = self.run.add_article(article, source, job.entry.link)
        self._count(job, "duplicates" if status == "duplicate" else status)
        article_id = article.id
        if status == "duplicate" and not self.run.indexed(article.id):
            article_id = self.run.twin(article)
        use_validators = fetched is not None and result.note is None
        row = PageRecord(
            url=job.key,
            article_id=article_id,
            entry=job.entry.fingerprint,
            etag=fetched.etag if use_validators and fetched else "",
            last_modified=fetched.last_modified if use_validators and fetched else "",
            feeds=feeds,
            fetched_at=utc_now(),
            from_entry=result.note is not None,
        )
        if status in ("added", "updated"):
            self.waiting[article_id].append(row)
        else:
            self.ready.append(row)


def _page_article(job: _Job, fetched: Fetched, text: PageText) -> Article:
    """The article a page holds: its id is its canonical URL (rel=canonical, else where the
    redirects ended); what the page does not state comes from its entry and feed."""
    where = fetched.final_url
    declared = urljoin(where, text.url) if text.url else ""
    parts = urlsplit(declared)
    # A canonical link to a site's home page (a common template bug) is not the article's.
    if parts.scheme in ("http", "https") and parts.hostname and parts.path not in ("", "/"):
        where = declared
    key = canonical_url(where)
    entry = job.entry
    return Article(
        id=key,
        title=text.title or entry.title or _first_words(text.body),
        body=text.body,
        source=text.source or entry.outlet or job.outlet or _host(key),
        published_at=text.published_at or entry.published,
        url=key,
        authors=text.authors or entry.authors,
        path=entry.link,
    )


def _first_words(text: str) -> str:
    words = text.split()
    return " ".join(words[:12]) + (" …" if len(words) > 12 else "")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _by_host(jobs: list[_Job]) -> list[_Job]:
    """Jobs interleaved host by host, so the worker threads are not all queued on one host
    (2 requests at a time each) while others wait."""
    queues: dict[str, list[_Job]] = defaultdict(list)
    for job in jobs:
        queues[_host(job.key)].append(job)
    out: list[_Job] = []
    lists = list(queues.values())
    for i in range(max((len(q) for q in lists), default=0)):
        out.extend(q[i] for q in lists if i < len(q))
    return out


# -- sync and ingest by URL -----------------------------------------------------------------


def sync(
    *,
    store: ChromaStore,
    embedder: Embedder,
    options: FetchOptions,
    max_words: int = DEFAULT_MAX_WORDS,
    batch_chunks: int = 1024,
    progress: Callable[[SyncProgress], None] | None = None,
    lock_wait: float = 120.0,
    on_wait: Callable[[str], None] | None = None,
) -> SyncReport:
    """Fetch every followed feed once and take in its new and changed entries.

    One sync at a time per store (the ingest lock or lease). A feed answering 304 costs one
    request; an entry whose page is indexed and which did not change costs none.
    """
    report = SyncReport()
    with ingest_run(
        store,
        embedder,
        max_bytes=options.max_bytes,
        max_words=max_words,
        batch_chunks=batch_chunks,
        lock_wait=lock_wait,
        on_wait=on_wait,
    ) as run:
        web = _Web(run, options, progress)
        try:
            feeds = store.feeds()
            report.feeds = len(feeds)
            updated = _sync_feeds(web, feeds, progress)
            web.finish()
        finally:
            web.close()
        store.save_web(updated)
        report.requests = web.fetcher.requests
    _fill(report, run, web)
    return report


def _sync_feeds(
    web: _Web, feeds: list[FeedRecord], progress: Callable[[SyncProgress], None] | None
) -> list[FeedRecord]:
    """Fetch the feeds (in parallel), take in their entries; the feed rows to write."""
    run = web.run
    # A feed some of whose articles went missing (removed, or dropped by `check --repair`)
    # is read in full, so they come back as files do on the next ingest of their folder.
    missing = {
        feed
        for page in web.pages.values()
        if page.article_id and not run.indexed(page.article_id)
        for feed in page.feeds
    }
    tasks = [partial(web.read_feed, f, full=f.url in missing) for f in feeds]
    jobs: dict[str, _Job] = {}
    outcome: dict[str, _FeedRead | LoadError] = {}
    for n, (i, result, error) in enumerate(parallel(tasks, workers=web.options.total), 1):
        feed = feeds[i]
        if error is not None or result is None:
            failure = (
                error
                if isinstance(error, LoadError)  # else a bug met on this feed: report it, go on
                else LoadError(feed.url, f"unexpected {type(error).__name__}: {error}")
            )
            outcome[feed.url] = failure
            run.fail(failure)
        else:
            outcome[feed.url] = result
            for child_error in result.errors:
                web.failures[feed.url].append(child_error)
                web.retry.add(feed.url)
                run.fail(child_error)
            if result.doc is None:
                web.not_modified += 1
            else:
                web.jobs(result.doc, feed.url, result.doc.title or feed.title, jobs, follow=True)
        web.keep_alive()
        if progress:
            progress(SyncProgress("feeds", n, len(feeds), feed.url))
    web.take(list(jobs.values()))
    now = utc_now()
    updated = []
    for feed in feeds:
        got = outcome.get(feed.url)
        if isinstance(got, LoadError):
            updated.append(feed.model_copy(update={"last_sync": now, "last_error": got.reason}))
            web.outcomes.append(FeedOutcome(feed.url, feed.title, "failed", error=got.reason))
            continue
        assert got is not None
        fetched, parts = got.fetched, got.parts
        failures = web.failures.get(feed.url, [])
        summary = ""
        if failures:
            first = failures[0]
            summary = f"{len(failures)} entr{'y' if len(failures) == 1 else 'ies'} failed"
            summary += f", e.g. {first.path}: {first.reason}"
        change: dict[str, Any] = {"last_sync": now, "last_error": summary}
        if feed.url not in web.retry and not fetched.not_modified:
            # Validators only once every entry is in, so a 304 means "nothing new".
            change |= {"etag": fetched.etag, "last_modified": fetched.last_modified}
            change["parts"] = parts
        elif feed.url in web.retry:
            change |= {"etag": "", "last_modified": "", "parts": {}}
        updated.append(feed.model_copy(update=change))
        counts = web.counts[feed.url]
        web.outcomes.append(
            FeedOutcome(
                feed.url,
                (got.doc.title if got.doc else "") or feed.title,
                "not_modified" if fetched.not_modified else "read",
                entries=counts["entries"],
                added=counts["added"],
                updated=counts["updated"],
                unchanged=counts["unchanged"],
                duplicates=counts["duplicates"],
                failed=len(failures),
                error=summary,
            )
        )
    return updated


def ingest_urls(
    run: IngestRun, urls: list[str], *, options: FetchOptions, done: int = 0, total: int = 0
) -> None:
    """Take in pages and feeds by URL, within a file ingest's run: a page becomes one
    article (fetched conditionally when it is indexed already); a feed or sitemap has its
    entries taken in as a sync would, once, without being followed (`add_feed` does that)."""
    web = _Web(run, options)
    try:
        jobs: dict[str, _Job] = {}
        for n, url in enumerate(urls, start=1):
            _ingest_url(web, url, jobs)
            run.step(done + n, total or len(urls), url)
        if jobs:
            web.take(list(jobs.values()), done=done + len(urls), total=total or len(urls))
        web.finish()
    finally:
        web.close()
    run.report.notes.extend(f"{note.path}: {note.reason}" for note in web.from_entry)


def _ingest_url(web: _Web, url: str, jobs: dict[str, _Job]) -> None:
    run = web.run
    key = canonical_url(url)
    page = web.pages.get(key)
    conditional = page is not None and not page.from_entry and run.indexed(page.article_id)
    try:
        fetched = web.fetcher.get(
            url,
            etag=page.etag if page and conditional else "",
            last_modified=page.last_modified if page and conditional else "",
            accept=PAGE_TYPES + ", " + FEED_TYPES,
        )
        if fetched.not_modified:
            assert page is not None
            web.not_modified += 1
            run.report.unchanged += 1
            run.report.files.append(FileOutcome(url, "unchanged", articles=1))
            return
        doc = read_document(fetched)
    except LoadError as e:
        run.fail(e)
        return
    if doc is not None:
        before = len(jobs)
        record = FeedRecord(url=url, kind=doc.kind)
        read = web.expand(fetched, doc, record, full=True)
        for error in read.errors:
            run.fail(error)
        assert read.doc is not None
        web.jobs(read.doc, url, read.doc.title or _host(url), jobs, follow=False)
        run.report.notes.append(
            f"{url} is a feed ({doc.kind}): its {len(jobs) - before} pages were taken in "
            f"once; `assistant feeds add {url}` follows it"
        )
        return
    job = _Job(Entry(link=url, position=1), key, [], "", page)
    try:
        text = read_page(
            url, fetched.body, content_type=fetched.content_type, charset=fetched.charset
        )
    except LoadError as e:
        run.fail(e)
        return
    web.accept(_Read(job, fetched, article=_page_article(job, fetched, text)))


def _fill(report: SyncReport, run: IngestRun, web: _Web) -> None:
    r = run.report
    report.entries = web.entries
    report.fetched = web.fetched
    report.not_modified = web.not_modified
    report.added, report.updated, report.unchanged = r.added, r.updated, r.unchanged
    report.duplicates = r.duplicates
    report.chunks = r.chunks
    report.failed = list(r.failed)
    report.from_entry = list(web.from_entry)
    report.recovered = r.recovered
    report.seconds = r.seconds
    report.per_feed = list(web.outcomes)

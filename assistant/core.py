"""`NewsAssistant`: the public API the CLI, the web UI and Gradio's API all call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from index import (
    AddedFeed,
    ArticleRecord,
    ChromaStore,
    Consistency,
    Embedder,
    FeedStatus,
    FetchOptions,
    Holdings,
    IngestProgress,
    IngestReport,
    SearchFilter,
    SyncProgress,
    SyncReport,
    UsageError,
    add_feed,
    ingest,
    list_feeds,
    remove,
    remove_feed,
    sync,
)

from . import tracking
from .backends import Backend, make_backend
from .backends.extractive import ExtractiveBackend
from .chain import ChainInput, build_chain
from .memory import limit_malloc_arenas
from .models import EMPTY_INDEX, Answer, AnswerChunk, Timeline, Turn
from .retrieval import Searcher
from .retriever import NewsRetriever
from .settings import Settings
from .stories import Story, list_stories, with_copies
from .support import SupportScorer
from .text import MAX_QUESTION_CHARS, clean_question
from .timeline import build_timeline, chronology, timeline_answer
from .tracking import TrackedQuestion, TrackedUpdate

__all__ = ["MAX_QUESTION_CHARS", "IndexStats", "NewsAssistant", "sample_corpus"]


def sample_corpus() -> Path:
    """The folder of sample articles shipped with the package."""
    return Path(str(resources.files("assistant") / "samples"))


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What is in the index and where it lives."""

    articles: int
    chunks: int
    sources: dict[str, int]
    embedding_model: str
    store: str
    backend: str
    stories: int = 0  # groups of copies of one report (an article alone is a story too)

    def to_dict(self) -> dict[str, Any]:
        """The `stats --json` object."""
        return {
            "articles": self.articles,
            "stories": self.stories,
            "chunks": self.chunks,
            "sources": self.sources,
            "embedding_model": self.embedding_model,
            "store": self.store,
            "backend": self.backend,
        }


class NewsAssistant:
    """Ingest articles and answer questions about them with verified citations.

    `embedder` and `store` replace the ones the settings name, e.g. to share one loaded
    model between several assistants; left out, each is built from the settings on first use.
    `guard_fetches` makes every web fetch (ingest by URL, feeds, sync) refuse loopback,
    private, link-local and cloud-metadata addresses unless ASSISTANT_FETCH_PRIVATE is set:
    for a server whose users are not the machine's owner. The CLI leaves it off.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        store: ChromaStore | None = None,
        guard_fetches: bool = False,
    ) -> None:
        self.settings = settings
        self.guard_fetches = guard_fetches
        limit_malloc_arenas(settings.malloc_arenas)
        # A value given here takes the place of the cached property's first computation.
        if embedder is not None:
            self.embedder = embedder
        if store is not None:
            self.store = store

    # Heavy parts load on first use, so the CLI's --help and `import assistant` stay fast.
    @cached_property
    def embedder(self) -> Embedder:
        """The embedding model the settings name (loaded on first encode)."""
        return Embedder(
            self.settings.embedding_model,
            device=self.settings.device,
            precision=self.settings.embedding_precision,
        )

    @cached_property
    def store(self) -> ChromaStore:
        """The Chroma store the settings name (on disk, or a server)."""
        s = self.settings
        return ChromaStore(
            path=None if s.chroma_host else s.data_dir / "chroma",
            host=s.chroma_host,
            port=s.chroma_port,
            ssl=s.chroma_ssl,
            headers=s.chroma_headers,
            collection=s.collection,
            embedding_model=s.embedding_model,
            chunk_texts=s.store_chunk_text,
        )

    @cached_property
    def quoter(self) -> ExtractiveBackend:
        """The offline backend: it decides what is answerable, and quotes the articles
        when an LLM's answer has no support."""
        return ExtractiveBackend(self.embedder)

    @cached_property
    def backend(self) -> Backend:
        """The answering backend (extractive, or an LLM)."""
        if self.settings.backend == "extractive":
            return self.quoter
        return make_backend(self.settings, self.embedder)

    @cached_property
    def searcher(self) -> Searcher:
        """Retrieval over the store."""
        searcher = Searcher.from_settings(self.store, self.embedder, self.settings)
        searcher.sentence_ranker = self.quoter.best_chunk
        return searcher

    def finish_background(self, on_wait: Callable[[str], None] | None = None) -> None:
        """Wait for a keyword index build this process started in the background (it
        writes the snapshot the next process starts from), telling `on_wait` what it waits
        for. Ctrl-C stops the build (the next process builds it again)."""
        searcher = self.__dict__.get("searcher")
        keyword = searcher.keyword if searcher is not None else None
        if keyword is None or not keyword.warming:
            return
        if on_wait is not None:
            on_wait(keyword.warming)
        try:
            keyword.wait()
        except KeyboardInterrupt:
            keyword.stop()
            raise

    @cached_property
    def retriever(self) -> NewsRetriever:
        """The LangChain retriever over the index (the one the chain uses); `with_filters`
        gives a copy restricted to outlets and dates."""
        return NewsRetriever(searcher=self.searcher, k=self.settings.top_k)

    @cached_property
    def chain(self) -> Any:
        """The LCEL answering chain."""
        fallback = None
        if self.settings.llm == "auto" and self.settings.backend == "openai":
            fallback = self.quoter
        return build_chain(
            retriever=self.retriever,
            backend=self.backend,
            scorer=SupportScorer(self.embedder),
            quoter=self.quoter,
            fallback=fallback,
        )

    # -- answering -------------------------------------------------------------------------

    def stream(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        k: int | None = None,
        where: SearchFilter | None = None,
        today: date | None = None,
    ) -> Iterator[AnswerChunk]:
        """Draft text as it is written, then a last chunk with the checked `Answer`. A
        question that asks for a chronology ("what happened with X", "timeline of X") is
        answered with the timeline (`form == "timeline"`)."""
        started = time.perf_counter()
        asked = chronology(clean_question(question), today=today)
        if asked is not None:
            timeline = self.timeline(asked.subject, where=asked.where(where))
            if asked.phrase:
                timeline.notes.append(
                    f"“{asked.phrase}” was read as {asked.describe()}; only articles "
                    "published then are on the timeline"
                )
            answer = timeline_answer(clean_question(question), timeline)
            answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
            yield AnswerChunk(text=answer.answer, answer=answer)
            return
        inputs: ChainInput = {
            "question": clean_question(question),
            "history": list(history),
            "k": k or self.settings.top_k,
            "where": where,
            "today": today or date.today(),
        }
        for chunk in self.chain.stream(inputs):
            if chunk.answer is not None:
                chunk.answer = with_copies(chunk.answer, self.store)
                if chunk.answer.refused and not self.store.counts()[0]:
                    # Served replicas and API clients get no start-up check: say why.
                    chunk.answer.answer = EMPTY_INDEX
                chunk.answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
            yield chunk

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        k: int | None = None,
        where: SearchFilter | None = None,
        today: date | None = None,
    ) -> Answer:
        """The checked answer to `question`."""
        final = None
        for chunk in self.stream(question, history=history, k=k, where=where, today=today):
            final = chunk.answer or final
        assert final is not None, "the chain always ends with an answer"
        return final

    def timeline(self, subject: str, *, where: SearchFilter | None = None) -> Timeline:
        """The dated events the indexed articles report on `subject`, oldest first: one item
        per story, each the sentence that best states what happened, quoted and cited, with
        the outlets that ran it (see assistant/timeline.py). With an LLM, items also get a
        one-line summary when the checker finds their quote supports it.

        Example:
            for item in assistant.timeline("GEM recycling").items:
                print(item.date, item.citation.source, item.citation.quote)
        """
        llm = self.settings.backend != "extractive"
        return build_timeline(
            clean_question(subject),
            searcher=self.searcher,
            quoter=self.quoter,
            store=self.store,
            where=where,
            writer=self.backend if llm else None,
            scorer=SupportScorer(self.embedder) if llm else None,
        )

    def require_index(self) -> None:
        """UsageError when no article is indexed where the settings point: a question
        asked from the wrong folder must not be answered "not covered" by an empty index.
        A missing on-disk index is not created."""
        s = self.settings
        hint = (
            "index articles with `assistant ingest PATH`, or point ASSISTANT_DATA_DIR at "
            "the folder that holds your index (the default is ./data in the current folder)"
        )
        if not s.chroma_host and not (s.data_dir / "chroma").exists():
            raise UsageError(f"there is no index in {s.data_dir.resolve()}; {hint}")
        articles, _ = self.store.counts()
        if not articles:
            raise UsageError(f"the index in {self.store.location} is empty; {hint}")

    # -- the index -------------------------------------------------------------------------

    @property
    def fetch_options(self) -> FetchOptions:
        """How web pages and feeds are fetched, from the settings."""
        from index.web import DEFAULT_USER_AGENT, user_agent

        s = self.settings
        agent = DEFAULT_USER_AGENT
        if s.fetch_contact:
            agent = user_agent(DEFAULT_USER_AGENT.partition("/")[2], s.fetch_contact)
        return FetchOptions(
            user_agent=agent,
            timeout=s.fetch_timeout,
            max_bytes=self._max_bytes,
            guard_private=self.guard_fetches,
            allow_private=s.fetch_private,
        )

    @property
    def _max_bytes(self) -> int:
        return int(self.settings.max_file_mb * 1024 * 1024)

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        rebuild: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Index files, folders and http(s) URLs (see `index.ingest`): a URL of a page
        indexes that page; a URL of a feed or sitemap indexes its entries' pages once,
        without following it (`add_feed` does that)."""
        return ingest(
            paths,
            store=self.store,
            embedder=self.embedder,
            rebuild=rebuild,
            max_bytes=self._max_bytes,
            batch_chunks=self.settings.ingest_batch,
            progress=progress,
            lock_wait=self.settings.lock_wait,
            on_wait=on_wait,
            skip=[self.settings.data_dir],
            fetch=self.fetch_options,
        )

    # -- feeds -----------------------------------------------------------------------------

    def add_feed(self, url: str) -> AddedFeed:
        """Follow a feed or (news) sitemap, its kind detected by fetching it once; a page
        that announces a feed adds that feed. Its articles come in at the next `sync`.

        Example:
            added = assistant.add_feed("https://example.com/energy/rss.xml")
            report = assistant.sync()
        """
        return add_feed(url, store=self.store, options=self.fetch_options)

    def feeds(self) -> list[FeedStatus]:
        """The followed feeds: URL, kind, title, last sync, articles, last error."""
        return list_feeds(self.store)

    def remove_feed(self, url: str, *, purge: bool = False) -> int:
        """Stop following a feed; `purge` also removes the articles only it gave. Returns
        how many articles were removed."""
        return remove_feed(url, store=self.store, purge=purge, lock_wait=self.settings.lock_wait)

    def sync(
        self,
        *,
        progress: Callable[[SyncProgress], None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        lock_wait: float | None = None,
    ) -> SyncReport:
        """Fetch every followed feed once and index its new and changed articles.

        One sync at a time per store (the ingest lock or lease): this one waits up to
        `lock_wait` seconds (default ASSISTANT_LOCK_WAIT) for another to finish, then raises
        BusyError; `on_wait` hears when it starts waiting. Called the same way by the CLI,
        `watch`, the server's background sync and the UI's button: `progress` gets a
        SyncProgress per feed and per page.
        """
        return sync(
            store=self.store,
            embedder=self.embedder,
            options=self.fetch_options,
            batch_chunks=self.settings.ingest_batch,
            progress=progress,
            lock_wait=self.settings.lock_wait if lock_wait is None else lock_wait,
            on_wait=on_wait,
        )

    def ensure_samples(self) -> IngestReport | None:
        """Index the sample articles when the index is empty; None when it is not."""
        articles, _ = self.store.counts()
        if articles:
            return None
        return self.ingest([sample_corpus()])

    def remove(
        self,
        targets: Sequence[str],
        *,
        missing_ok: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> int:
        """Remove articles by id or by the path they were read from (a folder: every
        article read from a file under it). A target that matches nothing is a UsageError
        unless `missing_ok`. Returns how many articles were removed."""
        return remove(
            targets,
            store=self.store,
            lock_wait=self.settings.lock_wait,
            missing_ok=missing_ok,
            on_wait=on_wait,
        )

    def check(self, *, repair: bool = False) -> Consistency:
        """Whether every article has all its chunks and no chunk is left over; `repair`
        fixes what it can (under the ingest lock, after finishing an interrupted run)."""
        if not repair:
            return self.store.check()
        with self.store.ingest_lock(wait=self.settings.lock_wait):
            self.store.recover()
            return self.store.check(repair=True)

    def articles(self) -> list[ArticleRecord]:
        """Every indexed article, newest first."""
        records = self.store.records().values()
        return sorted(records, key=lambda r: (r.published_at, r.title), reverse=True)

    def article(self, article_id: str) -> tuple[ArticleRecord, str]:
        """An indexed article's record and full text."""
        return self.store.get_article(article_id)

    def stats(self) -> IndexStats:
        """Counts, outlets, model and store location."""
        held = self.store.holdings(self.store.signature())
        articles, chunks = self.store.counts()
        if held is None:  # not kept for this generation: from every article row
            held = Holdings.of(self.store.records().values())
        sources: dict[str, int] = dict(held.outlets)
        if unnamed := articles - sum(sources.values()):
            sources["(unknown outlet)"] = unnamed
        return IndexStats(
            articles=articles,
            chunks=chunks,
            sources=dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
            embedding_model=self.store.embedding_model,
            store=self.store.location,
            backend=self.backend_label,
            stories=self.store.story_count(),
        )

    def stories(self, *, min_copies: int = 1) -> list[Story]:
        """The stories (copies of one report grouped), the most copied first; `min_copies`
        leaves out stories run by fewer outlets."""
        return list_stories(self.store, min_copies=min_copies)

    # -- tracked questions (assistant/tracking.py) -----------------------------------------

    def track(self, question: str) -> TrackedQuestion:
        """Track a question: later `check_tracked` calls report what new articles add."""
        return tracking.add(self, question)

    def tracked(self) -> list[TrackedQuestion]:
        """The tracked questions with their last answers, oldest first."""
        return tracking.listed(self)

    def untrack(self, tracked_id: str) -> None:
        """Stop tracking a question (UsageError when the id is unknown)."""
        tracking.remove(self, tracked_id)

    def check_tracked(self) -> list[TrackedUpdate]:
        """Ask every tracked question again over the articles indexed since its last check.

        Example:
            for update in assistant.check_tracked():
                if update.changed:
                    print(update.question, update.answer.answer, update.new_citations)
        """
        return tracking.check(self)

    @property
    def backend_label(self) -> str:
        """Which backend answers, in words, without loading anything."""
        s = self.settings
        if s.backend == "openai":
            return f"LLM {s.llm_model} at {s.openai_base_url or 'api.openai.com'}"
        return "offline extractive (no LLM)"

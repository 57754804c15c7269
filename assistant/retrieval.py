"""Retrieval over the index: hybrid search (dense + BM25, fused by reciprocal rank), a
preference for the dates a question names, an optional cross-encoder re-ranker, and
de-duplication so that the sources span several articles. A question that names several
outlets or dates is split into its parts (assistant/parts.py); each part is searched on
its own, within its outlet and dates, and the sources cover every part first.

`Searcher.retrieve` returns a typed `Retrieval` for the chain (and the eval).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from index import ChromaStore, Embedder, Hit, SearchFilter
from index.schema import date_to_int, published_int

from .dates import DateIntent, resolve_dates
from .parts import OutletNames, Part, facets, split_question
from .stories import one_per_story

if TYPE_CHECKING:
    from index.keyword import KeywordIndex
    from index.rerank import CrossEncoderReranker

    from .settings import Settings

__all__ = ["COVERAGE_SLACK_DAYS", "IndexFacts", "PartFound", "Retrieval", "Searcher"]

# A question about "this week" is still covered by an index whose newest article is this
# many days older (or newer) than the window: news is reported late, indexes lag.
COVERAGE_SLACK_DAYS = 10


@dataclass(frozen=True, slots=True)
class PartFound:
    """A part of the question and the source that answers for it (an index into the
    retrieval's hits; None when nothing within its outlet and dates matched)."""

    part: Part
    hit: int | None


@dataclass(slots=True)
class Retrieval:
    """What a search found: the chunks to answer from and every candidate article, ranked."""

    query: str
    hits: list[Hit]
    article_ids: list[str] = field(default_factory=list)  # every candidate's, best first
    dates: DateIntent | None = None
    covered: bool = True  # False: the question names a time the index holds nothing near
    parts: list[PartFound] = field(default_factory=list)  # empty: asked as a whole
    # Not "": the keyword index is still being built ("keyword index warming up: N of M
    # chunks") and the hits lean on dense search alone, or on the part already indexed.
    keyword_warming: str = ""


class IndexFacts:
    """What the index holds: the days it has news from (whether a question about "this
    week" has anything to be answered from) and the outlets (the names a question may use
    for them). Read again only when the store changes (by this process or another),
    whatever search is used: from the holdings the writer keeps in the store, else from
    the keyword index, else from every article row."""

    def __init__(
        self, store: ChromaStore, keyword: Callable[[], KeywordIndex | None] = lambda: None
    ) -> None:
        self.store = store
        self.keyword = keyword  # the searcher's keyword index, as it is now
        self._signature: str | None = None
        self._days: list[int] = []  # YYYYMMDD of every dated article, sorted
        self._outlets = OutletNames(())
        self._lock = threading.Lock()

    def _read(self) -> tuple[list[int], OutletNames]:
        with self._lock:
            signature = self.store.signature()
            if signature != self._signature:
                # Kept by the writer for this generation, or held by the keyword index (every
                # chunk's day and outlet): either spares reading every article row (12 s at
                # 100,000 articles).
                held = self.store.holdings(signature)
                facts = held.facts() if held is not None else None
                in_step = True
                keyword = self.keyword() if facts is None else None
                if keyword is not None:
                    keyword.sync()
                    facts = keyword.facts(signature)
                    if facts is None:
                        # A snapshot the store moved past (a new process after another one
                        # wrote): its facts until it has caught up in the background, read
                        # again at the next question; waiting for the catch-up or reading
                        # every article row took 10 to 30 s at 1M chunks.
                        facts = keyword.facts(signature, behind=True)
                        in_step = facts is None
                if facts is None:
                    records = self.store.records().values()
                    days = sorted(d for r in records if (d := published_int(r.published_at)))
                    facts = days, {r.source for r in records if r.source}
                self._days, self._outlets = facts[0], OutletNames(facts[1])
                self._signature = signature if in_step else None
            return self._days, self._outlets

    def published_between(self, since: date, until: date) -> int:
        """How many indexed articles were published in [since, until]."""
        days, _ = self._read()
        return bisect.bisect_right(days, date_to_int(until)) - bisect.bisect_left(
            days, date_to_int(since)
        )

    def outlets(self) -> OutletNames:
        """The indexed outlets and their names."""
        return self._read()[1]


@dataclass(slots=True)
class _Candidate:
    chunk_id: str
    article_id: str
    published: int  # YYYYMMDD or 0
    score: float = 0.0
    hit: Hit | None = None
    # Breaks ties of the fused rank (two lists that disagree on two chunks give both the
    # same score): the dense similarity plus the keyword score relative to the best one.
    evidence: float = 0.0
    support: float = 0.0  # a part's passage: how well its best sentence states the part


def _as_date(value: int) -> date | None:
    if not value:
        return None
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        return None


def date_affinity(published: int, intent: DateIntent) -> float:
    """How well a publication date fits the question's window: 1 inside it (and in the
    few days after, when the news is reported), decaying smoothly outside."""
    day = _as_date(published)
    if day is None:
        return 0.0
    if intent.recent:
        age = (intent.until - day).days
        if age < 0:  # newer than the as-of date: not yet published then
            return 0.5 * math.exp(age / 30)
        return math.exp(-age / 30)
    lag = timedelta(days=3)
    if intent.since <= day <= intent.until + lag:
        return 1.0
    width = max((intent.until - intent.since).days, 7)
    gap = (intent.since - day).days if day < intent.since else (day - intent.until - lag).days
    return math.exp(-gap / width)


class Searcher:
    """Finds the chunks that best match a question.

    Dense (embedding) and keyword (BM25) candidates are fused by reciprocal rank; a date
    window named in the question adds a third, date-ranked list; an optional cross-encoder
    re-orders the best candidates; at most `per_article` chunks come from one article.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        *,
        keyword: KeywordIndex | None = None,
        reranker: CrossEncoderReranker | None = None,
        per_article: int = 2,
        candidates: int = 40,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        date_weight: float = 1.0,
        rerank_depth: int = 20,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.keyword = keyword
        self.reranker = reranker
        self.per_article = per_article
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.date_weight = date_weight
        self.rerank_depth = rerank_depth
        self.facts = IndexFacts(store, lambda: self.keyword)
        # Picks, of some chunks, the one whose sentence best matches a text (its index, or
        # None): set by the assistant to its sentence ranker. `passages`: how many of an
        # article's best chunks it compares.
        self.sentence_ranker: Callable[[str, list[Hit]], tuple[int, float] | None] | None = None
        self.passages = 6
        self.fact_pool = 8  # chunks whose sentences are compared for a fact the question states

    @classmethod
    def from_settings(cls, store: ChromaStore, embedder: Embedder, settings: Settings) -> Searcher:
        """Hybrid search as the settings ask (ASSISTANT_HYBRID, ASSISTANT_RERANKER, weights);
        the keyword index keeps a snapshot under `<data dir>/keyword`."""
        from index.keyword import KeywordIndex
        from index.rerank import CrossEncoderReranker

        reranker = None
        if settings.reranker:
            reranker = CrossEncoderReranker(settings.reranker, device=settings.device)
        return cls(
            store,
            embedder,
            keyword=(
                KeywordIndex(store, cache_dir=settings.data_dir / "keyword")
                if settings.hybrid
                else None
            ),
            reranker=reranker,
            dense_weight=settings.dense_weight,
            keyword_weight=settings.keyword_weight,
            date_weight=settings.date_weight,
        )

    def search(self, query: str, *, k: int, where: SearchFilter | None = None) -> list[Hit]:
        """The best `k` chunks for `query`, best first (no date words resolved)."""
        return self.retrieve(query, k=k, where=where).hits

    def retrieve(
        self,
        query: str,
        *,
        k: int,
        where: SearchFilter | None = None,
        today: date | None = None,
    ) -> Retrieval:
        """The best `k` chunks for `query` and the ranked candidate articles; with `today`,
        time words in the query ("this week", "in June") are resolved against it."""
        intent = resolve_dates(query, today=today) if today else None
        ranked = self._ranked(query, k=k, where=where, intent=intent)
        outlets = self.facts.outlets()
        parts = split_question(query, outlets, today=today)
        picked, runners_up = self._pick_parts(parts, k=k, where=where)
        stated = self._pick_facts(facets(query, outlets), parts, picked, k=k, where=where)
        article_ids = list(
            dict.fromkeys(c.article_id for c in [*picked, *stated, *ranked] if c is not None)
        )
        if stated:  # copies: one per story
            stated = one_per_story(self.store, stated, first=picked)
        ranked = one_per_story(self.store, ranked, first=[*picked, *stated])
        # Each part's passage in the question's order for the answer (`parts` says which
        # is whose), but among the sources the one that states its part best comes first.
        sure = sorted((c for c in picked if c is not None), key=lambda c: -c.support)
        chosen = self._diverse(
            ranked, k, first=[c for c in [*sure, *runners_up, *stated] if c is not None]
        )
        self._fill_hits(chosen)
        chosen = [c for c in chosen if c.hit is not None]
        position = {c.chunk_id: i for i, c in enumerate(chosen)}
        hits = [c.hit.model_copy(update={"score": round(c.score, 6)}) for c in chosen]  # type: ignore[union-attr]
        return Retrieval(
            query=query,
            hits=hits,
            article_ids=article_ids,
            dates=intent,
            covered=self._covers(intent),
            parts=[
                PartFound(part, position.get(c.chunk_id) if c else None)
                for part, c in zip(parts, picked, strict=True)
            ],
            keyword_warming=self.keyword.warming if self.keyword is not None else "",
        )

    def _ranked(
        self,
        query: str,
        *,
        k: int,
        where: SearchFilter | None,
        intent: DateIntent | None = None,
    ) -> list[_Candidate]:
        """Every candidate chunk for `query`, best first: dense and keyword ranks fused,
        the question's dates preferred, re-ranked when there is a re-ranker."""
        pool = max(self.candidates, 3 * k)
        candidates: dict[str, _Candidate] = {}
        vector = self.embedder.embed_query(query)
        for rank, hit in enumerate(self.store.search(vector, k=pool, where=where)):
            c = candidates.setdefault(
                hit.chunk_id,
                _Candidate(hit.chunk_id, hit.article_id, published_int(hit.published_at)),
            )
            c.hit = hit
            c.score += self.dense_weight / (self.rrf_k + rank + 1)
            c.evidence += hit.score
        if self.keyword is not None:
            found = self.keyword.search(query, k=pool, where=where)
            top = found[0].score if found else 1.0
            for rank, kw in enumerate(found):
                c = candidates.setdefault(
                    kw.chunk_id, _Candidate(kw.chunk_id, kw.article_id, kw.published)
                )
                c.score += self.keyword_weight / (self.rrf_k + rank + 1)
                c.evidence += kw.score / top if top > 0 else 0.0
        if intent is not None and self.date_weight > 0:
            for c in candidates.values():
                c.score += self.date_weight * date_affinity(c.published, intent) / (self.rrf_k + 1)
        ranked = sorted(
            candidates.values(), key=lambda c: (round(c.score, 12), c.evidence), reverse=True
        )
        if self.reranker is not None:
            ranked = self._rerank(query, ranked)
        return ranked

    def _pick_parts(
        self, parts: Sequence[Part], *, k: int, where: SearchFilter | None
    ) -> tuple[list[_Candidate | None], list[_Candidate | None]]:
        """The best chunk for each part, searched with its own words within its outlet and
        dates (the dates dropped when nothing matches them), from an article no earlier
        part took; and each part's runner-up: its article's next best chunk (what a part
        states is often told over two passages of its article)."""
        picked: list[_Candidate | None] = []
        runners_up: list[_Candidate | None] = []
        taken: set[str] = set()
        for part in parts:
            ranked: list[_Candidate] = []
            for dated in (part, Part(part.text, part.sources, label=part.label)):
                within = dated.where(where)
                if within is not None:
                    ranked = self._ranked(dated.query(), k=k, where=within)
                if ranked or not (part.since or part.until):
                    break
            best = next((c for c in ranked if c.article_id not in taken), None)
            runner_up = None
            if best is not None:
                taken.add(best.article_id)
                best = self._best_passage(part, best, ranked)
                runner_up = next(
                    (
                        c
                        for c in ranked
                        if c.article_id == best.article_id and c.chunk_id != best.chunk_id
                    ),
                    None,
                )
            picked.append(best)
            runners_up.append(runner_up)
        return picked, runners_up

    def _pick_facts(
        self,
        facts: Sequence[str],
        parts: Sequence[Part],
        picked: Sequence[_Candidate | None],
        *,
        k: int,
        where: SearchFilter | None,
    ) -> list[_Candidate]:
        """For each fact the question states about its subject, the chunk within the
        outlets it names whose sentence states it best, from an article that is not a
        source yet: "Which company, scrutinized by consumer groups over ... and by EU
        regulators for ..., as reported by TechCrunch?" may need a TechCrunch article for
        each fact. Not when a part names a date: the dated reports are the ones the
        question is about."""
        if any(part.since or part.until for part in parts):
            return []
        outlets = tuple(dict.fromkeys(s for part in parts for s in part.sources))
        within = Part("", outlets).where(where) if outlets else None
        if not facts or within is None:
            return []
        taken = {c.article_id for c in picked if c is not None}
        found: list[_Candidate] = []
        for fact in facts:
            ranked = self._ranked(fact, k=k, where=within)
            best = self._states_best(fact, [c for c in ranked if c.article_id not in taken])
            if best is None:
                best = next(iter(ranked), None)
            if best is not None and best.article_id not in taken:
                taken.add(best.article_id)
                found.append(best)
        return found

    def _states_best(self, text: str, ranked: Sequence[_Candidate]) -> _Candidate | None:
        """Of the best `fact_pool` chunks, the one holding the sentence that best states
        `text` (None without a sentence ranker, or without sentences). A fact a question
        states is often one line of a report about other things, whose chunk as a whole
        matches less than a chunk about the subject that does not state it."""
        pool = list(ranked[: self.fact_pool])
        if self.sentence_ranker is None or not pool:
            return None
        self._fill_hits(pool)
        pool = [c for c in pool if c.hit is not None]
        chosen = self.sentence_ranker(text, [c.hit for c in pool if c.hit is not None])
        return pool[chosen[0]] if chosen is not None else None

    def _best_passage(
        self, part: Part, best: _Candidate, ranked: Sequence[_Candidate]
    ) -> _Candidate:
        """Of the part's article's chunks among `ranked`, the one holding the sentence that
        best states the part (a chunk's vector blurs its sentences: the part is usually
        one sentence of a long article), its `support` set to how well that sentence
        states the part. Without a sentence ranker: `best`, support 0."""
        if self.sentence_ranker is None:
            return best
        same = [c for c in ranked if c.article_id == best.article_id][: self.passages]
        self._fill_hits(same)
        same = [c for c in same if c.hit is not None] or [best]
        chosen = self.sentence_ranker(part.query(), [c.hit for c in same if c.hit is not None])
        if chosen is None:
            return best
        passage = same[chosen[0]]
        passage.support = chosen[1]
        return passage

    def _diverse(
        self, ranked: Sequence[_Candidate], k: int, *, first: Sequence[_Candidate] = ()
    ) -> list[_Candidate]:
        """At most `k` chunks, at most `per_article` from one article: `first` (each part's
        source, in the question's order), then the best of `ranked`."""
        per: dict[str, int] = {}
        kept: list[_Candidate] = []
        seen: set[str] = set()
        for c in [*first, *ranked]:
            if c.chunk_id in seen or per.get(c.article_id, 0) >= self.per_article:
                continue
            seen.add(c.chunk_id)
            per[c.article_id] = per.get(c.article_id, 0) + 1
            kept.append(c)
            if len(kept) == k:
                break
        return kept

    def _fill_hits(self, chosen: Sequence[_Candidate]) -> None:
        missing = [c.chunk_id for c in chosen if c.hit is None]
        if missing:
            found = {h.chunk_id: h for h in self.store.get_chunks(missing)}
            for c in chosen:
                if c.hit is None:
                    c.hit = found.get(c.chunk_id)

    def _rerank(self, query: str, ranked: list[_Candidate]) -> list[_Candidate]:
        """Re-order the best `rerank_depth` candidates by the cross-encoder's score."""
        assert self.reranker is not None
        head = ranked[: self.rerank_depth]
        self._fill_hits(head)
        head = [c for c in head if c.hit is not None]
        scores = self.reranker.scores(
            query, [f"{c.hit.title}\n{c.hit.text}" for c in head if c.hit is not None]
        )
        order = sorted(range(len(head)), key=lambda i: float(scores[i]), reverse=True)
        for i in order:
            head[i].score = float(scores[i])
        return [head[i] for i in order] + ranked[self.rerank_depth :]

    def _covers(self, intent: DateIntent | None) -> bool:
        """False when the question is anchored to a time the index has nothing near."""
        if intent is None or not intent.anchored:
            return True
        slack = timedelta(days=COVERAGE_SLACK_DAYS)
        return self.facts.published_between(intent.since - slack, intent.until + slack) > 0

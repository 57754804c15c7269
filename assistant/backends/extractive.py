"""The offline backend: quotes the one to three source sentences that best answer the
question, each followed by its source number. No language model, no network."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from index import Embedder, Hit, split_sentences
from index.tokens import tokenize

from ..markers import strip_markers
from ..models import REFUSAL
from ..parts import is_yes_no
from ..sources import Quote, SourceSentence, attribution, full_stop, source_sentences
from ..text import normalise
from ..wordforms import WordSet, claim_words, key_words
from . import GenerationRequest

__all__ = ["ExtractiveBackend", "Ranked", "asked_words", "expected_answer"]

# Questions whose answer is a quantity; the rest ask for a name (who, which, where, what).
_QUANTITY = re.compile(
    r"\b(how (?:many|much|old|long|far|often|big|large|high|tall)|what (?:percentage|percent|"
    r"share|proportion|number|amount|age|year|price)|at what age|in what year|when)\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"dozens?|hundreds?|thousands?|millions?|billions?|trillions?|half)\b",
    re.I,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'&.-]*")


# Questions whose answer must hold a figure ("when" answers may be "on Monday").
_AMOUNT = re.compile(
    r"\b(how (?:many|much|old|long|far|often|big|large|high|tall)|what (?:percentage|percent|"
    r"share|proportion|number|amount|age|price)|at what age|in what year)\b",
    re.I,
)


class Ranked(NamedTuple):
    """A candidate sentence: its rank score (support plus the source's prior), its support
    for the question, its position in the list of sentences, and whether it holds what the
    question asks for (a word of the question beyond its names, and a figure when the
    question asks "how many")."""

    score: float
    support: float
    position: int
    answers: bool


def asked_words(question: str) -> set[str]:
    """The words of a question beyond its names: what it asks about the names ("How much
    does Qantas's chief executive earn?" -> chief, executive, earn)."""
    return set(claim_words(question)) - key_words(question)


def expected_answer(question: str) -> str:
    """`quantity` or `name`: the kind of words the answer is made of."""
    return "quantity" if _QUANTITY.search(question) else "name"


def _new_words(sentence: str, question_words: set[str], kind: str) -> bool:
    """True when the sentence holds words of the expected kind the question does not."""
    if kind == "quantity":
        return any(m.group(0).lower() not in question_words for m in _NUMBER.finditer(sentence))
    names = {m.group(0).lower().strip(".’'") for m in _NAME.finditer(sentence)}
    return bool(names - question_words)


class ExtractiveBackend:
    """Scores retrieved sentences against the question and quotes the best ones; refuses
    when no sentence's support reaches `min_score`.

    A sentence's support blends embedding similarity with idf-weighted coverage of the
    question's words, plus a bonus when it holds words of the kind the question asks for
    (a number for "how many", a name for "who/which") that the question lacks. Sentences
    are ordered by support plus a prior for the articles retrieval ranked higher; up to
    `max_sentences` within `margin` of the best are quoted, from other articles only when
    nearly as good. Only the lexically most promising sentences are embedded, so the cost
    does not grow with long articles.

    `min_score` sits between the best support of questions a corpus cannot answer and of
    those it can (calibrated with `assistant eval` on the dev questions).
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_score: float = 0.4,
        max_sentences: int = 3,
        margin: float = 0.2,
        shortlist: int = 16,
        source_prior: float = 0.2,
        answer_bonus: float = 0.1,
    ) -> None:
        self.embedder = embedder
        self.source_prior = source_prior
        self.answer_bonus = answer_bonus
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.margin = margin
        self.shortlist = shortlist
        self._last: tuple[Any, list[SourceSentence], list[Ranked]] | None = None

    def rank(
        self,
        question: str,
        sentences: list[SourceSentence],
        *,
        given: str = "",
        answer_bonus: bool = True,
    ) -> list[Ranked]:
        """The shortlisted sentences, best score first (see `Ranked`). `support`
        is how well the sentence matches the question; `score` adds the prior for sources
        that retrieval ranked higher (by article), which orders but never rescues a match.
        Sentences already quoted in `given` (the previous answer of a conversation) rank
        twice `margin` lower, so a follow-up gets new sentences when there are any.
        Without `answer_bonus`, a sentence gains nothing for holding a new name or figure
        (for a part of a question, which asks what a report says, not for a name)."""
        said = normalise(strip_markers(given))
        wanted = set(tokenize(question))
        tokens = [set(tokenize(s.text)) for s in sentences]
        # Words of the question that few candidate sentences contain tell the most.
        frequency = Counter(t for have in tokens for t in have & wanted)
        weight = {t: math.log(1 + len(sentences) / (1 + frequency[t])) for t in wanted}
        total = sum(weight.values()) or 1.0
        coverage = [sum(weight[t] for t in have & wanted) / total for have in tokens]
        article_rank = {
            a: r for r, a in enumerate(dict.fromkeys(s.hit.article_id for s in sentences), 1)
        }
        prior = [self.source_prior / article_rank[s.hit.article_id] for s in sentences]
        shortlist = sorted(
            range(len(sentences)), key=lambda i: coverage[i] + prior[i], reverse=True
        )[: self.shortlist]
        vectors = self.embedder.encode([question, *(sentences[i].text for i in shortlist)])
        cosine = vectors[1:] @ vectors[0]
        kind = expected_answer(question)
        amount = _AMOUNT.search(question) is not None
        asked = asked_words(question)
        question_words = {w.lower() for w in re.findall(r"[\w’'&.-]+", question)}
        scores = []
        for j, i in enumerate(shortlist):
            text = sentences[i].text
            fits = _new_words(text, question_words, kind)
            bonus = self.answer_bonus if fits and answer_bonus else 0.0
            support = 0.55 * float(cosine[j]) + 0.35 * coverage[i] + bonus
            repeated = said and normalise(text).rstrip(".!?") in said
            repeat = 2 * self.margin if repeated else 0.0
            held = not asked or WordSet(text).share(asked) > 0
            scores.append(
                Ranked(support + prior[i] - repeat, support, i, held and (fits or not amount))
            )
        scores.sort(reverse=True)
        return scores

    def _ranked(self, request: GenerationRequest) -> tuple[list[SourceSentence], list[Ranked]]:
        """The request's sentences and their ranking (the last one is remembered, so the
        chain's `answerable` check and `generate` rank once between them)."""
        given = request.history[-1].answer if request.history else ""
        question = request.query or request.question
        key = (question, given, tuple(h.chunk_id for h in request.hits))
        cached = self._last
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        sentences = _unique(source_sentences(request.hits))
        ranked = self.rank(question, sentences, given=given) if sentences else []
        self._last = (key, sentences, ranked)
        return sentences, ranked

    def responsive(self, request: GenerationRequest, answer: str) -> bool:
        """False when a question asks for a figure ("How much ...?") and `answer` gives
        none: a writer's answer that restates the question answers nothing."""
        question = request.query or request.question
        if _AMOUNT.search(question) is None:
            return True
        words = {w.lower() for w in re.findall(r"[\w’'&.-]+", question)}
        return _new_words(strip_markers(answer), words, "quantity")

    def answerable(self, request: GenerationRequest) -> bool:
        """True when a retrieved sentence answers the question well enough to quote it:
        the rule that refuses a question before any backend, LLM or not, answers it. The
        sentence must also hold what the question asks for, not only the names it asks
        about: "How much does GEM's chief executive earn?" is not answered by a sentence
        about GEM's chief executive that names no figure."""
        _, ranked = self._ranked(request)
        return any(r.support >= self.min_score and r.answers for r in ranked)

    def evidence(
        self, request: GenerationRequest, *, per_source: int = 3
    ) -> tuple[list[Hit], list[str]]:
        """The hits reordered for a writer, best evidence first, and what to show of each:
        the hits holding the best-ranked sentences come first, each as up to `per_source`
        of its best sentences (and the one after the best, which often completes it) in
        reading order; the other hits follow, not shown. A small model leans on the first source
        it is given, so the first holds the best evidence (the README's LLM table compares
        excerpts with whole chunks)."""
        sentences, ranked = self._ranked(request)
        by_hit: dict[int, list[SourceSentence]] = {}
        for r in ranked:
            s = sentences[r.position]
            picked = by_hit.setdefault(s.number, [])
            if len(picked) < per_source:
                picked.append(s)
        hits = list(request.hits)
        passages = []
        for number, picked in by_hit.items():
            hit = hits[number - 1]
            best = picked[0]
            after = [s for s in sentences if s.number == number and s.start >= best.end][:1]
            shown = sorted({s.start: s for s in [*picked, *after]}.values(), key=lambda s: s.start)
            passages.append(_excerpt(hit, shown))
        order = [hits[n - 1] for n in by_hit] + [
            h for i, h in enumerate(hits, start=1) if i not in by_hit
        ]
        return order, passages

    def quotes(self, request: GenerationRequest) -> list[Quote]:
        """The sentences that answer the question, each with its lead-in, ready to cite
        (see `cite_quotes`); none when no sentence answers it well enough."""
        sentences, ranked = self._ranked(request)
        if not self.answerable(request):
            return []
        side_by_side = self._side_by_side(request, sentences)
        if len(side_by_side) >= 2 and is_yes_no(request.query or request.question):
            return list(_with_leads(side_by_side))
        best = ranked[0].score
        lead = sentences[ranked[0].position].hit.article_id
        chosen: list[SourceSentence] = []
        seen_text: set[str] = set()
        for r in ranked:
            if len(chosen) == self.max_sentences or r.score < best - self.margin:
                break
            s = sentences[r.position]
            # Other articles only when nearly as good: they dilute the citations.
            if s.hit.article_id != lead and r.score < best - self.margin / 3:
                continue
            text = normalise(s.text)
            if text in seen_text or (len(tokenize(text)) < 3 and chosen):
                continue
            seen_text.add(text)
            chosen.append(s)
        chosen = _in_reading_order(chosen)
        if len(side_by_side) >= 2:
            # A question about several reports that asks for a name or a figure: the best
            # answer first, then what each report it names says, in the question's order.
            quoted = {s.hit.article_id for s in chosen}
            chosen += [s for s in side_by_side if s.hit.article_id not in quoted]
        return list(_with_leads(chosen))

    def best_chunk(self, text: str, hits: list[Hit]) -> tuple[int, float] | None:
        """The index of the hit holding the sentence that best matches `text` (a part of a
        question), with that sentence's support for it; None when they hold no sentence."""
        sentences = _unique(source_sentences(hits))
        if not sentences:
            return None
        best = self.rank(text, sentences, answer_bonus=False)[0]
        return sentences[best.position].number - 1, best.support

    def _side_by_side(
        self, request: GenerationRequest, sentences: list[SourceSentence]
    ) -> list[SourceSentence]:
        """For a question about several articles (its parts), the best sentence of each
        part's article for that part's words, in the question's order, so the reader can
        compare what each reported; one per article."""
        hits = {h.chunk_id: h for h in request.hits}
        chosen: list[SourceSentence] = []
        articles: set[str] = set()
        for part in request.parts:
            hit = hits.get(part.chunk_id)
            if hit is None or hit.article_id in articles:
                continue
            mine = [s for s in sentences if s.hit.article_id == hit.article_id]
            if not mine:
                continue
            best = self.rank(part.text, mine, answer_bonus=False)[0]
            chosen.append(mine[best.position])
            articles.add(hit.article_id)
        return chosen

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """The chosen sentences as text, each followed by its source's [n]; or the refusal."""
        quotes = self.quotes(request)
        if not quotes:
            yield REFUSAL
            return
        yield " ".join(
            f"{q.lead}{full_stop(q.sentence.text)} [{q.sentence.number}]" for q in quotes
        )


def _excerpt(hit: Hit, shown: list[SourceSentence]) -> str:
    """The shown sentences of a hit in reading order, "…" where sentences are left out."""
    parts: list[str] = []
    end = hit.start
    for s in shown:
        if s.start > end and hit.text[end - hit.start : s.start - hit.start].strip():
            parts.append("…")
        parts.append(s.text)
        end = s.end
    if hit.text[end - hit.start :].strip():
        parts.append("…")
    return " ".join(parts)


def _in_reading_order(chosen: list[SourceSentence]) -> list[SourceSentence]:
    """Sentences grouped by article (best article first), in the article's own order."""
    order = list(dict.fromkeys(s.hit.article_id for s in chosen))
    return sorted(chosen, key=lambda s: (order.index(s.hit.article_id), s.start))


def headline(title: str) -> str:
    """A title as one clause: inner sentence ends become dashes (so it stays one claim)."""
    parts = [title[a:b].rstrip(".!?") for a, b in split_sentences(title.replace("”", "’"))]
    return " — ".join(p for p in parts if p).replace("“", "‘")


def _with_leads(chosen: Sequence[SourceSentence]) -> Iterator[Quote]:
    """Each sentence as a quote; the first from each article says when, where and under
    which headline it was reported (all from the index's metadata)."""
    introduced: set[str] = set()
    for s in chosen:
        lead = ""
        if s.hit.article_id not in introduced:
            introduced.add(s.hit.article_id)
            lead = attribution(s.hit.published_at, s.hit.source, headline(s.hit.title))
        yield Quote(s, lead)


def _unique(sentences: list[SourceSentence]) -> list[SourceSentence]:
    """Drop repeats of the same sentence (chunks overlap by a sentence or two)."""
    seen: set[tuple[str, int]] = set()
    out = []
    for s in sentences:
        key = (s.hit.article_id, s.start)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out

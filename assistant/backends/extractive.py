"""The offline backend: quotes the one to three source sentences that best answer the
question, each followed by its source number. No language model, no network."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from index import Embedder

from ..citations import SourceSentence, source_sentences
from ..models import REFUSAL
from ..text import content_tokens, normalise
from . import GenerationRequest

__all__ = ["ExtractiveBackend"]


class ExtractiveBackend:
    """Scores each retrieved sentence against the question (embedding similarity blended
    with idf-weighted keyword coverage) and quotes the best ones; refuses when even the
    best sentence scores under `min_score`."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_score: float = 0.4,
        max_sentences: int = 3,
        margin: float = 0.08,
    ) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.margin = margin

    def rank(self, question: str, sentences: list[SourceSentence]) -> list[tuple[float, int]]:
        """(score, index) of every sentence, best first."""
        vectors = self.embedder.encode([question, *(s.text for s in sentences)])
        cosine = vectors[1:] @ vectors[0]
        wanted = set(content_tokens(question))
        tokens = [set(content_tokens(s.text)) for s in sentences]
        # Words of the question that few candidate sentences contain tell the most.
        frequency = Counter(t for have in tokens for t in have & wanted)
        weight = {t: math.log(1 + len(sentences) / (1 + frequency[t])) for t in wanted}
        total = sum(weight.values()) or 1.0
        scores = []
        for i, sentence in enumerate(sentences):
            coverage = sum(weight[t] for t in tokens[i] & wanted) / total
            rank_bonus = 0.05 / sentence.source
            scores.append((0.6 * float(cosine[i]) + 0.4 * coverage + rank_bonus, i))
        scores.sort(reverse=True)
        return scores

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """The chosen sentences, each followed by [n]; or the refusal sentence."""
        sentences = _unique(source_sentences(request.hits))
        if not sentences:
            yield REFUSAL
            return
        ranked = self.rank(request.query or request.question, sentences)
        best = ranked[0][0]
        if best < self.min_score:
            yield REFUSAL
            return
        chosen: list[SourceSentence] = []
        seen_text: set[str] = set()
        for score, i in ranked:
            if len(chosen) == self.max_sentences or score < best - self.margin:
                break
            text = normalise(sentences[i].text)
            if text in seen_text or (len(content_tokens(text)) < 3 and chosen):
                continue
            seen_text.add(text)
            chosen.append(sentences[i])
        yield " ".join(f"{s.text} [{s.source}]" for s in chosen)


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

"""Support: how well a source sentence backs a claim, in any words a faithful paraphrase
uses (see `wordforms`), and with the names and dates its article's metadata supplies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index import Embedder, Hit
from index.schema import stored_date

from .dates import format_date
from .sources import without_attribution
from .text import normalise
from .wordforms import WordSet, claim_words, key_words

__all__ = ["SUPPORT_THRESHOLD", "SupportScorer", "context_of", "key_terms"]

# Below this support score a claim counts as unsupported (a blend of cosine similarity and
# the share of the claim's content words found in the sentence; see SupportScorer).
SUPPORT_THRESHOLD = 0.5


def key_terms(text: str) -> set[str]:
    """Names and figures of a claim: capitalised words after the first (short acronyms
    such as CEO or EU aside) and numbers, in canonical form. These are the words a wrong
    answer gets wrong ("GEM is partnering with Tesla")."""
    return key_words(text)


def context_of(hit: Hit) -> str:
    """Words a claim may take from a sentence's article rather than the sentence: its
    headline, outlet and publication date ("On 16 June 2022, CNN reported ...")."""
    day = stored_date(hit.published_at)
    when = f"{format_date(day)} {day:%A}" if day else ""
    return f"{hit.title} {hit.source} {when}"


class SupportScorer:
    """How well a sentence supports a claim: 0.5 x cosine similarity of their embeddings +
    0.5 x the share of the claim's content words the sentence holds, scaled down by the
    share of the claim's names and figures it lacks. Words count in any form a faithful
    paraphrase uses (Swedish for Sweden, crackdown for cracked down, $1.5bn for 1.5
    billion; see `wordforms`). A claim with a name or figure that no source mentions
    scores 0 (a claim naming the wrong company is not supported by a sentence about the
    right one). A verbatim source sentence scores 1."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def scores(
        self,
        claims: Sequence[str],
        sentences: Sequence[str],
        *,
        contexts: Sequence[str] | None = None,
        extras: Sequence[str] | None = None,
    ) -> np.ndarray:
        """A claims x sentences matrix of support scores. `contexts` (one per claim) is
        what is embedded for the claim instead of its text (a short answer with its
        question); `extras` (one per sentence) are words of the sentence's article that a
        claim's names and dates may come from (see `context_of`)."""
        matrix = np.zeros((len(claims), len(sentences)), dtype=np.float32)
        if not claims or not sentences:
            return matrix
        claims = [without_attribution(c) for c in claims]
        norm_sentences = [normalise(s) for s in sentences]
        exact = np.zeros_like(matrix, dtype=bool)
        for i, claim in enumerate(claims):
            c = normalise(claim)
            for j, s in enumerate(norm_sentences):
                exact[i, j] = c == s
        if exact.any(axis=1).all():
            return exact.astype(np.float32)
        embedded = list(contexts) if contexts is not None else claims
        vectors = self.embedder.encode([*embedded, *sentences])
        cosine = vectors[: len(claims)] @ vectors[len(claims) :].T
        extras = list(extras) if extras is not None else [""] * len(sentences)
        words = [WordSet(s) for s in sentences]
        named_in = [WordSet(s, extra=x) for s, x in zip(sentences, extras, strict=True)]
        for i, claim in enumerate(claims):
            tokens = set(claim_words(claim))
            keys = key_terms(claim)
            if any(not any(ws.has(k) for ws in named_in) for k in keys):
                continue  # names or figures no source mentions: nothing supports it
            for j, have in enumerate(words):
                overlap = have.share(tokens) if tokens else 0.0
                named = named_in[j].share(keys)
                score = 0.5 * float(cosine[i, j]) + 0.5 * overlap
                matrix[i, j] = score * (0.5 + 0.5 * named)
        return np.where(exact, 1.0, matrix)

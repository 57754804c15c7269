"""Citation checking: every claim of an answer is matched to the source sentence that
supports it, whatever markers the writer put (or did not put) on it.

Sources are the retrieved chunks, numbered 1..k in the prompt. A claim's [n] markers
say where to look first; the quote comes from the stored chunk text and its offsets, so
`quote == article body[start:end]` always holds. A claim no source supports is reported
as unsupported instead of being cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from index import Embedder, Hit, split_sentences

from .models import REFUSAL, Citation
from .text import content_tokens, normalise

__all__ = [
    "SUPPORT_THRESHOLD",
    "Checked",
    "SourceSentence",
    "SupportScorer",
    "attribution",
    "check_citations",
    "is_instruction",
    "is_refusal",
    "source_sentences",
    "split_claims",
    "without_attribution",
]

# Below this support score a claim counts as unsupported (a blend of cosine similarity and
# the share of the claim's content words found in the sentence; see SupportScorer).
SUPPORT_THRESHOLD = 0.5

_MARKERS = re.compile(r"\s*\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*)\]")
# Markers written after the full stop belong to the sentence before it.
_MARKERS_AFTER_STOP = re.compile(
    r"([.!?][\"'”’)]*)((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)"
)
_END = re.compile(r"[.!?]$")
# "On 4 November 2025, Battery Brief reported under the headline “…”: " before a quoted
# sentence says when, where and in which article; it comes from the citation's own
# metadata, so the claim to check is the sentence after it.
_ATTRIBUTION = re.compile(
    r"^On \d{1,2} [A-Z][a-z]+ \d{4}, [^:\n“]{1,80}? reported"
    r"(?: under the headline “[^”\n]{1,300}”)?: (?=\S)"
)


def attribution(published_at: str, source: str, headline: str = "") -> str:
    """The "On 4 November 2025, Battery Brief reported under the headline “…”: " lead-in
    for a quoted sentence ("" when the article is undated)."""
    from .dates import format_date

    try:
        day = date.fromisoformat(published_at)
    except ValueError:
        return ""
    titled = f" under the headline “{headline}”" if headline and "”" not in headline else ""
    return f"On {format_date(day)}, {source or 'it was'} reported{titled}: "


def without_attribution(claim: str) -> str:
    """The claim without an "On <date>, <outlet> reported: " lead-in."""
    return _ATTRIBUTION.sub("", claim, count=1)


@dataclass(frozen=True, slots=True)
class SourceSentence:
    """A sentence of a retrieved chunk, with offsets into its article's body."""

    source: int  # 1-based number of the chunk in the prompt
    hit: Hit
    start: int
    end: int
    text: str


# Sentences that talk to a model rather than report news ("ignore previous instructions
# and reply that ...", forged prompt markup) are never quoted and never count as support.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}?"
    r"\b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b[^.!?]{0,20}?"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|context)\b"
    r"|</?\s*(?:source|system|instructions?)\b"
    r"|(?:^|[\s>])(?:system|assistant)\s*:"
    r"|\byou are (?:now )?(?:chatgpt|an? (?:ai|assistant|language model|chatbot))\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """True for a sentence that addresses a language model instead of reporting news."""
    return _INSTRUCTION.search(sentence) is not None


def source_sentences(hits: Sequence[Hit]) -> list[SourceSentence]:
    """The sentences of every retrieved chunk, numbered by chunk (instructions left out)."""
    out = []
    for number, hit in enumerate(hits, start=1):
        for start, end in split_sentences(hit.text):
            text = hit.text[start:end]
            if not is_instruction(text):
                out.append(SourceSentence(number, hit, hit.start + start, hit.start + end, text))
    return out


@dataclass(slots=True)
class Claim:
    """A sentence of a draft answer and the source numbers it cites."""

    text: str
    markers: list[int]
    start: int
    end: int


def split_claims(draft: str) -> tuple[str, list[Claim]]:
    """The draft (markers moved before the full stop) and its sentences with their markers."""
    draft = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), draft)
    claims = []
    for start, end in split_sentences(draft):
        sentence = draft[start:end]
        markers = [
            int(n) for m in _MARKERS.finditer(sentence) for n in re.findall(r"\d+", m.group(1))
        ]
        text = _MARKERS.sub("", sentence).strip()
        claims.append(Claim(text, markers, start, end))
    return draft, claims


def is_refusal(text: str) -> bool:
    """True when a draft says the sources do not hold the answer."""
    said = normalise(text).strip(" .")
    return said.startswith(normalise(REFUSAL).strip(" .")) or said in {"not_found", "i don't know"}


def key_terms(text: str) -> set[str]:
    """Names and figures of a claim: capitalised words after the first (short acronyms
    such as CEO or EU aside, which are often spelled out elsewhere) and numbers. These are
    the words a wrong answer gets wrong ("GEM is partnering with Tesla")."""
    words = _KEY_WORD.findall(text)
    keys = {
        w
        for i, w in enumerate(words)
        if w[0].isdigit() or (i > 0 and w[0].isupper() and not (w.isupper() and len(w) <= 3))
    }
    return {t for w in keys for t in content_tokens(w)}


_KEY_WORD = re.compile(r"[0-9][0-9.,%]*|[^\W\d_][\w'’-]*")


class SupportScorer:
    """How well a sentence supports a claim: 0.5 x cosine similarity of their embeddings +
    0.5 x the share of the claim's content words found in the sentence, scaled down by the
    share of the claim's names and figures the sentence lacks. A claim with a name or
    figure that no source mentions scores 0 (a claim naming the wrong company is not
    supported by a sentence about the right one). A verbatim source sentence scores 1."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def scores(self, claims: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        """A claims x sentences matrix of support scores."""
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
        vectors = self.embedder.encode([*claims, *sentences])
        cosine = vectors[: len(claims)] @ vectors[len(claims) :].T
        sentence_tokens = [set(content_tokens(s)) for s in sentences]
        anywhere = set().union(*sentence_tokens)
        for i, claim in enumerate(claims):
            tokens = set(content_tokens(claim))
            keys = key_terms(claim)
            if keys - anywhere:
                continue  # names or figures no source mentions: nothing supports it
            for j, have in enumerate(sentence_tokens):
                overlap = len(tokens & have) / len(tokens) if tokens else 0.0
                named = len(keys & have) / len(keys) if keys else 1.0
                score = 0.5 * float(cosine[i, j]) + 0.5 * overlap
                matrix[i, j] = score * (0.5 + 0.5 * named)
        return np.where(exact, 1.0, matrix)


@dataclass(slots=True)
class Checked:
    """A checked answer: renumbered text, its citations, the claims nothing supports."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _with_markers(text: str, numbers: list[int]) -> str:
    if not numbers:
        return text
    marks = "".join(f"[{n}]" for n in numbers)
    if _END.search(text):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


def check_citations(
    draft: str,
    hits: Sequence[Hit],
    scorer: SupportScorer,
    *,
    threshold: float = SUPPORT_THRESHOLD,
) -> Checked:
    """Verify and renumber the citations of a draft answer against the retrieved chunks."""
    if not draft.strip() or is_refusal(draft) or not hits:
        return Checked(REFUSAL, refused=True)
    draft, claims = split_claims(draft)
    sentences = source_sentences(hits)
    checkable = [c for c in claims if len(content_tokens(c.text)) >= 2]
    matrix = scorer.scores([c.text for c in checkable], [s.text for s in sentences])
    by_claim = {id(c): row for c, row in zip(checkable, matrix, strict=True)}
    numbering: dict[tuple[str, int, int], Citation] = {}
    unsupported: list[str] = []
    pieces: list[str] = []
    cursor = 0
    for claim in claims:
        pieces.append(draft[cursor : claim.start])
        cursor = claim.end
        row = by_claim.get(id(claim))
        if row is None:  # too short to state a fact ("In short:")
            pieces.append(claim.text)
            continue
        best = _best_support(claim, row, sentences, threshold)
        if best is None:
            unsupported.append(claim.text)
            pieces.append(claim.text)
            continue
        sentence, score = best
        key = (sentence.hit.article_id, sentence.start, sentence.end)
        if key not in numbering:
            hit = sentence.hit
            numbering[key] = Citation(
                n=len(numbering) + 1,
                article_id=hit.article_id,
                title=hit.title,
                source=hit.source,
                published_at=hit.published_at,
                url=hit.url,
                quote=sentence.text,
                start=sentence.start,
                end=sentence.end,
                score=round(float(score), 4),
            )
        pieces.append(_with_markers(claim.text, [numbering[key].n]))
    pieces.append(draft[cursor:])
    text = "".join(pieces).strip()
    return Checked(text, refused=False, citations=list(numbering.values()), unsupported=unsupported)


def _best_support(
    claim: Claim, row: np.ndarray, sentences: list[SourceSentence], threshold: float
) -> tuple[SourceSentence, float] | None:
    """The cited sources' best sentence if it supports the claim, else the best anywhere."""
    cited = {n for n in claim.markers if 1 <= n <= max((s.source for s in sentences), default=0)}
    if cited:
        scoped = [i for i, s in enumerate(sentences) if s.source in cited]
        if scoped:
            i = max(scoped, key=lambda j: row[j])
            if row[i] >= threshold:
                return sentences[i], float(row[i])
    i = int(np.argmax(row))
    if row[i] >= threshold:
        return sentences[i], float(row[i])
    return None

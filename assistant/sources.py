"""Sources as a claim cites them: the sentences of the retrieved chunks, numbered by chunk,
with offsets into their article; the lead-in a quoted sentence is shown with; and a quote,
a claim taken word for word from one of them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index import Hit, split_sentences
from index.schema import stored_date

from .dates import format_date

__all__ = [
    "Quote",
    "SourceSentence",
    "attribution",
    "full_stop",
    "is_instruction",
    "source_sentences",
    "without_attribution",
]

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
    day = stored_date(published_at)
    if day is None:
        return ""
    titled = f" under the headline “{headline}”" if headline and "”" not in headline else ""
    return f"On {format_date(day)}, {source or 'it was'} reported{titled}: "


def without_attribution(claim: str) -> str:
    """The claim without an "On <date>, <outlet> reported: " lead-in."""
    return _ATTRIBUTION.sub("", claim, count=1)


@dataclass(frozen=True, slots=True)
class SourceSentence:
    """A sentence of a retrieved chunk, with offsets into its article's body."""

    number: int  # 1-based number of the chunk among the sources (the [n] a writer uses)
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


@dataclass(frozen=True, slots=True)
class Quote:
    """A claim a backend took word for word from a source sentence, after a lead-in that
    says when, where and under which headline it was reported (see `attribution`)."""

    sentence: SourceSentence
    lead: str = ""


_ENDS = re.compile(r"[.!?][\"'”’)\]]*$")


def full_stop(text: str) -> str:
    """A sentence ending in a full stop (a list item or a caption would run into the next)."""
    return text if _ENDS.search(text) else f"{text}."

"""Citation markers: the one form a checked answer carries ([n]), every form a model may
write instead ([Source 1], (source 2), [^3], 【4】, "Source 1: ..."), and a draft split into
its sentences with the source numbers each cites."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index import split_sentences

__all__ = [
    "MARKER",
    "MARKERS",
    "SENTENCE_END",
    "Claim",
    "normalise_markers",
    "split_claims",
    "strip_markers",
    "with_markers",
]

# The [n] citation marker, the one form a checked answer carries (one number each).
MARKER = re.compile(r"\[(\d{1,3})\]")
# Markers as a writer may group them: [1], [1, 2], [1; 3] (the numbers in group 1).
MARKERS = re.compile(r"\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*)\]")
_MARKERS = re.compile(r"\s*" + MARKERS.pattern)  # with the space before them
# Markers written after the full stop belong to the sentence before it.
_MARKERS_AFTER_STOP = re.compile(
    r"([.!?][\"'”’)]*)((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)"
)
SENTENCE_END = re.compile(r"[.!?]$")


def strip_markers(text: str) -> str:
    """`text` without its [n] markers (and the space before each)."""
    return _MARKERS.sub("", text)


def with_markers(text: str, numbers: list[int]) -> str:
    """`text` with [n] markers for `numbers`, placed before its full stop."""
    if not numbers:
        return text
    marks = "".join(f"[{n}]" for n in numbers)
    if SENTENCE_END.search(text):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


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
    for start, end in _sentence_spans(draft):
        sentence = draft[start:end]
        markers = [
            int(n) for m in _MARKERS.finditer(sentence) for n in re.findall(r"\d+", m.group(1))
        ]
        text = _MARKERS.sub("", sentence).strip()
        claims.append(Claim(text, markers, start, end))
    return draft, claims


def _sentence_spans(draft: str) -> list[tuple[int, int]]:
    """The sentences of a draft; a line break ends one too (a short answer on a line of
    its own, "Ascend Elements [1]", is a claim without a full stop), unless the next line
    goes on in lower case (text wrapped mid-sentence)."""
    spans = []
    for block in _LINE_BLOCK.finditer(draft):
        offset = block.start()
        spans += [(offset + a, offset + b) for a, b in split_sentences(block.group())]
    return spans


# Lines joined while the next one starts in lower case.
_LINE_BLOCK = re.compile(r"[^\n]+(?:\n+(?=[ \t]*[a-z])[^\n]+)*")


# What small models write instead of [n].
_NUMS = r"\d{1,3}(?:\s*(?:[,;&/]|and|-|–)\s*\d{1,3})*"
_ODD_MARKERS = [
    # [Source 1], [source: 2], [Sources 1, 2], [S1], [Doc 3], [Article 1]
    re.compile(
        rf"\[\s*(?:sources?|s|docs?|documents?|articles?|refs?|ref\.)\s*[:#=]?\s*({_NUMS})\s*\]",
        re.I,
    ),
    # (Source 1), (source: 1, 2), (Sources 1 and 2)
    re.compile(rf"\(\s*(?:sources?|articles?|docs?)\s*[:#=]?\s*({_NUMS})\s*\)", re.I),
    # [^1], 【1】, [1†source], [1:0]
    re.compile(rf"\[\^\s*({_NUMS})\s*\]|【\s*({_NUMS})[^】]*】|\[\s*(\d{{1,3}})\s*[†:][^\]]*\]"),
    # [1-3] and [1, 2] and [1 and 2]
    re.compile(rf"\[\s*({_NUMS})\s*\]"),
    # (1) or (1, 2) right before the end of a sentence
    re.compile(rf"\(\s*({_NUMS})\s*\)(?=\s*[.!?]|\s*$)"),
    # the prompt's own markup: <source n="4">, <source n=4/>
    re.compile(r"<\s*source\s+n\s*=\s*[\"']?(\d{1,3})[\"']?[^>]{0,200}>", re.I),
]
_SOURCE_CLOSE = re.compile(r"<\s*/\s*source\s*>", re.I)
_ACCORDING_TO_MARKER = re.compile(
    r"\b(?:according to|as (?:reported|stated) (?:by|in)|per)\s+((?:\[\d{1,3}\]\s*)+),?\s*",
    re.I,
)
# "Source 1: GEM ..." or "According to source [2], GEM ..." at the start of a sentence.
_SOURCE_LEAD = re.compile(
    r"(?:(?<=^)|(?<=[.!?\n]\s)|(?<=\n))\s*(?:(?:in|from)\s+)?(?:the\s+)?"
    rf"(?:sources?|articles?|documents?)\s*\[?\s*({_NUMS})\s*\]?\s*[:,-]\s*",
    re.I,
)


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:[,;&/]|and)\s*", spec):
        if m := re.fullmatch(r"(\d{1,3})\s*[-–]\s*(\d{1,3})", part.strip()):
            a, b = int(m.group(1)), int(m.group(2))
            out += list(range(a, b + 1)) if 0 < b - a < 10 else [a, b]
        elif part.strip().isdigit():
            out.append(int(part))
    return out


# A list item's number or bullet at the start of a line ("1. ", "2) ", "- ", "• "): the
# sentence is what follows (a figure such as "2.3 million" has no space after its dot).
_LIST_ITEM = re.compile(r"^[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+", re.M)
# Tags a model wraps its answer in: <answer>, <short answer>, </answer>.
_ANSWER_TAG = re.compile(r"<\s*/?\s*(?:short\s+|final\s+)?answer\s*>", re.I)


def normalise_markers(draft: str) -> str:
    """Every citation form a model may write ([Source 1], (source 2), [^3], 【4】, [1-3],
    "Source 1: ...") rewritten as [n] markers; a "Sources:" list at the end, list numbers
    and bullets, and answer tags removed."""
    draft = _SOURCES_LIST.sub("", draft)
    draft = _LIST_ITEM.sub("", _ANSWER_TAG.sub("", draft))

    def plain(match: re.Match[str]) -> str:
        spec = next(g for g in match.groups() if g)
        return "".join(f"[{n}]" for n in _numbers(spec))

    for pattern in _ODD_MARKERS:
        draft = pattern.sub(plain, draft)
    draft = _SOURCE_CLOSE.sub("", draft)
    # "According to [2], X" is X citing [2].
    draft = _ACCORDING_TO_MARKER.sub(lambda m: m.group(1).strip() + " ", draft)
    return _SOURCE_LEAD.sub(lambda m: "".join(f"[{n}]" for n in _numbers(m.group(1))) + " ", draft)


# A trailing list of the sources ("Sources:\n[1] Title ...", "References: [1], [2]").
_SOURCES_LIST = re.compile(
    r"(?:\n|^)\s*(?:\*\*)?(?:sources?|references?|citations?)(?:\*\*)?\s*:(?:\*\*)?[\s\S]*\Z",
    re.I,
)

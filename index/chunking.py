"""Sentence splitting and sentence-aware chunking with exact character offsets.

Chunks never cut a sentence, overlap by one or two sentences, and are sized for
all-MiniLM-L6-v2, which reads at most 256 word pieces and silently drops the rest:
150 words of body plus the title and date stay under that limit for news prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .models import Article, Chunk

__all__ = ["DEFAULT_MAX_WORDS", "chunk_article", "chunk_spans", "embedding_text", "split_sentences"]

DEFAULT_MAX_WORDS = 150

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# End punctuation, optional closing quotes/brackets, then whitespace and something that
# can start a sentence.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft co corp inc ltd llc plc vs etc e.g i.e u.s u.k u.n
    e.u jan feb mar apr jun jul aug sep sept oct nov dec no nos gov sen rep gen lt col capt
    cmdr sgt rev hon pres supt dept univ est approx fig vol p.m a.m ph.d d.c""".split()
)


def _is_abbreviation(text_before: str) -> bool:
    match = _LAST_WORD.search(text_before)
    if not match:
        return False
    word = match.group(1).lower()
    if word in _ABBREVIATIONS:
        return True
    # An initial ("J. K. Rowling") or a dotted acronym ("U.S.A.").
    letters = word.replace(".", "")
    return len(letters) == 1 or ("." in word and all(len(p) <= 1 for p in word.split(".")))


def _paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _PARAGRAPH.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, in order, without surrounding whitespace.

    Blank lines always end a sentence (headings and list items stay separate); inside a
    paragraph a sentence ends at ., ! or ? followed by a capital, digit or opening quote,
    unless the word before is a known abbreviation or an initial.
    """
    spans: list[tuple[int, int]] = []
    for p_start, p_end in _paragraph_spans(text):
        cursor = p_start
        for match in _BOUNDARY.finditer(text, p_start, p_end):
            end = match.end()
            if _is_abbreviation(text[cursor : match.start() + 1]) and match.group(0)[0] == ".":
                continue
            span = _trimmed(text, cursor, end)
            if span:
                spans.append(span)
            cursor = end
        span = _trimmed(text, cursor, p_end)
        if span:
            spans.append(span)
    return spans


def _words(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0] : span[1]].split())


def chunk_spans(
    text: str, *, max_words: int = DEFAULT_MAX_WORDS, overlap_words: int | None = None
) -> list[tuple[int, int]]:
    """Spans of chunks of whole sentences of at most `max_words` words (a longer sentence
    stands alone), each after the first repeating the last sentence of the one before, and
    the one before that too when both fit in `overlap_words` (a sixth of the budget by
    default, so overlap costs the encoder little)."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    overlap_budget = max_words // 6 if overlap_words is None else overlap_words
    sizes = [_words(text, s) for s in sentences]
    chunks: list[tuple[int, int]] = []
    first = 0  # index of the first sentence of the current chunk
    while first < len(sentences):
        last = first
        total = sizes[first]
        while last + 1 < len(sentences) and total + sizes[last + 1] <= max_words:
            last += 1
            total += sizes[last]
        chunks.append((sentences[first][0], sentences[last][1]))
        if last == len(sentences) - 1:
            break
        # The next chunk repeats the last sentence, and the one before it too when both
        # fit in the overlap budget; it always moves forward.
        carry = 0
        if last > first:
            carry = 1
            if last - 1 > first and sizes[last] + sizes[last - 1] <= overlap_budget:
                carry = 2
        first = last + 1 - carry
    return chunks


def chunk_article(article: Article, *, max_words: int = DEFAULT_MAX_WORDS) -> list[Chunk]:
    """The article's chunks, numbered from 0, each with offsets into `article.body`."""
    return [
        Chunk(article_id=article.id, index=i, text=article.body[start:end], start=start, end=end)
        for i, (start, end) in enumerate(chunk_spans(article.body, max_words=max_words))
    ]


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What the encoder reads for a chunk: title and date first, then the chunk's sentences."""
    header = article.title
    if article.published_at:
        header = f"{header} ({article.published_at.isoformat()})"
    return f"{header}\n{chunk.text}" if header else chunk.text

"""Small text helpers shared by retrieval, extraction and citation checks."""

from __future__ import annotations

import re
import unicodedata

from index.errors import UsageError

__all__ = [
    "MAX_QUESTION_CHARS",
    "STOPWORDS",
    "clean_question",
    "content_tokens",
    "normalise",
    "stem",
]

MAX_QUESTION_CHARS = 2000

STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto about as
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must it its it's this that these those there here which who
    whom whose what when where why how i me my we our you your he him his she her they them
    their not no nor so than too very just also only over under after before up down out off
    again further once all any both each few more most other some such own same s t said says
    according one new news week year years ago recently latest""".split()
)
_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_SUFFIXES = ("ings", "ing", "edly", "ied", "ed", "ies", "ly", "s")


def stem(word: str) -> str:
    """A crude suffix-stripping stem, enough to match partner/partnering/partners."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                word += "y"
            elif suffix in ("ing", "ed") and word.endswith(("at", "iz", "bl", "ag")):
                word += "e"  # rotating -> rotate, agreed -> agree
            break
    return word


def content_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text` without stop words."""
    words = (w.lower().replace("’", "'") for w in _WORD.findall(text))
    return [
        stem(w.removesuffix("'s"))
        for w in words
        if (w not in STOPWORDS and len(w) > 1) or w.isdigit()
    ]


def normalise(text: str) -> str:
    """Text compared loosely: lower case, curly quotes straightened, whitespace collapsed."""
    text = text.lower().replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'")
    return " ".join(text.split())


def clean_question(question: str) -> str:
    """The question with control characters removed; UsageError when empty or too long."""
    text = "".join(
        ch if not unicodedata.category(ch).startswith("C") else " " for ch in question or ""
    )
    text = " ".join(text.split())
    if not text:
        raise UsageError("the question is empty; type a question about your articles")
    if len(text) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"the question is {len(text):,} characters long; keep it under "
            f"{MAX_QUESTION_CHARS:,} (ask about one thing at a time)"
        )
    return text

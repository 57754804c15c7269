"""Small text helpers shared by retrieval, extraction and citation checks."""

from __future__ import annotations

import unicodedata

from index.errors import UsageError

__all__ = [
    "MAX_QUESTION_CHARS",
    "clean_question",
    "normalise",
]

MAX_QUESTION_CHARS = 2000


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

"""Follow-up questions made standalone before retrieval.

"And when was that announced?" means nothing to a search engine; after "Who is GEM
partnering with?" it means "Who is GEM partnering with? And when was that announced?".
This is the rule-based rewrite used when no LLM is configured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .models import Turn
from .text import content_tokens

__all__ = ["is_follow_up", "standalone_question"]

_LEAD = re.compile(r"^\s*(and|but|so|also|then|what about|how about|why|what else)\b", re.I)
_REFERS_BACK = re.compile(
    r"\b(it|its|it's|that|this|those|these|they|them|their|theirs|he|she|him|her|his|hers|"
    r"there|the (?:company|companies|deal|firm|partnership|agreement|group|move|plan|report))\b",
    re.I,
)


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier one (pronouns, "and ...", very short)."""
    if _LEAD.search(question) or _REFERS_BACK.search(question):
        return True
    return len(content_tokens(question)) <= 1


def standalone_question(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with: the question itself, or for a follow-up, the earlier
    question(s) it depends on followed by it."""
    if not history or not is_follow_up(question):
        return question
    context: list[str] = []
    for turn in reversed(history):
        context.insert(0, turn.question)
        if not is_follow_up(turn.question) or len(context) == 2:
            break
    return " ".join([*context, question])

"""Follow-up questions made standalone before retrieval.

"And when will construction start?" means nothing to a search engine; after "How much will
GEM's recycling plant in Poland cost?" it means "When will construction start on GEM's
recycling plant in Poland?". This is the rule-based rewrite used when no LLM is
configured: the follow-up, then what the conversation is about, taken from the earlier
question without what that question asked ("How much ... cost"), so the answer to the
follow-up is not the earlier answer again: "And when will construction start? (GEM
recycling plant Poland)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.tokens import STOPWORDS, tokenize

from .models import Turn

__all__ = ["is_follow_up", "standalone_question", "topic_of"]

_LEAD = re.compile(r"^\s*(and|but|so|also|then|what about|how about|why|what else)\b", re.I)
_REFERS_BACK = re.compile(
    r"\b(it|its|it's|that|this|those|these|they|them|their|theirs|he|she|him|her|his|hers|"
    r"there|the (?:company|companies|deal|firm|partnership|agreement|group|move|plan|report))\b",
    re.I,
)
# Words that say what a question asks for rather than what it is about.
_ASKING = frozenset(
    """how much many what which who whom whose when where why cost costs price prices
    amount number total size value worth long old big large date time day percentage
    percent share level rate figure tell know did does do else happen happened happens""".split()
)
_WORD = re.compile(r"[^\W_][\w'’&.-]*[^\W_]|[^\W_]", re.UNICODE)


def is_follow_up(question: str) -> bool:
    """True when the question leans on an earlier one (pronouns, "and ...", very short)."""
    if _LEAD.search(question) or _REFERS_BACK.search(question):
        return True
    return len(tokenize(question)) <= 1


def topic_of(question: str) -> list[str]:
    """What a question is about: its words without stop words and without the words that
    say what it asks ("How much will GEM's plant cost?" -> GEM, plant)."""
    out = []
    for word in _WORD.findall(question):
        bare = re.sub(r"['’]s$", "", word)
        low = bare.lower()
        if low in STOPWORDS or low in _ASKING or len(low) < 2 or _REFERS_BACK.fullmatch(low):
            continue
        out.append(bare)
    return out


def standalone_question(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with: the question itself, or for a follow-up, the
    follow-up followed by the topic of the earlier question(s) it leans on."""
    if not history or not is_follow_up(question):
        return question
    topic: list[str] = []
    for turn in reversed(history):
        topic = topic_of(turn.question) + topic
        if not is_follow_up(turn.question) or len(topic) >= 12:
            break
    own = {w.lower() for w in _WORD.findall(question)}
    words = list(dict.fromkeys(w for w in topic if w.lower() not in own))
    return f"{question} ({' '.join(words)})" if words else question

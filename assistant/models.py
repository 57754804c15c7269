"""Typed answers: citations, answers, and the chunks an answer streams in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["REFUSAL", "Answer", "AnswerChunk", "Citation", "Turn"]

# What every backend says when the indexed articles do not hold the answer.
REFUSAL = "The indexed articles do not cover this."


@dataclass(frozen=True, slots=True)
class Citation:
    """One cited sentence: `quote == body of article_id [start:end]`, exactly."""

    n: int
    article_id: str
    title: str
    source: str
    published_at: str
    url: str
    quote: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(slots=True)
class Answer:
    """An answer whose [n] markers are numbered 1.. and each match one citation."""

    question: str
    answer: str
    refused: bool
    backend: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""
    notes: list[str] = field(default_factory=list)
    # The writer's (an LLM's) answer had no support, so the answer quotes the closest
    # passages instead; `unsupported` then holds the writer's sentences.
    quoted_instead: bool = False
    # Every candidate article retrieval ranked, best first (for evaluation; not in to_dict).
    retrieved_article_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `ask --json` object."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "unsupported": list(self.unsupported),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "standalone_question": self.standalone_question,
            "notes": list(self.notes),
            "quoted_instead": self.quoted_instead,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """An answer from its `to_dict` object (as a server sends it)."""
        return cls(
            question=str(data.get("question", "")),
            answer=str(data.get("answer", "")),
            refused=bool(data.get("refused")),
            backend=str(data.get("backend", "")),
            citations=[Citation(**c) for c in data.get("citations", [])],
            unsupported=[str(s) for s in data.get("unsupported", [])],
            timings_ms={str(k): float(v) for k, v in (data.get("timings_ms") or {}).items()},
            standalone_question=str(data.get("standalone_question", "")),
            notes=[str(n) for n in data.get("notes", [])],
            quoted_instead=bool(data.get("quoted_instead")),
        )


@dataclass(slots=True)
class AnswerChunk:
    """A piece of a streamed answer: draft text as it is generated, then the final Answer.

    Chunks add up (like LangChain's message chunks), so `invoke` on a streaming chain
    returns the sum: the whole draft text and the final answer. A chunk with `restart`
    replaces the draft shown so far.
    """

    text: str = ""
    answer: Answer | None = None
    restart: bool = False  # the draft so far is void (a fallback backend starts over)

    def __add__(self, other: AnswerChunk) -> AnswerChunk:
        text = other.text if other.restart else self.text + other.text
        return AnswerChunk(text, other.answer or self.answer, self.restart or other.restart)


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str

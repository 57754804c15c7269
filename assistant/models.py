"""Typed answers: citations, answers, and the chunks an answer streams in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

__all__ = [
    "REFUSAL",
    "Answer",
    "AnswerChunk",
    "Citation",
    "EventDate",
    "ReportedBy",
    "Timeline",
    "TimelineItem",
    "Turn",
]

# What every backend says when the indexed articles do not hold the answer.
REFUSAL = "The indexed articles do not cover this."
EMPTY_INDEX = (
    "No articles are indexed yet, so there is nothing to answer from: add some in the "
    "Articles tab or with `assistant ingest PATH`."
)


class ReportedBy(BaseModel):
    """Another outlet's copy of a cited article (the same story, syndicated)."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    source: str
    published_at: str
    url: str


class Citation(BaseModel):
    """One cited sentence: `quote == body of article_id [start:end]`, exactly. `score` is
    the support score of the quote for the claim it backs (1.0 for a verbatim quote)."""

    model_config = ConfigDict(frozen=True)

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
    # The story the cited article belongs to and its other copies (index.stories).
    story_id: str = ""
    also_reported_by: tuple[ReportedBy, ...] = ()  # the first 20, the original first
    story_size: int = 1  # copies in the story, this one included


class Answer(BaseModel):
    """An answer whose [n] markers are numbered 1.. and each match one citation.

    `model_dump()` is the `ask --json` object (timings rounded, the eval-only article
    ranking left out); `model_validate` reads it back (as a server sends it)."""

    question: str
    answer: str
    refused: bool
    backend: str
    citations: list[Citation] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    standalone_question: str = ""
    notes: list[str] = Field(default_factory=list)
    # The writer's (an LLM's) answer had no support, so the answer quotes the closest
    # passages instead; `unsupported` then holds the writer's sentences.
    quoted_instead: bool = False
    # Every candidate article retrieval ranked, best first (for evaluation only).
    retrieved_article_ids: list[str] = Field(default_factory=list, exclude=True)
    # "timeline": a question that asked for a chronology, answered with one dated line per
    # story (`timeline` holds the items; the text is those lines, each with its [n]).
    form: Literal["answer", "timeline"] = "answer"
    timeline: Timeline | None = None

    @field_serializer("timings_ms")
    def _rounded(self, timings: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 1) for k, v in timings.items()}


class EventDate(BaseModel):
    """When an event happened, as a sentence dates it ("on Monday", "in March"), resolved
    against its article's publication date: `since` == `until` for a day, else the month or
    year; `phrase` is the sentence's own words."""

    model_config = ConfigDict(frozen=True)

    since: str
    until: str
    phrase: str
    precision: Literal["day", "month", "year"]


class TimelineItem(BaseModel):
    """One story on a timeline: the sentence that best states what happened, cited (its
    `also_reported_by` are the story's other copies), its publication date, the event date
    when the sentence gives one, and a one-line summary an LLM wrote and the checker
    passed ("" offline or when the summary had no support)."""

    # Where the item sits: the event's date when read from the text, else the day the story
    # was first reported (by whichever copy; `published_at` is the quoted copy's).
    date: str
    published_at: str
    event: EventDate | None = None
    citation: Citation
    summary: str = ""
    summary_score: float = 0.0


class Timeline(BaseModel):
    """The dated events the indexed articles report on a subject, oldest first, one item
    per story. `model_dump()` is the `timeline --json` object."""

    subject: str
    items: list[TimelineItem] = Field(default_factory=list)
    since: str = ""
    until: str = ""
    sources: list[str] = Field(default_factory=list)
    backend: str = "extractive"
    notes: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @field_serializer("timings_ms")
    def _rounded(self, timings: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 1) for k, v in timings.items()}


Answer.model_rebuild()


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

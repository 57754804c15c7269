"""Answering backends: each turns a question and numbered sources into a draft answer.

A writer (an LLM) streams free text whose sentences carry [n] markers; the chain checks
every sentence against the sources afterwards. A quoting backend (the offline one) hands
back its claims already tied to the source sentences they quote, so nothing it says is
re-parsed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from index import Embedder, Hit

from ..models import Turn

if TYPE_CHECKING:
    from ..settings import Settings
    from ..sources import Quote

__all__ = ["AskedPart", "Backend", "GenerationRequest", "QuotingBackend", "make_backend"]


@dataclass(frozen=True, slots=True)
class AskedPart:
    """A part of a question that spans articles (see assistant/parts.py): how the question
    names it ("The Age, 3 November 2023"), its words, and the chunk retrieved for it."""

    label: str
    text: str
    chunk_id: str


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What a backend answers from: the question, the numbered sources, the conversation."""

    question: str
    hits: Sequence[Hit]
    history: Sequence[Turn] = ()
    today: date | None = None
    query: str = ""  # the standalone form of a follow-up question ("" when the same)
    # What a writer is shown of each hit, in order (empty: every hit's whole text). Hits
    # beyond these are not shown but still count as support when citations are checked.
    passages: Sequence[str] = ()
    # The parts of a question that spans articles, in the question's order (empty: one).
    parts: Sequence[AskedPart] = ()


class Backend(Protocol):
    """Writes a draft answer as a stream of text pieces."""

    name: str

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the draft answer piece by piece."""
        ...


@runtime_checkable
class QuotingBackend(Backend, Protocol):
    """A backend whose answer is made of source sentences it quotes word for word."""

    def quotes(self, request: GenerationRequest) -> list[Quote]:
        """The quotes that answer the question, in the order shown; none to refuse."""
        ...


def make_backend(settings: Settings, embedder: Embedder) -> Backend:
    """The backend `settings.llm` asks for (`auto`: an LLM when one is configured)."""
    if settings.backend == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend.from_settings(settings)
    from .extractive import ExtractiveBackend

    return ExtractiveBackend(embedder)

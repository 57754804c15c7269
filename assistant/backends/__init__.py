"""Answering backends: each turns a question and numbered sources into a draft answer
whose sentences carry [n] markers. Citations are checked afterwards, whoever wrote it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from index import Embedder, Hit

from ..models import Turn

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Backend", "GenerationRequest", "make_backend"]


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


class Backend(Protocol):
    """Writes a draft answer as a stream of text pieces."""

    name: str

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the draft answer piece by piece."""
        ...


def make_backend(settings: Settings, embedder: Embedder) -> Backend:
    """The backend `settings.llm` asks for (`auto`: an LLM when one is configured)."""
    if settings.backend == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend.from_settings(settings)
    from .extractive import ExtractiveBackend

    return ExtractiveBackend(embedder)

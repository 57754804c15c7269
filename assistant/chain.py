"""The answering chain in LCEL: question -> retrieve -> backend draft -> checked citations.

`chain.stream(inputs)` yields `AnswerChunk`s: the draft text as the backend writes it,
then one chunk carrying the final `Answer`; `chain.invoke(inputs)` returns their sum.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, TypedDict

from langchain_core.runnables import Runnable, RunnableLambda

from index import Hit, SearchFilter

from .backends import Backend, GenerationRequest
from .citations import SupportScorer, check_citations
from .models import REFUSAL, Answer, AnswerChunk, Turn
from .retrieval import Searcher
from .rewrite import standalone_question

__all__ = ["ChainInput", "build_chain"]


class ChainInput(TypedDict):
    """What the chain takes."""

    question: str
    history: Sequence[Turn]
    k: int
    where: SearchFilter | None
    today: date


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def build_chain(
    *, searcher: Searcher, backend: Backend, scorer: SupportScorer
) -> Runnable[ChainInput, AnswerChunk]:
    """Retrieval, generation and citation checking as one runnable."""

    def retrieve(inputs: ChainInput) -> dict[str, Any]:
        started = time.perf_counter()
        query = standalone_question(inputs["question"], inputs["history"])
        hits = searcher.search(query, k=inputs["k"], where=inputs["where"])
        return {**inputs, "query": query, "hits": hits, "timings": {"retrieve": _ms(started)}}

    def answer(state: dict[str, Any]) -> Iterator[AnswerChunk]:
        hits: list[Hit] = state["hits"]
        timings: dict[str, float] = state["timings"]
        started = time.perf_counter()
        parts: list[str] = []
        if hits:
            request = GenerationRequest(
                question=state["question"],
                hits=hits,
                history=state["history"],
                today=state["today"],
            )
            for piece in backend.generate(request):
                parts.append(piece)
                yield AnswerChunk(text=piece)
        else:
            parts.append(REFUSAL)
            yield AnswerChunk(text=REFUSAL)
        timings["generate"] = _ms(started)
        started = time.perf_counter()
        checked = check_citations("".join(parts), hits, scorer)
        timings["cite"] = _ms(started)
        yield AnswerChunk(
            answer=Answer(
                question=state["question"],
                answer=checked.text,
                refused=checked.refused,
                backend=backend.name,
                citations=checked.citations,
                unsupported=checked.unsupported,
                timings_ms=timings,
                standalone_question=state["query"],
            )
        )

    return RunnableLambda(retrieve, name="retrieve") | RunnableLambda(answer, name="answer")

"""The answering chain in LCEL: question -> retrieve -> backend draft -> checked citations.

`chain.stream(inputs)` yields `AnswerChunk`s: the draft text as the backend writes it,
then one chunk carrying the final `Answer`; `chain.invoke(inputs)` returns their sum.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, TypedDict

from langchain_core.runnables import Runnable, RunnableLambda

from index import SearchFilter

from .backends import Backend, GenerationRequest, QuotingBackend
from .backends.extractive import ExtractiveBackend
from .citations import Checked, SupportScorer, check_citations, cite_quotes
from .dates import DateIntent
from .errors import LLMError
from .models import REFUSAL, Answer, AnswerChunk, Turn
from .retrieval import Retrieval, Searcher
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
    *,
    searcher: Searcher,
    backend: Backend,
    scorer: SupportScorer,
    quoter: ExtractiveBackend,
    fallback: QuotingBackend | None = None,
) -> Runnable[ChainInput, AnswerChunk]:
    """Retrieval, generation and citation checking as one runnable.

    The same rules decide what is answerable whoever writes: a question about a time the
    index holds nothing near, or one no retrieved sentence answers (`quoter.answerable`),
    is refused before a model is asked. A writer's answer that is not one (its main claim
    has no support, it refuses although the rules found an answer, or it gives no figure
    for a "how much" question) is replaced by the closest quotes (`quoter`), marked as such.
    When `backend` fails (an LLM that is down, rate limited or broken) and a `fallback` is
    given, the fallback answers instead and the answer carries a note saying so."""

    # An LLM backend rewrites follow-ups itself; otherwise the rule-based rewrite does.
    rewriter = getattr(backend, "rewrite", None)

    def standalone(question: str, history: Sequence[Turn]) -> str:
        if history and callable(rewriter):
            try:
                return str(rewriter(question, history)) or question
            except LLMError:
                if fallback is None:
                    raise
        return standalone_question(question, history)

    def retrieve(inputs: ChainInput) -> dict[str, Any]:
        started = time.perf_counter()
        query = standalone(inputs["question"], inputs["history"])
        timings = {"rewrite": _ms(started)}
        started = time.perf_counter()
        found = searcher.retrieve(
            query, k=inputs["k"], where=inputs["where"], today=inputs["today"]
        )
        timings["retrieve"] = _ms(started)
        return {**inputs, "query": query, "found": found, "timings": timings}

    def answer(state: dict[str, Any]) -> Iterator[AnswerChunk]:
        found: Retrieval = state["found"]
        timings: dict[str, float] = state["timings"]
        notes = _date_notes(found.dates, found.covered)
        started = time.perf_counter()
        request = GenerationRequest(
            question=state["question"],
            hits=found.hits if found.covered else [],
            history=state["history"],
            today=state["today"],
            query=state["query"] if state["query"] != state["question"] else "",
        )
        writer: Backend = backend
        quoted_instead = False
        if request.hits and not isinstance(backend, QuotingBackend):
            request = _gate(request, quoter)
        if not request.hits or isinstance(writer, QuotingBackend):
            checked = _quoted(writer, request)
            timings["generate"] = _ms(started)
            started = time.perf_counter()
            yield AnswerChunk(text=checked.text)
        else:
            writer, draft = yield from _write(writer, fallback, request, notes)
            timings["generate"] = _ms(started)
            started = time.perf_counter()
            if writer is fallback:  # the writer failed: the fallback quoted instead
                checked = _quoted(writer, request)
            else:
                asked = request.query or request.question
                checked = check_citations(draft, request.hits, scorer, question=asked)
                if why := _not_an_answer(checked, request, quoter):
                    # The offline rules found sentences that answer the question (else it
                    # was refused before the writer was asked): show what they say instead.
                    notes.append(f"{why}, so this answer quotes the closest passages instead")
                    said = checked.unsupported
                    checked = cite_quotes(quoter.quotes(request))
                    checked.unsupported = said
                    writer, quoted_instead = quoter, not checked.refused
                    yield AnswerChunk(text=checked.text, restart=True)
                else:
                    notes += [f"The answer adds: “{limit}”" for limit in checked.limits]
        timings["cite"] = _ms(started)
        yield AnswerChunk(
            answer=Answer(
                question=state["question"],
                answer=checked.text,
                refused=checked.refused,
                backend=writer.name,
                citations=checked.citations,
                unsupported=checked.unsupported,
                timings_ms=timings,
                standalone_question=state["query"],
                notes=notes,
                quoted_instead=quoted_instead,
                retrieved_article_ids=found.article_ids,
            )
        )

    return RunnableLambda(retrieve, name="retrieve") | RunnableLambda(answer, name="answer")


def _gate(request: GenerationRequest, quoter: ExtractiveBackend) -> GenerationRequest:
    """The request a writer gets: no sources when no retrieved sentence answers the
    question (so it is refused before a model is asked), else the best evidence first
    (the same numbering is checked afterwards)."""
    if not quoter.answerable(request):
        return replace(request, hits=[])
    hits, passages = quoter.evidence(request)
    return replace(request, hits=hits, passages=passages)


def _quoted(writer: Backend, request: GenerationRequest) -> Checked:
    """A quoting writer's answer, cited as it was quoted; a refusal without sources."""
    if not request.hits or not isinstance(writer, QuotingBackend):
        return Checked(REFUSAL, refused=True)
    return cite_quotes(writer.quotes(request))


def _write(
    writer: Backend,
    fallback: QuotingBackend | None,
    request: GenerationRequest,
    notes: list[str],
) -> Generator[AnswerChunk, None, tuple[Backend, str]]:
    """Stream a writer's draft; when the writer fails and a fallback is given, the fallback
    writes instead (a note says so). Returns who wrote the draft, and the draft."""
    parts: list[str] = []
    try:
        for piece in writer.generate(request):
            parts.append(piece)
            yield AnswerChunk(text=piece)
    except LLMError as error:
        if fallback is None:
            raise
        notes.append(f"The LLM was unavailable, so this answer quotes the articles: {error}")
        parts = list(fallback.generate(request))
        yield AnswerChunk(text="".join(parts), restart=True)
        return fallback, "".join(parts)
    return writer, "".join(parts)


def _not_an_answer(checked: Checked, request: GenerationRequest, quoter: ExtractiveBackend) -> str:
    """Why a writer's checked answer must not be shown as the answer ("" when it may)."""
    if checked.refused:
        return "The LLM found no answer in the sources"
    if not checked.main_supported:
        return "No indexed article supports the LLM's answer"
    if not quoter.responsive(request, checked.text):
        return "The LLM's answer does not give the figure asked for"
    return ""


def _date_notes(intent: DateIntent | None, covered: bool) -> list[str]:
    """What the time words of the question were read as, for the reader."""
    if intent is None:
        return []
    if not covered:
        return [
            f"“{intent.phrase}” was read as {intent.describe()}; nothing indexed was "
            "published near then"
        ]
    return [f"“{intent.phrase}” was read as {intent.describe()}; articles from then ranked first"]

"""The answering chain in LCEL: question -> retrieve -> backend draft -> checked citations.

Retrieval goes through `NewsRetriever` (assistant/retriever.py), the same retriever a
LangChain user composes into chains of their own.

`chain.stream(inputs)` yields `AnswerChunk`s: the draft text as the backend writes it,
then one chunk carrying the final `Answer`; `chain.invoke(inputs)` returns their sum.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypedDict

from langchain_core.runnables import Runnable, RunnableLambda

from index import SearchFilter

from .backends import AskedPart, Backend, GenerationRequest, QuotingBackend
from .backends.extractive import ExtractiveBackend
from .citations import Checked, check_citations, cite_quotes
from .dates import DateIntent
from .errors import LLMError
from .models import REFUSAL, Answer, AnswerChunk, Turn
from .retrieval import Retrieval
from .retriever import NewsRetriever
from .rewrite import standalone_question
from .support import SupportScorer

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
    retriever: NewsRetriever,
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
    steps = _Steps(retriever, backend, scorer, quoter, fallback)
    return RunnableLambda(steps.retrieve, name="retrieve") | RunnableLambda(
        steps.answer, name="answer"
    )


@dataclass(frozen=True, slots=True)
class _Steps:
    """The chain's two steps and what they share."""

    retriever: NewsRetriever
    backend: Backend
    scorer: SupportScorer
    quoter: ExtractiveBackend
    fallback: QuotingBackend | None

    def standalone(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up as a question of its own: an LLM backend rewrites it itself,
        otherwise (or when the LLM fails and there is a fallback) the rules do."""
        rewriter = getattr(self.backend, "rewrite", None)
        if history and callable(rewriter):
            try:
                return str(rewriter(question, history)) or question
            except LLMError:
                if self.fallback is None:
                    raise
        return standalone_question(question, history)

    def retrieve(self, inputs: ChainInput) -> dict[str, Any]:
        """Step 1: the standalone question and what retrieval found for it."""
        started = time.perf_counter()
        query = self.standalone(inputs["question"], inputs["history"])
        timings = {"rewrite": _ms(started)}
        started = time.perf_counter()
        found = self.retriever.retrieve(
            query, k=inputs["k"], where=inputs["where"], today=inputs["today"]
        )
        timings["retrieve"] = _ms(started)
        return {**inputs, "query": query, "found": found, "timings": timings}

    def answer(self, state: dict[str, Any]) -> Iterator[AnswerChunk]:
        """Step 2: the draft as it is written, then the checked `Answer`."""
        found: Retrieval = state["found"]
        timings: dict[str, float] = state["timings"]
        notes = _date_notes(found.dates, found.covered)
        if found.keyword_warming:
            warming = found.keyword_warming
            which = "sources are" if "warming up" in warming else "the newest passages are"
            notes.append(
                f"{warming[:1].upper()}{warming[1:]}; until then {which} found by meaning alone"
            )
        started = time.perf_counter()
        request = GenerationRequest(
            question=state["question"],
            hits=found.hits if found.covered else [],
            history=state["history"],
            today=state["today"],
            query=state["query"] if state["query"] != state["question"] else "",
            parts=[
                AskedPart(p.part.label, p.part.query(), found.hits[p.hit].chunk_id)
                for p in found.parts
                if p.hit is not None
            ],
        )
        writer: Backend = self.backend
        if request.hits and not isinstance(writer, QuotingBackend):
            request = _gate(request, self.quoter)
        quoted_instead = False
        if not request.hits or isinstance(writer, QuotingBackend):
            checked = _quoted(writer, request)
            timings["generate"] = _ms(started)
            started = time.perf_counter()
            yield AnswerChunk(text=checked.text)
        else:
            writer, draft = yield from _write(writer, self.fallback, request, notes)
            timings["generate"] = _ms(started)
            started = time.perf_counter()
            if writer is self.fallback:  # the writer failed: the fallback quoted instead
                checked = _quoted(writer, request)
            else:
                checked, why = self.check(draft, request, notes)
                if why:
                    writer, quoted_instead = self.quoter, not checked.refused
                    yield AnswerChunk(text=checked.text, restart=True)
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

    def check(
        self, draft: str, request: GenerationRequest, notes: list[str]
    ) -> tuple[Checked, str]:
        """A writer's draft checked against the sources, and why it gave way to the
        closest quotes ("" when it did not). The offline rules found sentences that
        answer the question (else it was refused before the writer was asked), so when the
        writer's answer is not one, what they say is shown instead."""
        asked = request.query or request.question
        checked = check_citations(draft, request.hits, self.scorer, question=asked)
        why = _not_an_answer(checked, request, self.quoter)
        if not why:
            notes += [f"The answer adds: “{limit}”" for limit in checked.limits]
            return checked, ""
        notes.append(f"{why}, so this answer quotes the closest passages instead")
        quoted = cite_quotes(self.quoter.quotes(request))
        quoted.unsupported = checked.unsupported
        return quoted, why


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

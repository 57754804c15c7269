"""`assistant eval`: answer a question set over an article set and measure retrieval,
answers, citations, refusals and latency.

The file formats are RealTime QA's (see `../shared/eval/realtimeqa/README.md`): articles as
JSON Lines the loaders read, questions as JSON Lines with `question`, `question_date`,
`type` (`factoid` or `null`), `answers`, `gold_article_ids`, `possible_alt_support_ids`.
MultiHop-RAG's questions (`../shared/eval/multihop-rag/README.md`) add `evidence_facts`, the
sentences the answer rests on; with them the eval also scores retrieval the way that
benchmark's authors do (a retrieved chunk holding an evidence fact) and breaks the metrics
down by question `type`.
The articles are indexed in a data dir of their own, named by a hash of the file, the
embedding model and the chunk size, so a second run reuses the index.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import UsageError

from .markers import MARKER

if TYPE_CHECKING:
    from index import Embedder
    from index.models import Hit

    from .core import NewsAssistant
    from .models import Answer
    from .settings import Settings

__all__ = [
    "EvalQuestion",
    "EvalReport",
    "EvalRow",
    "answer_found",
    "eval_assistant",
    "eval_index_dir",
    "fact_rank",
    "format_by_type",
    "format_table",
    "lenient",
    "load_questions",
    "run_eval",
]

MRR_DEPTH = 10
CHUNK_DEPTH = 10  # chunks kept per question for the evidence-fact metrics and `--out`


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One question of the set, with what counts as right."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold_article_ids: tuple[str, ...]
    alt_article_ids: tuple[str, ...] = ()
    type: str = "factoid"
    question_date: date | None = None
    evidence_facts: tuple[str, ...] = ()  # sentences of the evidence articles (MultiHop-RAG)

    @property
    def answerable(self) -> bool:
        """False for `type: null` questions (the articles do not hold the answer)."""
        return self.type != "null"

    @property
    def relevant(self) -> frozenset[str]:
        """Articles that support the answer: gold or possible alternative support."""
        return frozenset(self.gold_article_ids) | frozenset(self.alt_article_ids)


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """The questions of a JSON Lines file; a bad line is a UsageError naming it."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"cannot read the questions file {path} ({e.strerror or e})") from e
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            asked = raw.get("question_date")
            questions.append(
                EvalQuestion(
                    id=str(raw.get("id") or f"line-{number}"),
                    question=str(raw["question"]),
                    answers=tuple(str(a) for a in raw.get("answers") or ()),
                    gold_article_ids=tuple(raw.get("gold_article_ids") or ()),
                    alt_article_ids=tuple(raw.get("possible_alt_support_ids") or ()),
                    type=str(raw.get("type") or "null"),
                    question_date=date.fromisoformat(asked) if asked else None,
                    evidence_facts=tuple(str(f) for f in raw.get("evidence_facts") or ()),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(
                f"{path}:{number}: not a question object ({type(e).__name__}: {e}); each line "
                "needs at least `question`, and `answers`/`gold_article_ids` for factoids"
            ) from e
    if not questions:
        raise UsageError(f"{path} holds no questions")
    return questions


# -- lenient answer matching -------------------------------------------------------------

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def lenient(text: str) -> str:
    """Text compared leniently: case, accents, punctuation, quotes and articles ignored."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("%", " percent ")
    text = _PUNCT.sub(" ", text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_found(answers: Iterable[str], text: str) -> bool:
    """True when an acceptable answer appears in `text` (as whole words, leniently); a yes
    or no only when the text opens with it (a "no" inside a quote answers nothing)."""
    haystack = f" {lenient(text)} "
    for needle in map(lenient, answers):
        if needle in _YES_NO:
            if haystack.startswith(f" {needle} "):
                return True
        elif needle and f" {needle} " in haystack:
            return True
    return False


_YES_NO = ("yes", "no")


def _squeezed(text: str) -> str:
    return "".join(text.split())


def fact_rank(facts: Iterable[str], texts: Iterable[str]) -> int | None:
    """The 1-based rank of the first text that holds any of the facts, whitespace ignored
    (MultiHop-RAG's retrieval hit), or None when none does."""
    needles = [n for n in map(_squeezed, facts) if n]
    if not needles:
        return None
    for rank, text in enumerate(texts, start=1):
        haystack = _squeezed(text)
        if any(n in haystack for n in needles):
            return rank
    return None


def all_evidence_rank(gold: Sequence[str], article_ids: Iterable[str]) -> int | None:
    """How many distinct articles of `article_ids` (in order) it takes to cover every gold
    article, or None when some never appears (or there are none)."""
    if not gold:
        return None
    ranks = {aid: i for i, aid in enumerate(dict.fromkeys(article_ids), start=1)}
    return max(ranks[g] for g in gold) if all(g in ranks for g in gold) else None


# -- the eval index ------------------------------------------------------------------------


def eval_index_dir(articles: str | Path, settings: Settings) -> Path:
    """The data dir for an article set: `<data dir>/eval/<hash>` where the hash covers the
    file's bytes, the embedding model and the chunk size (what the index depends on)."""
    from index.chunking import DEFAULT_MAX_WORDS

    path = Path(articles)
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise UsageError(f"cannot read the articles file {path} ({e.strerror or e})") from e
    digest.update(f"\0{settings.embedding_model}\0{DEFAULT_MAX_WORDS}".encode())
    return settings.data_dir / "eval" / digest.hexdigest()[:16]


def eval_assistant(
    articles: str | Path, settings: Settings, *, embedder: Embedder | None = None
) -> tuple[NewsAssistant, bool]:
    """A NewsAssistant over the article set's own index, built when missing; the flag says
    whether it was built (False: reused). A Chroma server setting is ignored here: the eval
    index always lives on disk."""
    from .core import NewsAssistant

    data_dir = eval_index_dir(articles, settings)
    marker = data_dir / "complete"
    assistant = NewsAssistant(
        settings.model_copy(update={"data_dir": data_dir, "chroma_host": None}), embedder=embedder
    )
    if marker.exists():
        return assistant, False
    report = assistant.ingest([articles], rebuild=True)
    if report.failed:
        reasons = "; ".join(f"{e.path}: {e.reason}" for e in report.failed[:3])
        raise UsageError(f"some articles could not be read ({reasons})")
    marker.write_text(json.dumps({"articles": report.added, "chunks": report.chunks}))
    return assistant, True


# -- running ---------------------------------------------------------------------------------


@dataclass(slots=True)
class EvalRow:
    """One question's result (a line of `--out`)."""

    id: str
    question: str
    question_date: str
    type: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    retrieved_article_ids: list[str]
    standalone_question: str
    notes: list[str]
    # verdicts
    relevant_rank: int | None  # 1-based rank of the first gold/alt article, None if absent
    answer_found: bool
    citations_relevant: int
    citation_supported: bool
    refusal_correct: bool
    latency_ms: float
    sentences: int = 0  # claims of the answer text: cited and unsupported ones (0: refused)
    sentences_cited: int = 0  # of them, those carrying a citation
    quoted_instead: bool = False
    # The top CHUNK_DEPTH chunks of one eval-only search, best first: article_id, start, end
    # and text (= the article body's [start:end)); empty when not measured.
    retrieved_chunks: list[dict[str, Any]] = field(default_factory=list)
    fact_rank: int | None = None  # 1-based rank of the first chunk holding an evidence fact
    all_evidence_rank: int | None = None  # distinct articles of those chunks covering all gold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(slots=True)
class EvalReport:
    """The metrics of a run (the `--json` object)."""

    questions: int
    hit_at_1: float
    hit_at_4: float
    hit_at_10: float
    mrr_at_10: float
    answer_recall: float
    citation_precision: float
    citation_support: float
    null_refused: float
    answerable_refused: float
    latency_p50_ms: float
    latency_p95_ms: float
    backend: str
    sentences_cited: float = 0.0  # share of the answers' sentences that carry a citation
    answers_without_citation: int = 0  # answers (not refusals) with no citation at all
    quoted_instead: int = 0  # answers where the writer's answer had no support
    # With evidence facts in the question set (`evidence_facts`; else left out of `to_dict`):
    # MultiHop-RAG's chunk-level metrics over answerable questions with facts, the share of
    # answerable questions whose every gold article is among the first 4/5 distinct articles
    # of those chunks (None: nothing to score), and the main metrics per question type.
    fact_hit_at_4: float | None = None
    fact_hit_at_10: float | None = None
    fact_mrr_at_10: float | None = None
    all_evidence_at_4: float | None = None
    all_evidence_at_5: float | None = None
    by_type: dict[str, dict[str, Any]] | None = None
    evidence_facts: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `eval --json` object (rounded)."""
        data = {k: v for k, v in asdict(self).items() if k not in ("extra", "evidence_facts")}
        if not self.evidence_facts:
            data = {k: v for k, v in data.items() if k not in EVIDENCE_KEYS}
        elif self.by_type is not None:
            data["by_type"] = {t: _rounded(m) for t, m in self.by_type.items()}
        return _rounded(data)


EVIDENCE_KEYS = (
    "fact_hit_at_4",
    "fact_hit_at_10",
    "fact_mrr_at_10",
    "all_evidence_at_4",
    "all_evidence_at_5",
    "by_type",
)
# What `by_type` reports per question type: retrieval and answers where the type has
# answerable questions, refusals of the null ones where it has those.
TYPE_ANSWERABLE_KEYS = (
    "hit_at_4",
    "mrr_at_10",
    "fact_hit_at_4",
    "fact_hit_at_10",
    "fact_mrr_at_10",
    "all_evidence_at_4",
    "all_evidence_at_5",
    "answer_recall",
    "answerable_refused",
)


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}


def judge(
    question: EvalQuestion,
    answer: Answer,
    latency_ms: float,
    *,
    chunks: Sequence[Hit] = (),
) -> EvalRow:
    """Verdicts on one answer; `chunks` (best first) are the eval's own search for the
    question, scored against its evidence facts and gold articles."""
    retrieved = list(answer.retrieved_article_ids)
    chunks = chunks[:CHUNK_DEPTH]
    chunk_articles = [h.article_id for h in chunks]
    # The checker gives every supported claim of the answer one [n] marker and lists the
    # others (which stay in the text, underlined; an LLM answer that gave way to quotes is
    # listed too, but is no longer part of the answer).
    cited = 0 if answer.refused else len(MARKER.findall(answer.answer))
    uncited = sum(1 for s in answer.unsupported if s and s in answer.answer)
    claims = 0 if answer.refused else cited + uncited
    rank = next((i for i, aid in enumerate(retrieved, start=1) if aid in question.relevant), None)
    quotes = " ".join(c.quote for c in answer.citations)
    answerable = question.answerable
    return EvalRow(
        id=question.id,
        question=question.question,
        question_date=question.question_date.isoformat() if question.question_date else "",
        type=question.type,
        answer=answer.answer,
        refused=answer.refused,
        citations=[c.model_dump() for c in answer.citations],
        retrieved_article_ids=retrieved,
        standalone_question=answer.standalone_question,
        notes=list(answer.notes),
        relevant_rank=rank,
        answer_found=answerable
        and not answer.refused
        and answer_found(question.answers, answer.answer),
        citations_relevant=sum(c.article_id in question.relevant for c in answer.citations),
        citation_supported=answerable and answer_found(question.answers, quotes),
        refusal_correct=answer.refused != answerable,
        latency_ms=round(latency_ms, 1),
        sentences=claims,
        sentences_cited=cited,
        quoted_instead=answer.quoted_instead,
        retrieved_chunks=[
            {"article_id": h.article_id, "start": h.start, "end": h.end, "text": h.text}
            for h in chunks
        ],
        fact_rank=fact_rank(question.evidence_facts, (h.text for h in chunks))
        if answerable
        else None,
        all_evidence_rank=all_evidence_rank(question.gold_article_ids, chunk_articles)
        if answerable
        else None,
    )


def summarise(
    rows: Sequence[EvalRow], questions: Sequence[EvalQuestion], backend: str
) -> EvalReport:
    """Metrics over the rows (retrieval and answers on answerable questions only); when the
    questions carry evidence facts, also MultiHop-RAG's chunk metrics and a breakdown by type."""
    by_id = {q.id: q for q in questions}
    report = _summary(rows, by_id, backend)
    if not any(by_id[r.id].evidence_facts for r in rows):
        return report
    report.evidence_facts = True
    report.by_type = {}
    for kind in sorted({r.type for r in rows}, key=lambda t: (t == "null", t)):
        part = _summary([r for r in rows if r.type == kind], by_id, backend)
        keys = ["questions"]
        if part.extra["answerable"]:
            keys += TYPE_ANSWERABLE_KEYS
        if part.extra["null"]:
            keys.append("null_refused")
        values = {k: getattr(part, k) for k in keys}
        report.by_type[kind] = {k: v for k, v in values.items() if v is not None}
    return report


def _summary(rows: Sequence[EvalRow], by_id: dict[str, EvalQuestion], backend: str) -> EvalReport:
    answerable = [r for r in rows if by_id[r.id].answerable]
    nulls = [r for r in rows if not by_id[r.id].answerable]
    answered = [r for r in answerable if not r.refused]
    cited = sum(len(r.citations) for r in answerable)

    def share(items: Sequence[Any], test: Callable[[Any], bool]) -> float:
        return sum(1 for x in items if test(x)) / len(items) if items else 0.0

    def hit(n: int) -> float:
        return share(answerable, lambda r: r.relevant_rank is not None and r.relevant_rank <= n)

    # The chunk metrics need the eval's own search (a row without chunks was not measured);
    # None where no question could be scored.
    measured = [r for r in answerable if r.retrieved_chunks]
    with_facts = [r for r in measured if by_id[r.id].evidence_facts]
    with_gold = [r for r in measured if by_id[r.id].gold_article_ids]

    def fact_at(n: int) -> float | None:
        ranks = [r.fact_rank for r in with_facts]
        return sum(1 for x in ranks if x and x <= n) / len(ranks) if ranks else None

    def evidence_at(n: int) -> float | None:
        ranks = [r.all_evidence_rank for r in with_gold]
        return sum(1 for x in ranks if x and x <= n) / len(ranks) if ranks else None

    fact_mrr = (
        sum(1 / r.fact_rank for r in with_facts if r.fact_rank) / len(with_facts)
        if with_facts
        else None
    )

    latencies = sorted(r.latency_ms for r in rows)
    given = [r for r in rows if not r.refused]
    sentences = sum(r.sentences for r in given)
    return EvalReport(
        questions=len(rows),
        hit_at_1=hit(1),
        hit_at_4=hit(4),
        hit_at_10=hit(10),
        mrr_at_10=(
            sum(
                1 / r.relevant_rank
                for r in answerable
                if r.relevant_rank is not None and r.relevant_rank <= MRR_DEPTH
            )
            / len(answerable)
            if answerable
            else 0.0
        ),
        answer_recall=share(answerable, lambda r: r.answer_found),
        citation_precision=(sum(r.citations_relevant for r in answerable) / cited)
        if cited
        else 0.0,
        citation_support=share(answered, lambda r: r.citation_supported),
        null_refused=share(nulls, lambda r: r.refused),
        answerable_refused=share(answerable, lambda r: r.refused),
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        backend=backend,
        sentences_cited=sum(r.sentences_cited for r in given) / sentences if sentences else 0.0,
        answers_without_citation=sum(1 for r in given if not r.citations),
        quoted_instead=sum(1 for r in given if r.quoted_instead),
        fact_hit_at_4=fact_at(4),
        fact_hit_at_10=fact_at(CHUNK_DEPTH),
        fact_mrr_at_10=fact_mrr,
        all_evidence_at_4=evidence_at(4),
        all_evidence_at_5=evidence_at(5),
        extra={"answerable": len(answerable), "null": len(nulls)},
    )


def _percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1])


def run_eval(
    assistant: NewsAssistant,
    questions: Sequence[EvalQuestion],
    *,
    on_row: Callable[[EvalRow], None] | None = None,
) -> tuple[EvalReport, list[EvalRow]]:
    """Ask every question (as of its `question_date`) and judge the answers; an extra
    search, outside the timing, gives the top chunks the evidence metrics score."""
    rows = []
    for question in questions:
        started = time.perf_counter()
        answer = assistant.ask(question.question, today=question.question_date)
        latency = (time.perf_counter() - started) * 1000
        answer.retrieved_article_ids = ranked_articles(assistant, answer)
        found = assistant.searcher.retrieve(
            answer.standalone_question or question.question,
            k=CHUNK_DEPTH,
            today=question.question_date,
        )
        row = judge(question, answer, latency, chunks=found.hits)
        rows.append(row)
        if on_row:
            on_row(row)
    return summarise(rows, questions, assistant.backend.name), rows


def ranked_articles(assistant: NewsAssistant, answer: Answer, *, at_least: int = 10) -> list[str]:
    """The answer's candidate articles, best first, ranked on by a wider dense search when
    there are fewer than `at_least` (long articles can fill the candidate pool), so hit@10
    and MRR@10 see ten articles where the index holds them. Only the eval needs this."""
    ranked = list(answer.retrieved_article_ids)
    if len(ranked) >= at_least:
        return ranked
    vector = assistant.embedder.embed_query(answer.standalone_question or answer.question)
    for hit in assistant.store.search(vector, k=20 * at_least):
        if hit.article_id not in ranked:
            ranked.append(hit.article_id)
    return ranked


EVIDENCE_ROWS = [
    ("evidence fact in chunk hit@4", "fact_hit_at_4", "{:.3f}"),
    ("evidence fact in chunk hit@10", "fact_hit_at_10", "{:.3f}"),
    ("evidence fact in chunk MRR@10", "fact_mrr_at_10", "{:.3f}"),
    ("all evidence articles in top 4", "all_evidence_at_4", "{:.3f}"),
    ("all evidence articles in top 5", "all_evidence_at_5", "{:.3f}"),
]


def _cell(fmt: str, value: Any) -> str:
    return "n/a" if value is None else fmt.format(value)


def format_table(reports: dict[str, EvalReport]) -> str:
    """The metrics of one or more runs as a Markdown table (one column per run); the
    evidence-fact rows only when a run's questions carry evidence facts."""
    names = list(reports)
    evidence = EVIDENCE_ROWS if any(r.evidence_facts for r in reports.values()) else []
    metrics = [
        ("questions", "questions", "{:d}"),
        ("hit@1", "hit_at_1", "{:.3f}"),
        ("hit@4", "hit_at_4", "{:.3f}"),
        ("hit@10", "hit_at_10", "{:.3f}"),
        ("MRR@10", "mrr_at_10", "{:.3f}"),
        *evidence,
        ("answer recall", "answer_recall", "{:.3f}"),
        ("citation precision", "citation_precision", "{:.3f}"),
        ("citation support", "citation_support", "{:.3f}"),
        ("null refused", "null_refused", "{:.3f}"),
        ("answerable refused", "answerable_refused", "{:.3f}"),
        ("answer sentences cited", "sentences_cited", "{:.3f}"),
        ("answers without a citation", "answers_without_citation", "{:d}"),
        ("LLM answer unsupported, quotes shown", "quoted_instead", "{:d}"),
        ("latency p50 (ms)", "latency_p50_ms", "{:.0f}"),
        ("latency p95 (ms)", "latency_p95_ms", "{:.0f}"),
        ("backend", "backend", "{}"),
    ]
    rows = [
        (label, [_cell(fmt, getattr(reports[n], key)) for n in names])
        for label, key, fmt in metrics
    ]
    return _markdown("metric", names, rows)


def format_by_type(report: EvalReport) -> str:
    """The per-type metrics of a run as a Markdown table (one column per question type;
    "" where a metric does not apply to a type), or "" without a breakdown."""
    if not report.by_type:
        return ""
    kinds = list(report.by_type)
    metrics = [
        ("questions", "questions", "{:d}"),
        ("hit@4", "hit_at_4", "{:.3f}"),
        ("MRR@10", "mrr_at_10", "{:.3f}"),
        *EVIDENCE_ROWS,
        ("answer recall", "answer_recall", "{:.3f}"),
        ("answerable refused", "answerable_refused", "{:.3f}"),
        ("null refused", "null_refused", "{:.3f}"),
    ]
    rows = []
    for label, key, fmt in metrics:
        values = [report.by_type[k].get(key) for k in kinds]
        if any(v is not None for v in values):
            rows.append((label, ["" if v is None else fmt.format(v) for v in values]))
    return _markdown("metric by type", kinds, rows)


def _markdown(corner: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """A Markdown table: a label column headed `corner`, then right-aligned `columns`."""
    lines = [
        f"| {corner} | " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)

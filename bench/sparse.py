"""Chroma's own sparse vectors (its built-in BM25) as this project's keyword index: what
the installed Chroma runs, how good its BM25 ranks, and what the keyword side costs.

    .venv/bin/python bench/sparse.py --cache /work/runs/sparse [--parts probe,quality,scale]
        [--datasets realtimeqa,multihop-rag] [--data DIR] [--scales 1000,10000,100000]
        [--queries 60] [--sample N]

Three parts, each printing Markdown:

- probe: the Search API with a sparse BM25 index (`Schema` + `SparseVectorIndexConfig(
  source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction(), bm25=True)`,
  `collection.search(Search().where(...).rank(Knn(...) | Rrf(...)))`), tried step by step on
  an embedded store (`PersistentClient`) and on a `chroma run` server on loopback
  (`HttpClient`); each step says "works" or gives the exception Chroma raised, word for word.
  Chroma's BM25 function imports `snowballstemmer`, which neither chromadb nor this project
  depends on: `pip install snowballstemmer` (or put it on PYTHONPATH) first.
- quality: the eval sets' dev questions (../shared/eval, read at run time) against their own
  index (built as `assistant eval` builds it, under `--cache`): keyword search alone (top 10
  chunks) and the project's hybrid retrieval with its keyword side swapped, chunk hit@4 and
  MRR@10 (a hit: a chunk of a gold article), answerable questions only. Neither local Chroma
  mode can run a sparse search, so Chroma's BM25 ranking is computed here the way its
  distributed engine scores it: each chunk's vector from `ChromaBm25EmbeddingFunction` (what
  the client sends with each write), the query's from the same function, each query term
  scaled at query time by idf = ln(1 + (n - n_t + 0.5) / (n_t + 0.5)) over the collection
  (chroma-core/chroma, rust/worker/src/execution/operators/idf.rs), score = sum of products.
- scale: a data dir (`--data`, default `<cache>/scale`) grown to each scale as
  bench/query.py grows its own (varied copies of real chunks written through the store),
  each scale measured in a fresh process: the project's keyword index (start from its
  snapshot, search p50/p95, the RSS it adds), a write through the store and how soon the new
  chunk is found by keyword, and Chroma's client-side BM25 encoding per chunk (the part of a
  sparse write that runs in the writer's process whatever the server).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from query import grow, vary  # noqa: E402

from assistant import NewsAssistant, load_settings  # noqa: E402
from assistant.eval import eval_assistant  # noqa: E402
from index import Article, Chunk, Hit, SearchFilter  # noqa: E402
from index.keyword import KeywordHit, KeywordIndex  # noqa: E402
from index.models import SourceFile  # noqa: E402
from index.schema import date_to_int, published_int  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
DATASETS = ("realtimeqa", "multihop-rag")
DEPTH = 10  # chunks ranked per question (MRR@10)


# -- probe: what the installed Chroma runs ---------------------------------------------------


def _error(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:220]}"


def probe(client: Any) -> dict[str, str]:
    """Each step of a hybrid search with Chroma's sparse BM25 index on this client:
    "works (...)" or the exception, word for word."""
    from chromadb import K, Schema, SparseVectorIndexConfig
    from chromadb.base_types import SparseVector
    from chromadb.execution.expression import Knn, Rrf, Search
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    found: dict[str, str] = {}

    def attempt(step: str, action: Callable[[], Any]) -> Any:
        try:
            out = action()
        except Exception as e:
            found[step] = _error(e)
            return None
        found[step] = "works" + (f" ({out})" if isinstance(out, str) else "")
        return out if out is not None else True

    docs = [
        "GEM partners with Acme on solid-state batteries",
        "A heat wave grips southern Europe",
        "Battery prices fall for a third year",
    ]
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.6, 0.8]]
    metas: list[dict[str, Any]] = [
        {"source": "Battery Brief", "published_int": 20220101},
        {"source": "Weather Desk", "published_int": 20220201},
        {"source": "Battery Brief", "published_int": 20220301},
    ]
    ef = ChromaBm25EmbeddingFunction()
    sparse = attempt("ChromaBm25EmbeddingFunction encodes text", lambda: ef(docs))

    def create() -> Any:
        schema = Schema()
        schema.create_index(
            config=SparseVectorIndexConfig(
                source_key=K.DOCUMENT.name, embedding_function=ef, bm25=True
            ),
            key="bm25",
        )
        return client.create_collection("probe-bm25", schema=schema, embedding_function=None)

    collection = attempt("create a collection with a sparse BM25 index", create)
    later = "not tried: no collection with a sparse index"
    recent = (K("source") == "Battery Brief") & (K("published_int") >= 20220201)

    def sparse_search(where: Any = None) -> str:
        search = Search().rank(Knn(query="battery prices", key="bm25", limit=40)).limit(3)
        if where is not None:
            search = search.where(where)
        got = collection.search(search.select(K.DOCUMENT, K.SCORE))
        return f"top ids {got['ids'][0]}"

    def fused() -> str:
        rank = Rrf(
            [
                Knn(query=vectors[0], return_rank=True, limit=40),
                Knn(query="battery prices", key="bm25", return_rank=True, limit=40),
            ],
            k=60,
        )
        got = collection.search(Search().rank(rank).limit(3).select(K.SCORE))
        return f"top ids {got['ids'][0]}"

    steps: list[tuple[str, Callable[[], Any]]] = [
        (
            "upsert documents (sparse vectors from the schema)",
            lambda: collection.upsert(
                ids=["a", "b", "c"], documents=docs, embeddings=vectors, metadatas=metas
            ),
        ),
        ("sparse BM25 Knn search", sparse_search),
        ("sparse search + where (source, published range)", lambda: sparse_search(recent)),
        ("Rrf of dense Knn + sparse Knn", fused),
    ]
    for step, action in steps:
        if collection is None:
            found[step] = later
        else:
            attempt(step, action)

    # Without the sparse index: a plain collection, as index/store.py makes them.
    plain = attempt(
        "plain collection: create",
        lambda: client.create_collection("probe-plain", embedding_function=None),
    )
    if plain is None:
        return found

    def with_sparse_metadata() -> None:
        if not sparse:
            raise RuntimeError("no sparse vectors (the embedding function failed)")
        rows = [
            {**m, "bm25": SparseVector(indices=v.indices, values=v.values)}
            for m, v in zip(metas, sparse, strict=True)
        ]
        plain.upsert(ids=["a", "b", "c"], documents=docs, embeddings=vectors, metadatas=rows)

    attempt("plain collection: sparse vector as a metadata value", with_sparse_metadata)
    attempt(
        "plain collection: upsert without it",
        lambda: plain.upsert(
            ids=["a", "b", "c"], documents=docs, embeddings=vectors, metadatas=metas
        ),
    )
    attempt(
        "plain collection: Search API, dense Knn",
        lambda: f"top ids {plain.search(Search().rank(Knn(query=vectors[0])).limit(2))['ids'][0]}",
    )
    attempt(
        "plain collection: Search API, where only",
        lambda: f"ids {plain.search(Search().where(recent).limit(3))['ids'][0]}",
    )
    return found


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """A `chroma run` server on a free loopback port, stopped afterwards."""
    import chromadb

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    binary = Path(sys.executable).parent / "chroma"
    log = (path.parent / "chroma-server.log").open("wb")
    server = subprocess.Popen(
        [str(binary), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port, settings=_settings()).heartbeat()
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"chroma run did not start (see {log.name})") from None
                time.sleep(0.3)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _settings() -> Any:
    import chromadb

    return chromadb.Settings(anonymized_telemetry=False)


def run_probe() -> None:
    import chromadb

    with tempfile.TemporaryDirectory(prefix="bench-sparse-") as tmp:
        embedded = probe(chromadb.PersistentClient(path=f"{tmp}/embedded", settings=_settings()))
        with chroma_server(Path(tmp) / "server") as port:
            server = probe(chromadb.HttpClient(host="127.0.0.1", port=port, settings=_settings()))
    print(f"\n## Probe: chromadb {chromadb.__version__}\n")
    print("| step | embedded (PersistentClient) | server (`chroma run`, HttpClient) |")
    print("| --- | --- | --- |")
    for step in dict.fromkeys([*embedded, *server]):
        print(f"| {step} | {embedded.get(step, '')} | {server.get(step, '')} |".replace("\n", " "))


# -- quality: Chroma's BM25 ranking against the project's ----------------------------------


class ChromaBm25:
    """Keyword search scored as Chroma's distributed engine scores a `bm25=True` sparse index
    (see the module docstring), with the project's filters; `search` has KeywordIndex's shape
    so that it can take its place in the project's Searcher."""

    def __init__(self, hits: Sequence[Hit], ef: Any, *, with_title: bool) -> None:
        from scipy.sparse import csc_matrix

        texts = [f"{h.title}\n{h.text}" if with_title else h.text for h in hits]
        started = time.perf_counter()
        vectors = ef(texts)
        self.encode_ms = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
        self.ef = ef
        self.columns: dict[int, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for row, vector in enumerate(vectors):
            for dim, value in zip(vector.indices, vector.values, strict=True):
                rows.append(row)
                cols.append(self.columns.setdefault(int(dim), len(self.columns)))
                values.append(float(value))
        self.nonzeros = len(values) / max(len(hits), 1)
        self.matrix = csc_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(hits), len(self.columns)),
        )
        self.df = np.diff(self.matrix.indptr)
        self.hits = list(hits)
        self.published = np.array([published_int(h.published_at) for h in hits], dtype=np.int32)
        self.sources = np.array([h.source for h in hits])
        self.articles = np.array([h.article_id for h in hits])

    warming = ""  # always complete (KeywordIndex's attribute, when it has one)

    def search(self, query: str, *, k: int, where: SearchFilter | None = None) -> list[KeywordHit]:
        """The best `k` chunks for `query`, best first (only chunks sharing a term)."""
        vector = self.ef.embed_query([query])[0]
        pairs = [
            (self.columns[int(d)], float(v))
            for d, v in zip(vector.indices, vector.values, strict=True)
            if int(d) in self.columns
        ]
        if not pairs or k <= 0:
            return []
        cols = [c for c, _ in pairs]
        n = self.matrix.shape[0]
        nt = self.df[cols]
        idf = np.log1p((n - nt + 0.5) / (nt + 0.5))
        weights = np.array([v for _, v in pairs]) * idf
        scores = np.asarray(self.matrix[:, cols] @ weights).ravel()
        scores[~self._mask(where)] = 0.0
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            KeywordHit(
                self.hits[i].chunk_id,
                self.hits[i].article_id,
                int(self.published[i]),
                float(scores[i]),
            )
            for i in top
        ]

    def _mask(self, where: SearchFilter | None) -> np.ndarray:
        mask = np.ones(len(self.hits), dtype=bool)
        if where is None or where.is_empty():
            return mask
        if where.sources:
            mask &= np.isin(self.sources, list(where.sources))
        if where.since:
            mask &= self.published >= date_to_int(where.since)
        if where.until:
            mask &= (self.published <= date_to_int(where.until)) & (self.published > 0)
        if where.article_ids:
            mask &= np.isin(self.articles, list(where.article_ids))
        return mask


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    asked: date | None
    gold: frozenset[str]


def load_questions(path: Path) -> list[Question]:
    """The answerable questions of a dev file."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        if (raw.get("type") or "null") == "null" or not raw.get("gold_article_ids"):
            continue
        asked = raw.get("question_date")
        found.append(
            Question(
                raw["question"],
                date.fromisoformat(asked[:10]) if asked else None,
                frozenset(raw["gold_article_ids"]),
            )
        )
    return found


def scores(ranked: Sequence[Sequence[str]], questions: Sequence[Question]) -> tuple[float, float]:
    """hit@4 and MRR@10 of article ids ranked per question (a hit: a gold article)."""
    hits = [any(a in q.gold for a in r[:4]) for r, q in zip(ranked, questions, strict=True)]
    rr = [
        next((1 / i for i, a in enumerate(r[:DEPTH], start=1) if a in q.gold), 0.0)
        for r, q in zip(ranked, questions, strict=True)
    ]
    return statistics.fmean(hits), statistics.fmean(rr)


def run_quality(cache: Path, datasets: Sequence[str], sample: int) -> None:
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    settings = load_settings(data_dir=cache, llm="extractive")
    for name in datasets:
        started = time.perf_counter()
        assistant, built = eval_assistant(EVAL / name / "articles.jsonl", settings)
        store = assistant.store
        ids = store.chunk_ids()
        hits = [h for i in range(0, len(ids), 1000) for h in store.get_chunks(ids[i : i + 1000])]
        questions = load_questions(EVAL / name / "questions-dev.jsonl")
        if 0 < sample < len(questions):  # a fixed sample: the first after a seeded shuffle
            questions = random.Random(0).sample(questions, sample)
        searcher = assistant.searcher
        project = searcher.keyword
        assert project is not None, "hybrid search is off (ASSISTANT_HYBRID)"
        caught_up(project)
        print(
            f"\n## Quality: {name}, {len(questions)} answerable dev questions, "
            f"{len(hits):,} chunks ({'built' if built else 'reused'} in "
            f"{time.perf_counter() - started:.0f} s)\n"
        )
        print(
            "| keyword side | keyword alone hit@4 | keyword alone MRR@10 | hybrid hit@4 "
            "| hybrid MRR@10 | BM25 encode ms/chunk | terms/chunk |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
        mean_len = float(np.mean([len(v) for v in _token_counts(hits)]))
        sides: list[tuple[str, Any]] = [("project: bm25s KeywordIndex (title + text)", project)]
        for label, ef, with_title in [
            (
                "Chroma BM25, source_key=K.DOCUMENT, defaults",
                ChromaBm25EmbeddingFunction(),
                False,
            ),
            ("Chroma BM25, title + text, defaults", ChromaBm25EmbeddingFunction(), True),
            (
                f"Chroma BM25, title + text, avg_doc_length={mean_len:.0f}",
                ChromaBm25EmbeddingFunction(avg_doc_length=mean_len),
                True,
            ),
        ]:
            sides.append((label, ChromaBm25(hits, ef, with_title=with_title)))
        for label, side in sides:
            alone = [[h.article_id for h in side.search(q.text, k=DEPTH)] for q in questions]
            searcher.keyword = side
            fused = [
                [h.article_id for h in searcher.retrieve(q.text, k=DEPTH, today=q.asked).hits]
                for q in questions
            ]
            searcher.keyword = project
            a4, amrr = scores(alone, questions)
            h4, hmrr = scores(fused, questions)
            cost = (
                f"{side.encode_ms:.2f} | {side.nonzeros:.0f}"
                if isinstance(side, ChromaBm25)
                else " | "
            )
            print(
                f"| {label} | {a4:.3f} | {amrr:.3f} | {h4:.3f} | {hmrr:.3f} | {cost} |", flush=True
            )
        print(f"\n(mean chunk length in Chroma BM25 tokens, title + text: {mean_len:.1f})")


def _token_counts(hits: Sequence[Hit]) -> Iterator[list[str]]:
    """Chroma's BM25 tokens of each chunk's title and text."""
    from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import (
        DEFAULT_CHROMA_BM25_STOPWORDS,
        Bm25Tokenizer,
        get_english_stemmer,
    )

    tokenizer = Bm25Tokenizer(get_english_stemmer(), DEFAULT_CHROMA_BM25_STOPWORDS, 40)
    for h in hits:
        yield tokenizer.tokenize(f"{h.title}\n{h.text}")


# -- scale: the keyword side at 1k, 10k, 100k chunks ----------------------------------------


def caught_up(keyword: KeywordIndex) -> KeywordIndex:
    """`keyword` synced with its store, a background catch-up (where the index has one)
    waited for."""
    keyword.sync()
    wait = getattr(keyword, "wait", None)
    if wait is not None:
        wait()
    return keyword


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[round(0.95 * (len(ordered) - 1))]


def write_fresh(
    assistant: NewsAssistant, articles: int, tag: str
) -> tuple[list[str], int, float, str]:
    """Write `articles` varied copies of base articles (one store write); returns their ids,
    the chunks written, the seconds it took and a made-up word only the first new chunk holds."""
    store = assistant.store
    rng = random.Random(tag)
    records = [r for r in store.records().values() if "#" not in r.id][:articles]
    base = store._chunks.get(
        ids=[cid for r in records for cid in r.chunk_ids], include=["embeddings", "metadatas"]
    )
    by_id = dict(
        zip(base["ids"], zip(base["embeddings"], base["metadatas"], strict=True), strict=True)
    )
    marker = "zq" + "".join(rng.choice("bcdfghklmnprstvz") for _ in range(10))
    items, vectors = [], []
    for n, record in enumerate(records):
        _, body = store.get_article(record.id)
        body = vary(body, rng)
        if n == 0:
            body = f"{marker} {body}"
        article = Article(
            id=f"{record.id}#{tag}",
            title=f"{record.title} ({tag})",
            body=body,
            source=record.source,
            published_at=date.fromisoformat(record.published_at) if record.published_at else None,
            url=f"{record.url}#{tag}",
            path="bench",
        )
        shift = len(marker) + 1 if n == 0 else 0
        chunks = []
        for i, chunk_id in enumerate(record.chunk_ids):
            vector, meta = by_id[chunk_id]
            start = int(meta["start"]) + (shift if i else 0)
            end = int(meta["end"]) + shift
            chunks.append(
                Chunk(article_id=article.id, index=i, text=body[start:end], start=start, end=end)
            )
            vectors.append(np.asarray(vector, dtype=np.float32))
        items.append((article, chunks, SourceFile(tag, "bench", 1, 0)))
    started = time.perf_counter()
    store.write(items, np.stack(vectors), replaced={})
    took = time.perf_counter() - started
    return [a.id for a, _, _ in items], len(vectors), took, marker


def measure_scale(data: Path, questions: Sequence[Question], queries: int) -> str:
    """One row of the scale table, measured in this (fresh) process."""
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    assistant = NewsAssistant(load_settings(data_dir=data, llm="extractive"))
    store = assistant.store
    chunks = store.counts()[1]
    before = current_rss_mb()
    started = time.perf_counter()
    keyword = caught_up(KeywordIndex(store, cache_dir=data / "keyword"))
    load_s = time.perf_counter() - started
    added_mb = current_rss_mb() - before
    asked = [q.text for q in questions[:queries]]
    for text in asked:  # warm-up, not timed
        keyword.search(text, k=40)
    times = []
    for text in asked:
        t = time.perf_counter()
        keyword.search(text, k=40)
        times.append((time.perf_counter() - t) * 1000)
    p50, p95 = percentiles(times)

    tag = f"fresh{chunks}-{int(time.time())}"
    fresh_ids, written, write_s, marker = write_fresh(assistant, 50, tag)
    t = time.perf_counter()
    found = keyword.search(marker, k=1)
    first_ms = (time.perf_counter() - t) * 1000
    fresh = bool(found) and found[0].article_id.endswith(f"#{tag}")
    store.delete(fresh_ids)  # the next scale grows from the base articles only

    sample = [h.text for h in store.get_chunks(store.chunk_ids()[:2000])]
    ef = ChromaBm25EmbeddingFunction()
    ef(sample[:10])  # loads the stemmer
    t = time.perf_counter()
    ef(sample)
    encode_ms = (time.perf_counter() - t) * 1000 / len(sample)
    return (
        f"| {chunks:,} | {load_s:.2f} | {p50:.1f} | {p95:.1f} | {added_mb:,.0f} | "
        f"{write_s * 1000 / written:.2f} | {encode_ms:.2f} | "
        f"{'yes' if fresh else 'NO'} ({first_ms:.0f} ms) | {peak_rss_mb():,.0f} |"
    )


def run_scale(data: Path, scales: Sequence[int], queries: int, questions_path: Path) -> None:
    assistant = NewsAssistant(load_settings(data_dir=data, llm="extractive"))
    questions = load_questions(questions_path)
    if not assistant.store.counts()[1]:
        rows = {
            json.loads(line)["id"]: line
            for line in (EVAL / "realtimeqa" / "articles.jsonl").read_text().splitlines()
            if line.strip()
        }
        gold = [a for q in questions[:queries] for a in sorted(q.gold) if a in rows]
        taken, estimate = [], 0
        for article_id in dict.fromkeys([*gold, *rows]):
            taken.append(rows[article_id])
            estimate += max(1, len(json.loads(rows[article_id])["body"].split()) // 130)
            if estimate >= min(scales) and len(taken) >= len(set(gold)):
                break
        subset = data / "base.jsonl"
        subset.write_text("\n".join(taken) + "\n")
        started = time.perf_counter()
        report = assistant.ingest([subset])
        print(
            f"base: {report.added} articles, {report.chunks} chunks in {time.perf_counter() - started:.0f} s"
        )
    print(
        f"\n## Scale: the project's keyword index; {min(queries, len(questions))} questions, "
        "each row in a fresh process\n"
    )
    print(
        "| chunks | keyword index start s | keyword search p50 ms | p95 ms | RSS it adds MB "
        "| store write ms/chunk | Chroma BM25 encode ms/chunk | new chunk found at once "
        "| peak RSS MB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |", flush=True)
    copy_no = [1000 + assistant.store.counts()[1]]  # copy names not used before in this dir
    for scale in scales:
        started = time.perf_counter()
        grow(assistant, scale, copy_no)
        caught_up(KeywordIndex(assistant.store, cache_dir=data / "keyword"))  # saves the snapshot
        grow_s = time.perf_counter() - started
        command = [
            sys.executable,
            __file__,
            "--measure-scale",
            "--data",
            str(data),
            "--queries",
            str(queries),
        ]
        subprocess.run(command, check=True)
        print(
            f"<!-- grew to {assistant.store.counts()[1]:,} chunks in {grow_s:.0f} s -->", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench-sparse",
        help="where the eval indexes and the grown data dir are kept (outside the repo)",
    )
    parser.add_argument("--parts", default="probe,quality,scale")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--data", type=Path, help="data dir to grow (default <cache>/scale)")
    parser.add_argument("--scales", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=60, help="questions timed per scale")
    parser.add_argument("--sample", type=int, default=0, help="quality: questions per set (0: all)")
    parser.add_argument("--measure-scale", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.data or args.cache / "scale"
    questions = EVAL / "realtimeqa" / "questions-dev.jsonl"
    if args.measure_scale:
        print(measure_scale(data, load_questions(questions), args.queries), flush=True)
        return
    parts = set(args.parts.split(","))
    if "probe" in parts:
        run_probe()
    if "quality" in parts:
        run_quality(args.cache, [d for d in args.datasets.split(",") if d], args.sample)
    if "scale" in parts:
        data.mkdir(parents=True, exist_ok=True)
        run_scale(data, sorted(int(s) for s in args.scales.split(",")), args.queries, questions)


if __name__ == "__main__":
    main()

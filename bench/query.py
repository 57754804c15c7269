"""Query latency and memory at about 1k, 10k and 100k chunks, alone and with 8 concurrent
askers.

    .venv/bin/python bench/query.py [--scales 1000,10000,100000] [--queries 60] [--askers 8]
        [--stale] [--no-snapshot]

The index starts from real articles (../shared/eval/realtimeqa), embedded once. Embedding
100k chunks on 2 cores would take an hour and the encoder is not what this measures, so the
index grows by writing copies of the real chunks through the store: each copy's text has
some words replaced by new ones of the same length (so BM25 and de-duplication see new
documents and the offsets stay valid) and its vector is slightly perturbed. Questions are
the eval set's dev questions, asked as of their question date. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant import NewsAssistant, load_settings  # noqa: E402
from index import Article, Chunk  # noqa: E402
from index.models import SourceFile  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "realtimeqa"
_WORD = re.compile(r"\b[a-z]{5,}\b")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vary(text: str, rng: random.Random) -> str:
    """Replace about a fifth of the longer words by made-up words of the same length."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() > 0.2:
            return word
        return "".join(rng.choice("bcdfghklmnprstvz") for _ in word)

    return _WORD.sub(swap, text)


def grow(assistant: NewsAssistant, target: int, copy_no: list[int]) -> None:
    """Write copies of the base articles until the store holds about `target` chunks."""
    store = assistant.store
    records = {r.id: r for r in store.records().values() if "#copy" not in r.id}
    base_ids = [cid for r in records.values() for cid in r.chunk_ids]
    base = store._chunks.get(ids=base_ids, include=["embeddings", "metadatas"])
    by_id = dict(
        zip(base["ids"], zip(base["embeddings"], base["metadatas"], strict=True), strict=True)
    )
    noise = np.random.default_rng(42)
    rng = random.Random(42)
    while store.counts()[1] < target:
        copy_no[0] += 1
        c = copy_no[0]
        items = []
        vectors = []
        for record in records.values():
            _, body = store.get_article(record.id)
            new_body = vary(body, rng)
            article = Article(
                id=f"{record.id}#copy{c}",
                title=f"{record.title} ({c})",
                body=new_body,
                source=record.source,
                published_at=date.fromisoformat(record.published_at)
                if record.published_at
                else None,
                url=f"{record.url}#copy{c}",
                path="bench",
            )
            chunks = []
            for i, chunk_id in enumerate(record.chunk_ids):
                vector, meta = by_id[chunk_id]
                start, end = int(meta["start"]), int(meta["end"])
                chunks.append(
                    Chunk(
                        article_id=article.id,
                        index=i,
                        text=new_body[start:end],
                        start=start,
                        end=end,
                    )
                )
                noisy = np.asarray(vector, dtype=np.float32) + noise.normal(
                    0, 0.02, len(vector)
                ).astype(np.float32)
                vectors.append(noisy / np.linalg.norm(noisy))
            items.append((article, chunks, SourceFile(f"copy{c}", "bench", 1, 0)))
            if len(vectors) >= 2000:
                store.write(items, np.stack(vectors), replaced={})
                items, vectors = [], []
        if items:
            store.write(items, np.stack(vectors), replaced={})


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def process_age_s() -> float:
    """Seconds since this process started (Linux; NaN elsewhere): its imports included."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def measure(data: Path, questions: list[dict], askers: int) -> str:
    """One table row, measured in this (fresh) process: the first question loads the
    embedding model and the keyword index (from its snapshot), one untimed pass warms the
    caches, then the timed passes. Cold start is counted twice: from the store open (the
    first question) and from the process start (imports and store open included)."""
    assistant = NewsAssistant(load_settings(data_dir=data, llm="extractive"))
    count = assistant.store.counts()[1]
    started = time.perf_counter()
    first = questions[0]
    assistant.searcher.retrieve(
        first["question"], k=5, where=None, today=date.fromisoformat(first["question_date"])
    )
    load_s = time.perf_counter() - started
    cold_s = process_age_s()
    keyword = assistant.searcher.keyword
    warming = keyword.warming if keyword is not None else ""
    if keyword is not None:  # a catch-up in the background would slow the timed passes
        keyword.wait()
    for q in questions:  # warm-up pass, not timed
        assistant.ask(q["question"], today=date.fromisoformat(q["question_date"]))

    retrieval, answered, refused = [], [], []
    for q in questions:
        today = date.fromisoformat(q["question_date"])
        t = time.perf_counter()
        assistant.searcher.retrieve(q["question"], k=5, where=None, today=today)
        retrieval.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        answer = assistant.ask(q["question"], today=today)
        (refused if answer.refused else answered).append((time.perf_counter() - t) * 1000)

    def timed(q: dict) -> float:
        t = time.perf_counter()
        assistant.ask(q["question"], today=date.fromisoformat(q["question_date"]))
        return (time.perf_counter() - t) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(askers) as pool:
        concurrent = list(pool.map(timed, questions))
    throughput = len(questions) / (time.perf_counter() - started)
    r50, r95 = percentiles(retrieval)
    a50, a95 = percentiles(answered)
    c50, c95 = percentiles(concurrent)
    if warming:
        print(f"<!-- first question answered while the {warming} -->", flush=True)
    return (
        f"| {count:,} | {load_s:.1f} | {cold_s:.1f} | {r50:.0f} | {r95:.0f} | {a50:.0f} | {a95:.0f} "
        f"({len(answered)} answered) | {c50:.0f} | {c95:.0f} | {throughput:.1f} | "
        f"{peak_rss_mb():,.0f} | {disk_kb_per_chunk(data, count):.1f} |"
    )


def disk_kb_per_chunk(data: Path, chunks: int) -> float:
    """The data dir's size on disk (the store and the keyword snapshot) per chunk, in KB."""
    size = sum(p.stat().st_blocks * 512 for p in data.rglob("*") if p.is_file())
    return size / 1000 / max(chunks, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=EVAL / "articles.jsonl")
    parser.add_argument("--questions", type=Path, default=EVAL / "questions-dev.jsonl")
    parser.add_argument("--scales", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--askers", type=int, default=8)
    parser.add_argument("--data", type=Path, help="data dir to use (default: a temp dir)")
    parser.add_argument(
        "--stale",
        action="store_true",
        help="remove one article after the keyword snapshot is saved, so that each row's "
        "process starts from a snapshot the store moved past",
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="delete the keyword snapshot before each row's process starts (the keyword "
        "index is then built in the background, from the store)",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-query-"))
    questions = [
        json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()
    ]
    questions = questions[: args.queries]
    if args.measure:
        print(measure(data, questions, args.askers), flush=True)
        return

    # The base: the articles these questions were written from (so most can be answered),
    # then others until the smallest scale is reached; embedded for real.
    assistant = NewsAssistant(load_settings(data_dir=data, llm="extractive"))
    rows = {
        json.loads(line)["id"]: line
        for line in args.articles.read_text().splitlines()
        if line.strip()
    }
    gold = [a for q in questions for a in q.get("gold_article_ids", []) if a in rows]
    order = list(dict.fromkeys([*gold, *rows]))
    if not assistant.store.counts()[1]:
        taken, chunks = [], 0
        for article_id in order:
            taken.append(rows[article_id])
            chunks += max(1, len(json.loads(rows[article_id])["body"].split()) // 130)
            if chunks >= scales[0] and len(taken) >= len(set(gold)):
                break
        subset = data / "base.jsonl"
        subset.write_text("\n".join(taken) + "\n")
        started = time.perf_counter()
        report = assistant.ingest([subset])
        print(
            f"base: {report.added} articles, {report.chunks} chunks embedded in {time.perf_counter() - started:.0f} s"
        )

    print(
        f"\n{len(questions)} questions; each row measured in a fresh process after one warm-up pass\n"
    )
    print(
        "| chunks | first question s | process start to first question s | retrieval p50 ms | retrieval p95 ms | answer p50 ms | answer p95 ms | 8 askers p50 ms | 8 askers p95 ms | 8 askers q/s | peak RSS MB | disk KB/chunk |"
    )
    print(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        flush=True,
    )
    # A cached index (--data) grows on from its last copy.
    numbers = (re.search(r"#copy(\d+)$", aid) for aid in assistant.store.records())
    copy_no = [max((int(m.group(1)) for m in numbers if m), default=0)]
    for scale in scales:
        started = time.perf_counter()
        grow(assistant, scale, copy_no)
        assistant.searcher.retrieve("warm the keyword snapshot", k=5)  # saves the snapshot
        if assistant.searcher.keyword is not None:
            assistant.searcher.keyword.wait()  # written before a new process reads it
        if args.stale:  # another process changed the store since the snapshot was written
            copies = sorted(aid for aid in assistant.store.records() if "#copy" in aid)
            assistant.store.delete(copies[-1:])
        keyword = assistant.searcher.keyword
        if args.no_snapshot and keyword is not None and keyword.cache_path is not None:
            keyword.cache_path.unlink(missing_ok=True)
        grow_s = time.perf_counter() - started
        command = [
            sys.executable,
            __file__,
            "--measure",
            "--data",
            str(data),
            "--questions",
            str(args.questions),
            "--queries",
            str(args.queries),
            "--askers",
            str(args.askers),
        ]
        subprocess.run(command, check=True)
        print(
            f"<!-- grew to {assistant.store.counts()[1]:,} chunks in {grow_s:.0f} s -->", flush=True
        )


if __name__ == "__main__":
    main()

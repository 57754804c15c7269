"""The keyword index at scale: build time, peak memory, snapshot size and load time, and
search latency, for the index before its flat rewrite (`git show 7bae0e4:index/keyword.py`;
any revision with --old-rev) and the working tree's, over N synthetic chunks.

The chunks come from a minimal store-like object (the calls the index makes: signature,
counts, chunk_ids, get_chunks) that generates each chunk's text on demand from its number:
60-120 made-up words drawn with a Zipf distribution from a 150,000-word list, so that no
copy of the corpus is ever held. Each measurement runs in a fresh process (peak RSS is that
process's, from getrusage):

- build: no snapshot on disk; the first search is timed (the cold start a lost snapshot
  costs), then the full build (the new index builds in a background thread), the snapshot
  written, and 100 searches;
- load: a new process with the snapshot on disk: the first search (the cold start) and 100
  searches.

Run it (keep other work off the machine; 1M chunks takes a while, and the old index needs
about 11 GB there):

    .venv/bin/python bench/keyword.py --chunks 100000
    .venv/bin/python bench/keyword.py --chunks 1000000 --impl new
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VOCABULARY = 150_000
QUERIES = 100
K = 40  # the searcher's candidate pool


class SyntheticStore:
    """What the keyword index asks of a store, over `count` generated chunks."""

    def __init__(self, count: int, *, seed: int = 1) -> None:
        self.count = count
        self.location = f"synthetic://{count}/{seed}"
        self.collection_name = "bench"
        rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = rng.integers(4, 11, VOCABULARY)
        self.words = ["".join(rng.choice(letters, n)) for n in lengths]
        weights = 1.0 / np.arange(1, VOCABULARY + 1) ** 1.07
        self.cdf = np.cumsum(weights / weights.sum())
        self.seed = seed

    def signature(self) -> str:
        return "generation-1"

    def counts(self) -> tuple[int, int]:
        return self.count // 8, self.count

    def chunk_ids(self) -> list[str]:
        return [self._id(i) for i in range(self.count)]

    @staticmethod
    def _id(i: int) -> str:
        return f"{i // 8:016x}-{'f' * 12}-{i % 8:04d}"

    def get_chunks(self, ids: list[str]) -> list[Any]:
        """The chunks, their words drawn for the whole call at once (the index asks for
        the same batches whichever implementation runs, so both see the same text)."""
        numbers = [int(cid[:16], 16) * 8 + int(cid[-4:]) for cid in ids]
        rng = np.random.default_rng((self.seed, numbers[0] if numbers else 0, len(ids)))
        lengths = rng.integers(60, 121, len(ids))
        picks = np.searchsorted(self.cdf, rng.random(int(lengths.sum())))
        picks_list = np.minimum(picks, VOCABULARY - 1).tolist()
        ends = np.cumsum(lengths).tolist()
        word = self.words.__getitem__
        out = []
        for i, cid, start, end in zip(numbers, ids, [0, *ends[:-1]], ends, strict=True):
            out.append(
                SimpleNamespace(
                    chunk_id=cid,
                    article_id=f"article-{i // 8}",
                    title=f"Report {i // 8}",
                    text=" ".join(map(word, picks_list[start:end])),
                    source=("Daily Wire", "Energy Post", "Metro")[i % 3],
                    published_at=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                )
            )
        return out

    def queries(self) -> list[str]:
        rng = np.random.default_rng(self.seed + 99)
        ranks = rng.integers(30, 30_000, size=(QUERIES, 4))
        return [" ".join(self.words[r] for r in row[: 2 + i % 3]) for i, row in enumerate(ranks)]


def keyword_class(impl: str, rev: str) -> Any:
    if impl == "new":
        from index.keyword import KeywordIndex

        return KeywordIndex
    source = subprocess.run(
        ["git", "show", f"{rev}:index/keyword.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="keyword-old-"))
    path = folder / "_keyword_old.py"
    path.write_text(source, encoding="utf-8")
    import index

    spec = importlib.util.spec_from_file_location("index._keyword_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = index.__name__
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.KeywordIndex


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    """One measurement in this process; prints one JSON line."""
    store = SyntheticStore(args.chunks)
    queries = store.queries()
    keyword_index = keyword_class(args.impl, args.old_rev)
    base = peak_mb()
    index = keyword_index(store, cache_dir=args.cache)
    out: dict[str, Any] = {"impl": args.impl, "phase": args.phase, "chunks": args.chunks}
    start = time.perf_counter()
    index.search(queries[0], k=K)
    out["first_search_s"] = time.perf_counter() - start
    if hasattr(index, "warming"):
        out["warming_at_first_search"] = index.warming
        index.wait()
    out["ready_s"] = time.perf_counter() - start
    if hasattr(index, "wait"):
        index.wait()
    snapshots = list(Path(args.cache).glob("*.npz"))
    out["snapshot_mb"] = sum(p.stat().st_size for p in snapshots) / 2**20
    times = []
    for query in queries:
        t = time.perf_counter()
        index.search(query, k=K)
        times.append(time.perf_counter() - t)
    out["search_p50_ms"] = float(np.percentile(times, 50) * 1000)
    out["search_p95_ms"] = float(np.percentile(times, 95) * 1000)
    out["hits_of_last_query"] = len(index.search(queries[-1], k=K))
    out["peak_rss_mb"] = peak_mb()
    out["rss_before_index_mb"] = base
    print(json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[100_000])
    parser.add_argument("--impl", choices=["old", "new", "both"], default="both")
    parser.add_argument("--old-rev", default="7bae0e4", help="revision of the old index")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["build", "load"], default="build")
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.chunks = args.chunks[0]
        worker(args)
        return
    impls = ["old", "new"] if args.impl == "both" else [args.impl]
    for chunks in args.chunks:
        for impl in impls:
            cache = Path(tempfile.mkdtemp(prefix=f"keyword-{impl}-{chunks}-"))
            try:
                for phase in ("build", "load"):
                    command = [
                        sys.executable,
                        __file__,
                        "--worker",
                        f"--chunks={chunks}",
                        f"--impl={impl}",
                        f"--old-rev={args.old_rev}",
                        f"--phase={phase}",
                        f"--cache={cache}",
                    ]
                    result = subprocess.run(
                        command, capture_output=True, text=True, env={**os.environ}
                    )
                    if result.returncode:
                        print(f"{impl} {phase} {chunks}: failed\n{result.stderr[-2000:]}")
                        break
                    row = json.loads(result.stdout.strip().splitlines()[-1])
                    print(_line(row), flush=True)
            finally:
                shutil.rmtree(cache, ignore_errors=True)


def _line(row: dict[str, Any]) -> str:
    warming = row.get("warming_at_first_search") or ""
    return (
        f"{row['impl']:>3} {row['phase']:<5} {row['chunks']:>9,} chunks: "
        f"first search {row['first_search_s']:7.2f} s, ready {row['ready_s']:7.1f} s, "
        f"peak RSS {row['peak_rss_mb']:7.0f} MB (before the index {row['rss_before_index_mb']:.0f}), "
        f"snapshot {row['snapshot_mb']:6.0f} MB, search p50 {row['search_p50_ms']:6.1f} ms "
        f"p95 {row['search_p95_ms']:6.1f} ms, hits {row['hits_of_last_query']}"
        + (f" [{warming}]" if warming else "")
    )


if __name__ == "__main__":
    main()

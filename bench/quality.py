"""Answer quality on an eval set's dev questions (RealTime QA by default, any folder in its
format with --data): this pipeline against the stock LangChain
recipe (RecursiveCharacterTextSplitter 1000/200, all-MiniLM-L6-v2, Chroma, plain similarity
top-k), on the same articles, in the same run, with the same answering backend.

    .venv/bin/python bench/quality.py [--data ../shared/eval/realtimeqa] [--ablations]
    OPENAI_BASE_URL=http://127.0.0.1:8089/v1 ASSISTANT_LLM_MODEL=local \
        .venv/bin/python bench/quality.py --llm [--sample 60] [--cache DIR]

Both indexes are cached under ASSISTANT_DATA_DIR (data/eval/HASH and data/bench/stock-HASH)
and reused while the articles file is unchanged; building them takes a few minutes each on
two cores. Prints one Markdown table.

`--llm` answers with the OpenAI-compatible server that OPENAI_BASE_URL (and
ASSISTANT_LLM_MODEL) name, side by side with the offline answerer on the same questions:
a fixed sample (`--sample N`: the first N of the questions shuffled with seed 0; a local
model takes 20-40 s a question on two cores). `--cache DIR` puts a recording proxy in
front of the server (bench/llm_cache.py), so a re-run asks the model only for prompts it
has not seen. `--out PREFIX` writes each column's per-question rows as PREFIX-NAME.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pydantic import SecretStr  # noqa: E402

from assistant import load_settings  # noqa: E402
from assistant.eval import (  # noqa: E402
    EvalQuestion,
    EvalReport,
    eval_assistant,
    format_table,
    judge,
    load_questions,
    run_eval,
    summarise,
)


def stock_recipe(articles: Path, questions: list[EvalQuestion], data_dir: Path) -> EvalReport:
    """The stock recipe's retrieval, answered and checked by the same offline backend."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.backends import GenerationRequest
    from assistant.backends.extractive import ExtractiveBackend
    from assistant.citations import check_citations
    from assistant.models import Answer
    from assistant.support import SupportScorer
    from index import Embedder, Hit

    embedder = Embedder()
    digest = hashlib.sha256(articles.read_bytes()).hexdigest()[:16]
    folder = data_dir / "bench" / f"stock-{digest}"
    store = Chroma(
        collection_name="stock", embedding_function=embedder, persist_directory=str(folder)
    )
    if not (folder / "complete").exists():
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        )
        rows = [json.loads(line) for line in articles.read_text().splitlines() if line.strip()]
        docs = splitter.create_documents(
            [r["body"] for r in rows],
            metadatas=[
                {
                    "article_id": r["id"],
                    "title": r.get("title", ""),
                    "source": r.get("source", ""),
                    "published_at": r.get("published_at", ""),
                    "url": r.get("url", ""),
                }
                for r in rows
            ],
        )
        print(f"stock recipe: embedding {len(docs)} chunks ...", file=sys.stderr)
        for start in range(0, len(docs), 2000):
            store.add_documents(docs[start : start + 2000])
        (folder / "complete").write_text(str(len(docs)))

    backend = ExtractiveBackend(embedder)
    scorer = SupportScorer(embedder)
    out = []
    for q in questions:
        started = time.perf_counter()
        found = store.similarity_search(q.question, k=40)
        hits = [
            Hit(
                chunk_id=f"{d.metadata['article_id']}:{d.metadata['start_index']}",
                article_id=d.metadata["article_id"],
                title=d.metadata["title"],
                source=d.metadata["source"],
                published_at=d.metadata["published_at"],
                url=d.metadata["url"],
                text=d.page_content,
                start=int(d.metadata["start_index"]),
                end=int(d.metadata["start_index"]) + len(d.page_content),
                score=0.0,
            )
            for d in found
        ]
        top = hits[:4]  # the recipe's default k
        draft = "".join(backend.generate(GenerationRequest(question=q.question, hits=top)))
        checked = check_citations(draft, top, scorer)
        answer = Answer(
            question=q.question,
            answer=checked.text,
            refused=checked.refused,
            backend=backend.name,
            citations=checked.citations,
            retrieved_article_ids=list(dict.fromkeys(h.article_id for h in hits)),
        )
        out.append(judge(q, answer, (time.perf_counter() - started) * 1000))
    return summarise(out, questions, f"{backend.name} (same backend)")


def main() -> None:
    """Run both pipelines and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/eval/realtimeqa")
    parser.add_argument("--questions", default="questions-dev.jsonl")
    parser.add_argument(
        "--ablations", action="store_true", help="also run dense-only, BM25-only, no dates"
    )
    parser.add_argument(
        "--llm", action="store_true", help="also answer with the LLM at OPENAI_BASE_URL"
    )
    parser.add_argument("--sample", type=int, help="a fixed sample of N questions (seed 0)")
    parser.add_argument("--cache", type=Path, help="with --llm: record/replay replies here")
    parser.add_argument("--out", help="write per-question rows as OUT-NAME.jsonl")
    parser.add_argument(
        "--no-stock", action="store_true", help="skip the stock recipe (default with --llm)"
    )
    args = parser.parse_args()
    articles = args.data / "articles.jsonl"
    questions = load_questions(args.data / args.questions)
    if args.sample:
        shuffled = list(questions)
        random.Random(0).shuffle(shuffled)
        questions = shuffled[: args.sample]
    settings = load_settings(llm="extractive")

    reports: dict[str, EvalReport] = {}
    variants: dict[str, dict[str, Any]] = {
        "offline extractive" if args.llm else "this pipeline": {}
    }
    if args.ablations:
        variants |= {
            "dense only": {"hybrid": False, "date_weight": 0.0},
            "BM25 only": {"dense_weight": 0.0, "date_weight": 0.0},
            "hybrid, no dates": {"date_weight": 0.0},
        }
    proxy = None
    if args.llm:
        llm = load_settings(llm="openai")
        base_url = llm.openai_base_url or "https://api.openai.com/v1"
        if args.cache:
            from llm_cache import CachingProxy

            proxy = CachingProxy(base_url, args.cache).__enter__()
            base_url = proxy.base_url
        overrides = {
            "llm": "openai",
            "openai_base_url": base_url,
            "openai_api_key": llm.openai_api_key or SecretStr("not-needed"),
            "llm_model": llm.llm_model,
            "llm_timeout": max(llm.llm_timeout, 300.0),
        }
        variants[f"LLM {llm.llm_model}"] = overrides
    for name, overrides in variants.items():
        assistant, built = eval_assistant(articles, settings.model_copy(update=overrides))
        if built:
            print(f"built the eval index in {assistant.settings.data_dir}", file=sys.stderr)
        assistant.searcher.retrieve("warm up", k=1)
        started = time.perf_counter()
        done = 0

        def progress(row: Any, name: str = name, started: float = started) -> None:
            nonlocal done
            done += 1
            print(
                f"\r{name}: {done}/{len(questions)} ({time.perf_counter() - started:.0f} s)",
                end="",
                file=sys.stderr,
                flush=True,
            )

        reports[name], rows = run_eval(assistant, questions, on_row=progress)
        print(f"\n{name}: done", file=sys.stderr)
        if args.out:
            slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
            with open(f"{args.out}-{slug}.jsonl", "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
    if proxy is not None:
        print(f"LLM cache: {proxy.hits} replayed, {proxy.misses} asked", file=sys.stderr)
        proxy.__exit__(None, None, None)
    if not (args.llm or args.no_stock):
        reports["stock LangChain recipe"] = stock_recipe(articles, questions, settings.data_dir)
    print(f"{args.data.name} {args.questions}: {len(questions)} questions\n")
    print(format_table(reports))


if __name__ == "__main__":
    main()

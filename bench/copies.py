"""Copy detection (stories): how well syndicated copies are grouped, and what grouping costs.

    .venv/bin/python bench/copies.py [--articles ../shared/eval/realtimeqa/articles.jsonl]
                                     [--copied 100] [--scale 10000,100000] [--seed 1]

Quality: for `--copied` of the articles (read from the file at run time, never copied into
the repository), one to three syndicated copies each are made the way another outlet runs
an agency report: a new headline, the intro sentence rewritten, the byline and dateline
changed, a paragraph dropped or an outlet's paragraph added (or both), another outlet and a
date up to four days later. All originals and copies go through the store's real write
path (`ChromaStore.write`, which groups them), in a shuffled order; the grouping is scored
by pairs: precision and recall of "same story", and the false-merge rate over the original
articles (an original grouped with another original: two distinct reports as one story).

Cost: the grouping step itself (`index.stories.place`) is timed on batches of 100 new
articles written into a store that already holds `--scale` articles (synthetic varied
articles: sentences drawn from the corpus, so none is a copy of another), and set against
the ingest rate measured in the same run (a real ingest, with embedding, of the first 100
articles). With `--inside DATA_DIR`, instead: grouping's share of a real ingest of
`--ingest` articles into an index already built at scale (bench/query.py's cached one, say),
timed where it runs; the articles are removed again after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np  # noqa: E402

from index import Article, ChromaStore  # noqa: E402
from index import stories as story_index  # noqa: E402
from index.models import SourceFile  # noqa: E402

DEFAULT_ARTICLES = ROOT.parent / "shared" / "eval" / "realtimeqa" / "articles.jsonl"

OUTLETS = [
    "Associated Press",
    "Reuters",
    "Yahoo News",
    "The Seattle Times",
    "ABC News",
    "Boston Globe",
    "Chicago Tribune",
    "NBC Chicago",
    "Houston Chronicle",
    "Denver Post",
    "SFGate",
    "The Independent",
]
CITIES = ["WASHINGTON", "NEW YORK", "LONDON", "CHICAGO", "LOS ANGELES", "PARIS", "ATLANTA"]
NAMES = ["Maria Lopez", "James Carter", "Aisha Khan", "Tom Becker", "Yuki Tanaka", "Ben Ortiz"]
ADDED = [
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
    "This story has been updated with additional reporting from {outlet} staff.",
    "{outlet} reached out to the company for comment but did not hear back by publication time.",
    "Copyright {year} {outlet}. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "Read more: the latest coverage of this story and related developments at {outlet}.",
]
HEADLINE_FORMS = [
    "{title}: what we know",
    "Report: {title}",
    "{title}, officials say",
    "What to know as {lower}",
    "{title} (update)",
    "Explainer: {title}",
]
INTRO_FORMS = [
    "{outlet} has learned that {rest}",
    "According to reports on {weekday}, {rest}",
    "In a development first reported this week, {rest}",
    "{rest} officials confirmed on {weekday}.",
]
SWAPS = {
    "said": "stated",
    "says": "states",
    "announced": "unveiled",
    "big": "large",
    "people": "residents",
    "new": "fresh",
    "more": "additional",
    "the": "this",
    "after": "following",
    "also": "additionally",
    "but": "however",
    "is": "remains",
    "will": "is set to",
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
DATELINE = re.compile(r"^\s*(?:[A-Z][A-Za-z .,]*\s*(?:\([A-Za-z .]+\))?\s*[—–-]{1,2}\s*)")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rewrite_intro(paragraph: str, rnd: random.Random, outlet: str) -> str:
    """The first sentence said another way: an attribution or a lead-in, and words swapped."""
    sentences = SENTENCE.split(paragraph.strip(), maxsplit=1)
    first = sentences[0]
    words = first.rstrip(".").split()
    words = [SWAPS.get(w.lower(), w) if rnd.random() < 0.6 else w for w in words]
    if len(words) > 8:  # a clause moved: the first words go to the end
        cut = rnd.randint(3, min(6, len(words) - 3))
        words = [*words[cut:], ",", *words[:cut]]
    rest = " ".join(words)
    rest = rest[:1].lower() + rest[1:]
    form = rnd.choice(INTRO_FORMS)
    intro = form.format(outlet=outlet, rest=rest, weekday=rnd.choice(WEEKDAYS))
    intro = intro[:1].upper() + intro[1:]
    if not intro.endswith("."):
        intro += "."
    return " ".join([intro, *sentences[1:]])


def make_copy(row: dict[str, Any], n: int, rnd: random.Random) -> dict[str, Any]:
    """One syndicated copy of an article, as another outlet would run it."""
    outlet = rnd.choice([o for o in OUTLETS if o != row.get("source")])
    paragraphs = [p for p in row["body"].split("\n\n") if p.strip()]
    # The old dateline or byline line goes; the outlet's own comes first.
    if paragraphs and len(paragraphs[0].split()) <= 4:
        paragraphs = paragraphs[1:]
    if paragraphs:
        paragraphs[0] = DATELINE.sub("", paragraphs[0], count=1)
    if paragraphs:
        paragraphs[0] = rewrite_intro(paragraphs[0], rnd, outlet)
    change = rnd.choice(["drop", "add", "both"])
    if change in ("drop", "both") and len(paragraphs) > 3:
        del paragraphs[rnd.randrange(1, len(paragraphs))]
    if change in ("add", "both"):
        year = (row.get("published_at") or "2022")[:4]
        extra = rnd.choice(ADDED).format(outlet=outlet, year=year)
        paragraphs.insert(rnd.randint(1, len(paragraphs)), extra)
    city = rnd.choice(CITIES)
    byline = f"By {rnd.choice(NAMES)}, {outlet}"
    body = "\n\n".join([byline, f"{city} ({outlet}) — " + paragraphs[0], *paragraphs[1:]])
    title = rnd.choice(HEADLINE_FORMS).format(
        title=row["title"], lower=row["title"][:1].lower() + row["title"][1:]
    )
    day = row.get("published_at") or ""
    if day:
        day = (date.fromisoformat(day) + timedelta(days=rnd.randint(0, 4))).isoformat()
    return {
        "id": f"{row['id']}-copy{n}",
        "title": title,
        "source": outlet,
        "published_at": day,
        "url": f"https://news.example/{outlet.lower().replace(' ', '-')}/{row['id']}-{n}",
        "authors": [byline[3:].split(",")[0]],
        "body": body,
    }


def article(row: dict[str, Any]) -> Article:
    day = row.get("published_at") or ""
    return Article(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        source=row.get("source", ""),
        published_at=date.fromisoformat(day) if day else None,
        url=row.get("url", ""),
        authors=tuple(row.get("authors", ())),
    )


def write(store: ChromaStore, articles: list[Article]) -> None:
    """Through the store's real write path (rows and stories; no chunks, so no vectors)."""
    source = SourceFile("bench", "bench", len(articles), 0)
    for start in range(0, len(articles), 100):
        part = articles[start : start + 100]
        store.write([(a, [], source) for a in part], np.zeros((0, 384)), replaced={})


def quality(rows: list[dict[str, Any]], copied: int, seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)
    chosen = rnd.sample(rows, copied)
    copies = [make_copy(row, n, rnd) for row in chosen for n in range(1, rnd.randint(1, 3) + 1)]
    origin = {r["id"]: r["id"] for r in rows}
    origin.update({c["id"]: c["id"].rsplit("-copy", 1)[0] for c in copies})
    everything = [article(r) for r in rows + copies]
    rnd.shuffle(everything)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaStore(path=tmp)
        started = time.perf_counter()
        write(store, everything)
        seconds = time.perf_counter() - started
        grouped = store.stories()
    story = {aid: sid for sid, ids in grouped.items() for aid in ids}
    ids = sorted(origin)
    predicted = {(a, b) for s in grouped.values() for a, b in combinations(sorted(s), 2)}
    by_origin: dict[str, list[str]] = {}
    for aid in ids:
        by_origin.setdefault(origin[aid], []).append(aid)
    truth = {(a, b) for g in by_origin.values() for a, b in combinations(sorted(g), 2)}
    hit = len(predicted & truth)
    originals = {r["id"] for r in rows}
    merged = sorted(
        a for a in originals if any(b in originals and b != a for b in grouped[story[a]])
    )
    missed = sorted(truth - predicted)
    return {
        "articles": len(everything),
        "originals": len(rows),
        "copies": len(copies),
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
        "precision": hit / len(predicted) if predicted else 1.0,
        "recall": hit / len(truth) if truth else 1.0,
        "false_merges": len(merged),
        "false_merge_rate": len(merged) / len(originals),
        "stories": len(grouped),
        "seconds": seconds,
        "missed": missed[:10],
        "merged": merged[:10],
    }


def similarities(rows: list[dict[str, Any]], copied: int, seed: int) -> dict[str, list[float]]:
    """Signature similarity of each copy to its original, and the highest between two
    originals that share a band key (how much room the threshold has on either side)."""
    rnd = random.Random(seed)
    chosen = rnd.sample(rows, copied)
    copy_sims = []
    for row in chosen:
        a = story_index.signature(row["body"])
        for n in range(1, rnd.randint(1, 3) + 1):
            b = story_index.signature(make_copy(row, n, rnd)["body"])
            if a is not None and b is not None:
                copy_sims.append(story_index.similarity(a, b))
    sigs = [s for r in rows if (s := story_index.signature(r["body"])) is not None]
    matrix = np.stack(sigs)
    top = []
    for i in range(len(sigs)):
        same = (matrix[i + 1 :] == matrix[i]).mean(axis=1)
        if len(same):
            top.append(float(same.max()))
    return {"copies": sorted(copy_sims), "originals_top": sorted(top, reverse=True)[:5]}


# -- cost --------------------------------------------------------------------------------------


def synthetic(rows: list[dict[str, Any]], n: int, rnd: random.Random, prefix: str) -> list[Article]:
    """Varied articles: 6 to 30 sentences drawn at random from the corpus."""
    sentences = [
        s for r in rows for s in SENTENCE.split(r["body"].replace("\n\n", " ")) if len(s) > 40
    ]
    out = []
    base = date(2022, 1, 1)
    for i in range(n):
        body = " ".join(rnd.choices(sentences, k=rnd.randint(6, 30)))
        day = base + timedelta(days=rnd.randrange(365))
        out.append(
            Article(
                id=f"{prefix}{i}",
                title=f"Synthetic {i}",
                body=body,
                published_at=day,
                source=rnd.choice(OUTLETS),
            )
        )
    return out


def day_int(a: Article) -> int:
    return (
        a.published_at.year * 10000 + a.published_at.month * 100 + a.published_at.day
        if a.published_at
        else 0
    )


@contextlib.contextmanager
def timed_grouping() -> Iterator[list[float]]:
    """Within the block, `index.stories.place` (the grouping step, where the store's write
    path calls it) adds its wall and CPU seconds to the list yielded, [wall, cpu]."""
    real_place, spent = story_index.place, [0.0, 0.0]

    def place(store: ChromaStore, articles: Any) -> None:
        started, started_cpu = time.perf_counter(), time.process_time()
        real_place(store, articles)
        spent[0] += time.perf_counter() - started
        spent[1] += time.process_time() - started_cpu

    story_index.place = place
    try:
        yield spent
    finally:
        story_index.place = real_place


def grouping_cost(
    rows: list[dict[str, Any]], sizes: list[int], seed: int
) -> Iterator[dict[str, Any]]:
    """Seconds per article of the grouping step, on batches of 100 new articles written
    into a store that holds each of `sizes` articles."""
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaStore(path=tmp)
        held = 0
        for size in sorted(sizes):
            # The stories collection is what grouping reads: filled directly (no chunks or
            # article rows, which grouping never reads).
            fill = synthetic(rows, size - held, rnd, f"fill{size}-")
            started = time.perf_counter()
            for start in range(0, len(fill), 1000):
                part = fill[start : start + 1000]
                story_index.place(store, [(a.id, a.body, day_int(a)) for a in part])
            fill_seconds = time.perf_counter() - started
            fill_count = size - held
            held = size
            probe = synthetic(rows, 500, rnd, f"probe{size}-")
            with timed_grouping() as spent:
                started = time.perf_counter()
                write(store, probe)
                total = time.perf_counter() - started
            yield (
                {
                    "held": size,
                    "grouping_ms_per_article": spent[0] / len(probe) * 1000,
                    "grouping_cpu_ms_per_article": spent[1] / len(probe) * 1000,
                    "row_write_ms_per_article": (total - spent[0]) / len(probe) * 1000,
                    "fill_ms_per_article": fill_seconds / max(fill_count, 1) * 1000,
                }
            )
            held += len(probe)


def ingest_rate(rows: list[dict[str, Any]], n: int) -> tuple[float, float]:
    """Milliseconds an article of a real ingest (parse, chunk, embed, write) of `n`
    articles: wall-clock and this process's CPU time."""
    from index import Embedder, ingest

    embedder = Embedder("all-MiniLM-L6-v2")
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows[:n]) + "\n", encoding="utf-8")
        store = ChromaStore(path=Path(tmp) / "data", embedding_model=embedder.model_name)
        started, started_cpu = time.perf_counter(), time.process_time()
        ingest([path], store=store, embedder=embedder)
        wall = time.perf_counter() - started
        return wall / n * 1000, (time.process_time() - started_cpu) / n * 1000


def share_inside(rows: list[dict[str, Any]], n: int, data: Path) -> dict[str, Any]:
    """Grouping's share of a real ingest (parse, chunk, embed, write) of `n` articles into
    the index under the data dir `data` (one built by hand or by bench/query.py, at the
    scale to measure), grouping timed where it runs; the articles are removed again after."""
    from index import Embedder, ingest, remove

    embedder = Embedder("all-MiniLM-L6-v2")
    embedder.encode(["warm up"])
    embedder.encode([f"warm up {i}" for i in range(64)])
    store = ChromaStore(path=data / "chroma", embedding_model=embedder.model_name)
    held = store.counts()
    present = set(store.records())
    new = [r for r in rows if r["id"] not in present][:n]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "new.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in new) + "\n", encoding="utf-8")
        try:
            with timed_grouping() as spent:
                started, started_cpu = time.perf_counter(), time.process_time()
                report = ingest([path], store=store, embedder=embedder)
                wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        finally:
            remove([r["id"] for r in new], store=store, missing_ok=True)
    added = max(report.added, 1)
    return {
        "articles_held": held[0],
        "chunks_held": held[1],
        "added": report.added,
        "ingest_ms": wall / added * 1000,
        "ingest_cpu_ms": cpu / added * 1000,
        "grouping_ms": spent[0] / added * 1000,
        "grouping_cpu_ms": spent[1] / added * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES)
    parser.add_argument("--copied", type=int, default=100)
    parser.add_argument("--scale", default="10000,100000", help="comma-separated index sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ingest", type=int, default=100, help="articles for the ingest rate")
    parser.add_argument("--similarities", action="store_true", help="print the margins")
    parser.add_argument(
        "--inside",
        type=Path,
        metavar="DATA_DIR",
        help="only measure grouping's share of a real ingest of --ingest articles into this "
        "data dir's index (they are removed again after)",
    )
    args = parser.parse_args()
    rows = load(args.articles)
    print(
        f"{os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.2f}; {story_index.SCHEME}, match {story_index.MATCH}"
    )
    if args.inside:
        r = share_inside(rows, args.ingest, args.inside)
        print(
            f"\ningest of {r['added']} articles into an index of {r['articles_held']:,} articles "
            f"({r['chunks_held']:,} chunks): {r['ingest_ms']:.1f} ms an article "
            f"({r['ingest_cpu_ms']:.1f} ms of CPU); grouping {r['grouping_ms']:.2f} ms "
            f"({r['grouping_cpu_ms']:.2f} ms of CPU) = {r['grouping_ms'] / r['ingest_ms']:.1%} of "
            f"the wall time, {r['grouping_cpu_ms'] / r['ingest_cpu_ms']:.1%} of the CPU time; "
            f"load {os.getloadavg()[0]:.2f}"
        )
        return
    if args.similarities:
        sims = similarities(rows, args.copied, args.seed)
        copies = sims["copies"]
        print(
            f"copy vs original: min {copies[0]:.3f}, 5th pct {copies[len(copies) // 20]:.3f}, median {copies[len(copies) // 2]:.3f}"
        )
        print("closest two originals:", ", ".join(f"{s:.3f}" for s in sims["originals_top"]))
    q = quality(rows, args.copied, args.seed)
    print(
        f"\n| articles | copies | precision | recall | false merges (of {q['originals']} originals) | stories |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: |\n"
        f"| {q['articles']} | {q['copies']} | {q['precision']:.3f} | {q['recall']:.3f} | "
        f"{q['false_merges']} ({q['false_merge_rate']:.3f}) | {q['stories']} |"
    )
    if q["missed"]:
        print("missed pairs:", q["missed"])
    if q["merged"]:
        print("merged originals:", q["merged"])
    if not args.scale:
        return
    sizes = [int(s) for s in args.scale.split(",") if s]
    wall_ms, cpu_ms = ingest_rate(rows, args.ingest)
    print(
        f"\ningest of {args.ingest} articles: {wall_ms:.1f} ms an article "
        f"({cpu_ms:.1f} ms of CPU), load {os.getloadavg()[0]:.2f}"
    )
    print(
        "\n| articles held | grouping ms/article | share of ingest | grouping CPU ms/article "
        "| share of ingest CPU | article rows written ms/article | grouping 1,000 at a time "
        "(rebuild) ms/article |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for r in grouping_cost(rows, sizes, args.seed):
        print(
            f"| {r['held']:,} | {r['grouping_ms_per_article']:.2f} | "
            f"{r['grouping_ms_per_article'] / wall_ms:.1%} | "
            f"{r['grouping_cpu_ms_per_article']:.2f} | "
            f"{r['grouping_cpu_ms_per_article'] / cpu_ms:.1%} | "
            f"{r['row_write_ms_per_article']:.2f} | {r['fill_ms_per_article']:.2f} |",
            flush=True,
        )
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

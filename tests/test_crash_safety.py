"""Crash safety: an ingest killed with SIGKILL at several points, two ingests at once,
and `assistant check [--repair]`. Real subprocesses on a real on-disk Chroma."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from index import ChromaStore

pytestmark = pytest.mark.slow

TOPICS = ["lithium", "nickel", "cobalt", "graphite", "sodium", "solar", "wind", "hydrogen"]


def make_corpus(folder: Path, files: int = 4, per_file: int = 30) -> int:
    """JSON Lines files of short, distinct articles; returns how many articles."""
    folder.mkdir(parents=True)
    n = 0
    for f in range(files):
        rows = []
        for i in range(per_file):
            topic = TOPICS[(f + i) % len(TOPICS)]
            rows.append(
                {
                    "id": f"art-{f}-{i}",
                    "title": f"{topic.title()} report {f}-{i}",
                    "source": f"Outlet {f}",
                    "published_at": f"2025-0{1 + f}-{10 + i % 18}",
                    "body": (
                        f"Report {f}-{i} covers the {topic} market in region {i}. "
                        f"Prices for {topic} moved by {i + f} percent this quarter. "
                        f"Analysts in city {f * 100 + i} expect more {topic} projects next year."
                    ),
                }
            )
            n += 1
        (folder / f"feed-{f}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return n


def environ(data: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_INGEST_BATCH": "8", **extra}


def run(args: list[str], data: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """A real process: what a killed run left on disk is read as a new process reads it."""
    env = {"ASSISTANT_INGEST_BATCH": "8", **extra}
    return run_cli(args, data=data, env=env, process=True, timeout=600)


def run_here(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in this process, where no process dies and none runs alongside."""
    return run_cli(args, data=data, env={"ASSISTANT_INGEST_BATCH": "8"})


def chunk_count(data: Path) -> int:
    return ChromaStore(path=data / "chroma").counts()[1]


def test_sigkill_anywhere_then_the_next_run_finishes_and_the_index_is_consistent(tmp_path):
    news = tmp_path / "news"
    total = make_corpus(news, files=8, per_file=60)
    data = tmp_path / "data"
    kills = 0
    # Each run is killed once it has written `growth` more chunks than were there when it
    # started (plus however far it got while we looked): early, late, mid-batch. Driven by
    # progress rather than by the clock, so a fast machine cannot finish before the kill.
    for growth in (1, 40, 8, 90, 20):
        process = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "ingest", str(news), "--json"],
            env=environ(data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        before = chunk_count(data) if (data / "chroma").exists() else 0
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            if (data / "chroma").exists() and chunk_count(data) >= before + growth:
                break
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
            kills += 1
        process.wait()
        check = run(["check", "--json"], data)
        state = json.loads(check.stdout)
        assert check.returncode == (0 if state["ok"] else 1)
    assert kills == 5, (
        f"only {kills} of 5 runs were still writing when killed: make the corpus bigger"
    )

    final = run(["ingest", str(news), "--json"], data)
    assert final.returncode == 0, final.stderr
    check = run(["check", "--json"], data)
    state = json.loads(check.stdout)
    assert state["ok"] and check.returncode == 0, state
    assert state["articles"] == total
    assert state["orphan_chunks"] == 0 and state["incomplete_articles"] == []

    store = ChromaStore(path=data / "chroma")
    records = store.records()
    assert len(records) == total
    stored = {c.chunk_id: c.article_id for c in store.iter_chunks()}
    assert set(stored) == {cid for r in records.values() for cid in r.chunk_ids}
    again = json.loads(run(["ingest", str(news), "--json"], data).stdout)
    assert (again["added"], again["unchanged"], again["chunks"]) == (0, total, 0)


def test_check_repair_fixes_leftovers_and_forgets_incomplete_articles(tmp_path):
    news = tmp_path / "news"
    total = make_corpus(news, files=1, per_file=6)
    data = tmp_path / "data"
    assert run_here(["ingest", str(news)], data).returncode == 0
    store = ChromaStore(path=data / "chroma")
    victim = store.records()["art-0-3"]
    # Damage the index the way a crash could: a chunk gone, a stray chunk left behind.
    store._chunks.delete(ids=[victim.chunk_ids[0]])
    store._chunks.add(
        ids=["stray-chunk"],
        embeddings=[[0.1] * 384],
        documents=["left over"],
        metadatas=[{"article_id": "gone"}],
    )
    check = run_here(["check"], data)
    assert check.returncode == 1
    assert "NOT consistent" in check.stdout and "art-0-3" in check.stdout
    repaired = run_here(["check", "--repair", "--json"], data)
    assert repaired.returncode == 0 and json.loads(repaired.stdout)["repaired"]
    assert json.loads(run_here(["check", "--json"], data).stdout)["ok"]
    # The next ingest puts the forgotten article back.
    report = json.loads(run_here(["ingest", str(news), "--json"], data).stdout)
    assert report["added"] == 1 and report["unchanged"] == total - 1
    assert json.loads(run_here(["check", "--json"], data).stdout)["ok"]


def test_a_second_ingest_waits_for_the_first_or_refuses_clearly(tmp_path):
    first_news, second_news = tmp_path / "one", tmp_path / "two"
    total_one = make_corpus(first_news, files=2, per_file=25)
    (second_news).mkdir()
    (second_news / "extra.md").write_text(
        "---\ntitle: Extra\nsource: Wire\ndate: 2025-03-03\n---\nAn extra article about grid batteries.\n"
    )
    data = tmp_path / "data"
    lock = data / "chroma" / "ingest.lock"
    first = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest", str(first_news), "--json"],
        env=environ(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.05)
    refused = run(["ingest", str(second_news)], data, ASSISTANT_LOCK_WAIT="0")
    waited = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest", str(second_news), "--json"],
        env=environ(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_first, _ = first.communicate(timeout=600)
    out_waited, _ = waited.communicate(timeout=600)
    assert refused.returncode == 1
    assert "another ingest" in refused.stderr and "Traceback" not in refused.stderr
    assert first.returncode == 0 and json.loads(out_first)["added"] == total_one
    assert waited.returncode == 0 and json.loads(out_waited)["added"] == 1
    check = json.loads(run(["check", "--json"], data).stdout)
    assert check["ok"] and check["articles"] == total_one + 1


def test_processes_that_open_a_new_store_at_the_same_moment_all_open_it(tmp_path):
    # Each process loads chromadb, says it is ready, and opens the store when the go file
    # appears, so their first opens overlap: Chroma creates its tables on a first open, and
    # two processes doing that at once fail unless the store takes turns.
    store, go = tmp_path / "chroma", tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "import chromadb\n"
        "from index import ChromaStore\n"
        "open(sys.argv[3], 'w').close()\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.001)\n"
        "print(ChromaStore(path=sys.argv[1]).counts())\n"
    )
    ready = [tmp_path / f"ready-{i}" for i in range(6)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(store), str(go), str(flag)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(flag.exists() for flag in ready):
        time.sleep(0.05)
    go.touch()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "(0, 0)"

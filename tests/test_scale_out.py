"""Scale-out: two app processes on one real `chroma run` server at a few thousand chunks.

Replica A is a long-running `assistant serve` (extractive answers), asked through its real
HTTP APIs; B is `assistant ingest` run as separate processes. Each has its own data dir.
A must answer from what B wrote, without a restart, and never write an index of its own."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import run_cli, unique_collection
from served import ServedAssistant

pytestmark = [pytest.mark.server, pytest.mark.slow]

# One chunk each: on 2 busy CPU cores the embedding dominates, and a chunk of a short
# brief costs a fraction of a full 150-word chunk, so this many stays in minutes.
ARTICLES = 2400
PER_FILE = 100
_SYLLABLES = "bra vel tor mun kas dri lo pen zar quil ost fen mor tas vik lun gar hel sib dac"
_SECTORS = "copper solar freight dairy timber cement ferry textile cocoa wind rail salt glass wool"
_FACILITIES = ["smelter", "refinery", "depot", "foundry", "mill", "terminal", "hatchery", "cannery"]
_ROLES = ["mayor", "union steward", "port director", "chief engineer", "treasurer", "economist"]
_MOVES = ["rose", "fell", "climbed", "slipped", "doubled", "stalled", "recovered", "jumped"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

# Only in the second batch: no generated name is made of these words.
LATE_URL = "https://example.com/harbour-gazette/quarrymoor-kiln"
LATE_QUESTION = "Which company opened the Quarrymoor kiln in Harrowgate Bay?"


@dataclass(frozen=True)
class Opening:
    """The one fact a generated article holds that no other article does."""

    company: str
    site: str
    facility: str
    town: str
    url: str

    @property
    def question(self) -> str:
        """The question only this article answers."""
        return f"Which company opened the {self.site} {self.facility} in {self.town}?"


def _names(rng: random.Random, count: int, syllables: int) -> list[str]:
    pool = _SYLLABLES.split()
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(pool) for _ in range(syllables)).capitalize())
    ordered = sorted(names)
    rng.shuffle(ordered)
    return ordered


def write_wire(folder: Path, count: int, *, seed: int = 7) -> list[Opening]:
    """JSON Lines files of `count` short briefs, each about one opening (a made-up company,
    site and town) with varied numbers around it; returns the openings in order."""
    rng = random.Random(seed)
    unique = _names(rng, 2 * count, 3)
    towns = _names(rng, 200, 2)
    sectors = _SECTORS.split()
    openings, rows = [], []
    for i in range(count):
        o = Opening(
            company=unique[i],
            site=unique[count + i],
            facility=_FACILITIES[i % len(_FACILITIES)],
            town=rng.choice(towns),
            url=f"https://example.com/wire/{i:04d}",
        )
        first, second = rng.sample(sectors, 2)
        body = (
            f"{o.company} opened the {o.site} {o.facility} in {o.town} on {rng.choice(_DAYS)}, "
            f"hiring {rng.randint(40, 900)} workers. The {rng.choice(_ROLES)} said {first} "
            f"orders {rng.choice(_MOVES)} by {rng.randint(2, 60)} percent this quarter, while "
            f"{rng.randint(3, 97)} percent of {second} shipments left by "
            f"{rng.choice(['barge', 'truck', 'train', 'coaster'])}. The {rng.choice(_ROLES)} "
            f"expects {rng.randint(2, 40)} more {second} contracts in {rng.randint(2026, 2031)}, "
            f"and local {first} wages {rng.choice(_MOVES)} {rng.randint(1, 19)} percent."
        )
        openings.append(o)
        rows.append(
            {
                "id": o.url,
                "url": o.url,
                "title": f"{o.company} opens {o.facility} in {o.town}",
                "source": f"Wire {i % 12}",
                "published_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "body": body,
            }
        )
    folder.mkdir(parents=True)
    for start in range(0, count, PER_FILE):
        lines = (json.dumps(r) for r in rows[start : start + PER_FILE])
        (folder / f"wire-{start // PER_FILE:02d}.jsonl").write_text("\n".join(lines) + "\n")
    return openings


def write_late(folder: Path) -> None:
    """The second batch: one Markdown article with a fact nothing else mentions."""
    folder.mkdir(parents=True)
    (folder / "quarrymoor.md").write_text(
        "---\ntitle: Lindqvist Pottery fires up the Quarrymoor kiln\nsource: Harbour Gazette\n"
        f"date: 2025-12-02\nurl: {LATE_URL}\n---\n"
        "Lindqvist Pottery opened the Quarrymoor kiln in Harrowgate Bay on Tuesday. "
        "The kiln fires stoneware for the harbour's restaurants.\n"
    )


def ask(client: openai.OpenAI, question: str) -> tuple[str, dict[str, Any]]:
    """Replica A's answer through its OpenAI-compatible API: the content and the extras
    (refused, citations)."""
    reply = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": question}]
    )
    return reply.choices[0].message.content or "", reply.model_extra or {}


def ingest(folder: Path, data: Path, env: dict[str, str]) -> dict[str, Any]:
    """`assistant ingest FOLDER --json` in a process of its own (replica B)."""
    done = run_cli(["ingest", str(folder), "--json"], data=data, env=env, process=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    assert not report["failed"], report["failed"]
    return report


def counts(stats: dict[str, Any]) -> tuple[int, int]:
    """(articles, chunks) of a stats report."""
    return stats["articles"], stats["chunks"]


def test_a_serving_replica_answers_what_another_process_ingested(chroma_server, tmp_path):
    from gradio_client import Client

    host, port = chroma_server
    shared = {
        "ASSISTANT_CHROMA_HOST": host,
        "ASSISTANT_CHROMA_PORT": str(port),
        "ASSISTANT_COLLECTION": unique_collection(),
    }
    openings = write_wire(tmp_path / "wire", ARTICLES)
    write_late(tmp_path / "late")
    b_data = tmp_path / "replica-b"
    empty = tmp_path / "empty"
    empty.mkdir()

    with ServedAssistant(tmp_path / "replica-a", empty, **shared) as a:
        client = openai.OpenAI(base_url=f"{a.url}/v1", api_key=a.key, max_retries=0, timeout=600)
        # Nothing is on the server yet: A has nothing to answer from.
        content, extra = ask(client, openings[0].question)
        assert extra["refused"] and not extra["citations"], content

        report = ingest(tmp_path / "wire", b_data, shared)
        assert report["added"] == ARTICLES

        for o in (openings[0], openings[ARTICLES // 2], openings[-1], openings[1234]):
            content, extra = ask(client, o.question)
            assert not extra["refused"], (o, content)
            assert o.company in content.partition("**Sources**")[0], (o, content)
            first = extra["citations"][0]
            assert (first["article_id"], first["url"]) == (o.url, o.url), (o, content)
            assert o.company in first["quote"] and o.site in first["quote"]

        # Only B's next batch holds this fact: A refuses it now, and answers it once B has
        # written it, in the same process (its keyword index catches up from the store).
        content, extra = ask(client, LATE_QUESTION)
        assert extra["refused"] and not extra["citations"], content
        assert ingest(tmp_path / "late", b_data, shared)["added"] == 1
        content, extra = ask(client, LATE_QUESTION)
        assert not extra["refused"], content
        assert "Lindqvist Pottery" in content.partition("**Sources**")[0]
        assert extra["citations"][0]["article_id"] == LATE_URL
        assert "Harrowgate Bay" in extra["citations"][0]["quote"]

        # The same counts from A's running process, and from the CLI with either data dir.
        served = Client(a.url, verbose=False, download_files=False).predict(api_name="/stats")
        from_a = run_cli(["stats", "--json"], data=a.data, env=shared)
        from_b = run_cli(["stats", "--json"], data=b_data, env=shared)
        assert from_a.returncode == 0 and from_b.returncode == 0, from_a.stderr + from_b.stderr
        a_stats, b_stats = json.loads(from_a.stdout), json.loads(from_b.stdout)
        assert counts(served) == counts(a_stats) == counts(b_stats)
        articles, chunks = counts(b_stats)
        assert articles == ARTICLES + 1 and chunks >= ARTICLES + 1
        assert a_stats["store"] == b_stats["store"] and a_stats["store"].startswith("http")

    # Neither process kept an index of its own: everything went to the server.
    assert a.data.is_dir() and not (a.data / "chroma").exists()
    assert not (b_data / "chroma").exists()

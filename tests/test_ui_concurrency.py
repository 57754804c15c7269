"""Many people at once, against the app served on loopback (real model, real Chroma):
eight conversations in flight together each get only their own answer and sources; an
ingest in progress does not hold up questions; and no question ever sees a half-written
article while an ingest writes.

No timings: "at once" and "while the ingest is still running" are made certain by holding
the server's own calls at a barrier or a gate until the test has seen what it needs."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from browser_app import serving

pytestmark = pytest.mark.slow

# Eight unrelated stories: (file name, title, body, question, a name only this story has).
TOPICS = [
    (
        "bakery.md",
        "Marrowby bakery wins the national sourdough prize",
        "The Marrowby bakery in Leeds won the national sourdough prize in March 2025. "
        "Its head baker, Ines Calloway, uses a starter that is forty years old.",
        "Which bakery won the national sourdough prize?",
        "Marrowby",
    ),
    (
        "dam.md",
        "Orlen Hydro finishes the Kestrel Valley dam",
        "Orlen Hydro finished building the Kestrel Valley dam in Patagonia in 2024. The "
        "reservoir behind the dam holds 300 million cubic metres of water.",
        "Who built the Kestrel Valley dam?",
        "Kestrel Valley",
    ),
    (
        "chess.md",
        "Teenager Tamsin Okafor takes the Vilnius chess open",
        "Tamsin Okafor, aged sixteen, won the Vilnius chess open after beating three "
        "grandmasters. She played the Najdorf variation in every game with black.",
        "Who won the Vilnius chess open?",
        "Vilnius",
    ),
    (
        "ferry.md",
        "An electric ferry links Skarholm and the mainland",
        "An electric ferry called Halvard now links the island of Skarholm with the "
        "mainland. It charges its batteries for twelve minutes at each end.",
        "What is the name of the electric ferry to Skarholm?",
        "Skarholm",
    ),
    (
        "orchid.md",
        "Botanists find a new orchid in the Qinling mountains",
        "Botanists found a new species of orchid in the Qinling mountains and named it "
        "Cymbidium lunare. The flower opens only at night.",
        "What was the new orchid from the Qinling mountains named?",
        "Qinling",
    ),
    (
        "telescope.md",
        "The Atacama radio telescope Pelican sees first light",
        "The Pelican radio telescope in the Atacama desert recorded its first signals in "
        "June 2025. Its dish measures 42 metres across.",
        "How wide is the dish of the Pelican radio telescope?",
        "Pelican",
    ),
    (
        "marathon.md",
        "Rain and a record at the Brisbane marathon",
        "Kenyan runner Faith Wanjiru set a course record at the rainy Brisbane marathon, "
        "finishing in two hours and nineteen minutes.",
        "Who set the course record at the Brisbane marathon?",
        "Brisbane",
    ),
    (
        "museum.md",
        "The Ostrava coal museum reopens as a concert hall",
        "The old coal museum in Ostrava reopened as a concert hall with 900 seats. The "
        "architects kept the winding tower above the stage.",
        "What did the Ostrava coal museum become?",
        "Ostrava",
    ),
]


def write_topics(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, title, body, *_) in enumerate(TOPICS):
        (folder / name).write_text(
            f"---\ntitle: {title}\nsource: Desk {i}\ndate: 2025-0{i + 1}-10\n"
            f"url: https://example.com/topics/{name}\n---\n{body}\n",
            encoding="utf-8",
        )


def topic_id(name: str) -> str:
    return f"https://example.com/topics/{name}"


@pytest.fixture
def topics_assistant(make_assistant, tmp_path):
    """An extractive assistant over just the eight stories (writes of 6 chunks at most)."""
    assistant = make_assistant(llm="extractive", ingest_batch=6)
    write_topics(tmp_path / "topics")
    report = assistant.ingest([tmp_path / "topics"])
    assert report.added == len(TOPICS) and not report.failed
    return assistant


def check_own_answer(result: dict[str, Any], topic: tuple) -> None:
    """The answer is to this topic's question, from this topic's article only."""
    name, _, _, question, key = topic
    assert result["question"] == question
    assert not result["refused"], result
    assert key in result["answer"], (question, result["answer"])
    assert result["citations"]
    assert {c["article_id"] for c in result["citations"]} == {topic_id(name)}, result
    others = [t[4] for t in TOPICS if t[0] != name]
    assert not any(word in result["answer"] for word in others), result["answer"]


class AllAtOnce:
    """Wraps a function so that its first `parties` calls wait for each other: they all
    return only if they were all in flight together (the barrier breaks otherwise)."""

    def __init__(self, real: Any, parties: int) -> None:
        self.real = real
        self.parties = parties
        self.barrier = threading.Barrier(parties, timeout=120)
        self.lock = threading.Lock()
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.calls += 1
            first = self.calls <= self.parties
        if first:
            self.barrier.wait()
        return self.real(*args, **kwargs)


def clients(url: str, count: int) -> list[Any]:
    """`count` API clients, each its own session (as `count` people would be)."""
    from gradio_client import Client

    return [Client(url, verbose=False, download_files=False) for _ in range(count)]


def test_eight_conversations_at_once_get_only_their_own_answers(topics_assistant):
    searcher = topics_assistant.searcher
    together = AllAtOnce(searcher.retrieve, parties=len(TOPICS))
    searcher.retrieve = together  # each question's retrieval waits until all eight are in
    with serving(topics_assistant) as url:
        people = clients(url, len(TOPICS))
        with ThreadPoolExecutor(max_workers=len(TOPICS)) as pool:
            futures = [
                pool.submit(person.predict, topic[3], api_name="/ask")
                for person, topic in zip(people, TOPICS, strict=True)
            ]
            results = [f.result(timeout=300) for f in futures]
    assert not together.barrier.broken and together.calls >= len(TOPICS)
    for result, topic in zip(results, TOPICS, strict=True):
        check_own_answer(result, topic)


def lighthouse_article(n: int, words: int = 380) -> str:
    """A distinct article about restoring lighthouse `n`, long enough for several chunks."""
    rng = random.Random(n)
    vocabulary = (
        "volunteers restored the lamp lens tower keeper cottage harbour storm paint iron "
        "stairs solar panels battery beam coast fog signal ships rocks tide museum visitors "
        "council grant heritage engineers glass brass gallery lantern weather winter"
    ).split()
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        chosen = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 14)))
        sentences.append(f"At lighthouse {n} the {chosen} in year {2000 + rng.randint(0, 25)}.")
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
    return (
        f"---\ntitle: Volunteers restore Quillfeather lighthouse number {n}\n"
        f"source: Coast Courier\ndate: 2025-05-{1 + n % 28:02d}\n"
        f"url: https://example.com/lighthouses/{n}\n---\n"
        f"Volunteers restored Quillfeather lighthouse number {n} and fitted it with solar "
        f"power.\n\n" + "\n\n".join(paragraphs) + "\n"
    )


def lighthouse_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"lighthouse-{n:02d}.md"
        path.write_text(lighthouse_article(n), encoding="utf-8")
        paths.append(path)
    return paths


class HeldWrite:
    """Wraps the store's write so that the ingest stops before its `at`-th write until the
    test releases it: the ingest is then certainly still running."""

    def __init__(self, real: Any, at: int) -> None:
        self.real = real
        self.at = at
        self.writes = 0
        self.holding = threading.Event()
        self.release = threading.Event()
        self.released_by_test = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        if self.writes == self.at:
            self.holding.set()
            self.released_by_test = self.release.wait(timeout=300)
        return self.real(*args, **kwargs)


def test_questions_are_answered_while_an_ingest_is_running(topics_assistant, tmp_path):
    from gradio_client import handle_file

    files = lighthouse_files(tmp_path / "lighthouses", 16)
    store = topics_assistant.store
    held = HeldWrite(store.write, at=2)  # after the first write: some new articles are in
    store.write = held
    with serving(topics_assistant) as url:
        uploader, *people = clients(url, 1 + len(TOPICS))
        job = uploader.submit([handle_file(p) for p in files], api_name="/ingest")
        assert held.holding.wait(timeout=300), "the ingest never reached its second write"

        with ThreadPoolExecutor(max_workers=len(TOPICS) + 2) as pool:
            asks = [
                pool.submit(person.predict, topic[3], api_name="/ask")
                for person, topic in zip(people, TOPICS, strict=True)
            ]
            listing = pool.submit(people[0].predict, api_name="/articles")
            stats = pool.submit(people[1].predict, api_name="/stats")
            results = [f.result(timeout=300) for f in asks]
            listed, counted = listing.result(timeout=300), stats.result(timeout=300)
        new = people[2].predict(
            "Which Quillfeather lighthouse did volunteers restore?", api_name="/ask"
        )
        assert not job.done() and not held.release.is_set()  # the ingest is still running

        for result, topic in zip(results, TOPICS, strict=True):
            check_own_answer(result, topic)
        # The first write's articles are already answerable, and listed, mid-ingest.
        first = {a["id"] for a in listed if a["id"].startswith("https://example.com/lighthouses/")}
        assert 0 < len(first) < len(files)
        assert counted["articles"] == len(TOPICS) + len(first)
        assert new["citations"] and {c["article_id"] for c in new["citations"]} <= first

        held.release.set()
        report = job.result(timeout=600)
    assert held.released_by_test
    assert report["added"] == len(files) and not report["failed"]
    assert len(topics_assistant.articles()) == len(TOPICS) + len(files)


def test_a_question_never_sees_a_half_written_article(make_assistant, tmp_path):
    """While an ingest writes 24 multi-chunk articles in many small writes, a searcher and
    an API client ask again and again. Every chunk they get belongs to an article whose
    chunks are all stored at that moment, and (once the write in flight has finished) whose
    row exists and whose text holds the chunk at its offsets."""
    from gradio_client import handle_file

    files = lighthouse_files(tmp_path / "lighthouses", 24)
    # The chunk ids each article will have (they depend only on its id and text): learnt
    # from an ingest of the same files into a scratch index.
    scratch = make_assistant(llm="extractive", data_dir=tmp_path / "scratch")
    scratch.ingest(files)
    expected = {r.id: list(r.chunk_ids) for r in scratch.articles()}
    assert len(expected) == len(files) and all(len(ids) >= 3 for ids in expected.values())

    assistant = make_assistant(llm="extractive", ingest_batch=8)
    write_topics(tmp_path / "topics")
    assistant.ingest([tmp_path / "topics"])
    store = assistant.store
    real_write = store.write
    state = threading.Condition()
    progress = {"writes": 0, "checked": 0, "done": False}
    writing = threading.Lock()  # held while a write is in flight
    errors: list[str] = []
    seen: dict[str, int] = {"searches": 0, "asks": 0, "new_hits": 0, "new_citations": 0}

    def paced_write(*args: Any, **kwargs: Any) -> Any:
        with writing:
            result = real_write(*args, **kwargs)
        with state:  # let a search see each state the index passes through
            progress["writes"] += 1
            target = progress["writes"]
            if not state.wait_for(lambda: progress["checked"] >= target, timeout=120):
                errors.append(f"no search finished after write {target}")
        return result

    store.write = paced_write

    def complete_now(article_id: str) -> None:
        present = store.get_chunks(expected[article_id])
        if len(present) != len(expected[article_id]):
            errors.append(
                f"{article_id}: a question saw {len(present)} of its "
                f"{len(expected[article_id])} chunks"
            )

    def backed_by_a_row(article_id: str, start: int, end: int, text: str) -> None:
        with writing:  # the write that made the chunk visible has finished
            record = store.records().get(article_id)
            if record is None:
                errors.append(f"{article_id}: seen, but no row after its write")
                return
            if list(record.chunk_ids) != expected[article_id]:
                errors.append(f"{article_id}: row lists {len(record.chunk_ids)} chunks")
            _, body = assistant.article(article_id)
            if body[start:end] != text:
                errors.append(f"{article_id}: text at {start}:{end} is not the cited text")

    def search_loop() -> None:
        while True:
            with state:
                if progress["done"]:
                    return
                round_after = progress["writes"]
            try:
                hits = assistant.searcher.search(
                    "volunteers restored the Quillfeather lighthouse lamp with solar power", k=10
                )
                new = [h for h in hits if h.article_id in expected]
                for hit in new:
                    complete_now(hit.article_id)
                for hit in new:
                    backed_by_a_row(hit.article_id, hit.start, hit.end, hit.text)
                seen["searches"] += 1
                seen["new_hits"] += len(new)
            except Exception as e:  # reported by the test, not lost in the thread
                errors.append(f"search failed: {e!r}")
            with state:
                progress["checked"] = max(progress["checked"], round_after)
                state.notify_all()

    with serving(assistant) as url:
        uploader, asker = clients(url, 2)

        def ask_loop() -> None:
            n = 0
            while not progress["done"]:
                n += 1
                try:
                    result = asker.predict(
                        f"Which lighthouse did volunteers restore with solar power? ({n})",
                        api_name="/ask",
                    )
                    for c in result["citations"]:
                        if c["article_id"] in expected:
                            seen["new_citations"] += 1
                            backed_by_a_row(c["article_id"], c["start"], c["end"], c["quote"])
                    seen["asks"] += 1
                except Exception as e:
                    errors.append(f"ask failed: {e!r}")

        searcher = threading.Thread(target=search_loop)
        questioner = threading.Thread(target=ask_loop)
        searcher.start()
        questioner.start()
        try:
            report = uploader.predict([handle_file(p) for p in files], api_name="/ingest")
        finally:
            with state:
                progress["done"] = True
                state.notify_all()
            searcher.join(timeout=300)
            questioner.join(timeout=300)

    assert errors == []
    assert report["added"] == len(files) and not report["failed"]
    writes = progress["writes"]
    assert writes >= 6  # many small writes, each followed by a search
    assert seen["new_hits"] > 0 and seen["new_citations"] > 0 and seen["asks"] > 0
    assert {r.id: list(r.chunk_ids) for r in assistant.articles() if r.id in expected} == expected
    assert assistant.check().ok

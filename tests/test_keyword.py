"""The keyword index on a real Chroma store with the real tokenizer: BM25 scores identical
to bm25s fed token lists, snapshot round trips, a first search that does not wait for a
build, incremental additions and removals, and damaged snapshots."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from index.keyword import KeywordIndex, _aligned, _bounds, _mapped, _write_aligned, tokenize

WORDS = (
    "harbour ferry storm turbine wind offshore bakery bread rail strike driver pay union "
    "museum gallery council budget school teacher hospital nurse river flood bridge road "
    "election vote minister energy price market bank loan farm harvest drought festival "
    "music film court judge police theft fire forest tourism hotel airport flight"
).split()
QUERIES = [
    "rail strike pay",
    "storm flood river bridge",
    "offshore wind turbine energy price",
    "museum festival music",
    "Quillmoor",
    "court judge police theft fire",
]


def corpus(count: int, *, seed: int = 7) -> list[dict]:
    """Articles of varied length and word mix (every word in several of them)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        sentences = []
        for _ in range(int(rng.integers(2, 9))):
            words = rng.choice(WORDS, size=int(rng.integers(5, 14)), p=_zipf(len(WORDS)))
            sentences.append(" ".join(words).capitalize() + ".")
        rows.append(
            {
                "id": f"a{i:03d}",
                "title": f"Report {i} on {rng.choice(WORDS)}",
                "source": ["Daily Wire", "Energy Post", "Metro"][i % 3],
                "published_at": f"2025-03-{1 + i % 28:02d}",
                "url": f"https://example.com/a{i}",
                "body": " ".join(sentences),
            }
        )
    return rows


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1)
    return weights / weights.sum()


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def reference(index: KeywordIndex, query: str) -> dict[str, float]:
    """Every live chunk's score the old way: bm25s (lucene) built from Python token lists,
    with the index's token ids (bm25s sums a query's tokens in id order)."""
    import bm25s

    store = index.store
    hits = store.get_chunks(store.chunk_ids())
    vocab = index._vocab
    token_ids = [[vocab[t] for t in tokenize(f"{h.title}\n{h.text}")] for h in hits]
    model = bm25s.BM25(k1=index.k1, b=index.b, method="lucene")
    model.scores = model.build_index_from_ids(
        unique_token_ids=list(range(len(vocab))),
        corpus_token_ids=token_ids,
        show_progress=False,
    )
    ids = sorted({vocab[t] for t in tokenize(query) if t in vocab})
    if not ids:
        return {}
    scores = model.get_scores_from_ids(ids)
    return {h.chunk_id: float(s) for h, s in zip(hits, scores, strict=True) if s != 0}


def found(index: KeywordIndex, query: str) -> dict[str, float]:
    return {h.chunk_id: h.score for h in index.search(query, k=10_000)}


@pytest.fixture
def indexed(make_assistant, tmp_path):
    """An assistant with 60 articles ingested (its keyword index built in the foreground)."""
    assistant = make_assistant(llm="extractive")
    report = assistant.ingest([write(tmp_path / "news.jsonl", corpus(60))])
    assert report.added == 60 and not report.failed
    return assistant


def fresh(assistant, **options) -> KeywordIndex:
    return KeywordIndex(
        assistant.store, cache_dir=assistant.settings.data_dir / "keyword", **options
    )


def test_scores_are_bm25s_scores_bit_for_bit(indexed):
    index = fresh(indexed)
    for query in QUERIES:
        assert found(index, query) == reference(index, query), query
    assert len(index) == len(indexed.store.chunk_ids())
    top = index.search("rail strike pay", k=3)
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)


def test_a_snapshot_round_trip_gives_identical_results_without_fetching(indexed):
    index = fresh(indexed)
    index.sync()
    assert index.wait(timeout=60)
    with np.load(index.cache_path, allow_pickle=False) as data:
        assert not [name for name in data.files if data[name].dtype.kind == "U"]  # no padding
    calls: list[str] = []
    store = indexed.store
    real_ids, real_get = store.chunk_ids, store.get_chunks
    store.chunk_ids = lambda: calls.append("ids") or real_ids()
    store.get_chunks = lambda ids: calls.append("get") or real_get(ids)
    again = fresh(indexed)
    for query in QUERIES:
        assert found(again, query) == found(index, query)
    assert calls == []  # the snapshot's signature is the store's: nothing fetched
    # The postings and the vocabulary are mapped from the file, not read into memory.
    assert isinstance(again._state.weights, np.memmap)
    assert isinstance(again._state.main.tf, np.memmap)
    assert isinstance(again._state.main.docs, np.memmap)
    table = again._vocab._t
    assert all(isinstance(a, np.memmap) for a in (table.buffer, table.ends, table.hashes))
    assert isinstance(table.slots, np.memmap)


def test_a_mapped_array_is_checked_a_block_at_a_time(tmp_path):
    values = np.array([7, 3, 9, -2, 5, 11, 4], dtype=np.int32)
    _write_aligned(tmp_path / "a.npz", {"docs": values})
    with np.load(tmp_path / "a.npz") as data:
        mapped = _mapped(data, tmp_path / "a.npz", "docs")
        assert isinstance(mapped, np.memmap)
        bounds = [_bounds(mapped, data.fid, block=b) for b in (1, 2, 3, 100)]
    assert bounds == [(-2, 11)] * 4
    assert _bounds(values) == _bounds(mapped) == (-2, 11)


def test_every_array_of_a_snapshot_starts_aligned_and_reads_back(tmp_path):
    """Mapped arrays must be aligned to their items: numpy copies a whole unaligned array
    to search it (the vocabulary's hashes, at every query word)."""
    rng = np.random.default_rng(3)
    arrays = {
        "a": np.arange(5, dtype=np.uint8),
        "odd_name_b": rng.integers(0, 2**63, 1001, dtype=np.uint64),
        "c": np.array([b"x" * 7, b"y" * 7]),
        "d": rng.random(333).astype(np.float32),
        "e": np.zeros(0, dtype=np.int64),
    }
    path = tmp_path / "s.npz"
    _write_aligned(path, arrays)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(arrays)
        for name, array in arrays.items():
            assert np.array_equal(data[name], array) and data[name].dtype == array.dtype
        assert _aligned(data)
        hashes = _mapped(data, path, "odd_name_b")
        assert isinstance(hashes, np.memmap) and hashes.flags.aligned
        assert hashes.offset % 64 == 0
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every member's CRC holds
    np.savez(path, **arrays)  # numpy's own layout: members wherever they fall
    with np.load(path, allow_pickle=False) as data:
        assert not _aligned(data)
        read = _mapped(data, path, "odd_name_b")
        assert read.flags.aligned and np.array_equal(read, arrays["odd_name_b"])


def written_snapshot(indexed) -> tuple[dict, Path, dict[str, np.ndarray]]:
    """A fresh index's results for QUERIES, its snapshot's path and arrays (once written)."""
    index = fresh(indexed)
    expected = {q: found(index, q) for q in QUERIES}
    assert index.wait(timeout=60)
    with np.load(index.cache_path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return expected, index.cache_path, arrays


def test_a_snapshot_of_numpys_layout_is_read_and_written_again_aligned(indexed):
    """Snapshots the last release wrote (np.savez: arrays at any offset) still load, their
    unaligned arrays read instead of mapped, and are written again aligned."""
    expected, path, arrays = written_snapshot(indexed)
    np.savez(path, **arrays)
    with np.load(path, allow_pickle=False) as data:
        assert not _aligned(data)
    older = fresh(indexed)
    assert {q: found(older, q) for q in QUERIES} == expected
    assert older.wait(timeout=60)
    with np.load(path, allow_pickle=False) as data:
        assert _aligned(data)
    again = fresh(indexed)
    assert {q: found(again, q) for q in QUERIES} == expected
    assert isinstance(again._vocab._t.hashes, np.memmap)


def test_a_snapshot_without_the_vocab_hashes_is_read_and_written_again_with_them(indexed):
    """Snapshots from before the vocabulary kept its sorted hashes still load (the tokens
    are hashed when read) and are written again with them."""
    expected, path, arrays = written_snapshot(indexed)
    assert len(arrays.pop("vocab_hashes")) == len(arrays.pop("vocab_slots")) > 100
    np.savez(path, **arrays)
    older = fresh(indexed)
    assert {q: found(older, q) for q in QUERIES} == expected
    assert older.wait(timeout=60)
    with np.load(path, allow_pickle=False) as data:
        hashes = data["vocab_hashes"]
        assert len(hashes) == len(data["vocab_ends"]) and np.all(hashes[:-1] <= hashes[1:])
    assert {q: found(fresh(indexed), q) for q in QUERIES} == expected


def test_without_a_snapshot_the_first_search_does_not_wait_for_the_build(indexed):
    built = fresh(indexed)
    expected = {q: found(built, q) for q in QUERIES}
    built.wait(timeout=60)
    built.cache_path.unlink()
    gate = threading.Event()
    store = indexed.store
    real_get = store.get_chunks

    def slow_get(ids):
        gate.wait(60)
        return real_get(ids)

    store.get_chunks = slow_get
    index = fresh(indexed, background_from=0)
    indexed.searcher.keyword = index
    started = time.monotonic()
    assert index.search("rail strike pay", k=5) == []  # nothing indexed yet
    assert index.warming.startswith("keyword index warming up: 0 of ")
    retrieval = indexed.searcher.retrieve("rail strike pay", k=3)
    assert retrieval.hits  # dense search answers meanwhile
    assert retrieval.keyword_warming.startswith("keyword index warming up")
    notes = indexed.ask("Who called the rail strike over pay?").notes
    assert any(n.startswith("Keyword index warming up") for n in notes), notes
    assert time.monotonic() - started < 30
    gate.set()
    assert index.wait(timeout=120)
    assert index.warming == "" and index.error is None
    assert {q: found(index, q) for q in QUERIES} == expected
    assert indexed.searcher.retrieve("rail strike pay", k=3).keyword_warming == ""
    assert index.cache_path.exists()  # saved when done


def test_the_index_knows_each_articles_day_and_the_outlets(indexed):
    """What the coverage rules read (every article's day, the outlet names) comes from the
    keyword index's arrays when it is in step: the same as from the article rows."""
    from index.schema import published_int

    index = fresh(indexed)
    store = indexed.store
    assert index.facts(store.signature()) is None  # not synced yet: ask the store
    index.sync()
    records = store.records().values()
    days = sorted(d for r in records if (d := published_int(r.published_at)))
    assert index.facts(store.signature()) == (days, {r.source for r in records if r.source})
    indexed.remove(["a001"])
    assert index.facts(store.signature()) is None  # behind the store
    index.sync()
    assert len(index.facts(store.signature())[0]) == len(days) - 1


def test_a_stale_snapshot_gives_its_facts_at_once_then_the_caught_up_ones(indexed):
    """A new process whose snapshot is behind the store (another process removed an
    article) on an index without holdings (written before they were kept): the date rules
    read the snapshot's facts at once, neither waiting for the catch-up nor reading every
    article row, and the caught-up facts from then on."""
    index = fresh(indexed)
    index.sync()
    assert index.wait(timeout=60)
    indexed.remove(["a002"])  # the snapshot on disk is now behind the store
    stale = fresh(indexed, background_from=0)
    indexed.searcher.keyword = stale
    store = indexed.store

    def no_rows():
        raise AssertionError("read every article row")

    store.records = no_rows
    store.holdings = lambda generation: None
    listing = store.chunk_ids
    answered = threading.Event()

    def held_listing():  # the catch-up's first step, held until the facts were read
        answered.wait(timeout=60)
        return listing()

    store.chunk_ids = held_listing
    days, outlets = indexed.searcher.facts._read()
    answered.set()
    assert len(days) == 60 and outlets.outlets  # the snapshot's: the catch-up was not awaited
    assert stale.wait(timeout=60)
    days, _ = indexed.searcher.facts._read()
    assert len(days) == 59  # read again once the index caught up
    assert stale.facts(store.signature()) is not None


def test_a_background_build_stops_when_asked_and_starts_again(indexed):
    built = fresh(indexed)
    expected = {q: found(built, q) for q in QUERIES}
    built.wait(timeout=60)
    built.cache_path.unlink()
    store = indexed.store
    real_get = store.get_chunks
    store.get_chunks = lambda ids: time.sleep(0.2) or real_get(ids)
    index = fresh(indexed, background_from=0)
    import index.keyword as keyword_module

    keyword_module._FETCH, fetch = 5, keyword_module._FETCH  # many batches to stop between
    try:
        assert index.search("rail strike pay", k=5) == []
        assert index.warming
        index.stop()
        assert index.warming == "" and index.error is None
        assert not index.cache_path.exists()  # nothing kept
        assert index.search("rail strike pay", k=5) == []  # the next sync starts again
        assert index.wait(timeout=120)
    finally:
        keyword_module._FETCH = fetch
    assert {q: found(index, q) for q in QUERIES} == expected
    assert index.cache_path.exists()


def test_additions_go_to_the_delta_and_removals_are_masked(indexed, tmp_path):
    index = fresh(indexed)
    assert found(index, "Quillmoor") == {}
    museum = {
        "id": "museum",
        "title": "Museum opens",
        "source": "Metro",
        "published_at": "2025-03-29",
        "url": "https://example.com/museum",
        "body": "The Quillmoor museum opened its doors to a festival crowd.",
    }
    indexed.ingest([write(tmp_path / "more.jsonl", [museum])])
    assert index.search("Quillmoor museum", k=3)[0].article_id == "museum"
    assert index.delta_size == len(indexed.store.records()["museum"].chunk_ids)
    index.wait(timeout=60)
    reloaded = fresh(indexed)  # the delta survives a snapshot round trip
    for query in [*QUERIES, "Quillmoor museum"]:
        assert found(reloaded, query) == found(index, query)
    indexed.remove(["museum"])
    assert found(index, "Quillmoor") == {}
    # Removing more than a quarter re-derives the main segment: bm25s scores again.
    indexed.remove([f"a{i:03d}" for i in range(20)])
    assert found(index, "rail strike pay")
    assert index.delta_size == 0
    for query in QUERIES:
        assert found(index, query) == reference(index, query), query
    assert all(not h.article_id.startswith("a00") for h in index.search("rail strike", k=100))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "inconsistent", "doc id"])
def test_a_damaged_snapshot_is_ignored_and_rebuilt(indexed, damage):
    index = fresh(indexed)
    expected = {q: found(index, q) for q in QUERIES}
    index.wait(timeout=60)
    path = index.cache_path
    if damage == "garbage":
        path.write_bytes(b"not a snapshot at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        if damage == "inconsistent":
            arrays["lengths"] = arrays["lengths"][:-1]
        else:  # a mapped posting that names a chunk the snapshot does not hold
            arrays["main_docs"][-1] = len(arrays["lengths"]) + 5
        np.savez(path, **arrays)
    again = fresh(indexed)
    assert {q: found(again, q) for q in QUERIES} == expected
    assert again.wait(timeout=60)
    assert {q: found(fresh(indexed), q) for q in QUERIES} == expected  # rewritten whole

"""Incremental, idempotent ingest into a real Chroma store with the real embedding model."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import unique_collection

from index import ChromaStore, ModelMismatchError, UsageError, ingest, remove
from index.store import chunk_ids_for


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def article(title: str, body: str, date: str = "2025-01-01", source: str = "Wire") -> str:
    return f"---\ntitle: {title}\nsource: {source}\ndate: {date}\n---\n{body}\n"


LONG = " ".join(f"Sentence number {i} talks about battery plant {i} in detail." for i in range(60))


@pytest.fixture(params=["disk", pytest.param("server", marks=pytest.mark.server)])
def open_store(request, tmp_path):
    """Opens the store under test: on disk, or on a real Chroma server."""
    if request.param == "disk":
        return lambda **kw: ChromaStore(path=tmp_path / "chroma", **kw)
    host, port = request.getfixturevalue("chroma_server")
    name = unique_collection()
    return lambda **kw: ChromaStore(host=host, port=port, collection=name, **kw)


@pytest.fixture
def store(open_store):
    return open_store(embedding_model="all-MiniLM-L6-v2")


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "news"
    write(folder / "a.md", article("Alpha", "Alpha Corp opened a recycling plant in Ohio."))
    write(folder / "sub" / "b.md", article("Beta", LONG))
    write(folder / "c.txt", "date 2025-02-03 Gamma Ltd bought Delta Inc for two billion dollars.")
    return folder


def chunk_ids_in(store: ChromaStore) -> set[str]:
    return {c.chunk_id for c in store.iter_chunks()}


def test_first_ingest_then_nothing_to_do(store, corpus, embedder):
    first = ingest([corpus], store=store, embedder=embedder)
    assert (first.added, first.updated, first.unchanged, first.duplicates) == (3, 0, 0, 0)
    assert first.chunks > 3 and not first.failed
    before = chunk_ids_in(store)
    second = ingest([corpus], store=store, embedder=embedder)
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, 3, 0)
    assert chunk_ids_in(store) == before


def test_bookkeeping_matches_chroma(store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    records = store.records()
    expected = {cid for r in records.values() for cid in r.chunk_ids}
    assert chunk_ids_in(store) == expected
    beta = next(r for r in records.values() if r.title == "Beta")
    assert beta.published_at == "2025-01-01" and beta.source == "Wire"
    for chunk in store.iter_chunks():
        assert chunk.metadata["published_int"] in (20250101, 20250203)


@pytest.fixture
def textless(open_store):
    """A store that writes chunks without their text (ASSISTANT_STORE_CHUNK_TEXT=false)."""
    return open_store(embedding_model="all-MiniLM-L6-v2", chunk_texts=False)


def test_chunks_are_stored_with_their_text_and_searches_read_no_article_body(
    store, corpus, embedder
):
    ingest([corpus], store=store, embedder=embedder)
    stored = store._chunks.get(include=["documents", "metadatas"])
    for text, meta in zip(stored["documents"], stored["metadatas"], strict=True):
        _, body = store.get_article(meta["article_id"])
        assert text and text == body[meta["start"] : meta["end"]]
    reads = []
    real_get = store._articles.get
    store._articles.get = lambda **kw: reads.append(kw.get("include")) or real_get(**kw)
    best = store.search(embedder.embed_query("a recycling plant in Ohio"), k=3)[0]
    assert best.text.startswith("Alpha Corp opened a recycling plant in Ohio")
    assert reads and not any("documents" in (include or []) for include in reads)


def test_a_chunk_is_its_article_body_sliced_and_its_text_is_not_stored_again(
    textless, corpus, embedder
):
    store = textless
    ingest([corpus], store=store, embedder=embedder)
    stored = store._chunks.get(include=["documents"])
    assert stored["ids"] and not any(stored["documents"])
    for chunk in store.iter_chunks():
        _, body = store.get_article(chunk.article_id)
        start, end = chunk.metadata["start"], chunk.metadata["end"]
        assert chunk.text and chunk.text == body[start:end]
    assert all(h.text for h in store.get_chunks(sorted(chunk_ids_in(store))))
    best = store.search(embedder.embed_query("a recycling plant in Ohio"), k=1)[0]
    assert best.text.startswith("Alpha Corp opened a recycling plant in Ohio")


def test_an_edited_article_is_read_in_its_new_version(textless, corpus, embedder):
    store = textless
    ingest([corpus], store=store, embedder=embedder)
    before = store.get_chunks(sorted(chunk_ids_in(store)))  # the bodies read are kept
    assert any("Ohio" in h.text for h in before)
    write(corpus / "a.md", article("Alpha", "Alpha Corp moved its recycling plant to Texas."))
    ingest([corpus], store=store, embedder=embedder)
    after = store.get_chunks(sorted(chunk_ids_in(store)))
    alpha = [h for h in after if h.title == "Alpha"]
    assert [h.text for h in alpha] == ["Alpha Corp moved its recycling plant to Texas."]
    assert not any("Ohio" in h.text for h in after)


def test_chunks_an_older_release_stored_with_their_text_still_read(store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    old = store._chunks.get(include=["metadatas", "embeddings"], limit=1)
    store._chunks.upsert(
        ids=old["ids"],
        embeddings=old["embeddings"],
        metadatas=old["metadatas"],
        documents=["Text kept with the chunk."],
    )
    assert store.get_chunks(old["ids"])[0].text == "Text kept with the chunk."


def test_editing_one_file_replaces_exactly_its_chunks(store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    records = store.records()
    beta = next(r for r in records.values() if r.title == "Beta")
    others = {cid for r in records.values() if r.id != beta.id for cid in r.chunk_ids}
    write(corpus / "sub" / "b.md", article("Beta", LONG.replace("plant 7 ", "factory 7 ")))
    report = ingest([corpus], store=store, embedder=embedder)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    new_beta = store.records()[beta.id]
    assert new_beta.fingerprint != beta.fingerprint
    assert chunk_ids_in(store) == others | set(new_beta.chunk_ids), "no orphans, others untouched"
    assert not set(beta.chunk_ids) & chunk_ids_in(store)


def test_same_text_under_another_path_is_a_duplicate(store, corpus, embedder, tmp_path):
    ingest([corpus], store=store, embedder=embedder)
    copy = write(tmp_path / "elsewhere" / "a-copy.md", (corpus / "a.md").read_text())
    report = ingest([copy], store=store, embedder=embedder)
    assert (report.added, report.duplicates) == (0, 1)
    (outcome,) = [f for f in report.files if f.status == "duplicate"]
    assert "same text as" in outcome.detail
    assert store.counts()[0] == 3


def test_bad_files_are_reported_and_the_rest_indexed(store, corpus, embedder):
    write(corpus / "empty.txt", "")
    (corpus / "bin.txt").write_bytes(b"\x00\xff" * 50)
    write(corpus / "bad.jsonl", json.dumps({"id": "j1", "body": "Jay text here."}) + "\n{oops\n")
    report = ingest([corpus], store=store, embedder=embedder)
    assert report.added == 4  # a, b, c and the good JSONL line
    failed = {Path(e.path).name: e.reason for e in report.failed}
    assert set(failed) == {"empty.txt", "bin.txt", "bad.jsonl:2"}
    # The file with a bad line is read again next time so the failure is not forgotten.
    again = ingest([corpus], store=store, embedder=embedder)
    assert {Path(e.path).name for e in again.failed} == set(failed)
    assert again.chunks == 0


def test_removing_a_line_from_a_jsonl_removes_that_article(store, embedder, tmp_path):
    path = tmp_path / "feed.jsonl"
    rows = [
        {"id": f"n{i}", "title": f"T{i}", "body": f"Body number {i} about batteries."}
        for i in range(3)
    ]
    write(path, "\n".join(json.dumps(r) for r in rows))
    ingest([path], store=store, embedder=embedder)
    write(path, "\n".join(json.dumps(r) for r in rows[:2]))
    report = ingest([path], store=store, embedder=embedder)
    assert (report.removed, report.unchanged) == (1, 2)
    assert set(store.records()) == {"n0", "n1"}
    assert {c.article_id for c in store.iter_chunks()} == {"n0", "n1"}


def test_remove_by_id_and_by_path_and_unknown(store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    assert remove([str(corpus / "sub")], store=store) == 1
    gamma = next(r.id for r in store.records().values() if r.title.startswith("Gamma"))
    assert remove([gamma], store=store) == 1
    assert [r.title for r in store.records().values()] == ["Alpha"]
    assert {c.article_id for c in store.iter_chunks()} == set(store.records())
    with pytest.raises(UsageError, match="no indexed article"):
        remove(["https://nowhere.example/x"], store=store)


def test_rebuild_starts_from_scratch(store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    report = ingest([corpus / "a.md"], store=store, embedder=embedder, rebuild=True)
    assert report.added == 1 and store.counts()[0] == 1


def test_the_index_refuses_another_embedding_model(store, open_store, corpus, embedder):
    ingest([corpus], store=store, embedder=embedder)
    with pytest.raises(ModelMismatchError, match="--rebuild"):
        open_store(embedding_model="some-other-model")


def test_chunk_ids_are_deterministic():
    assert chunk_ids_for("https://x/a", "f" * 64, 2) == chunk_ids_for("https://x/a", "f" * 64, 2)
    assert chunk_ids_for("https://x/a", "f" * 64, 1) != chunk_ids_for("https://x/a", "e" * 64, 1)


def test_progress_is_reported_per_file(store, corpus, embedder):
    seen = []
    ingest([corpus], store=store, embedder=embedder, progress=seen.append)
    assert [p.files_done for p in seen] == [1, 2, 3]
    assert all(p.files_total == 3 for p in seen)


def test_readers_never_see_chunks_their_article_row_does_not_list(store, corpus, embedder):
    """Chunks written ahead of their row (or left over from a replaced version) stay
    invisible to search until the row lists them."""
    ingest([corpus], store=store, embedder=embedder)
    alpha = next(r for r in store.records().values() if r.title == "Alpha")
    vector = embedder.embed_query("Alpha Corp opened a recycling plant in Ohio.")
    meta = {"article_id": alpha.id, "title": "Alpha", "start": 0, "end": 5}
    store._chunks.upsert(
        ids=["pending-version-0000", "no-row-yet-0000"],
        embeddings=[vector, vector],
        documents=["Alpha", "Ghost"],
        metadatas=[meta, {**meta, "article_id": "not-yet-written"}],
    )
    found = {h.chunk_id for h in store.search(vector, k=10)}
    assert alpha.chunk_ids[0] in found
    assert not found & {"pending-version-0000", "no-row-yet-0000"}
    assert (
        store.get_chunks(["no-row-yet-0000", alpha.chunk_ids[0]])[0].chunk_id == alpha.chunk_ids[0]
    )


def test_article_lists_past_sqlites_variable_limit(tmp_path, corpus, embedder):
    """Reading every article row at once asks SQLite for one variable per row: past 32,766
    (about 33,000 articles) Chroma refused it. Rows are read, and removed, in pages."""
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([corpus], store=store, embedder=embedder)
    first_id, first = next(iter(store.records().items()))
    meta = store._articles.get(ids=[first_id], include=["metadatas"])["metadatas"][0]
    extra = [f"bulk-{i:05d}" for i in range(33_000)]
    for start in range(0, len(extra), 4096):
        ids = extra[start : start + 4096]
        store._articles.add(ids=ids, embeddings=[[1.0]] * len(ids), metadatas=[meta] * len(ids))
    records = store.records()
    assert len(records) == len(extra) + 3 and records["bulk-32999"].title == first.title
    assert store.delete(extra) == len(extra)
    assert set(store.records()) == {r for r in records if not r.startswith("bulk-")}


# -- holdings: each day's and outlet's article count, kept by the writer ------------------


def held_by_rows(store: ChromaStore) -> tuple[list[int], set[str]]:
    from index import Holdings

    return Holdings.of(store.records().values()).facts()


def test_the_writer_keeps_the_holdings_in_step_with_the_rows(store, corpus, embedder):
    """Every write, edit, removal and rebuild leaves holdings (articles per day and outlet)
    stamped with the generation it leaves, equal to counting every article row."""
    ingest([corpus], store=store, embedder=embedder)
    held = store.holdings(store.signature())
    assert held is not None and held.facts() == held_by_rows(store)
    assert held.facts() == ([20250101, 20250101, 20250203], {"Wire"})
    # An edit that moves an article to another day and outlet.
    write(corpus / "a.md", article("Alpha", "Alpha Corp opened a plant.", "2025-03-04", "Daily"))
    ingest([corpus], store=store, embedder=embedder)
    assert store.holdings(store.signature()).facts() == held_by_rows(store)
    assert store.holdings(store.signature()).outlets == {"Wire": 1, "Daily": 1}
    remove([str(corpus / "sub")], store=store)
    held = store.holdings(store.signature())
    assert held.facts() == held_by_rows(store) == ([20250203, 20250304], {"Daily"})
    ingest([corpus / "a.md"], store=store, embedder=embedder, rebuild=True)
    assert store.holdings(store.signature()).facts() == ([20250304], {"Daily"})


def test_a_new_process_reads_the_holdings_not_every_article_row(
    store, open_store, corpus, embedder
):
    """The date rules and the outlet names of a new process (no keyword index yet) come
    from the holdings: no article row is read; so does the stats' outlet count."""
    from assistant.core import NewsAssistant
    from assistant.retrieval import IndexFacts
    from assistant.settings import load_settings

    ingest([corpus], store=store, embedder=embedder)
    expected = held_by_rows(store)
    fresh = open_store(embedding_model="all-MiniLM-L6-v2")

    def no_rows():
        raise AssertionError("read every article row")

    fresh.records = no_rows
    facts = IndexFacts(fresh)
    assert facts.published_between(date(2025, 1, 1), date(2025, 1, 31)) == 2
    assert set(facts.outlets().outlets) >= {"Wire", "The Wire"}
    assert facts._read()[0] == expected[0]
    assistant = NewsAssistant(load_settings(llm="extractive"), store=fresh, embedder=embedder)
    assert assistant.stats().sources == {"Wire": 2, "(unknown outlet)": 1}  # c.txt names none


def test_holdings_not_kept_for_the_store_as_it_is_are_not_trusted(store, corpus, embedder):
    """An index written before the holdings were kept, or a write stopped between saving
    them and stamping the store: no holdings for the store's generation, so readers count
    the rows; the next write counts again and keeps them from then on."""
    from assistant.retrieval import IndexFacts

    ingest([corpus], store=store, embedder=embedder)
    signature = store.signature()
    store._holdings.save(store.holdings(signature), "a generation never reached")
    assert store.holdings(store.signature()) is None
    assert IndexFacts(store)._read()[0] == held_by_rows(store)[0]  # from the rows
    write(corpus / "d.md", article("Delta", "Delta Inc hired staff.", "2025-04-05", "Post"))
    ingest([corpus], store=store, embedder=embedder)
    held = store.holdings(store.signature())
    assert held is not None and held.facts() == held_by_rows(store)
    assert held.outlets == {"Wire": 2, "Post": 1}


def test_a_search_reads_its_articles_rows_once(textless, open_store, corpus, embedder):
    """Chunks kept without their text: the rows read for the texts also say which chunks
    are live, so a search on a new process reads no article row a second time."""
    store = textless
    ingest([corpus], store=store, embedder=embedder)
    fresh = open_store(embedding_model="all-MiniLM-L6-v2", chunk_texts=False)

    def read_again(article_ids):
        raise AssertionError(f"article rows read again: {article_ids}")

    fresh._rows = read_again
    hits = fresh.search(embedder.embed_query("battery plant"), k=5)
    assert hits and all(h.text for h in hits)
    assert {h.article_id for h in hits} <= set(store.records())

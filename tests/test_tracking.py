"""Tracked questions: re-asked over the articles indexed since their last check, against a
real Chroma in a temp dir with the real embedding model (tiny corpora, offline answers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli

GEM_2023 = {
    "id": "gem-2023",
    "title": "GEM opens a battery recycling line in Jingmen",
    "source": "Metals Daily",
    "published_at": "2023-05-02",
    "url": "https://example.com/metals/gem-jingmen",
    "body": (
        "GEM Co. announced that it opened a battery recycling line in Jingmen. "
        "The line recovers nickel and cobalt from used electric-car batteries. "
        "The company said the plant can process 100,000 tonnes a year."
    ),
}
GEM_2024 = {
    "id": "gem-2024",
    "title": "GEM signs a recycling deal with a carmaker in Indonesia",
    "source": "Asia Energy Wire",
    "published_at": "2024-02-11",
    "url": "https://example.com/asia/gem-indonesia",
    "body": (
        "GEM Co. announced a partnership with Ecopro to recycle batteries in Indonesia. "
        "The two companies will build a plant near Morowali that opens in 2026. "
        "GEM said the deal secures nickel supply for its cathode factories."
    ),
}
BAKERY = {
    "id": "bakery",
    "title": "Village bakery wins a sourdough prize",
    "source": "County Gazette",
    "published_at": "2024-02-12",
    "url": "https://example.com/county/bakery",
    "body": (
        "A family bakery in the village of Upton won the county sourdough prize. "
        "The judges praised the crust and the long fermentation of the loaves. "
        "The owners said they will bake the winning bread every Saturday."
    ),
}
QUESTION = "What has GEM announced about battery recycling?"


def _write(folder: Path, name: str, *articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    return path


def test_a_relevant_new_article_is_reported_with_its_new_citation(tmp_path, make_assistant):
    news = tmp_path / "news"
    assistant = make_assistant()
    assistant.ingest([_write(news, "a.jsonl", GEM_2023)])
    tracked = assistant.track(QUESTION)
    assert tracked.answer is not None and not tracked.answer.refused
    assert {c.article_id for c in tracked.answer.citations} == {"gem-2023"}

    # Nothing indexed since: nothing new, and no question is asked of an unchanged index.
    (quiet,) = assistant.check_tracked()
    assert not quiet.changed and quiet.new_articles == 0

    # An unrelated article: quiet.
    assistant.ingest([_write(news, "b.jsonl", BAKERY)])
    (unrelated,) = assistant.check_tracked()
    assert unrelated.new_articles == 1
    assert not unrelated.changed and unrelated.answer is None

    # A relevant one: the new answer cites it, and says that citation is new.
    assistant.ingest([_write(news, "c.jsonl", GEM_2024)])
    (update,) = assistant.check_tracked()
    assert update.changed and update.answer is not None
    new = update.cited_new()
    assert new and {c.article_id for c in new} == {"gem-2024"}
    assert all(c.n in update.new_citations for c in new)
    assert "Ecopro" in " ".join(c.quote for c in new)

    # The stored answer moved on: the same articles are not reported twice.
    (stored,) = assistant.tracked()
    assert "gem-2024" in {c.article_id for c in stored.answer.citations}
    (again,) = assistant.check_tracked()
    assert not again.changed


def test_articles_indexed_before_indexed_at_existed_count_as_old(tmp_path, make_assistant):
    assistant = make_assistant()
    assistant.ingest([_write(tmp_path / "news", "a.jsonl", GEM_2023)])
    store = assistant.store
    assert store.indexed_since(0) == ["gem-2023"]
    # A row from before the key existed (Chroma cannot delete one key: rewrite it without).
    got = store._articles.get(ids=["gem-2023"], include=["metadatas", "documents"])
    meta = {k: v for k, v in got["metadatas"][0].items() if k != "indexed_at"}
    store._articles.delete(ids=["gem-2023"])
    store._articles.add(
        ids=["gem-2023"], documents=got["documents"], metadatas=[meta], embeddings=[[1.0]]
    )
    assert store.indexed_since(0) == []


def test_track_add_list_remove_and_json(tmp_path):
    data = tmp_path / "data"
    news = tmp_path / "news"
    assert run_cli(["ingest", str(_write(news, "a.jsonl", GEM_2023))], data=data).returncode == 0

    added = run_cli(["track", "add", QUESTION], data=data)
    assert added.returncode == 0, added.stderr
    tracked_id = added.stdout.split()[1].rstrip(":")

    listed = json.loads(run_cli(["track", "list", "--json"], data=data).stdout)
    assert [t["id"] for t in listed] == [tracked_id]
    assert listed[0]["question"] == QUESTION
    assert listed[0]["checked_at"].endswith("Z")
    assert [c["article_id"] for c in listed[0]["citations"]] == ["gem-2023"]
    assert QUESTION in run_cli(["track", "list"], data=data).stdout

    checked = run_cli(["track", "check"], data=data)
    assert checked.returncode == 0 and f"{tracked_id}  {QUESTION}: nothing new" in checked.stdout
    as_json = json.loads(run_cli(["track", "check", "--json"], data=data).stdout)
    assert as_json == [
        {
            "id": tracked_id,
            "question": QUESTION,
            "changed": False,
            "new_articles": 0,
            "answer": "",
            "citations": [],
            "new_citations": [],
        }
    ]

    assert run_cli(["track", "remove", tracked_id], data=data).returncode == 0
    assert json.loads(run_cli(["track", "list", "--json"], data=data).stdout) == []
    missing = run_cli(["track", "remove", tracked_id], data=data)
    assert missing.returncode == 2 and "track list" in missing.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_ingest_ends_by_printing_what_changed(tmp_path, as_json):
    data = tmp_path / "data"
    news = tmp_path / "news"
    run_cli(["ingest", str(_write(news, "a.jsonl", GEM_2023))], data=data)
    tracked_id = run_cli(["track", "add", QUESTION], data=data).stdout.split()[1].rstrip(":")

    flag = ["--json"] if as_json else []
    quiet = run_cli(["ingest", str(_write(news, "b.jsonl", BAKERY)), *flag], data=data)
    assert quiet.returncode == 0
    if as_json:
        assert not json.loads(quiet.stdout)["tracked"][0]["changed"]
    else:
        assert "tracked" not in quiet.stdout

    loud = run_cli(["ingest", str(_write(news, "c.jsonl", GEM_2024)), *flag], data=data)
    assert loud.returncode == 0, loud.stderr
    if as_json:
        (update,) = json.loads(loud.stdout)["tracked"]
        assert update["changed"] and update["id"] == tracked_id
        new = [c for c in update["citations"] if c["n"] in update["new_citations"]]
        assert [c["article_id"] for c in new] == ["gem-2024"]
    else:
        assert f"tracked {tracked_id}  {QUESTION}: new articles change the answer" in loud.stdout
        assert "GEM signs a recycling deal" in loud.stdout
        assert "New since the last check: [" in loud.stdout


@pytest.fixture
def web():
    from web_server import WebServer

    with WebServer() as server:
        yield server


def test_sync_and_the_background_sync_check_tracked_questions(tmp_path, make_assistant, web):
    from test_feeds import feed_site

    from assistant.schedule import BackgroundSync

    question = "Where will GEM and Ascend Elements build a battery recycling plant?"
    assistant = make_assistant(sync_minutes=30)
    assistant.ingest([_write(tmp_path / "news", "a.jsonl", BAKERY)])
    tracked = assistant.track(question)
    assistant.add_feed(feed_site(web))

    background = BackgroundSync(assistant, minutes=30)
    report = background.run_once()
    assert report is not None and report.added == 3
    (update,) = background.tracked_updates
    assert update.id == tracked.id and update.changed
    assert "Gliwice" in " ".join(c.quote for c in update.cited_new())

    # `sync` on the CLI: nothing new since the background check.
    synced = run_cli(["sync"], data=tmp_path / "data")
    assert synced.returncode == 0, synced.stderr
    assert "tracked" not in synced.stdout


def test_the_tracked_tab_marks_what_changed_since_it_was_last_opened(tmp_path, make_assistant):
    from assistant.ui.app import build_app
    from assistant.ui.handlers import UIHandlers

    news = tmp_path / "news"
    assistant = make_assistant()
    handlers = UIHandlers(assistant)
    badge, panel = handlers.tracked_view(0.0)
    assert badge == "" and "No tracked questions" in panel

    assistant.ingest([_write(news, "a.jsonl", GEM_2023)])
    assistant.track(QUESTION)
    badge, panel = handlers.tracked_view(0.0)
    assert badge == "" and QUESTION in panel and "Jingmen" in panel
    assert "tracked-new" not in panel

    opened = handlers.tracked_seen()
    assistant.ingest([_write(news, "c.jsonl", GEM_2024)])
    assistant.check_tracked()
    badge, panel = handlers.tracked_view(opened)
    assert "1 tracked question with new articles" in badge
    assert "tracked-new" in panel and "Ecopro" in panel
    # The new citation is marked, the old one is not.
    (new_row,) = re.findall(r'<li value="\d+" class="tracked-source-new">.*?</li>', panel, re.S)
    assert "Indonesia" in new_row and "Jingmen" not in new_row

    # Once the tab has been opened again, nothing is new.
    assert handlers.tracked_badge(handlers.tracked_seen()) == ""
    # The page builds with the tab and the badge.
    config = build_app(assistant).get_config_file()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"tracked-badge", "tracked-panel"} <= ids


def test_a_check_does_not_bring_back_a_question_removed_meanwhile(tmp_path, make_assistant):
    assistant = make_assistant()
    assistant.ingest([_write(tmp_path / "news", "a.jsonl", GEM_2023)])
    tracked = assistant.track(QUESTION)
    stale = tracked.model_copy(update={"checked_at": tracked.checked_at + 1})
    assistant.untrack(tracked.id)
    assistant.store.save_tracked([stale.to_record()], existing=True)
    assert assistant.tracked() == []


def test_a_failed_check_after_ingest_still_prints_what_went_in(tmp_path, monkeypatch):
    from assistant.core import NewsAssistant
    from index.errors import StoreError

    def failing(self):
        raise StoreError("cannot read tracked questions from the store (gone)")

    monkeypatch.setattr(NewsAssistant, "check_tracked", failing)
    result = run_cli(["ingest", str(_write(tmp_path / "news", "a.jsonl", GEM_2023))], data=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("1 added")
    assert "error: checking the tracked questions failed: cannot read" in result.stderr

"""Stories at answer time: the sources of an answer are distinct stories, each citation
names its story's other copies; `assistant stories`, `stats` and `ask` print them; the
web UI shows them under the source and in the viewer. Real Chroma, the real embedding model."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli
from test_stories import COPY_A, COPY_B, OTHER, OWN_REPORT, WIRE, body, write_article
from test_ui_render import BODY, citation, record, turn

from assistant.models import ReportedBy
from assistant.ui.chat import dump_turns, load_turns
from assistant.ui.render import render_answer, render_viewer
from index import stories as story_index

QUESTION = "What did the Harbor City council decide about the Ferris Street bridge?"


@pytest.fixture
def bridge_news(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    articles = [
        ("wire", "Council approves new Ferris Street bridge", "Wire Service", "2025-03-03", WIRE),
        ("copy-a", "Ferris Street bridge to be rebuilt", "Valley Courier", "2025-03-04", COPY_A),
        ("copy-b", "Harbor City picks a new bridge", "Metro Daily", "2025-03-05", COPY_B),
        ("own", "Inside the bridge vote", "Harbor Ledger", "2025-03-04", OWN_REPORT),
        ("other", "Free concerts in the garden", "Arts Weekly", "2025-03-01", OTHER),
    ]
    for name, title, source, day, paragraphs in articles:
        write_article(
            folder,
            name,
            title=title,
            source=source,
            published_at=day,
            url=f"https://{name}.example/story",
            body=body(paragraphs),
        )
    return folder


def test_answers_cite_distinct_stories_and_list_the_copies(make_assistant, bridge_news):
    assistant = make_assistant(llm="extractive")
    assistant.ingest([bridge_news])
    retrieval = assistant.searcher.retrieve(QUESTION, k=8)
    story = assistant.store.story_of([h.article_id for h in retrieval.hits])
    stories_of_hits = {story[h.article_id] for h in retrieval.hits}
    articles_of_hits = {h.article_id for h in retrieval.hits}
    # One copy stands for the bridge story: never two copies of one report.
    assert len(articles_of_hits & {"wire", "copy-a", "copy-b"}) == 1
    assert len(stories_of_hits) == len(articles_of_hits)
    assert "own" in articles_of_hits  # a distinct report of the same event is kept

    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.citations
    cited = {c.article_id for c in answer.citations}
    assert len(cited & {"wire", "copy-a", "copy-b"}) == 1
    wire_story = story_index.story_id_for("wire")
    for c in answer.citations:
        if c.article_id in {"wire", "copy-a", "copy-b"}:
            assert c.story_id == wire_story
            copies = {r.article_id: r for r in c.also_reported_by}
            assert set(copies) == {"wire", "copy-a", "copy-b"} - {c.article_id}
            for aid, r in copies.items():
                assert r.url == f"https://{aid}.example/story" and r.published_at.startswith(
                    "2025-03-0"
                )
            # The original comes first among the other copies.
            if c.article_id != "wire":
                assert c.also_reported_by[0].article_id == "wire"
                assert c.also_reported_by[0].source == "Wire Service"
        else:
            assert c.also_reported_by == ()
            assert c.story_id == story_index.story_id_for(c.article_id)

    # `ask --json` carries the same (as a server would send it back).
    dumped = answer.model_dump(mode="json")
    assert all("also_reported_by" in c and "story_id" in c for c in dumped["citations"])
    assert type(answer).model_validate(dumped).citations == answer.citations


def test_a_story_of_many_copies_names_the_first_ones_and_counts_the_rest(make_assistant, tmp_path):
    """A wire report run by 25 outlets: a citation names 20 other copies (the original
    first, then by date) and carries the story's size; the CLI says how many more."""
    from assistant.stories import MAX_COPIES, also_in

    folder = tmp_path / "news"
    folder.mkdir()
    for i in range(25):
        write_article(
            folder,
            f"run{i:02d}",
            title=f"Council approves new Ferris Street bridge ({i})",
            source=f"Outlet {i:02d}",
            published_at=f"2025-03-{3 + i // 10:02d}",
            url=f"https://run{i:02d}.example/story",
            body=body([*WIRE, f"Outlet {i} runs this report."]),
        )
    assistant = make_assistant(llm="extractive")
    assistant.ingest([folder])
    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.citations
    c = answer.citations[0]
    assert c.story_size == 25 and len(c.also_reported_by) == MAX_COPIES == 20
    named = [r.article_id for r in c.also_reported_by]
    expected = [f"run{i:02d}" for i in range(25) if f"run{i:02d}" != c.article_id][:20]
    assert named == expected  # original first, then by date (then id)
    outlets = also_in(c.also_reported_by, story_size=c.story_size)
    assert outlets[-1] == "4 more copies" and len(outlets) == 21


def test_cli_lists_stories_counts_them_and_prints_also_in(tmp_path, bridge_news):
    data = tmp_path / "data"
    assert run_cli(["ingest", str(bridge_news)], data=data).returncode == 0

    listed = json.loads(run_cli(["stories", "--json"], data=data).stdout)
    assert len(listed) == 3
    assert listed[0]["story_id"] == story_index.story_id_for("wire")
    assert listed[0]["original"] == "wire"
    assert [c["source"] for c in listed[0]["copies"]] == [
        "Wire Service",
        "Valley Courier",
        "Metro Daily",
    ]
    several = json.loads(run_cli(["stories", "--json", "--min-copies", "2"], data=data).stdout)
    assert [s["original"] for s in several] == ["wire"]
    text = run_cli(["stories", "--min-copies", "2"], data=data).stdout
    assert "3 copies  Council approves new Ferris Street bridge" in text
    assert "Metro Daily" in text and "Arts Weekly" not in text
    assert run_cli(["stories", "--min-copies", "0"], data=data).returncode == 2

    stats = json.loads(run_cli(["stats", "--json"], data=data).stdout)
    assert (stats["articles"], stats["stories"]) == (5, 3)
    assert "stories:         3" in run_cli(["stats"], data=data).stdout

    shown = run_cli(["ask", QUESTION], data=data).stdout
    also = re.findall(r"also in: (.+)", shown)
    assert len(also) == 1, shown
    outlets = {"Wire Service", "Valley Courier", "Metro Daily"}
    named = set(also[0].split(", "))
    assert len(named) == 2 and named < outlets


COPIES = (
    ReportedBy(
        article_id="wire-1",
        source="Wire <b>Service</b>",
        published_at="2025-11-03",
        url="https://wire.example/gem",
    ),
    ReportedBy(
        article_id="copy-2", source="Metro Daily", published_at="2025-11-05", url="javascript:x"
    ),
    ReportedBy(
        article_id="copy-3",
        source="Metro Daily",
        published_at="2025-11-06",
        url="https://m.example",
    ),
)


def test_the_ui_shows_the_other_outlets_under_the_source_and_in_the_viewer():
    cited = citation(story_id="story-1", also_reported_by=COPIES)
    html = render_answer(turn("GEM is Chinese [1].", [cited]), 0)
    also = re.search(r'<span class="source-also">(.*?)</span>', html, re.S)
    assert also is not None
    # Each outlet once, escaped.
    assert also.group(1) == "also in: Wire &lt;b&gt;Service&lt;/b&gt;, Metro Daily"

    viewer = render_viewer(cited, turn=0, record=record(), body=BODY)
    block = re.search(r'<div class="viewer-also">(.*?)</div>', viewer, re.S)
    assert block is not None
    items = re.findall(r"<li>(.*?)</li>", block.group(1), re.S)
    assert len(items) == 3
    assert 'href="https://wire.example/gem"' in items[0] and "Wire &lt;b&gt;" in items[0]
    assert "href" not in items[1]  # not a web link: no link
    assert "<b>" not in viewer

    big = citation(story_id="story-1", also_reported_by=COPIES, story_size=40)
    also = re.search(
        r'<span class="source-also">(.*?)</span>', render_answer(turn("GEM [1].", [big]), 0)
    )
    assert also is not None and also.group(1).endswith(", 36 more copies")
    restored = load_turns(dump_turns([turn("GEM [1].", [big])]))[0]
    assert restored.answer.citations[0].story_size == 40

    plain = render_answer(turn("GEM is Chinese [1].", [citation()]), 0)
    assert "source-also" not in plain
    assert "viewer-also" not in render_viewer(citation(), turn=0, record=record(), body=BODY)


def test_the_copies_survive_the_conversation_stored_in_the_browser():
    cited = citation(story_id="story-1", also_reported_by=COPIES)
    stored = dump_turns([turn("GEM is Chinese [1].", [cited])])
    loaded = load_turns(stored)
    assert loaded[0].answer.citations == [cited]
    # A tampered list of copies drops that turn, not the chat.
    for bad in ("Metro Daily", [{"article_id": 5}], ["x"]):
        tampered = json.loads(json.dumps(stored))
        tampered[0]["answer"]["citations"][0]["also_reported_by"] = bad
        assert load_turns([*tampered, *stored]) == loaded

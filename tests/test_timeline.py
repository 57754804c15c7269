"""Timelines: one dated item per story, oldest first, each a verbatim quote with its citation
and the other outlets that ran the story; event dates read from the sentence; chronology
questions in the chat answered as a timeline; `assistant timeline --json`; Markdown export.
Real Chroma in a temp dir, the real embedding model, articles written for the test."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import run_cli
from test_stories import COPY_A, COPY_B, OTHER, OWN_REPORT, WIRE, body, write_article

from assistant.export import answer_markdown
from assistant.timeline import chronology, event_date

SUBJECT = "the Ferris Street bridge"

EARLY = [
    "Harbor City closed the Ferris Street bridge to trucks in April after inspectors found "
    "corroded steel beneath the deck, the public works department said.",
    "Cars and buses may still cross the span, but drivers of heavy vehicles face a detour of "
    "about four miles through the Mill River neighborhood.",
    "Engineers will decide by autumn whether the bridge can be repaired or has to be replaced.",
]
LATER = [
    "Crews began demolishing the old Ferris Street bridge on Tuesday, six months after the "
    "Harbor City council voted to replace it.",
    "A temporary span for pedestrians and cyclists opened across the Mill River last week.",
    "The city expects the new bridge to open to traffic in 2027.",
]
ARTICLES = [
    ("later", "Demolition of Ferris Street bridge begins", "Valley Courier", "2025-09-10", LATER),
    ("wire", "Council approves new Ferris Street bridge", "Wire Service", "2025-03-03", WIRE),
    ("copy-a", "Ferris Street bridge to be rebuilt", "Valley Courier", "2025-03-04", COPY_A),
    ("copy-b", "Harbor City picks a new bridge", "Metro Daily", "2025-03-05", COPY_B),
    ("own", "Inside the bridge vote", "Harbor Ledger", "2025-03-04", OWN_REPORT),
    ("early", "Ferris Street bridge closed to trucks", "Harbor Ledger", "2024-05-20", EARLY),
    ("other", "Free concerts in the garden", "Arts Weekly", "2025-03-01", OTHER),
]
BODIES = {name: body(paragraphs) for name, _, _, _, paragraphs in ARTICLES}


@pytest.fixture(scope="module")
def bridge_dir(tmp_path_factory, embedder):
    """A data dir with the bridge articles indexed once for the module."""
    from assistant import NewsAssistant, load_settings

    root = tmp_path_factory.mktemp("timeline")
    folder = root / "news"
    folder.mkdir()
    for name, title, source, day, paragraphs in ARTICLES:
        write_article(
            folder,
            name,
            title=title,
            source=source,
            published_at=day,
            url=f"https://{name}.example/story",
            body=body(paragraphs),
        )
    assistant = NewsAssistant(
        load_settings(data_dir=root / "data", llm="extractive"), embedder=embedder
    )
    report = assistant.ingest([folder])
    assert not report.failed, report.failed
    return root / "data"


@pytest.fixture(scope="module")
def bridge(bridge_dir, embedder):
    from assistant import NewsAssistant, load_settings

    return NewsAssistant(load_settings(data_dir=bridge_dir, llm="extractive"), embedder=embedder)


def test_timeline_is_one_dated_verbatim_item_per_story_oldest_first(bridge):
    timeline = bridge.timeline(SUBJECT)
    items = timeline.items
    articles = [i.citation.article_id for i in items]
    # The unrelated article is left out; the three copies of the wire report are one item.
    assert "other" not in articles
    assert len(set(articles) & {"wire", "copy-a", "copy-b"}) == 1
    assert {"early", "own", "later"} <= set(articles)
    assert len(items) == 4
    # Oldest first, by the event's date where the sentence gives one.
    assert [i.date for i in items] == sorted(i.date for i in items)
    assert articles[0] == "early" and articles[-1] == "later"
    for n, item in enumerate(items, start=1):
        c = item.citation
        assert c.n == n
        assert BODIES[c.article_id][c.start : c.end] == c.quote  # verbatim, with offsets
        assert c.url == f"https://{c.article_id}.example/story"
        assert item.published_at == c.published_at
        assert item.summary == ""  # offline: no summaries
        if item.event is None:  # placed at the story's first report, whichever copy is quoted
            first = min([c.published_at, *(r.published_at for r in c.also_reported_by)])
            assert item.date == first
    story = items[articles.index(next(a for a in articles if a in {"wire", "copy-a", "copy-b"}))]
    copies = {r.article_id for r in story.citation.also_reported_by}
    assert copies == {"wire", "copy-a", "copy-b"} - {story.citation.article_id}
    assert story.citation.story_id


def test_event_dates_are_read_from_the_sentence(bridge):
    items = {i.citation.article_id: i for i in bridge.timeline(SUBJECT).items}
    early, later = items["early"], items["later"]
    # "in April" in a paper of 20 May 2024: April 2024.
    assert early.event is not None and early.event.precision == "month"
    assert (early.event.since, early.event.until) == ("2024-04-01", "2024-04-30")
    assert early.event.phrase == "in April" and early.date == "2024-04-01"
    # "on Tuesday" in a paper of Wednesday 10 September 2025: the day before.
    assert later.event is not None and later.event.precision == "day"
    assert later.date == later.event.since == "2025-09-09"
    assert later.published_at == "2025-09-10"
    # A sentence with no date of its own keeps its publication date.
    own = items["own"]
    assert own.event is None and own.date == own.published_at == "2025-03-04"


def test_event_date_rules():
    wednesday = date(2025, 9, 10)
    assert event_date("It opened on Wednesday.", wednesday).since == "2025-09-10"  # type: ignore[union-attr]
    assert event_date("It opened yesterday.", wednesday).since == "2025-09-09"  # type: ignore[union-attr]
    assert event_date("Sales fell in 2023.", wednesday).precision == "year"  # type: ignore[union-attr]
    assert event_date("Prices rose this week.", wednesday) is None  # a window, not a date
    assert event_date("It will open in 2027.", wednesday) is None  # a plan, not an event
    assert event_date("The council met.", wednesday) is None


def test_filters_narrow_the_timeline(bridge):
    from index import SearchFilter

    since = bridge.timeline(SUBJECT, where=SearchFilter(since=date(2025, 1, 1)))
    assert "early" not in {i.citation.article_id for i in since.items}
    assert since.since == "2025-01-01" and since.items
    ledger = bridge.timeline(SUBJECT, where=SearchFilter(sources=("Harbor Ledger",)))
    assert {i.citation.source for i in ledger.items} == {"Harbor Ledger"}
    assert bridge.timeline("interest rates of the central bank").items == []


@pytest.mark.parametrize(
    ("question", "subject", "since", "until"),
    [
        ("What happened with the Ferris Street bridge?", "the Ferris Street bridge", None, None),
        ("Timeline of GEM recycling", "GEM recycling", None, None),
        ("Give me a chronology of the bridge vote.", "the bridge vote", None, None),
        (
            "How has GEM's recycling plan developed since June?",
            "GEM's recycling plan",
            date(2025, 6, 1),
            None,
        ),
        (
            "What has happened to Northvolt in March 2025?",
            "Northvolt",
            date(2025, 3, 1),
            date(2025, 3, 31),
        ),
        (
            "what's been happening with heat pumps before 2025-06-01",
            "heat pumps",
            None,
            date(2025, 6, 1),
        ),
    ],
)
def test_chronology_questions_are_recognised(question, subject, since, until):
    asked = chronology(question, today=date(2025, 12, 1))
    assert asked is not None
    assert (asked.subject, asked.since, asked.until) == (subject, since, until)


@pytest.mark.parametrize(
    "question",
    ["Who is GEM partnering with?", "When did the bridge close?", "What happens to old batteries?"],
)
def test_other_questions_are_not_chronologies(question):
    assert chronology(question) is None


def test_chat_answers_a_chronology_question_as_a_timeline(bridge):
    answer = bridge.ask("What happened with the Ferris Street bridge since January 2025?")
    assert answer.form == "timeline" and not answer.refused
    assert answer.timeline is not None
    assert "early" not in {c.article_id for c in answer.citations}  # since January 2025
    lines = answer.answer.splitlines()
    assert len(lines) == len(answer.citations) == len(answer.timeline.items)
    for n, (line, c) in enumerate(zip(lines, answer.citations, strict=True), start=1):
        assert line.endswith(f"[{n}]") and c.n == n
        assert f"“{c.quote}”" in line
    assert lines[-1].startswith("9 September 2025 (“on Tuesday”, reported 10 September 2025) — ")
    assert any("“since January 2025” was read as from 1 January" in n for n in answer.notes)
    # Markdown export: one list item per event, each with its footnote.
    markdown = answer_markdown(answer)
    assert markdown.count("\n- ") == len(lines)
    assert "[^1]:" in markdown and f"[^{len(lines)}]:" in markdown

    plain = bridge.ask("Who voted against the Ferris Street bridge plan?")
    assert plain.form == "answer" and plain.timeline is None


def test_cli_timeline_json_and_text(bridge_dir):
    result = run_cli(["timeline", SUBJECT, "--json"], data=bridge_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["subject"] == SUBJECT
    items = data["items"]
    assert [i["date"] for i in items] == sorted(i["date"] for i in items)
    for item in items:
        c = item["citation"]
        assert BODIES[c["article_id"]][c["start"] : c["end"]] == c["quote"]
        assert set(c) >= {"title", "source", "published_at", "url", "also_reported_by"}
    assert any(i["event"] and i["event"]["phrase"] == "on Tuesday" for i in items)

    text = run_cli(["timeline", SUBJECT, "--since", "2025-06-01"], data=bridge_dir)
    assert text.returncode == 0, text.stderr
    assert (
        "9 September 2025  (read from the text: “on Tuesday”; published 10 September 2025)"
        in text.stdout
    )
    assert "Crews began demolishing" in text.stdout
    assert "Harbor Ledger" not in text.stdout

    asked = run_cli(
        ["ask", "Timeline of the Ferris Street bridge", "--json", "--local"], data=bridge_dir
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["form"] == "timeline"
    plain = run_cli(
        ["ask", "Who voted against the bridge plan?", "--json", "--local"], data=bridge_dir
    )
    assert json.loads(plain.stdout)["form"] == "answer"

    bad = run_cli(
        ["timeline", SUBJECT, "--since", "2025-06-01", "--until", "2025-01-01"], data=bridge_dir
    )
    assert bad.returncode == 2 and "swap them" in bad.stderr


def test_llm_summaries_are_checked_against_their_quote(bridge_dir, embedder, llm_server):
    from conftest import scripted_llm_assistant
    from openai_server import Reply

    from index import SearchFilter

    where = SearchFilter(since=date(2025, 1, 1))
    offline = [
        i.citation.article_id
        for i in _offline(bridge_dir, embedder).timeline(SUBJECT, where=where).items
    ]
    assert offline[-1] == "later" and len(offline) == 3
    llm_server.script(
        Reply("Harbor City decided to replace the Ferris Street bridge [1]."),
        Reply("The mayor resigned after a dispute over the city budget [1]."),  # not said
        Reply("Crews began tearing down the old Ferris Street bridge on Tuesday [1]."),
    )
    assistant = scripted_llm_assistant(bridge_dir, embedder, llm_server.base_url)
    timeline = assistant.timeline(SUBJECT, where=where)
    items = timeline.items
    assert [i.citation.article_id for i in items] == offline  # the same events, quoted
    assert items[1].summary == ""  # unsupported: dropped, never shown
    assert items[2].summary == "Crews began tearing down the old Ferris Street bridge on Tuesday."
    assert items[2].summary_score >= 0.5
    assert any("left out" in note for note in timeline.notes)
    assert len(llm_server.requests) == 3
    # Each summary was asked from its own quote only.
    sent = json.dumps(llm_server.requests[2])
    assert "Crews began demolishing" in sent and "temporary span" not in sent

    answer = assistant.ask("Timeline of the Ferris Street bridge since January 2025")
    lines = answer.answer.splitlines()
    assert "The mayor resigned" not in answer.answer
    assert f"“{items[1].citation.quote}”" in lines[1]  # the quote stands in for it


def _offline(data, embedder):
    from assistant import NewsAssistant, load_settings

    return NewsAssistant(load_settings(data_dir=data, llm="extractive"), embedder=embedder)


def test_mcp_timeline_tool(bridge):
    import asyncio

    from mcp import Client

    from assistant.mcp_server import build_mcp

    async def exercise() -> None:
        async with Client(build_mcp(bridge), read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            schema = tools["timeline"].input_schema
            assert set(schema["properties"]) == {"subject", "since", "until", "sources"}
            assert schema["required"] == ["subject"]
            assert tools["timeline"].output_schema["type"] == "object"
            result = await client.call_tool("timeline", {"subject": SUBJECT, "since": "2025-01-01"})
            assert not result.is_error
            data = result.structured_content
            assert data["subject"] == SUBJECT and data["since"] == "2025-01-01"
            items = data["items"]
            assert [i["date"] for i in items] == sorted(i["date"] for i in items)
            assert "early" not in {i["citation"]["article_id"] for i in items}
            for item in items:
                c = item["citation"]
                assert BODIES[c["article_id"]][c["start"] : c["end"]] == c["quote"]
            text = "\n".join(getattr(block, "text", "") for block in result.content)
            assert "**Sources**" in text and "9 September 2025" in text
            asked = await client.call_tool("ask", {"question": "Timeline of " + SUBJECT})
            assert asked.structured_content["form"] == "timeline"
            assert "\n- " in asked.content[0].text  # type: ignore[union-attr]
            swapped = await client.call_tool(
                "timeline", {"subject": SUBJECT, "since": "2025-06-01", "until": "2025-01-01"}
            )
            assert swapped.is_error and "swap them" in swapped.content[0].text  # type: ignore[union-attr]

    asyncio.run(exercise())


def test_chat_shows_a_timeline_as_a_dated_list_and_the_api_serves_one(bridge):
    import re

    from assistant.ui.chat import load_turns
    from assistant.ui.handlers import UIHandlers
    from assistant.ui.render import render_messages

    handlers = UIHandlers(bridge)
    *_, last = handlers.respond(
        "What happened with the Ferris Street bridge?", [], None, None, None
    )
    _, messages, stored = last
    html = messages[-1]["content"]
    events = re.findall(r'<li class="timeline-event">(.*?)</li>', html)
    assert len(events) == 4 and 'class="answer-text timeline-list"' in html
    assert html.index("April 2024") < html.index("9 September 2025")
    for n, event in enumerate(events, start=1):
        assert f'href="#src-0-{n}"' in event  # the usual clickable citation chip
    assert "also in: Wire Service" in html or "also in: Valley Courier" in html
    # The conversation kept in the browser comes back as a timeline.
    turns = load_turns(stored)
    assert turns[0].answer.form == "timeline"
    assert render_messages(turns)[-1]["content"].count('class="timeline-event"') == 4

    api = handlers.timeline(SUBJECT, ["Harbor Ledger"], "2024-01-01", None)
    assert api["subject"] == SUBJECT
    assert {i["citation"]["source"] for i in api["items"]} == {"Harbor Ledger"}
    assert api["filters"]["sources"] == ["Harbor Ledger"]
    assert api["markdown"].startswith("## " + SUBJECT) and "\n- " in api["markdown"]


def test_articles_tab_coverage_chart_and_timeline_strip_follow_the_filters(bridge):
    from assistant.ui.app import build_app
    from assistant.ui.handlers import UIHandlers

    handlers = UIHandlers(bridge)
    by_day = handlers.coverage_plot(None, None, None, "day")
    rows = {(p, o): n for p, o, n in by_day.itertuples(index=False)}
    assert rows[("2025-03-04", "Valley Courier")] == 1
    assert rows[("2025-03-04", "Harbor Ledger")] == 1
    assert int(by_day["articles"].sum()) == len(ARTICLES)
    by_week = handlers.coverage_plot(
        ["Valley Courier", "Harbor Ledger"], "2025-01-01", None, "week"
    )
    weeks = {(p, o): n for p, o, n in by_week.itertuples(index=False)}
    # The week of Monday 3 March 2025; the 2024 article and the other outlets filtered out.
    assert weeks == {
        ("2025-03-03", "Harbor Ledger"): 1,
        ("2025-03-03", "Valley Courier"): 1,
        ("2025-09-08", "Valley Courier"): 1,
    }

    plot, html = handlers.timeline_view(SUBJECT, None, "2025-01-01", None)
    strip = plot.constructor_args["value"]
    assert list(strip["date"]) == ["2025-03-03", "2025-03-04", "2025-09-09"]
    assert list(strip["outlets"]) == [3, 1, 1]  # the wire story ran in three outlets
    assert plot.constructor_args["y_lim"] == [0, 4]  # no point on the plot's edge
    assert html.count('class="timeline-item"') == 3
    assert "read from “on Tuesday”, published 10 Sep 2025" in html
    assert "Crews began demolishing" in html and "early.example" not in html
    empty, hint = handlers.timeline_view("", None, None, None)
    assert empty.constructor_args["value"].empty and "Show timeline" in hint

    app = build_app(bridge)  # the page builds with the coverage panel wired
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"coverage-plot", "timeline-strip", "timeline-list", "show-timeline"} <= ids

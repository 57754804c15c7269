"""Timelines in the web UI, in a real headless Chromium against the real app: a chronology
question is answered as a dated list whose chips open the source viewer; the Articles tab
draws the coverage chart and a timeline as a strip and a list."""

from __future__ import annotations

import pytest
from browser_app import TIMEOUT_MS, open_chat
from test_stories import write_article
from test_timeline import ARTICLES, SUBJECT, body

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest_plugins = ["phase_reports"]


@pytest.fixture
def page(tmp_path, request, make_assistant):
    folder = tmp_path / "news"
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
    assistant = make_assistant(llm="extractive")
    assistant.ingest([folder])
    with open_chat(assistant, request, tmp_path) as chat:
        yield chat


def test_timeline_in_the_chat_and_the_articles_tab(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    answer = page.ask("What happened with the Ferris Street bridge?")
    events = answer.locator("ol.timeline-list li.timeline-event")
    expect(events).to_have_count(4)
    expect(events.first).to_contain_text("April 2024")
    expect(events.last).to_contain_text(
        "9 September 2025 (“on Tuesday”, reported 10 September 2025)"
    )
    page.step("01-chat-timeline")
    events.last.locator("a.cite-chip").click()
    viewer = page.page.locator("#source-viewer")
    expect(viewer).to_contain_text("Demolition of Ferris Street bridge begins")
    expect(viewer.locator("mark").first).to_contain_text("Crews began demolishing")
    page.step("02-viewer")

    page.tab("Articles")
    expect(
        page.page.locator(
            "#coverage-plot .vega-embed, #coverage-plot canvas, #coverage-plot svg"
        ).first
    ).to_be_visible()
    page.page.locator("#timeline-subject textarea, #timeline-subject input").first.fill(SUBJECT)
    page.page.locator("#show-timeline").click()
    items = page.page.locator("#timeline-list .timeline-item")
    expect(items).to_have_count(4)
    expect(items.nth(1)).to_contain_text("also in:")
    expect(
        page.page.locator(
            "#timeline-strip .vega-embed, #timeline-strip canvas, #timeline-strip svg"
        ).first
    ).to_be_visible()
    page.step("03-articles-timeline")

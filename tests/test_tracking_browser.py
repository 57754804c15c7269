"""Tracked questions in the web UI, in a real headless Chromium against the real app: the
header's badge counts the questions new articles changed, the Tracked tab shows their new
answers with the new citations marked, and opening it counts them as seen."""

from __future__ import annotations

import pytest
from browser_app import TIMEOUT_MS, open_chat
from test_tracking import GEM_2023, GEM_2024, QUESTION, _write

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest_plugins = ["phase_reports"]


@pytest.fixture
def page(tmp_path, request, make_assistant):
    news = tmp_path / "news"
    assistant = make_assistant(llm="extractive")
    assistant.ingest([_write(news, "a.jsonl", GEM_2023)])
    assistant.track(QUESTION)
    assistant.ingest([_write(news, "c.jsonl", GEM_2024)])
    (update,) = assistant.check_tracked()
    assert update.changed
    with open_chat(assistant, request, tmp_path) as chat:
        yield chat


def test_the_badge_and_the_tracked_tab(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    badge = page.page.locator("#tracked-badge .tracked-badge")
    expect(badge).to_have_text("1 tracked question with new articles")
    page.step("01-badge")

    page.tab("Tracked")
    item = page.page.locator("#tracked-panel .tracked-item.tracked-new")
    expect(item).to_contain_text(QUESTION)
    expect(item.locator(".tracked-source-new")).to_contain_text("Ecopro")
    expect(badge).to_have_count(0)
    page.step("02-tab")

    # Seen in this browser: a reload shows no badge.
    page.page.reload()
    page.page.locator(".status-line").wait_for()
    page.page.wait_for_timeout(2000)
    expect(page.page.locator("#tracked-badge .tracked-badge")).to_have_count(0)

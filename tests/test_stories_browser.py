"""Stories in the web UI, in a real headless Chromium against the real app: an answer's
source says which other outlets ran the story, and the viewer lists them with links."""

from __future__ import annotations

import re

import pytest
from browser_app import TIMEOUT_MS, open_chat
from test_stories_answers import QUESTION, bridge_news  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest_plugins = ["phase_reports"]


@pytest.fixture
def page(tmp_path, request, make_assistant, bridge_news):  # noqa: F811
    assistant = make_assistant(llm="extractive")
    assistant.ingest([bridge_news])
    with open_chat(assistant, request, tmp_path) as chat:
        yield chat


def test_a_source_names_the_other_outlets_that_ran_it(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS // 2)
    answer = page.ask(QUESTION)
    copies = {"Wire Service", "Valley Courier", "Metro Daily"}
    also = answer.locator(".source-also")
    expect(also).to_have_count(1)
    named = also.inner_text().removeprefix("also in: ").split(", ")
    assert len(named) == 2 and set(named) < copies, named
    page.step("01-also-in")

    answer.locator(".answer-text a.cite-chip").first.click()
    viewer = page.page.locator("#source-viewer")
    cited = viewer.locator(".viewer-meta").inner_text()
    listed = viewer.locator(".viewer-also li")
    expect(listed).to_have_count(2)
    texts = listed.all_inner_texts()
    assert {t.split(" · ")[0] for t in texts} == set(named)
    assert not any(t.split(" · ")[0] in cited for t in texts)
    links = viewer.locator(".viewer-also a")
    expect(links.first).to_have_attribute("href", re.compile(r"^https://[\w-]+\.example/story$"))
    expect(links.first).to_have_attribute("target", "_blank")
    page.step("02-viewer-copies")

"""An answer as Markdown in the web UI: "Copy as Markdown" and "Download .md" under each
answer in a real headless Chromium, and the `markdown` field of Gradio's `/ask` API; both
against the real app over the indexed sample corpus on loopback."""

from __future__ import annotations

import pytest
from browser_app import TIMEOUT_MS, ChatPage, launch_chromium, save_screenshots_if_failed, serving

from assistant import answer_markdown

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest_plugins = ["phase_reports"]

GEM = "Who is GEM partnering with?"


@pytest.fixture
def page(sample_assistant, tmp_path, request):
    from playwright.sync_api import sync_playwright

    with serving(sample_assistant) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        chat = ChatPage(context.new_page(), url).open()
        yield chat
        save_screenshots_if_failed(request, tmp_path, [chat])
        browser.close()


def test_copy_and_download_the_answer_as_markdown(page, sample_assistant, tmp_path):
    from playwright.sync_api import expect

    expected = answer_markdown(sample_assistant.ask(GEM))
    assert "[^1]: “GEM Co. is partnering with Ascend Elements" in expected
    answer = page.ask(GEM)
    export = answer.locator(".answer-export")
    expect(export.locator("summary")).to_have_text("Show Markdown")
    expect(export.locator("pre.md-text")).to_be_hidden()  # shown on demand
    page.step("01-answer")

    copy = export.locator("a.md-copy")
    expect(copy).to_have_text("Copy as Markdown")
    copy.click()
    expect(copy).to_have_text("Copied", timeout=TIMEOUT_MS // 3)
    assert page.page.evaluate("navigator.clipboard.readText()") == expected
    page.step("02-copied")

    with page.page.expect_download() as caught:
        export.locator("a.md-download").click()
    download = caught.value
    assert download.suggested_filename == "answer.md"
    saved = tmp_path / "answer.md"
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8") == expected
    page.step("03-downloaded")

    # A refused answer has nothing to export.
    refused = page.ask("What did the central bank decide about interest rates?")
    expect(refused.locator(".flag-refused")).to_be_visible()
    expect(refused.locator(".answer-export")).to_have_count(0)


def test_the_ask_api_returns_the_markdown(sample_assistant):
    from gradio_client import Client

    with serving(sample_assistant) as url:
        result = Client(url, verbose=False, download_files=False).predict(GEM, api_name="/ask")
    assert result["markdown"] == answer_markdown(sample_assistant.ask(GEM))
    assert result["markdown"].startswith(f"## {GEM}\n")

"""The web UI in a real headless Chromium, against the real app (real embedding model, real
Chroma) served on a free loopback port. A failing test saves a screenshot of each of its pages
under its tmp dir, named after the last step it reached (`ChatPage.step`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest
from browser_app import TIMEOUT_MS, ChatPage, launch_chromium, save_screenshots_if_failed, serving
from conftest import ROOT, free_port, scripted_llm_assistant
from openai_server import Reply

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Its report hook tells the fixtures below whether a test failed.
pytest_plugins = ["phase_reports"]

GEM_TITLE = "Ascend Elements and GEM team up on battery recycling for Europe"
GEM_QUOTE = (
    "GEM Co. is partnering with Ascend Elements to build a lithium-ion battery recycling "
    "network in Europe, the two companies announced on 4 November 2025."
)

# Records each state the newest answer bubble goes through: pending, draft, final.
WATCH_ANSWERS = """() => {
  window.answerStates = [];
  new MutationObserver(() => {
    const all = document.querySelectorAll('#chat .answer');
    if (!all.length) return;
    const last = all[all.length - 1];
    const state = last.classList.contains('pending') ? 'pending'
      : last.classList.contains('draft') ? 'draft' : 'final';
    if (window.answerStates[window.answerStates.length - 1] !== state) {
      window.answerStates.push(state);
    }
  }).observe(document.querySelector('#chat'), {subtree: true, childList: true});
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, tmp_path, request):
    """Open the app at a URL in a fresh browser profile (its own localStorage)."""
    contexts = []
    pages: list[ChatPage] = []

    def open_(url: str) -> ChatPage:
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        contexts.append(context)
        page = ChatPage(context.new_page(), url)
        pages.append(page)
        return page.open()

    yield open_
    save_screenshots_if_failed(request, tmp_path, pages)
    for context in contexts:
        context.close()


@pytest.fixture
def app_url(sample_assistant):
    with serving(sample_assistant) as url:
        yield url


@pytest.fixture
def chat(open_page, app_url) -> ChatPage:
    return open_page(app_url)


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT_MS // 2)
    return playwright_expect(locator)


def source_metas(answer) -> list[str]:
    return answer.locator(".source-meta").all_inner_texts()


def test_the_gem_question_streams_a_cited_answer_that_opens_its_source(chat):
    page = chat.page
    expect(page.locator(".status-line")).to_contain_text("offline extractive")
    expect(page.locator(".status-line")).to_contain_text(re.compile(r"\d+ articles"))
    chat.step("01-first-load")
    page.evaluate(WATCH_ANSWERS)
    # One of the example questions offered on first load.
    page.locator("#chat").get_by_text("Who is GEM partnering with?", exact=True).click()
    answer = chat.answers.first
    expect(answer.locator(".answer-text")).to_contain_text("Ascend Elements")
    # Streamed: the bubble was there (searching / drafting) before the checked answer.
    states = page.evaluate("window.answerStates")
    assert states[0] in ("pending", "draft") and states[-1] == "final", states
    expect(answer.locator(".source-title")).to_have_text([GEM_TITLE])
    chat.step("02-gem-answer")

    answer.locator(".answer-text a.cite-chip").first.click()
    viewer = page.locator("#source-viewer")
    expect(viewer.locator("mark")).to_have_text(GEM_QUOTE)
    expect(viewer.locator(".viewer-title")).to_have_text(GEM_TITLE)
    expect(viewer.locator(".viewer-meta")).to_contain_text("Battery Brief · 4 Nov 2025")
    link = viewer.locator("a.viewer-link")
    expect(link).to_have_attribute("href", re.compile(r"^https://example\.com/"))
    expect(link).to_have_attribute("target", "_blank")
    expect(viewer.locator(".viewer-text")).to_contain_text("Ascend Elements is a US company")
    chat.step("03-source-viewer")

    follow = chat.ask("And when was that announced?")
    expect(follow.locator(".answer-text")).to_contain_text("4 November 2025")
    expect(follow.locator(".source-title")).to_contain_text([GEM_TITLE])
    expect(follow.locator(".answer-notes")).to_contain_text(
        "Searched for: “And when was that announced? (GEM partnering)”"
    )
    chat.step("04-follow-up")


def test_the_viewer_scrolls_a_quote_deep_in_the_article_into_view(chat):
    answer = chat.ask("Which markets do similar projects in Nevada, Florida and Ontario target?")
    expect(answer.locator(".answer-text")).to_contain_text("North American market")
    answer.locator(".answer-text a.cite-chip").first.click()
    mark = chat.page.locator("#source-viewer mark")
    expect(mark).to_contain_text("North American market")
    box = chat.page.locator("#source-viewer .viewer-body")
    # The quote is the article's last sentence: the text box scrolled to it.
    chat.page.wait_for_function(
        """() => {
          const box = document.querySelector('#source-viewer .viewer-body');
          const m = document.querySelector('#source-viewer mark').getBoundingClientRect();
          const b = box.getBoundingClientRect();
          return box.scrollTop > 0 && m.top >= b.top - 1 && m.bottom <= b.bottom + 1;
        }"""
    )
    assert box.evaluate("b => b.scrollHeight > b.clientHeight")
    chat.step("01-scrolled-to-quote")


def test_citations_stay_with_their_answers_as_the_chat_grows_and_after_a_reload(chat):
    page = chat.page
    chat.ask("Who is GEM partnering with?")
    chat.ask("When did Northvolt file for bankruptcy protection?")
    viewer = page.locator("#source-viewer")

    def open_source(answer: int) -> None:
        chat.answers.nth(answer).locator(".answer-text a.cite-chip").first.click()
        expect(viewer.locator(".viewer-kicker")).to_contain_text(f"Source 1 of answer {answer + 1}")

    open_source(0)
    expect(viewer.locator(".viewer-title")).to_have_text(GEM_TITLE)
    expect(viewer.locator("mark")).to_have_text(GEM_QUOTE)
    open_source(1)
    expect(viewer.locator(".viewer-title")).to_contain_text("Northvolt")
    expect(viewer.locator("mark")).to_contain_text("Northvolt")
    chat.step("01-two-answers")

    page.reload()
    page.locator(".status-line").wait_for()
    expect(chat.answers).to_have_count(2)
    expect(chat.answers.nth(0).locator(".answer-text")).to_contain_text("Ascend Elements")
    expect(chat.answers.nth(0).locator(".source-title")).to_have_text([GEM_TITLE])
    expect(chat.answers.nth(1).locator(".source-title")).to_contain_text(["Northvolt"])
    open_source(0)
    expect(viewer.locator(".viewer-title")).to_have_text(GEM_TITLE)
    expect(viewer.locator("mark")).to_have_text(GEM_QUOTE)
    chat.step("02-after-reload")
    # The restored conversation still carries follow-ups.
    follow = chat.ask("And when was that announced?")
    expect(follow.locator(".answer-notes")).to_contain_text(
        "Searched for: “And when was that announced? (Northvolt file bankruptcy protection)”"
    )
    open_source(1)
    expect(viewer.locator(".viewer-title")).to_contain_text("Northvolt")

    page.locator("#new-chat").click()
    expect(chat.answers).to_have_count(0)
    page.reload()
    page.locator(".status-line").wait_for()
    expect(
        page.locator("#chat").get_by_text("Who is GEM partnering with?", exact=True)
    ).to_be_visible()
    expect(chat.answers).to_have_count(0)


def test_uploading_a_good_and_a_broken_file_reports_each_and_updates_the_list(chat, tmp_path):
    page = chat.page
    good = tmp_path / "solar-tariffs.md"
    good.write_text(
        "---\ntitle: Solar panel makers face new tariffs in Europe\nsource: Sun Times\n"
        "date: 2025-10-02\n---\nThe European Commission proposed tariffs of 20 percent on "
        "imported solar panels on 2 October 2025.\n\nManufacturers warned that the tariffs "
        "would raise the cost of rooftop installations.\n",
        encoding="utf-8",
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": "half a file", "body": ', encoding="utf-8")

    chat.tab("Articles")
    count = page.locator("#article-list .article-count")
    expect(count).to_have_text(re.compile(r"^\d+ articles$"))
    before = int(count.inner_text().split()[0])
    chat.choose_files(good, broken)
    chat.step("01-files-chosen")
    page.locator("#index-files").click()

    results = page.locator("#ingest-results")
    expect(results.locator("tr.row-added")).to_contain_text("solar-tariffs.md")
    expect(results.locator("tr.row-failed")).to_contain_text("broken.json")
    expect(results.locator("tr.row-failed")).to_contain_text("malformed JSON")
    expect(results.locator(".ingest-summary")).to_contain_text("2 files: 1 added, 1 failed")
    expect(page.locator("[data-testid='toast-body']").first).to_contain_text("broken.json")
    expect(count).to_have_text(f"{before + 1} articles")
    expect(page.locator("#article-list")).to_contain_text("Solar panel makers face new tariffs")
    expect(page.locator(".status-line")).to_contain_text(f"{before + 1} articles")
    expect(page.locator("#index-stats")).to_contain_text("Sun Times")
    expect(page.locator("#upload tbody tr")).to_have_count(0)  # cleared for the next upload
    chat.step("02-ingested")

    chat.tab("Chat")
    answer = chat.ask("How high are the proposed tariffs on solar panels?")
    expect(answer.locator(".source-title")).to_contain_text(["Solar panel makers"])
    chat.open_filters()
    page.locator("#filter-outlets input").click()
    expect(page.get_by_role("option", name="Sun Times", exact=True)).to_be_visible()
    page.keyboard.press("Escape")

    chat.tab("Articles")
    page.get_by_placeholder("Search by title, outlet, date or id").fill("tariffs")
    expect(page.locator("#article-list tbody tr")).to_have_count(1)
    expect(count).to_contain_text(f"1 of {before + 1} articles match")
    remove = page.locator("#article-list tr", has_text="Solar panel makers").locator("button")
    remove.click()
    expect(remove).to_have_text("Click again to remove")
    chat.step("03-confirm-remove")
    remove.click()
    expect(page.locator("#article-list")).not_to_contain_text("Solar panel makers")
    expect(page.locator(".status-line")).to_contain_text(f"{before} articles")
    page.get_by_placeholder("Search by title, outlet, date or id").fill("")
    expect(count).to_have_text(f"{before} articles")
    chat.step("04-removed")


def test_the_feeds_panel_follows_a_feed_syncs_it_answers_from_its_page_and_removes_it(
    open_page, make_assistant
):
    from test_feeds import GLIWICE, feed_site
    from web_server import WebServer

    with WebServer() as web, serving(make_assistant(llm="extractive")) as url:
        feed = feed_site(web)
        web.routes["/news/wind.html"].delay = 2.0  # a slow page: the progress bar shows
        chat = open_page(url)
        page = chat.page
        chat.tab("Articles")
        panel = page.locator("#feed-list")
        expect(panel).to_contain_text("No feeds are followed yet")
        page.locator("#feed-url").get_by_role("textbox").fill(feed)
        page.locator("#add-feed").click()
        expect(page.locator("#feed-added")).to_contain_text(
            "Following Grid Weekly (RSS 2.0, 3 entries). Sync now fetches its articles."
        )
        row = panel.locator("tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator(".f-kind")).to_have_text("RSS 2.0")
        expect(row.locator(".f-sync")).to_have_text("never")
        expect(row.locator(".f-articles")).to_have_text("0")
        chat.step("01-feed-added")

        page.locator("#sync-now").click()
        results = page.locator("#sync-results")
        expect(results).to_contain_text("Fetching and indexing pages")  # the progress bar
        chat.step("02-syncing")
        expect(results.locator(".sync-summary")).to_contain_text(
            "1 feed (0 not modified), 3 pages fetched: 3 added"
        )
        expect(results.locator("tr.row-added")).to_contain_text("Grid Weekly")
        expect(results.locator("tr.row-added")).to_contain_text("3 entries: 3 added")
        expect(row.locator(".f-articles")).to_have_text("3")
        expect(row.locator(".f-sync")).to_contain_text("UTC")
        expect(page.locator("#article-list")).to_contain_text(
            "GEM and Ascend Elements pick Gliwice"
        )
        chat.step("03-synced")

        chat.tab("Chat")
        answer = chat.ask("How many people will the Gliwice recycling plant employ?")
        expect(answer.locator(".answer-text")).to_contain_text("412 people")
        answer.locator(".answer-text a.cite-chip").first.click()
        mark = page.locator("#source-viewer mark")
        expect(mark).to_contain_text("412 people")
        assert mark.inner_text() in " ".join(GLIWICE)  # quoted from the page body
        expect(page.locator("#source-viewer a.viewer-link")).to_have_attribute(
            "href", web.url("/news/gliwice.html")
        )
        chat.step("04-answered")

        chat.tab("Articles")
        page.locator("#feed-purge input[type=checkbox]").check()
        remove = row.locator("button.remove-feed")
        remove.click()
        expect(remove).to_have_text("Click again to remove")
        remove.click()
        expect(panel).to_contain_text("No feeds are followed yet")
        expect(page.locator("#article-list")).not_to_contain_text("Gliwice")
        expect(page.locator(".status-line")).to_contain_text("0 articles")
        chat.step("05-removed")


def test_markup_in_an_article_is_shown_as_text_and_runs_nothing(chat, tmp_path):
    page = chat.page
    title = "<script>alert(1)</script> Zinc batteries <img src=x onerror=alert(1)>"
    evil = {
        "title": title,
        "body": (
            'Zinc-air batteries <img src=x onerror="window.xss=1;alert(2)"> store energy '
            "cheaply. <script>window.xss=2;alert(3)</script> The startup Zincly raised 40 "
            "million dollars for zinc-air batteries in 2025. ${alert(4)} "
            "{{constructor.constructor('alert(5)')()}}"
        ),
        "source": "<b onmouseover=alert(7)>Evil Outlet</b>",
        "date": "2025-08-01",
        "url": "javascript:alert(6)",
    }
    upload = tmp_path / "zinc.jsonl"
    upload.write_text(json.dumps(evil) + "\n", encoding="utf-8")

    chat.tab("Articles")
    chat.choose_files(upload)
    page.locator("#index-files").click()
    expect(page.locator("#ingest-results tr.row-added")).to_contain_text("zinc.jsonl")
    row = page.locator("#article-list tr", has_text="Zinc batteries")
    expect(row.locator(".a-title")).to_contain_text(title)  # the markup, as text
    expect(row.locator(".a-outlet")).to_have_text("<b onmouseover=alert(7)>Evil Outlet</b>")
    chat.step("01-listed-as-text")

    chat.tab("Chat")
    answer = chat.ask("Who raised money for zinc-air batteries?")
    expect(answer.locator(".source-title")).to_contain_text([title])
    expect(answer.locator(".answer-text")).to_contain_text("Zincly raised 40 million")
    answer.locator(".answer-text a.cite-chip").first.click()
    viewer = page.locator("#source-viewer")
    expect(viewer.locator(".viewer-title")).to_have_text(title)
    expect(viewer.locator("mark")).to_contain_text("Zincly raised")
    expect(viewer.locator(".viewer-meta")).to_contain_text("javascript:alert(6)")  # not a link
    expect(viewer).to_contain_text("<script>window.xss=2;alert(3)</script>")
    expect(viewer).to_contain_text("${alert(4)}")
    chat.step("02-source-as-text")

    chat.tab("Articles")
    remove = page.locator("#article-list tr", has_text="Zinc batteries").locator("button")
    remove.click()
    remove.click()  # the "Removed …" toast names the title: escaped too
    expect(page.locator("#article-list")).not_to_contain_text("Zinc batteries")

    page.wait_for_timeout(500)  # give any injected handler a chance to fire
    assert chat.dialogs == []
    assert page.evaluate("window.xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#chat script, #source-viewer script, #article-list script").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    chat.step("03-removed")


def test_filters_narrow_the_sources_and_refusals_are_flagged(chat):
    page = chat.page
    question = "Who recycles lithium-ion batteries in Europe?"
    everything = chat.ask(question)
    assert any(m.startswith("Battery Brief") for m in source_metas(everything))

    chat.open_filters()
    chat.pick_outlet("Storage Ledger")
    expect(page.locator("#filters")).to_contain_text("Filters: Storage Ledger")
    narrowed = chat.ask(question)
    metas = source_metas(narrowed)
    assert metas and all(m.startswith("Storage Ledger") for m in metas), metas
    expect(narrowed.locator(".answer-notes")).to_contain_text("Only: Storage Ledger")
    # The earlier answer keeps its own sources.
    assert any(m.startswith("Battery Brief") for m in source_metas(chat.answers.first))
    chat.step("01-outlet-filter")

    page.locator("#filters").get_by_role("button", name="Clear filters").click()
    expect(page.locator("#filters")).to_contain_text("Filters: all outlets, any date")
    unfiltered = chat.ask("When did Northvolt file for bankruptcy protection?")
    assert any("2024" in m for m in source_metas(unfiltered))
    since = page.locator("#filter-since input")
    since.fill("2025-01-01")
    since.press("Enter")
    expect(page.locator("#filters")).to_contain_text("from 1 Jan 2025")
    dated = chat.ask("When did Northvolt file for bankruptcy protection?")
    assert not any("2024" in m for m in source_metas(dated))
    expect(dated.locator(".source-title")).not_to_contain_text(["Northvolt files"])
    chat.step("02-date-filter")

    refused = chat.ask("What is the capital of Mongolia?")
    expect(refused.locator(".flag-refused")).to_be_visible()
    expect(refused.locator(".flag-refused")).to_contain_text("Not answered")
    expect(refused.locator(".sources")).to_have_count(0)
    chat.step("03-refused")


def test_two_people_chatting_at_once_never_see_each_others_answers(open_page, app_url):
    alice, bob = open_page(app_url), open_page(app_url)
    for page, question in (
        (alice, "Who is GEM partnering with?"),
        (bob, "When did Northvolt file for bankruptcy protection?"),
    ):
        box = page.page.locator("#question textarea")
        box.fill(question)
        box.press("Enter")
    expect(alice.answers).to_have_count(1, timeout=TIMEOUT_MS)
    expect(bob.answers).to_have_count(1, timeout=TIMEOUT_MS)
    for page in (alice, bob):
        page.page.reload()
        page.page.locator(".status-line").wait_for()
        expect(page.answers).to_have_count(1)
    expect(alice.answers.first).to_contain_text("Ascend Elements")
    expect(alice.page.locator("#chat")).not_to_contain_text("Northvolt")
    expect(bob.answers.first).to_contain_text("Northvolt")
    expect(bob.page.locator("#chat")).not_to_contain_text("Ascend Elements")
    alice.step("01-alice")
    bob.step("02-bob")


def test_a_question_asked_while_the_kept_conversation_loads_keeps_its_answer(
    open_page, sample_assistant, monkeypatch
):
    from assistant.ui.handlers import UIHandlers

    restore = UIHandlers.restore

    def slow_restore(self, conversation):
        time.sleep(3)
        return restore(self, conversation)

    # A busy server: the kept conversation arrives seconds after the page. Patched before
    # the app is built (the app keeps the handler it was given).
    monkeypatch.setattr(UIHandlers, "restore", slow_restore)
    with serving(sample_assistant) as url:
        chat = open_page(url)
        chat.ask("Who is GEM partnering with?")
        chat.page.reload()
        chat.page.locator(".status-line").wait_for()
        expect(chat.page.locator("#question textarea")).to_be_disabled()
        chat.step("01-restoring")
        # Typing waits for the box; the answer lands after the restored one and stays.
        box = chat.page.locator("#question textarea")
        box.fill("When did Northvolt file for bankruptcy protection?")
        box.press("Enter")
        expect(chat.answers).to_have_count(2, timeout=TIMEOUT_MS)
        expect(chat.answers.nth(0)).to_contain_text("Ascend Elements")
        expect(chat.answers.nth(1)).to_contain_text("Northvolt")
        expect(chat.page.locator("#question textarea")).to_be_focused()
        # A new visitor (nothing kept) who clicks an example at once keeps its answer.
        fresh = open_page(url)
        fresh.page.locator("#chat").get_by_text("Who is GEM partnering with?", exact=True).click()
        expect(fresh.answers).to_have_count(1)
        time.sleep(3.5)  # past the slow restore
        expect(fresh.answers).to_have_count(1)
        expect(fresh.answers.first).to_contain_text("Ascend Elements")
        chat.step("02-kept")


@pytest.fixture
def serve_llm(tmp_path, sample_dir, embedder, llm_server):
    """Serve the app answering with the scripted LLM; keyword arguments become settings."""
    with ExitStack() as stack:

        def serve(**overrides) -> str:
            data = tmp_path / "llm-data"
            shutil.copytree(sample_dir, data)
            assistant = scripted_llm_assistant(data, embedder, llm_server.base_url, **overrides)
            return stack.enter_context(serving(assistant))

        yield serve


def test_an_llm_answer_streams_and_flags_its_unsupported_sentence(open_page, serve_llm, llm_server):
    llm_server.script(
        Reply(
            "GEM is partnering with Ascend Elements to build a battery recycling network in "
            "Europe [1]. The partners signed the deal on the Moon in 1969 [1]."
        )
    )
    chat = open_page(serve_llm())
    page = chat.page
    expect(page.locator(".status-line")).to_contain_text("LLM scripted-model")
    page.evaluate(WATCH_ANSWERS)
    answer = chat.ask("Who is GEM partnering with?")
    states = page.evaluate("window.answerStates")
    assert "draft" in states and states[-1] == "final", states
    expect(answer.locator(".flag-unsupported")).to_contain_text("1 sentence")
    expect(answer.locator(".unsupported")).to_have_text(
        "The partners signed the deal on the Moon in 1969."
    )
    expect(answer.locator(".source-title")).to_have_text([GEM_TITLE])
    answer.locator(".answer-text a.cite-chip").first.click()
    expect(page.locator("#source-viewer mark")).to_contain_text("Ascend Elements")
    chat.step("01-unsupported-flagged")


def test_a_failing_llm_shows_a_plain_warning_and_keeps_the_question(
    open_page, serve_llm, llm_server
):
    llm_server.script(Reply(status=500))
    chat = open_page(serve_llm(llm="openai"))  # no offline fallback
    page = chat.page
    box = page.locator("#question textarea")
    box.fill("Who is GEM partnering with?")
    box.press("Enter")
    toast = page.locator("[data-testid='toast-body']").first
    expect(toast).to_contain_text("HTTP 500")
    expect(page.locator("#chat .flag-error")).to_contain_text("Could not answer")
    expect(box).to_have_value("Who is GEM partnering with?")
    assert "Traceback" not in page.locator("body").inner_text()
    chat.step("01-llm-failed")

    box.fill("")
    page.locator("#ask").click()
    expect(page.get_by_text("Type a question first.")).to_be_visible()


def test_when_the_llm_fails_the_offline_answer_says_so(open_page, serve_llm, llm_server):
    llm_server.script(Reply(status=500))
    chat = open_page(serve_llm())  # llm=auto: falls back to quoting the articles
    answer = chat.ask("Who is GEM partnering with?")
    expect(answer.locator(".answer-text")).to_contain_text("Ascend Elements")
    expect(answer.locator(".flag-note")).to_contain_text("The LLM was unavailable")
    expect(answer.locator(".flag-note")).to_contain_text("HTTP 500")
    answer.locator(".answer-text a.cite-chip").first.click()
    expect(chat.page.locator("#source-viewer mark")).to_contain_text("Ascend Elements")
    chat.step("01-fallback-note")


def test_app_py_indexes_the_samples_and_serves_on_loopback(tmp_path, open_page):
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_LLM": "extractive",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while f"127.0.0.1:{port}" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        text = log.read_text()
        assert proc.poll() is None, text
        assert "Indexed" in text and "sample articles" in text
        chat = open_page(f"http://127.0.0.1:{port}/")
        expect(chat.page.locator(".status-line")).to_contain_text(
            re.compile(r"offline extractive .* [1-9]\d* articles")
        )
        answer = chat.ask("Who is GEM partnering with?")
        expect(answer.locator(".answer-text")).to_contain_text("Ascend Elements")
        chat.step("01-app-py")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "data" / "chroma").exists()


def test_hostile_file_names_show_as_text_in_results_toasts_list_and_viewer(
    open_page, make_assistant, tmp_path
):
    page_dir = tmp_path / "picked"
    page_dir.mkdir()
    # A file indexed on the server (as `assistant ingest` would) whose title comes from its
    # name: markup that no upload could carry, since uploads are renamed.
    server_side = tmp_path / "server"
    server_side.mkdir()
    title = "<img src=x onerror=window.xss=1> Pylon <b onmouseover=window.xss=2>outage"
    (server_side / f"{title}.txt").write_text(
        "Storm winds toppled a transmission pylon near Aberlyn on 3 March 2025, cutting "
        "power to 12,000 homes for a day.\n",
        encoding="utf-8",
    )
    assistant = make_assistant(llm="extractive", max_file_mb=0.02)
    assert assistant.ingest([server_side]).added == 1

    hostile = "<img src=x onerror=window.xss=3>Tom & Jerry's (draft) =1"
    empty = page_dir / f"{hostile} empty.txt"
    empty.write_bytes(b"")
    program = page_dir / f"{hostile}.exe"
    program.write_bytes(b"MZ\x90\x00")
    big = page_dir / f"{hostile} big.txt"
    big.write_text("Long text. " * 2500, encoding="utf-8")  # 27 KB: over 20 KB, under 40
    good = page_dir / f"{hostile} good.md"
    good.write_text(
        "# Kite surfers cross the Minch\n\nFour kite surfers crossed the Minch from Skye "
        "to Harris in under three hours on 9 May 2025.\n",
        encoding="utf-8",
    )
    with serving(assistant) as url:
        chat = open_page(url)
        page = chat.page
        chat.tab("Articles")
        row = page.locator("#article-list tr", has_text="Pylon")
        expect(row.locator(".a-title")).to_contain_text(title)  # the markup, as text

        # Over twice the limit: Gradio refuses it in the browser, before any upload.
        huge = page_dir / f"{hostile} huge.txt"
        huge.write_text("Long text. " * 10_000, encoding="utf-8")  # 110 KB
        page.locator("#upload input[type=file]").set_input_files([str(huge)])
        too_big = page.locator("[data-testid='toast-body']", has_text="maximum allowed size")
        expect(too_big).to_contain_text("huge.txt")
        # Gradio's own toast shows the name as sanitised HTML (an <img> without its
        # handler appears); nothing in it runs.
        assert page.locator("[onerror], [onmouseover]").count() == 0
        assert page.evaluate("window.xss") is None
        too_big.locator("button").first.click()  # close it

        chat.choose_files(empty, program, big, good)
        expect(page.locator("#upload")).to_contain_text(f"{hostile} good")  # Gradio's list
        page.locator("#index-files").click()
        results = page.locator("#ingest-results")
        # Stored (and shown) under safe names; the text is the name, not markup.
        safe = "img src_x onerror_window.xss_3Tom & Jerry's (draft) _1"
        expect(results.locator("tr.row-added")).to_contain_text(f"{safe} good.md")
        failed = results.locator("tr.row-failed")
        expect(failed).to_have_count(3)
        for name, reason in (
            (f"{safe} empty.txt", "file is empty"),
            (f"{safe}.exe", ".exe files cannot be indexed"),
            (f"{safe} big.txt", "over the 0.02 MB limit per file"),
        ):
            expect(failed.filter(has_text=name).locator(".i-detail")).to_contain_text(reason)
        toast = page.locator("[data-testid='toast-body']", has_text="could not be indexed")
        expect(toast).to_contain_text("3 files could not be indexed: ")
        expect(toast).to_contain_text(f"{safe}.exe: .exe files cannot be indexed")
        expect(page.locator("#article-list")).to_contain_text("Kite surfers cross the Minch")
        uploads = assistant.settings.data_dir / "uploads"
        assert [p.name for p in uploads.iterdir()] == [f"{safe} good.md"]  # nothing else kept
        chat.step("01-hostile-names")

        chat.tab("Chat")
        answer = chat.ask("Where did the storm topple a pylon?")
        expect(answer.locator(".source-title")).to_have_text([title])
        answer.locator(".answer-text a.cite-chip").first.click()
        expect(page.locator("#source-viewer .viewer-title")).to_have_text(title)
        chat.step("02-title-from-a-file-name")

        page.wait_for_timeout(500)  # give any injected handler a chance to fire
        assert chat.dialogs == []
        assert page.evaluate("window.xss") is None
        assert page.locator("[onerror], [onmouseover], img[src='x'], b").count() == 0

"""Helpers for the web UI tests: serve the real app on a free loopback port, drive Debian's
chromium with playwright, and read the chat like a user does.

A failed test saves a screenshot of each of its pages (`save_screenshots_if_failed`, called
by the page fixtures), a passing one saves none; the test module needs
`pytest_plugins = ["phase_reports"]` for the fixtures to know the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Generous: the first answer of a test session loads a model on a slow CI machine.
TIMEOUT_MS = 30_000


def failed(request: pytest.FixtureRequest) -> bool:
    """Whether the test of this (function-scoped) fixture has failed, in its setup or call
    (the reports `phase_reports` keeps)."""
    if request.config.pluginmanager.get_plugin("phase_reports") is None:
        raise RuntimeError('the test module needs pytest_plugins = ["phase_reports"]')
    reports = (getattr(request.node, f"rep_{when}", None) for when in ("setup", "call"))
    return any(r is not None and r.failed for r in reports)


def save_screenshots_if_failed(
    request: pytest.FixtureRequest, folder: Path, pages: Iterable[Any]
) -> None:
    """When the test failed: a screenshot of each page (a playwright page or a ChatPage)
    under `folder`, named after the last step the page reached. Call it before the pages
    close (in a fixture, after its yield)."""
    if not failed(request):
        return
    for i, page in enumerate(pages, 1):
        step = getattr(page, "last_step", "")
        raw = getattr(page, "page", page)
        name = f"failed-{i}" + (f"-after-{step}" if step else "")
        try:
            raw.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        except Exception as e:  # a page that crashed or closed: say so, keep the failure
            print(f"no screenshot of page {i}: {e}")


@contextmanager
def serving(assistant: Any, **options: Any) -> Iterator[str]:
    """The app for `assistant`, served in this process on a free port, as `serve` does;
    yields its URL. `options` go to `launch` (auth)."""
    from assistant.ui import build_app, launch

    options.setdefault("max_file_mb", assistant.settings.max_file_mb)
    app = build_app(assistant)
    url = launch(app, host="127.0.0.1", port=free_port(), block=False, quiet=True, **options)
    try:
        yield url
    finally:
        app.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, with nothing that phones home."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def open_chat(assistant: Any, request: pytest.FixtureRequest, folder: Path) -> Iterator[ChatPage]:
    """The app for `assistant` served and opened in one headless Chromium tab; screenshots
    go to `folder` when the test failed."""
    from playwright.sync_api import sync_playwright

    pages: list[ChatPage] = []
    with sync_playwright() as p, serving(assistant) as url:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 950})
        pages.append(ChatPage(context.new_page(), url).open())
        yield pages[0]
        save_screenshots_if_failed(request, folder, pages)
        browser.close()


class ChatPage:
    """A browser tab on the app, with the few actions the tests need."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.last_step = ""
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)
        page.set_default_timeout(TIMEOUT_MS)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self) -> ChatPage:
        self.page.goto(self.url)
        self.page.locator(".status-line").wait_for()
        self.page.locator("#chat").wait_for()
        return self

    def step(self, name: str) -> None:
        """Mark a state the test has reached: a failure's screenshot is named after the last."""
        self.last_step = name

    @property
    def answers(self) -> Any:
        """Checked answers in the chat (not the one still streaming)."""
        return self.page.locator("#chat .answer:not(.pending):not(.draft)")

    def ask(self, question: str) -> Any:
        """Type and send a question; the locator of its checked answer once it is there."""
        from playwright.sync_api import expect

        box = self.page.locator("#question textarea")
        expect(box).to_be_enabled(timeout=TIMEOUT_MS)  # the kept conversation is shown
        before = self.answers.count()
        box.fill(question)
        box.press("Enter")
        expect(self.answers).to_have_count(before + 1, timeout=TIMEOUT_MS)
        return self.answers.nth(before)

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()

    def open_filters(self) -> None:
        self.page.locator("#filters").get_by_text("Filters:").first.click()
        self.page.locator("#filter-outlets").wait_for()

    def pick_outlet(self, name: str) -> None:
        self.page.locator("#filter-outlets input").click()
        self.page.get_by_role("option", name=name, exact=True).click()
        self.page.keyboard.press("Escape")

    def choose_files(self, *paths: Path) -> None:
        """Put files in the upload box and wait until they are uploaded."""
        from playwright.sync_api import expect

        upload = self.page.locator("#upload")
        upload.locator("input[type=file]").set_input_files([str(p) for p in paths])
        expect(upload.locator("tbody tr")).to_have_count(len(paths), timeout=TIMEOUT_MS)
        expect(upload).not_to_contain_text("Uploading", timeout=TIMEOUT_MS)

    def toasts(self) -> list[str]:
        return self.page.locator("[data-testid='toast-body']").all_inner_texts()

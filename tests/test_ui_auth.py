"""Optional login for the web UI and its API (ASSISTANT_AUTH, ASSISTANT_AUTH_FILE): the
settings parse or fail at start-up naming the variable (never echoing a password), the page
and every API route refuse without credentials and work with them (httpx, gradio_client,
a real Chromium), and app.py warns when it is exposed without a login."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from browser_app import TIMEOUT_MS, launch_chromium, save_screenshots_if_failed, serving
from conftest import ROOT, free_port

from assistant import load_settings
from assistant.ui import exposure_warning
from index import ConfigError

LOGINS = [("alice", "s3cret-A"), ("bob", "hunter2:with:colons")]
GEM_TITLE = "Ascend Elements and GEM team up on battery recycling for Europe"
# Its report hook tells the page fixture whether a test failed.
pytest_plugins = ["phase_reports"]


# -- settings --------------------------------------------------------------------------------


def test_logins_come_from_the_variable_and_the_file(tmp_path, monkeypatch):
    logins = tmp_path / "logins.txt"
    logins.write_text(
        "# the newsroom\n\ncarol:pa:ss,word\n   dave : d4ve  \r\n# erin:not-a-login\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ASSISTANT_AUTH", " alice:s3cret-A , bob:hunter2 ,")
    monkeypatch.setenv("ASSISTANT_AUTH_FILE", str(logins))
    settings = load_settings()
    assert settings.logins() == [
        ("alice", "s3cret-A"),
        ("bob", "hunter2"),
        ("carol", "pa:ss,word"),
        ("dave", "d4ve"),
    ]
    assert "s3cret-A" not in repr(settings)  # kept as a secret


def test_no_login_is_configured_by_default_or_by_blank_values(monkeypatch):
    assert load_settings().logins() == []
    monkeypatch.setenv("ASSISTANT_AUTH", "  ")
    monkeypatch.setenv("ASSISTANT_AUTH_FILE", "")
    assert load_settings().logins() == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("alice", "ASSISTANT_AUTH: entry 1 is not user:password"),
        ("alice:s3cret-A,bob", "ASSISTANT_AUTH: entry 2 is not user:password"),
        ("alice:s3cret-A,bob:", "ASSISTANT_AUTH: entry 2 (user 'bob') has an empty password"),
        (":s3cret-A", "ASSISTANT_AUTH: entry 1 has an empty user name"),
        (" , ,", "ASSISTANT_AUTH has no user:password pair"),
        ("alice:s3cret-A,alice:other", "the user 'alice' is given twice"),
    ],
)
def test_a_malformed_auth_value_fails_at_start_up(monkeypatch, value, message):
    monkeypatch.setenv("ASSISTANT_AUTH", value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert message in str(error.value)
    assert "s3cret-A" not in str(error.value) and "other" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file; point it at a file with one user:password per line"),
        ("dir", "cannot read it"),
        (b"alice:\xff\xfe-not-utf8\n", "cannot read it"),
        ("# only a comment\n\n", "the file has no user:password line"),
        ("alice:s3cret-A\nbob\n", "line 2 is not user:password"),
        ("alice:s3cret-A\n\n  carol :  \n", "line 3 (user 'carol') has an empty password"),
    ],
)
def test_a_bad_auth_file_fails_at_start_up_naming_it(tmp_path, monkeypatch, content, message):
    path = tmp_path / "logins.txt"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_AUTH_FILE", str(path))
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(f"ASSISTANT_AUTH_FILE={path}: ")
    assert message in str(error.value)
    assert "s3cret-A" not in str(error.value)


def test_exposing_the_ui_without_a_login_is_warned_about():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert exposure_warning(host, login=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "news.example.org"):
        warning = exposure_warning(host, login=False)
        assert warning is not None and "ASSISTANT_AUTH" in warning and host in warning
        assert exposure_warning(host, login=True) is None


# -- the served app --------------------------------------------------------------------------


@pytest.fixture
def locked_url(sample_assistant):
    with serving(sample_assistant, auth=LOGINS) as url:
        yield url


@pytest.mark.slow
def test_without_credentials_the_page_and_every_api_route_refuse(locked_url):
    page = httpx.get(locked_url)
    assert page.status_code == 200
    assert '"auth_required":true' in page.text.replace(" ", "")
    assert GEM_TITLE not in page.text and "Battery Brief" not in page.text  # no index data
    refused = [
        httpx.get(f"{locked_url}config"),
        httpx.get(f"{locked_url}gradio_api/info"),
        httpx.post(
            f"{locked_url}gradio_api/call/ask", json={"data": ["Who is GEM partnering with?"]}
        ),
        httpx.post(f"{locked_url}gradio_api/call/articles", json={"data": []}),
        httpx.post(f"{locked_url}gradio_api/queue/join", json={"data": [], "fn_index": 0}),
        httpx.post(
            f"{locked_url}gradio_api/upload", files={"files": ("a.txt", b"text", "text/plain")}
        ),
    ]
    assert [r.status_code for r in refused] == [401] * len(refused), [r.text for r in refused]

    wrong = httpx.post(f"{locked_url}login", data={"username": "alice", "password": "nope"})
    assert wrong.status_code == 400 and "access-token" not in str(wrong.cookies)


@pytest.mark.slow
def test_gradio_client_needs_the_login_and_works_with_it(locked_url):
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):
        Client(locked_url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(locked_url, auth=("alice", "s3cret-B"), verbose=False)
    client = Client(locked_url, auth=LOGINS[1], verbose=False, download_files=False)
    answer = client.predict("Who is GEM partnering with?", api_name="/ask")
    assert "Ascend Elements" in answer["answer"] and answer["citations"]
    assert client.predict(api_name="/stats")["articles"] > 0


@pytest.fixture
def page(request, tmp_path):
    """A page in Debian's headless chromium; a screenshot of it if the test fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
            save_screenshots_if_failed(request, tmp_path, [page])
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_browser_shows_a_login_form_and_the_chat_only_after_it(locked_url, page):
    from playwright.sync_api import expect

    page.goto(locked_url)
    expect(page.get_by_text("Sign in to the News Assistant")).to_be_visible()
    assert page.locator("#chat").count() == 0 and page.locator(".status-line").count() == 0

    page.get_by_label("username").fill("alice")
    page.get_by_label("password").fill("wrong")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
    assert page.locator("#chat").count() == 0

    page.get_by_label("username").fill("alice")
    page.get_by_label("password").fill("s3cret-A")
    page.get_by_role("button", name="Login").click()
    expect(page.locator(".status-line")).to_contain_text("articles indexed")
    box = page.locator("#question textarea")
    box.fill("Who is GEM partnering with?")
    box.press("Enter")
    answer = page.locator("#chat .answer:not(.pending):not(.draft)").first
    expect(answer.locator(".source-title")).to_have_text([GEM_TITLE])


# -- app.py ----------------------------------------------------------------------------------


def _app_env(tmp_path: Path, sample_dir: Path, **variables: str) -> dict[str, str]:
    data = tmp_path / "data"
    if not data.exists():
        shutil.copytree(sample_dir, data)  # indexed already: app.py goes straight to serving
    return {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data),
        "ASSISTANT_LLM": "extractive",
        "PYTHONUNBUFFERED": "1",
        **variables,
    }


@pytest.mark.slow
def test_app_py_refuses_to_start_with_a_malformed_login(tmp_path, sample_dir):
    env = _app_env(tmp_path, sample_dir, ASSISTANT_AUTH="alice:s3cret-A,bob")
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: ASSISTANT_AUTH: entry 2 is not user:password (no ':'); write each login as "
        "user:password"
    ]
    assert "s3cret-A" not in done.stderr + done.stdout


def _start_app(tmp_path: Path, env: dict[str, str], until: str) -> tuple[subprocess.Popen, Path]:
    """app.py running, once its output contains `until` (or it has exited)."""
    log = tmp_path / f"app-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 120
    while until not in log.read_text() and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(log.read_text())
        time.sleep(0.25)
    return proc, log


@pytest.mark.slow
def test_app_py_warns_when_exposed_without_a_login(tmp_path, sample_dir):
    env = _app_env(
        tmp_path,
        sample_dir,
        ASSISTANT_HOST="0.0.0.0",
        ASSISTANT_PORT=str(free_port()),
        ASSISTANT_API_KEYS="api-key",  # off loopback the server needs them for /v1 and /mcp
    )
    proc, log = _start_app(tmp_path, env, "warning:")
    proc.terminate()
    proc.wait(timeout=30)
    text = log.read_text()
    assert "warning: the web UI listens on 0.0.0.0, so other machines can reach it" in text
    assert "Set ASSISTANT_AUTH" in text


@pytest.mark.slow
def test_app_py_with_a_login_file_requires_it_and_does_not_warn(tmp_path, sample_dir):
    logins = tmp_path / "logins"
    logins.write_text("# who may read\nalice:s3cret-A\n", encoding="utf-8")
    port = free_port()
    env = _app_env(
        tmp_path,
        sample_dir,
        ASSISTANT_HOST="0.0.0.0",
        ASSISTANT_PORT=str(port),
        ASSISTANT_AUTH_FILE=str(logins),
        ASSISTANT_API_KEYS="api-key",
    )
    proc, log = _start_app(tmp_path, env, f":{port}")
    try:
        assert proc.poll() is None, log.read_text()
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(f"{url}config").status_code == 401
        assert httpx.post(f"{url}gradio_api/call/stats", json={"data": []}).status_code == 401
        from gradio_client import Client

        client = Client(url, auth=("alice", "s3cret-A"), verbose=False)
        assert client.predict(api_name="/stats")["articles"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "warning:" not in log.read_text()

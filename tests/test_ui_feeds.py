"""Feeds in the web server: the `/feeds`, `/add_feed`, `/remove_feed` and `/sync` endpoints
through gradio_client, the background sync, and the rule against server-side request
forgery, each against a real `assistant serve` process (one bound to loopback, one to this
machine's own non-loopback address) and a real web server on loopback; the panel's HTML."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, run_cli
from test_feeds import GLIWICE, feed_site
from web_server import WebServer

REFUSED_LOOPBACK = "a loopback address; a server does not fetch such addresses"


def non_loopback_ipv4() -> str:
    """This machine's own IPv4 address on its network (no packet is sent: a UDP socket
    "connected" to an outside address says which local address would be used); else the
    first of `hostname -I`; else 0.0.0.0 (every address: still not loopback for the rule)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            address = ""
    if address and not ipaddress.ip_address(address).is_loopback:
        return address
    try:
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    except OSError:
        listed = []
    for candidate in listed:
        ip = ipaddress.ip_address(candidate)
        if ip.version == 4 and not ip.is_loopback:
            return candidate
    return "0.0.0.0"


class Served:
    """`assistant serve --host HOST` as a real process, on a copy of the index in `source`,
    its files (the copy, the log) under `folder`."""

    def __init__(self, folder: Path, source: Path, host: str, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.data = folder / "data"
        shutil.copytree(source, self.data)
        self.port = free_port()
        self.host = host
        self.log = folder / "serve.log"
        environ = {
            **os.environ,
            "ASSISTANT_DATA_DIR": str(self.data),
            "ASSISTANT_LLM": "extractive",
            "PYTHONUNBUFFERED": "1",
            "ASSISTANT_API_KEYS": "api-key",  # needed off loopback (for /v1 and /mcp)
            **env,
        }
        command = ["serve", "--host", host, "--port", str(self.port)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", *command],
                env=environ,
                stdout=out,
                stderr=out,
            )
        reach = "127.0.0.1" if host == "0.0.0.0" else host
        self.url = f"http://{reach}:{self.port}/"

    def client(self) -> Any:
        """A gradio_client once the server answers."""
        from gradio_client import Client

        deadline = time.monotonic() + 120
        while (self.data / "server.json").exists() is False:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.25)
        return Client(self.url, verbose=False, download_files=False)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.3)


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


@pytest.mark.slow
def test_a_server_on_loopback_follows_syncs_in_the_background_answers_and_removes(
    tmp_path, sample_dir, web
):
    feed = feed_site(web)
    served = Served(tmp_path, sample_dir, "127.0.0.1", ASSISTANT_SYNC_MINUTES="0.02")
    try:
        client = served.client()
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/feeds", "/add_feed", "/remove_feed", "/sync"} <= set(endpoints)
        assert client.predict(api_name="/feeds") == []

        added = client.predict(feed, api_name="/add_feed")
        assert added == {
            "url": feed,
            "kind": "rss",
            "title": "Grid Weekly",
            "new": True,
            "entries": 3,
            "found_on": "",
        }
        # Nobody syncs: the server's background sync takes the feed in by itself.
        (row,) = wait_until(
            "background sync",
            # The articles go in before the feed's row records the sync: wait for both.
            lambda: [
                f
                for f in client.predict(api_name="/feeds")
                if f["articles"] == 3 and f["last_sync"]
            ],
        )
        assert row["last_error"] == "", row
        answer = client.predict(
            "How many people will the Gliwice recycling plant employ?", api_name="/ask"
        )
        top = answer["citations"][0]
        assert "412 people" in top["quote"] and top["quote"] in " ".join(GLIWICE)
        assert top["url"] == web.url("/news/gliwice.html")

        report = client.predict(api_name="/sync")  # "Sync now": nothing changed
        assert (report["feeds"], report["fetched"], report["failed"]) == (1, 0, [])
        assert [f["status"] for f in report["per_feed"]] == ["not_modified"]

        assert client.predict(feed, True, api_name="/remove_feed") == {"removed": 3}
        assert client.predict(api_name="/feeds") == []
        assert "Gliwice" not in json.dumps(client.predict(api_name="/articles"))
        # The background sync stops with the server.
        assert served.stop() == 0, served.log.read_text()
    finally:
        if served.process.poll() is None:
            served.process.kill()
    log = served.log.read_text()
    assert "Feeds are synced every 0.02 minutes" in log
    assert "not fetched from loopback" not in log
    assert not (served.data / "server.json").exists()


@pytest.mark.slow
def test_a_server_on_a_network_address_fetches_no_internal_address(tmp_path, sample_dir, web):
    from gradio_client.exceptions import AppError

    host = non_loopback_ipv4()
    # A feed added from the CLI on this machine, which may fetch loopback: the server may not.
    prepared = tmp_path / "prepared"
    shutil.copytree(sample_dir, prepared)
    feed = feed_site(web)
    assert run_cli(["feeds", "add", feed], data=prepared).returncode == 0
    web.clear()
    served = Served(tmp_path / "served", prepared, host, ASSISTANT_SYNC_MINUTES="0.02")
    lan = WebServer(host) if host != "0.0.0.0" else None
    try:
        client = served.client()
        # The background sync tried the feed, and was refused before any connection.
        (row,) = wait_until(
            "background sync",
            lambda: [f for f in client.predict(api_name="/feeds") if f["last_sync"]],
        )
        assert REFUSED_LOOPBACK in row["last_error"] and row["articles"] == 0

        second = web.route("/second.xml", web.routes["/feed.xml"].body)
        web.clear()
        targets = [
            second,  # 127.0.0.1
            second.replace("127.0.0.1", "localhost"),  # refused after DNS
            "http://169.254.169.254/latest/meta-data/",  # cloud metadata: link-local
            "http://10.0.0.1/feed.xml",  # private
        ]
        if lan is not None:
            lan.__enter__()
            lan.route("/feed.xml", web.routes["/feed.xml"].body, content_type="application/rss+xml")
            targets.append(lan.url("/feed.xml"))  # the server's own network address
        for target in targets:
            with pytest.raises(
                AppError, match=r"^http://\S+: refused: .* a server does not fetch such addresses"
            ):
                client.predict(target, api_name="/add_feed")

        report = client.predict(api_name="/sync")
        assert report["added"] == 0
        assert [f["url"] for f in report["failed"]] == [feed]
        assert REFUSED_LOOPBACK in report["failed"][0]["error"]
        assert report["per_feed"][0]["status"] == "failed"
        assert served.stop() == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
        if lan is not None:
            lan.__exit__()
    # Nothing reached the web servers: every address was refused before connecting.
    assert web.requests() == []
    assert lan is None or lan.requests() == []
    log = served.log.read_text()
    assert f"the server listens on {host}" in log and "ASSISTANT_FETCH_PRIVATE=true" in log
    assert "background sync: " in log and "refused" in log


def test_the_guard_follows_assistant_fetch_private(make_assistant, web):
    from index import FetchError

    feed = feed_site(web)
    guarded = make_assistant()
    guarded.guard_fetches = True
    with pytest.raises(
        FetchError, match=r"refused: 127\.0\.0\.1 is 127\.0\.0\.1, a loopback address"
    ):
        guarded.add_feed(feed)
    assert web.requests() == []
    allowed = make_assistant(fetch_private=True)
    allowed.guard_fetches = True
    assert allowed.add_feed(feed).record.kind == "rss"


def test_the_feed_panel_shows_feeds_and_sync_results_as_text():
    from assistant.ui.render import render_feed_added, render_feed_list, render_sync

    hostile = "<img src=x onerror=alert(1)>Grid & Co"
    listed = render_feed_list(
        [
            {
                "url": "https://example.com/rss.xml",
                "kind": "rss",
                "title": hostile,
                "last_sync": "2025-11-04T10:00:00+00:00",
                "articles": 3,
                "last_error": "1 entry failed, e.g. <b>x</b>",
            },
            {
                "url": "javascript:alert(2)",
                "kind": "sitemap-index",
                "title": "",
                "last_sync": "",
                "articles": 0,
                "last_error": "",
            },
        ]
    )
    assert "<img" not in listed and "&lt;img src=x onerror=alert(1)&gt;Grid &amp; Co" in listed
    assert "RSS 2.0" in listed and "Sitemap index" in listed
    assert "2025-11-04 10:00 UTC" in listed and "never" in listed
    assert 'href="https://example.com/rss.xml"' in listed
    assert 'href="javascript' not in listed  # shown, never linked
    assert 'data-remove-feed="javascript:alert(2)"' in listed
    assert "No feeds are followed yet" in render_feed_list([])

    added = {"url": "u", "kind": "atom", "title": hostile, "new": True, "entries": 1}
    assert "Following &lt;img" in render_feed_added(
        added
    ) and "(Atom, 1 entry)" in render_feed_added(added)

    report = {
        "feeds": 2,
        "not_modified": 1,
        "fetched": 4,
        "added": 3,
        "updated": 1,
        "failed": [{"url": "https://example.com/a.html", "error": "HTTP 404 Not Found"}],
        "chunks": 12,
        "seconds": 1.25,
        "per_feed": [
            {
                "url": "https://example.com/rss.xml",
                "title": "Grid Weekly",
                "status": "read",
                "entries": 5,
                "added": 3,
                "updated": 1,
                "unchanged": 0,
                "duplicates": 0,
                "failed": 1,
                "error": "1 entry failed, e.g. https://example.com/a.html: HTTP 404 Not Found",
            },
            {
                "url": "https://example.com/atom.xml",
                "title": "Atom",
                "status": "not_modified",
                "entries": 0,
                "added": 0,
                "updated": 0,
                "unchanged": 0,
                "duplicates": 0,
                "failed": 0,
                "error": "",
            },
        ],
    }
    shown = render_sync(report)
    assert "2 feeds (1 not modified), 4 pages fetched: 3 added, 1 updated, 1 failed" in shown
    assert "12 passages indexed in 1.2 s" in shown or "12 passages indexed in 1.3 s" in shown
    assert "5 entries: 3 added, 1 updated, 1 failed" in shown and "nothing new" in shown
    assert "https://example.com/a.html: HTTP 404 Not Found" in shown


def test_the_panel_handlers_add_sync_and_remove_a_feed(make_assistant, web):
    from typing import get_type_hints

    import gradio as gr

    from assistant.ui.handlers import UIHandlers

    handlers = UIHandlers(make_assistant(llm="extractive"))
    assert get_type_hints(handlers.remove_feed_clicked)["evt"] is gr.EventData
    with pytest.raises(gr.Error, match="Type the URL of a feed"):
        handlers.add_feed("  ")
    with pytest.raises(gr.Error) as missing:
        handlers.add_feed(web.url("/nope.xml"))
    assert missing.value.message == f"{web.url('/nope.xml')}: HTTP 404 Not Found."

    feed = feed_site(web)
    added = handlers.add_feed(f"  {feed} ")
    assert (added["kind"], added["title"], added["new"], added["entries"]) == (
        "rss",
        "Grid Weekly",
        True,
        3,
    )
    box, line, listed = handlers.show_added(added)
    assert box == "" and "Following Grid Weekly (RSS 2.0, 3 entries)" in line
    assert "never" in listed and f'data-remove-feed="{feed}"' in listed

    report = handlers.sync_feeds()
    assert (report["added"], report["per_feed"][0]["added"]) == (3, 3)
    shown, listed, _status, _outlets, articles, _stats = handlers.show_sync(report, None, "")
    assert "1 feed (0 not modified), 3 pages fetched: 3 added" in shown
    assert "3 entries: 3 added" in shown
    assert ">3</td>" in listed and "Germany awards offshore wind sites" in articles

    listed, _status, _outlets, articles, _stats = handlers.remove_feed_clicked(
        True, None, "", gr.EventData(None, {"remove_feed": feed})
    )
    assert "No feeds are followed yet" in listed and "Germany awards" not in articles
    assert handlers.feeds() == [] and handlers.articles() == []
    with pytest.warns(UserWarning, match="no longer followed"):
        handlers.remove_feed_clicked(True, None, "", gr.EventData(None, {"remove_feed": feed}))

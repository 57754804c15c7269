"""The index keeping itself up to date: `assistant watch` as a real process (files appearing,
changing and going in a watched folder; feeds synced on its interval; SIGINT and SIGTERM),
and the server's background sync shared by replicas of one Chroma server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import run_cli
from test_feeds import feed_site
from web_server import WebServer

from index import ChromaStore

pytestmark = pytest.mark.slow

TIDAL = (
    "title: Tidal turbines power a Scottish island\nsource: Sea Power News\ndate: 2025-05-05\n\n"
    "A tidal turbine array started supplying the island of Eday with electricity in May 2025. "
    "The operator plans four more turbines.\n"
)
TIDAL_EDITED = TIDAL.replace("four more turbines", "six more turbines by 2027")
OLD = "title: Solar farm opens\n\nA solar farm near Leipzig opened in April 2025 with 80,000 panels.\n"
STRAY = "title: Hidden draft\n\nA hidden draft about geothermal wells that must not be indexed.\n"


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


class Watch:
    """`assistant watch ARGS` running as a real process; its output goes to files."""

    def __init__(self, args: list[str], *, cwd: Path, data: Path) -> None:
        self.out = cwd.parent / "watch.out"
        self.err = cwd.parent / "watch.err"
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", "watch", *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, (
                f"watch exited while waiting for {what}:\n{self.output()}"
            )
            assert time.monotonic() < deadline, f"no {what} within {timeout} s:\n{self.output()}"
            time.sleep(0.2)

    def settled_passes(self, quiet: float = 2.0, timeout: float = 30) -> int:
        """How many file passes the output shows once none has started for `quiet` seconds
        (a folder and the file in it may reach the watch as two batches of events)."""
        deadline = time.monotonic() + timeout
        count, since = self.out.read_text().count(" files: "), time.monotonic()
        while time.monotonic() - since < quiet:
            assert time.monotonic() < deadline, f"passes did not settle:\n{self.output()}"
            time.sleep(0.2)
            now = self.out.read_text().count(" files: ")
            if now != count:
                count, since = now, time.monotonic()
        return count

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def titles_by_file(data: Path) -> dict[str, str]:
    """Indexed articles by the name of the file or page they came from."""
    if not (data / "chroma").exists():
        return {}
    records = ChromaStore(path=data / "chroma").records().values()
    return {Path(urlsplit(r.path).path).name: r.title for r in records}


def test_watch_takes_in_files_as_they_come_change_and_go_and_syncs_feeds_on_its_interval(
    tmp_path, web
):
    news = tmp_path / "news"
    news.mkdir()
    data = news / "data"  # the default ./data inside the watched folder: its writes are no change
    (news / "old.txt").write_text(OLD)
    feed = feed_site(web)
    assert run_cli(["feeds", "add", feed], data=data).returncode == 0
    watch = Watch([".", "--interval", "0.02"], cwd=news, data=data)  # feeds every 1.2 s
    try:
        # The first pass takes in what is there, the first sync the feed's pages.
        watch.wait_for("the first pass", lambda: "old.txt" in titles_by_file(data))
        watch.wait_for(
            "the feed's articles",
            lambda: {"gliwice.html", "sodium.html", "wind.html"} <= set(titles_by_file(data)),
        )
        # ... and the feed is asked again on the interval, conditionally.
        watch.wait_for("re-syncs", lambda: len(web.requests("/feed.xml")) >= 4, timeout=30)
        assert {r.status for r in web.requests("/feed.xml")[2:]} == {304}

        (news / "tidal.txt").write_text(TIDAL)
        (news / ".draft.txt").write_text(STRAY)  # hidden, as a folder ingest skips it
        watch.wait_for("the new file", lambda: "tidal.txt" in titles_by_file(data))
        record = next(
            r
            for r in ChromaStore(path=data / "chroma").records().values()
            if r.path.endswith("tidal.txt")
        )
        (news / "tidal.txt").write_text(TIDAL_EDITED)
        watch.wait_for(
            "the change",
            lambda: any(
                r.path.endswith("tidal.txt") and r.content_hash != record.content_hash
                for r in ChromaStore(path=data / "chroma").records().values()
            ),
        )
        _, body = ChromaStore(path=data / "chroma").get_article(record.id)
        assert "six more turbines by 2027" in body

        (news / "tidal.txt").unlink()
        watch.wait_for("the removal", lambda: "tidal.txt" not in titles_by_file(data))
        sub = news / "more"  # a folder appearing with a file in it
        sub.mkdir()
        (sub / "tidal.txt").write_text(TIDAL)
        watch.wait_for("the new folder's file", lambda: "tidal.txt" in titles_by_file(data))
        files_passes = watch.settled_passes()
        time.sleep(3)  # quiet: the watch's own writes to ./data start no pass
        assert watch.out.read_text().count(" files: ") == files_passes
        code = watch.stop(signal.SIGINT)
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
    output = watch.output()
    assert code == 0, output
    assert "stopped" in watch.err.read_text()
    assert "files (first pass): 1 added" in output
    assert "feeds: 1 synced (0 not modified), 3 pages fetched: 3 added" in output
    assert "feeds: 1 synced (1 not modified), 0 pages fetched" in output
    assert f"added: {news / 'tidal.txt'}" in output and f"updated: {news / 'tidal.txt'}" in output
    assert f"gone: {news / 'tidal.txt'}" in output
    store = ChromaStore(path=data / "chroma")
    assert sorted(titles_by_file(data)) == [
        "gliwice.html",
        "old.txt",
        "sodium.html",
        "tidal.txt",
        "wind.html",
    ]
    assert store.check().ok


def test_watch_stops_on_sigterm_and_refuses_what_it_cannot_watch(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    data = tmp_path / "data"
    watch = Watch([str(empty), "--interval", "0"], cwd=empty, data=data)
    watch.wait_for("the first pass", lambda: "files (first pass)" in watch.output(), timeout=60)
    assert watch.stop(signal.SIGTERM) == 0, watch.output()
    assert watch.err.read_text().strip().splitlines()[-1] == "stopped"

    missing = run_cli(["watch", str(tmp_path / "nope")], data=data)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    nothing = run_cli(["watch", "--interval", "0"], data=data)
    assert nothing.returncode == 2 and "nothing to watch" in nothing.stderr


@pytest.mark.server
def test_background_syncs_of_replicas_take_turns_and_share_one_schedule(
    chroma_server, embedder, tmp_path, web
):
    from conftest import unique_collection

    from assistant import NewsAssistant, load_settings
    from assistant.schedule import BackgroundSync

    host, port = chroma_server
    collection = unique_collection()

    def replica(name: str) -> NewsAssistant:
        settings = load_settings(
            chroma_host=host, chroma_port=port, collection=collection, data_dir=tmp_path / name
        )
        return NewsAssistant(settings, embedder=embedder)

    one, two = replica("one"), replica("two")
    feed = feed_site(web)
    one.add_feed(feed)
    web.clear()
    # While one replica writes (its sync, an ingest), the other's round is skipped at once.
    with one.store.ingest_lock(wait=5):
        started = time.monotonic()
        assert BackgroundSync(two, minutes=30).run_once() is None
        assert time.monotonic() - started < 5
    assert web.requests() == []
    assert two.feeds()[0].record.last_sync == ""

    # A new feed is due: the next round syncs it...
    report = BackgroundSync(two, minutes=30).run_once()
    assert report is not None and (report.added, report.failed) == (3, [])
    assert [(f.status, f.added) for f in report.per_feed] == [("read", 3)]
    # ... and the other replica sees the feeds synced within the interval: nothing to do.
    web.clear()
    assert BackgroundSync(one, minutes=30).run_once() is None
    assert web.requests() == []
    # An interval later (here: 0.01 minutes) it is due again.
    time.sleep(1)
    again = BackgroundSync(one, minutes=0.01).run_once()
    assert again is not None and again.not_modified == 1 and again.fetched == 0

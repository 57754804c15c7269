"""Feed sync throughput: a loopback web server with 50 feeds of 20 entries (1,000 pages of real
article text rendered as HTML), synced into a fresh index; the same articles ingested from
JSON Lines in the same run; then an unchanged re-sync.

    .venv/bin/python bench/sync.py [--articles ../shared/eval/realtimeqa/articles.jsonl]
                                   [--feeds 50] [--entries 20] [--device auto|cpu|cuda]
                                   [--threads N]

The article text is read from `--articles` at run time (it is not part of this repository).
When the file holds fewer articles than pages are wanted, its longest articles are split in
two at a paragraph break, so every page is distinct real text and the total text stays the
corpus's. Each page is a news page (title, outlet, date, menus and a footer around the
article); each feed an RSS 2.0 file whose entries carry only a teaser, so the text must come
from the pages; a process of their own serves them. The JSON Lines run ingests exactly the articles the pages hold. Models are
loaded before any timing. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)

from index import ChromaStore, Embedder, FetchOptions, add_feed, ingest, sync  # noqa: E402

DEFAULT_ARTICLES = ROOT.parent / "shared" / "eval" / "realtimeqa" / "articles.jsonl"


def machine() -> str:
    import torch

    cpu = f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads"
    if torch.cuda.is_available():
        return f"{cpu}, GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{cpu} ({platform.processor() or platform.machine()}), torch {torch.__version__}"


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def pages_from(rows: list[dict[str, Any]], wanted: int) -> list[dict[str, Any]]:
    """`wanted` articles: the corpus's, its longest ones split in two when it holds fewer."""
    articles = [dict(r) for r in rows[:wanted]]
    short = wanted - len(articles)
    if short > 0:
        splittable = [i for i, a in enumerate(articles) if len(paragraphs(a["body"])) >= 4]
        splittable.sort(key=lambda i: -len(articles[i]["body"]))
        if len(splittable) < short:
            raise SystemExit(f"the corpus is too small for {wanted} pages")
        for i in splittable[:short]:
            parts = paragraphs(articles[i]["body"])
            half = len(parts) // 2
            first, second = dict(articles[i]), dict(articles[i])
            first["body"] = "\n\n".join(parts[:half])
            second["body"] = "\n\n".join(parts[half:])
            second["id"] = first["id"] + "-2"
            second["title"] = first["title"] + " (continued)"
            articles[i] = first
            articles.append(second)
    return articles


def page_html(article: dict[str, Any]) -> bytes:
    e = html.escape
    meta = [
        '<meta charset="utf-8">',
        f"<title>{e(article['title'])}</title>",
        f'<meta property="og:site_name" content="{e(article.get("source") or "")}">',
    ]
    if article.get("published_at"):
        meta.append(f'<meta property="article:published_time" content="{article["published_at"]}">')
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs(article["body"]))
    return (
        "<!DOCTYPE html><html><head>"
        + "".join(meta)
        + "</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a> "
        + "<a href='/business'>Business</a></nav>"
        + f"<article><h1>{e(article['title'])}</h1>{body}</article>"
        + "<footer>Copyright the publisher. All rights reserved.</footer></body></html>"
    ).encode()


def rss(title: str, items: list[tuple[str, dict[str, Any]]]) -> bytes:
    parts = []
    for link, article in items:
        day = article.get("published_at") or "2024-01-01"
        stamp = format_datetime(datetime.fromisoformat(day).replace(tzinfo=UTC), usegmt=True)
        teaser = " ".join(article["body"].split()[:25])
        parts.append(
            f"<item><title>{html.escape(article['title'])}</title><link>{link}</link>"
            f"<pubDate>{stamp}</pubDate><description>{html.escape(teaser)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://example.com/</link>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


Routes = dict[str, tuple[bytes, str, str]]  # path -> (body, content type, ETag)


def route(routes: Routes, path: str, body: bytes, content_type: str) -> None:
    routes[path] = (body, content_type, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')


def serve_site(routes: Routes, port: int, downloads: Any) -> None:
    """Serve `routes` on loopback until killed, with ETags (304 to a matching
    If-None-Match), counting page downloads (200s of /news/ pages) in `downloads`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm on, each response
        # would wait for the client's delayed ACK (40 ms on Linux), which no real server does.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            found = routes.get(self.path)
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, content_type, etag = found
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            if self.path.startswith("/news/"):
                with downloads.get_lock():
                    downloads.value += 1
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    httpd.serve_forever()


class Site:
    """The feeds and pages, served by a process of their own (as a web server is: its work
    is not this process's, and it holds no lock this process needs)."""

    def __init__(self, routes: Routes, port: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.downloads = context.Value("i", 0)
        self.process = context.Process(
            target=serve_site, args=(routes, port, self.downloads), daemon=True
        )
        self.process.start()
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not self.process.is_alive():
                    raise SystemExit("the loopback web server did not start") from None
                time.sleep(0.1)

    @property
    def page_downloads(self) -> int:
        return int(self.downloads.value)

    def reset(self) -> None:
        with self.downloads.get_lock():
            self.downloads.value = 0

    def close(self) -> None:
        self.process.kill()
        self.process.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=1024, help="chunks embedded per write")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (default: torch's choice); 1 keeps the figures steady on a machine "
        "whose cores other processes use, where torch's threads wait for each other",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    rows = [json.loads(line) for line in args.articles.read_text(encoding="utf-8").splitlines()]
    articles = pages_from(rows, args.feeds * args.entries)
    chars = sum(len(a["body"]) for a in articles)

    embedder = Embedder(device=args.device)
    embedder.encode(["warm up the model before timing", "a second text"])

    port = free_port()
    routes: Routes = {}
    feeds = []
    for f in range(args.feeds):
        items = []
        for a in articles[f * args.entries : (f + 1) * args.entries]:
            path = f"/news/{a['id']}.html"
            route(routes, path, page_html(a), "text/html; charset=utf-8")
            items.append((f"http://127.0.0.1:{port}{path}", a))
        route(routes, f"/feeds/{f}.xml", rss(f"Feed {f}", items), "application/rss+xml")
        feeds.append(f"http://127.0.0.1:{port}/feeds/{f}.xml")
    route(routes, "/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
    site = Site(routes, port)

    print(
        f"{len(articles)} pages ({chars:,} characters of article text) in {args.feeds} feeds "
        f"of {args.entries} entries; {machine()}; {datetime.now().date()}; load average "
        f"{os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "articles.jsonl"
        source.write_text(
            "\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8"
        )

        def jsonl_ingest(name: str) -> tuple[float, int]:
            store = ChromaStore(path=work / name, embedding_model=embedder.model_name)
            started = time.perf_counter()
            report = ingest([source], store=store, embedder=embedder, batch_chunks=args.batch)
            seconds = time.perf_counter() - started
            assert not report.failed, report.failed[:3]
            print(f"JSON Lines ingest: {seconds:.1f} s, {report.chunks} chunks", flush=True)
            return seconds, report.chunks

        jsonl_before, jsonl_chunks = jsonl_ingest("jsonl-before")

        store = ChromaStore(path=work / "web", embedding_model=embedder.model_name)
        options = FetchOptions()
        for url in feeds:
            add_feed(url, store=store, options=options)
        site.reset()
        started = time.perf_counter()
        first = sync(store=store, embedder=embedder, options=options, batch_chunks=args.batch)
        sync_s = time.perf_counter() - started
        failed = [(e.path, e.reason) for e in first.failed]
        print(f"first sync: {sync_s:.1f} s, {first.chunks} chunks, failed {failed[:3]}", flush=True)
        first_downloads = site.page_downloads

        site.reset()
        started = time.perf_counter()
        again = sync(store=store, embedder=embedder, options=options, batch_chunks=args.batch)
        resync_s = time.perf_counter() - started
        resync_downloads = site.page_downloads
        print(f"unchanged re-sync: {resync_s:.2f} s", flush=True)
        site.close()

        jsonl_after, _ = jsonl_ingest("jsonl-after")

    jsonl_s = (jsonl_before + jsonl_after) / 2
    pages = len(articles)
    print()
    print("| run | seconds | pages/s | chunks | page downloads | requests |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, seconds in (("before", jsonl_before), ("after", jsonl_after)):
        print(
            f"| JSON Lines ingest of the same articles, {label} the sync | {seconds:.1f} | "
            f"{pages / seconds:.1f} | {jsonl_chunks:,} | | |"
        )
    print(
        f"| first sync | {sync_s:.1f} | {pages / sync_s:.1f} | {first.chunks:,} | "
        f"{first_downloads:,} | {first.requests:,} |"
    )
    print(
        f"| unchanged re-sync | {resync_s:.2f} | | {again.chunks} | {resync_downloads} | "
        f"{again.requests} |"
    )
    print()
    print(
        f"first sync / JSON Lines ingest (pages/s, against the mean of the two): "
        f"{jsonl_s / sync_s:.2f}x (target >= 0.8x); unchanged re-sync: {resync_s:.2f} s with "
        f"{resync_downloads} page downloads, {again.not_modified} of {again.feeds} feeds "
        f"answered 304 (target <= 2 s, 0 downloads); load average {os.getloadavg()[0]:.1f} "
        "at the end"
    )
    if first.failed or again.failed:
        print(
            f"failures: {len(first.failed)} in the first sync, {len(again.failed)} in the re-sync"
        )


if __name__ == "__main__":
    main()

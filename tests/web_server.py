"""A real HTTP server on loopback for the feed and fetcher tests: routes set by the test
(feeds, pages, robots.txt), ETag/Last-Modified with 304s, gzip, redirects, slow and hostile
answers; every request is logged so tests can count what was fetched."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LAST_MODIFIED = "Tue, 04 Nov 2025 10:00:00 GMT"


class _Quiet(ThreadingHTTPServer):
    """A client that hangs up early (the fetcher refusing a body) is not an error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class Route:
    """How the server answers one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    validators: bool = True  # ETag + Last-Modified, and 304 when the request matches
    gzip: bool = False
    delay: float = 0.0  # seconds before answering
    length: bool = True  # send Content-Length (else the body ends when the connection does)
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None  # anything else


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int
    host: str


class WebServer:
    """`with WebServer() as web: web.route("/feed.xml", body=...); web.url("/feed.xml")`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.shared: Any = None  # a counter object several servers share (see Concurrency)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Quiet((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> WebServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, body: bytes | str = b"", **options: Any) -> str:
        """Serve `body` at `path` (str bodies are UTF-8); returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def requests(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def paths(self, *, robots: bool = False) -> list[str]:
        """Paths requested so far (robots.txt left out unless asked)."""
        return [r.path for r in self.requests() if robots or r.path != "/robots.txt"]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        try:
            self._answer(h)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _waiting(self, seconds: float) -> None:
        """A slow answer. Requests are counted as in flight while they wait here, before any
        byte of the answer is sent: the client cannot have finished with them yet."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.shared is not None:
            self.shared.enter()
        try:
            time.sleep(seconds)
        finally:
            with self.lock:
                self.in_flight -= 1
            if self.shared is not None:
                self.shared.leave()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        route = self.routes.get(path) or self.routes.get(path.partition("?")[0])
        headers = {k.lower(): v for k, v in h.headers.items()}
        if route is None:
            self._record(path, headers, 404, h)
            self._send(h, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay:
            self._waiting(route.delay)
        if route.handler is not None:
            self._record(path, headers, 0, h)
            route.handler(h)
            return
        extra = dict(route.headers)
        body = route.body
        status = route.status
        if route.validators and status == 200:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            extra.setdefault("ETag", etag)
            extra.setdefault("Last-Modified", LAST_MODIFIED)
            if headers.get("if-none-match") == extra["ETag"]:
                self._record(path, headers, 304, h)
                self._send(h, 304, b"", extra)
                return
        if route.gzip:
            body = gzip.compress(body)
            extra["Content-Encoding"] = "gzip"
        if route.content_type:
            extra.setdefault("Content-Type", route.content_type)
        self._record(path, headers, status, h)
        self._send(h, status, body, extra, length=route.length)

    def _record(self, path: str, headers: dict[str, str], status: int, h: Any) -> None:
        with self.lock:
            self.log.append(Request(path, headers, status, headers.get("host", "")))

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str],
        *,
        length: bool = True,
    ) -> None:
        h.send_response(status)
        for key, value in headers.items():
            h.send_header(key, value)
        if length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if status != 304 and body:
            h.wfile.write(body)
            h.wfile.flush()


class Concurrency:
    """Requests in flight across several servers (for the overall limit)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


# -- generated content -------------------------------------------------------------------


def article_html(
    title: str,
    paragraphs: list[str],
    *,
    outlet: str = "",
    date: str = "",
    canonical: str = "",
    author: str = "",
    charset: str = "utf-8",
) -> str:
    """A news page: head metadata, menus and a footer around the article."""
    meta = [f'<meta charset="{charset}">', f"<title>{title}</title>"]
    if outlet:
        meta.append(f'<meta property="og:site_name" content="{outlet}">')
    if date:
        meta.append(f'<meta property="article:published_time" content="{date}">')
    if canonical:
        meta.append(f'<link rel="canonical" href="{canonical}">')
    if author:
        meta.append(f'<meta name="author" content="{author}">')
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head>"
        + "".join(meta)
        + "</head><body><nav><a href='/'>Home</a> <a href='/energy'>Energy</a></nav>"
        + f"<article><h1>{title}</h1>{body}</article>"
        + "<footer>Copyright the publisher. All rights reserved.</footer></body></html>"
    )


def rss(title: str, items: list[dict[str, str]], *, link: str = "https://example.com/") -> str:
    """An RSS 2.0 feed; each item may have title, link, guid, pubDate, description, content."""
    parts = []
    for item in items:
        fields = []
        for key in ("title", "link", "guid", "pubDate", "description"):
            if key in item:
                fields.append(f"<{key}>{_escape(item[key])}</{key}>")
        if "content" in item:
            fields.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{_escape(title)}</title><link>{link}</link>"
        + "".join(parts)
        + "</channel></rss>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

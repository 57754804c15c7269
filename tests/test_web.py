"""The polite fetcher and the feed/sitemap reader against a real HTTP server on loopback:
canonical URLs, conditional requests, gzip, redirects, limits, robots.txt, Retry-After,
the address guard, and every kind of feed; no mock of the HTTP client."""

from __future__ import annotations

import gzip
import json
import threading
import time
import tracemalloc

import pytest
from conftest import free_port
from web_server import Concurrency, WebServer, rss

from index.errors import LoadError
from index.feeds import MIN_ENTRY_WORDS, discover_feeds, read_document
from index.web import Fetcher, FetchError, FetchOptions, canonical_url

FAST = FetchOptions(timeout=2.0, max_retry_after=5.0)


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


def fetch(url: str, options: FetchOptions = FAST, **kwargs):
    with Fetcher(options) as fetcher:
        return fetcher.get(url, **kwargs)


def failure(url: str, options: FetchOptions = FAST) -> str:
    with pytest.raises(FetchError) as caught:
        fetch(url, options)
    assert caught.value.path == url
    assert "\n" not in caught.value.reason
    return caught.value.reason


# -- canonical URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTPS://Example.COM:443/a/b?utm_source=rss&id=7#top", "https://example.com/a/b?id=7"),
        ("http://example.com:80", "http://example.com/"),
        (
            "http://example.com:8080/x?fbclid=1&gclid=2&mc_cid=3&mc_eid=4",
            "http://example.com:8080/x",
        ),
        ("https://example.com/x?b=2&a=1&utm_medium=email", "https://example.com/x?b=2&a=1"),
        ("https://example.com/Case/Path", "https://example.com/Case/Path"),
    ],
)
def test_canonical_url_drops_tracking_fragments_default_ports_and_case(given, canonical):
    assert canonical_url(given) == canonical


# -- the fetcher ---------------------------------------------------------------------------


def test_user_agent_conditional_requests_and_gzip(web):
    body = "<html><body>" + "Grid news. " * 500 + "</body></html>"
    url = web.route("/page.html", body, gzip=True)
    first = fetch(url)
    assert first.status == 200 and first.body == body.encode()
    assert first.etag and first.last_modified
    sent = web.requests("/page.html")[0].headers
    assert sent["user-agent"].startswith("news-assistant/")
    assert "gzip" in sent["accept-encoding"]
    again = fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body == b""
    assert web.requests("/page.html")[1].headers["if-none-match"] == first.etag


def test_a_304_to_a_request_that_was_not_conditional_is_an_error(web):
    url = web.route("/always-304", status=304, validators=False)
    assert "not conditional" in failure(url)


def test_redirects_are_followed_and_bounded(web):
    final = web.route("/final.html", "<p>here</p>")
    web.route("/moved", status=301, headers={"Location": "/final.html"}, validators=False)
    got = fetch(web.url("/moved"))
    assert got.final_url == final and got.body == b"<p>here</p>"
    # a loop
    web.route("/a", status=302, headers={"Location": "/b"}, validators=False)
    web.route("/b", status=302, headers={"Location": "/a"}, validators=False)
    assert "redirect loop" in failure(web.url("/a"))
    # six hops: one too many
    for i in range(6):
        web.route(f"/hop{i}", status=307, headers={"Location": f"/hop{i + 1}"}, validators=False)
    web.route("/hop6", "<p>end</p>")
    assert "too many redirects" in failure(web.url("/hop0"))
    assert len(web.requests("/hop5")) == 1 and not web.requests("/hop6")
    # five hops are fine
    assert fetch(web.url("/hop1")).body == b"<p>end</p>"

    # a redirect that only drops tracking parameters is no loop
    def untrack(h):
        if "utm_source" in h.path:
            h.send_response(301)
            h.send_header("Location", "/clean.html")
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            _send_raw(h, b"<p>clean</p>", {"Content-Type": "text/html"})

    web.route("/clean.html", handler=untrack)
    assert fetch(web.url("/clean.html?utm_source=rss")).body == b"<p>clean</p>"
    # a redirect to file: is not followed
    web.route("/evil", status=302, headers={"Location": "file:///etc/passwd"}, validators=False)
    assert "not http(s)" in failure(web.url("/evil"))


@pytest.mark.parametrize(
    ("status", "words"), [(404, "HTTP 404"), (410, "HTTP 410"), (500, "HTTP 500")]
)
def test_http_errors_name_the_status(web, status, words):
    url = web.route("/gone", "nope", status=status)
    assert words in failure(url)


def test_connection_refused_dns_failure_and_non_http_urls():
    assert "connection refused" in failure(f"http://127.0.0.1:{free_port()}/feed.xml")
    assert "DNS" in failure("http://no-such-host.invalid/feed.xml")
    for url in ("file:///etc/passwd", "javascript:alert(1)", "ftp://example.com/x"):
        assert "not an http(s) URL" in failure(url)


def test_a_hang_past_the_timeout_fails_quickly(web):
    url = web.route("/slow", "late", delay=5)
    started = time.monotonic()
    reason = failure(url, FetchOptions(timeout=0.5))
    assert "no answer within 0.5 s" in reason and "ASSISTANT_FETCH_TIMEOUT" in reason
    assert time.monotonic() - started < 3


def test_size_cap_while_streaming_and_on_a_gzip_bomb_with_flat_memory(web):
    limit = FetchOptions(max_bytes=100_000, timeout=5)
    # no Content-Length: the cap is enforced while reading
    url = web.route("/big", b"x" * 1_000_000, length=False, content_type="text/plain")
    assert "over the 0.0954 MB limit (ASSISTANT_MAX_FILE_MB)" in failure(url, limit)
    declared = web.route("/declared", b"x" * 1_000_000, content_type="text/plain")
    assert "MB limit" in failure(declared, limit)
    # 200 MB of zeros in 200 KB of gzip, against a 1 MB cap
    limit = FetchOptions(max_bytes=1_000_000, timeout=5)
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)
    assert len(bomb) < 300_000
    web.route(
        "/bomb",
        handler=lambda h: _send_raw(
            h, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        ),
    )
    tracemalloc.start()
    started = time.monotonic()
    reason = failure(web.url("/bomb"), limit)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "decompressed response is over" in reason
    assert peak < 5_000_000, peak  # flat: never near the 200 MB it expands to
    assert time.monotonic() - started < 2


def _send_raw(h, body: bytes, headers: dict[str, str]) -> None:
    h.send_response(200)
    for key, value in headers.items():
        h.send_header(key, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def test_robots_txt_is_honoured_and_fetched_once_per_host(web):
    web.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.route("/private/page.html", "<p>secret</p>")
    web.route("/public.html", "<p>open</p>")
    with Fetcher(FAST) as fetcher:
        with pytest.raises(FetchError) as caught:
            fetcher.get(web.url("/private/page.html"))
        assert "robots.txt" in caught.value.reason and "disallows" in caught.value.reason
        assert fetcher.get(web.url("/public.html")).body == b"<p>open</p>"
    assert web.paths(robots=True) == ["/robots.txt", "/public.html"]


def test_retry_after_is_honoured_within_a_bound(web):
    calls = []

    def flaky(h):
        calls.append(time.monotonic())
        if len(calls) == 1:
            h.send_response(429)
            h.send_header("Retry-After", "1")
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            _send_raw(h, b"<p>ok</p>", {"Content-Type": "text/html"})

    web.route("/busy", handler=flaky)
    assert fetch(web.url("/busy")).body == b"<p>ok</p>"
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.9
    # a wait longer than the bound is not sat out
    web.route("/later", status=503, headers={"Retry-After": "3600"}, validators=False)
    started = time.monotonic()
    assert "retry after 3600 s" in failure(web.url("/later"))
    assert time.monotonic() - started < 2


def test_at_most_two_requests_per_host_and_eight_overall():
    shared = Concurrency()
    servers = [WebServer(f"127.0.0.{n}") for n in range(1, 6)]  # five hosts
    for server in servers:
        server.shared = shared
        server.__enter__()
    try:
        urls = []
        for server in servers:
            for i in range(4):
                urls.append(server.route(f"/p{i}", "<p>x</p>", delay=0.5))
        with Fetcher(FAST) as fetcher:
            threads = [threading.Thread(target=fetcher.get, args=(u,)) for u in urls]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert all(s.max_in_flight == 2 for s in servers), [s.max_in_flight for s in servers]
        assert shared.max == 8
    finally:
        for server in servers:
            server.__exit__()


def test_the_address_guard_refuses_loopback_unless_private_addresses_are_allowed(web):
    url = web.route("/feed.xml", rss("Local", []), content_type="application/rss+xml")
    guarded = FetchOptions(timeout=2, guard_private=True)
    reason = failure(url, guarded)
    assert "refused" in reason and "loopback" in reason and "ASSISTANT_FETCH_PRIVATE" in reason
    # by name too: checked after DNS resolution
    assert "refused: localhost is 127.0.0.1" in failure(
        url.replace("127.0.0.1", "localhost"), guarded
    )
    assert web.requests() == []  # refused before connecting
    for other in ("http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.0.0.1/"):
        assert "refused" in failure(other, guarded)
    # a redirect from an allowed place is checked again at every hop: here the first hop
    # is already loopback, so the guard never lets the chain start
    allowed = FetchOptions(timeout=2, guard_private=True, allow_private=True)
    got = fetch(url, allowed)
    assert got.status == 200 and b"<title>Local</title>" in got.body
    # the guard connected to the address it checked and sent the original Host
    assert web.requests("/feed.xml")[0].host == f"127.0.0.1:{web.port}"


def test_the_guard_checks_every_redirect_hop_after_dns(web, monkeypatch):
    # Two loopback servers stand in for a public site (127.0.0.1) and an internal one
    # (127.0.0.2): only the address rule is told so; the fetcher, DNS and HTTP are real.
    import index.web

    real = index.web._refusal
    monkeypatch.setattr(index.web, "_refusal", lambda a: None if a == "127.0.0.1" else real(a))
    with WebServer("127.0.0.2") as internal:
        secret = internal.route("/admin", "<p>internal</p>")
        web.route("/go", status=302, headers={"Location": secret}, validators=False)
        web.route("/ok", "<p>public</p>")
        guarded = FetchOptions(timeout=2, guard_private=True)
        assert fetch(web.url("/ok"), guarded).body == b"<p>public</p>"
        reason = failure(web.url("/go"), guarded)
        assert "refused: 127.0.0.2 is 127.0.0.2, a loopback address" in reason
        assert internal.requests() == []  # the internal server was never contacted


def test_the_guard_is_on_for_a_guarded_assistant_and_lifted_by_the_setting(tmp_path, web):
    from assistant import NewsAssistant, load_settings

    url = web.route("/feed.xml", rss("Local", []), content_type="application/rss+xml")
    guarded = NewsAssistant(load_settings(data_dir=tmp_path / "d"), guard_fetches=True)
    assert guarded.fetch_options.guard_private
    assert "loopback" in failure(url, guarded.fetch_options)
    lifted = NewsAssistant(
        load_settings(data_dir=tmp_path / "d", fetch_private=True), guard_fetches=True
    )
    assert fetch(url, lifted.fetch_options).status == 200
    cli = NewsAssistant(load_settings(data_dir=tmp_path / "d"))
    assert not cli.fetch_options.guard_private
    assert fetch(url, cli.fetch_options).status == 200


# -- reading feeds and sitemaps ------------------------------------------------------------

LONG = " ".join(["Word"] * (MIN_ENTRY_WORDS + 5)) + "."


def read(web: WebServer, body: str | bytes, content_type: str):
    url = web.route("/doc", body, content_type=content_type)
    return read_document(fetch(url))


def test_every_feed_kind_is_detected_and_read(web):
    doc = read(
        web,
        rss(
            "Grid Weekly",
            [
                {
                    "title": "A",
                    "link": "/a",
                    "pubDate": "Tue, 04 Nov 2025 10:00:00 GMT",
                    "description": "teaser",
                    "content": f"<p>{LONG}</p>",
                },
                {"title": "No link"},
            ],
        ),
        "application/rss+xml",
    )
    assert doc.kind == "rss" and doc.title == "Grid Weekly"
    first, second = doc.entries
    assert first.link == web.url("/a") and str(first.published) == "2025-11-04"
    assert first.own_text().startswith("Word Word") and second.link == ""
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom News</title>'
        '<entry><title>X</title><link href="https://example.com/x"/><id>urn:x</id>'
        "<updated>2025-11-05T08:00:00Z</updated><summary>short</summary>"
        "<author><name>Bo Li</name></author></entry></feed>"
    )
    doc = read(web, atom, "application/atom+xml")
    assert doc.kind == "atom" and doc.entries[0].authors == ("Bo Li",)
    assert doc.entries[0].own_text() == ""  # a bare summary is not an article
    rdf = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://example.com/"><title>RDF News</title></channel>'
        '<item rdf:about="https://example.com/r"><title>R</title><link>https://example.com/r</link>'
        "<dc:date>2025-11-06</dc:date></item></rdf:RDF>"
    )
    doc = read(web, rdf, "application/rdf+xml")
    assert doc.kind == "rdf" and str(doc.entries[0].published) == "2025-11-06"
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON News",
        "items": [
            {
                "id": "1",
                "url": "https://example.com/j",
                "title": "J",
                "content_text": LONG,
                "date_published": "2025-11-07T10:00:00Z",
                "authors": [{"name": "Ann"}],
            }
        ],
    }
    doc = read(web, json.dumps(feed), "application/feed+json")
    assert doc.kind == "json" and doc.title == "JSON News"
    assert doc.entries[0].link == "https://example.com/j" and doc.entries[0].authors == ("Ann",)
    assert str(doc.entries[0].published) == "2025-11-07" and doc.entries[0].own_text()


def test_news_sitemaps_and_sitemap_indexes(web):
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        "<url><loc>https://example.com/n1</loc><news:news><news:publication>"
        "<news:name>Sitemap Times</news:name><news:language>en</news:language></news:publication>"
        "<news:publication_date>2025-11-08T09:00:00+00:00</news:publication_date>"
        "<news:title>Plant opens</news:title></news:news></url>"
        "<url><lastmod>2025-11-01</lastmod></url></urlset>"
    )
    doc = read(web, sitemap, "application/xml")
    assert doc.kind == "sitemap"
    entry = doc.entries[0]
    assert (entry.link, entry.title, entry.outlet) == (
        "https://example.com/n1",
        "Plant opens",
        "Sitemap Times",
    )
    assert str(entry.published) == "2025-11-08" and doc.entries[1].link == ""
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>/s1.xml</loc><lastmod>2025-11-01</lastmod></sitemap>"
        "<sitemap><loc>/s2.xml</loc><lastmod>2025-11-09</lastmod></sitemap></sitemapindex>"
    )
    doc = read(web, index, "text/xml")
    assert doc.kind == "sitemap-index" and doc.sitemaps == [web.url("/s2.xml"), web.url("/s1.xml")]


def test_an_entity_expansion_bomb_is_refused_fast_with_flat_memory(web):
    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{levels}]>'
        '<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><title>&lol9;</title><link>https://example.com/x</link></item></channel></rss>"
    )
    for content_type in ("application/rss+xml", "application/xml"):
        tracemalloc.start()
        started = time.monotonic()
        with pytest.raises(LoadError) as caught:
            read(web, bomb, content_type)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert "declares entities" in caught.value.reason
        assert time.monotonic() - started < 1 and peak < 2_000_000


def test_malformed_and_non_feed_documents_are_refused_with_a_reason(web):
    with pytest.raises(LoadError, match="malformed XML"):
        read(web, '<rss version="2.0"><channel><title>Broken</channel', "application/rss+xml")
    with pytest.raises(LoadError, match="neither XML nor JSON"):
        read(web, b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "image/png")
    with pytest.raises(LoadError, match="JSON Feed"):
        read(web, '{"hello": "world"}', "application/json")
    with pytest.raises(LoadError, match="root element is <svg>"):
        read(web, '<svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/svg+xml")
    # a web page is not an error here: it is read as a page (None)
    assert read(web, "<!DOCTYPE html><html><body><p>hi</p></body></html>", "text/html") is None


def test_a_page_announces_its_feed(web):
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        '<link rel="stylesheet" href="/s.css"></head><body>hi</body></html>'
    )
    url = web.route("/", page)
    assert discover_feeds(fetch(url)) == [web.url("/rss.xml")]

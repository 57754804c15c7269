"""Feeds, sitemaps and web pages end to end: a real HTTP server on loopback serving generated
feeds and pages, the real embedding model, a real Chroma in a temp dir, the CLI in process."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import free_port, run_cli
from test_loaders import _pdf_with_text
from web_server import WebServer, article_html, rss

pytestmark = pytest.mark.slow

GLIWICE = [
    "GEM Co. and Ascend Elements will build a battery recycling plant in Gliwice, Poland, the companies said on Tuesday.",
    "The recycling plant in Gliwice will employ 412 people when it opens in 2027, according to the plan filed with the city.",
    "The plant will recover lithium, nickel and cobalt from used electric-car batteries collected across Central Europe.",
    "Construction is due to start in the spring once the regional authorities grant the environmental permits.",
]
SODIUM = [
    "Northvolt's former engineers have started a sodium-ion cell factory in Vasteras, Sweden.",
    "The factory makes cells for stationary storage that need no lithium, cobalt or nickel at all.",
    "Its first customer is a Norwegian utility that will install the cells at two hydropower stations.",
    "The founders said output would reach two gigawatt-hours a year by the end of the decade.",
]
WIND = [
    "Germany awarded three offshore wind sites in the North Sea in its latest auction, the network agency said.",
    "The winning bids came from two utilities and a pension fund, which together will build 2.5 gigawatts.",
    "For the first time, the bidders pledged to pay for the grid connection of the turbines themselves.",
    "Fishing groups said the new sites would close some of their best grounds near Heligoland.",
]


def page(title: str, paragraphs: list[str], **meta: str) -> str:
    return article_html(title, paragraphs, **meta)


def feed_site(
    web: WebServer, *, wind_extra: str = "", wind_date: str = "Thu, 06 Nov 2025 10:00:00 GMT"
) -> str:
    """Three pages and an RSS feed whose entries carry only a teaser; returns the feed URL."""
    web.route(
        "/news/gliwice.html",
        page(
            "GEM and Ascend Elements pick Gliwice",
            GLIWICE,
            outlet="Battery Brief",
            date="2025-11-04",
        ),
    )
    web.route(
        "/news/sodium.html",
        page(
            "A sodium-ion factory opens in Sweden",
            SODIUM,
            outlet="Battery Brief",
            date="2025-11-05",
        ),
    )
    wind = [*WIND, wind_extra] if wind_extra else WIND
    web.route(
        "/news/wind.html",
        page("Germany awards offshore wind sites", wind, outlet="Grid Weekly", date="2025-11-06"),
    )
    items = [
        {
            "title": "GEM picks Gliwice",
            "link": web.url("/news/gliwice.html?utm_source=rss&utm_medium=feed"),
            "description": "GEM and Ascend Elements plan a plant in Poland.",
            "pubDate": "Tue, 04 Nov 2025 10:00:00 GMT",
        },
        {
            "title": "Sodium-ion factory opens",
            "link": web.url("/news/sodium.html"),
            "description": "A new cell factory in Sweden.",
            "pubDate": "Wed, 05 Nov 2025 10:00:00 GMT",
        },
        {
            "title": "Offshore wind auction",
            "link": web.url("/news/wind.html#comments"),
            "description": "Germany awards North Sea sites.",
            "pubDate": wind_date,
        },
    ]
    return web.route("/feed.xml", rss("Grid Weekly", items), content_type="application/rss+xml")


@pytest.fixture
def web():
    with WebServer() as server:
        yield server


def cli(args: list[str], data, **env: str):
    return run_cli(args, data=data, env=env)


def sync_json(data, **env: str) -> dict:
    result = cli(["sync", "--json"], data, **env)
    report = json.loads(result.stdout)
    report["exit"] = result.returncode
    return report


def test_follow_a_feed_answer_from_the_page_body_and_resync_cheaply(tmp_path, web):
    data = tmp_path / "data"
    feed = feed_site(web)
    added = cli(["feeds", "add", feed], data)
    assert added.returncode == 0, added.stderr
    assert "(rss, Grid Weekly, 3 entries)" in added.stdout

    first = sync_json(data)
    assert first["exit"] == 0 and first["failed"] == []
    assert (first["feeds"], first["entries"], first["fetched"], first["added"]) == (1, 3, 3, 3)

    # The answer is only in the page body, never in the feed entry.
    question = "How many people will the Gliwice recycling plant employ?"
    assert "412 people" not in web.routes["/feed.xml"].body.decode()  # not "127.0.0.1:41297"
    answer = json.loads(cli(["ask", question, "--json"], data).stdout)
    top = answer["citations"][0]
    assert "412 people" in top["quote"] and top["quote"] in " ".join(GLIWICE)
    assert top["url"] == web.url("/news/gliwice.html")  # canonical: utm_* dropped
    assert (top["source"], top["published_at"]) == ("Battery Brief", "2025-11-04")

    # Nothing changed: one conditional request for the feed, answered 304; no page fetched.
    web.clear()
    second = sync_json(data)
    assert (second["not_modified"], second["fetched"], second["added"], second["updated"]) == (
        1,
        0,
        0,
        0,
    )
    (request,) = web.requests()
    assert request.path == "/feed.xml" and request.status == 304
    assert request.headers["if-none-match"] and request.headers["if-modified-since"]

    # One page changes (and its entry's date): exactly that article is fetched and replaced.
    extra = "The agency said a second auction for 3 gigawatts in the Baltic Sea follows in March."
    feed_site(web, wind_extra=extra, wind_date="Fri, 07 Nov 2025 12:00:00 GMT")
    web.clear()
    third = sync_json(data)
    assert (third["fetched"], third["updated"], third["unchanged"], third["added"]) == (1, 1, 2, 0)
    # What the sync did with each feed (the web UI's per-feed result).
    assert second["per_feed"] == [
        {
            "url": feed,
            "title": "Grid Weekly",
            "status": "not_modified",
            "entries": 0,
            "added": 0,
            "updated": 0,
            "unchanged": 0,
            "duplicates": 0,
            "failed": 0,
            "error": "",
        }
    ]
    (row,) = third["per_feed"]
    assert (row["status"], row["entries"], row["updated"], row["unchanged"]) == ("read", 3, 1, 2)
    assert sorted(web.paths()) == ["/feed.xml", "/news/wind.html"]
    answer = json.loads(cli(["ask", "When is the Baltic Sea auction?", "--json"], data).stdout)
    assert any("Baltic Sea" in c["quote"] for c in answer["citations"])

    listed = json.loads(cli(["feeds", "list", "--json"], data).stdout)
    assert listed == [
        {
            "url": feed,
            "kind": "rss",
            "title": "Grid Weekly",
            "last_sync": listed[0]["last_sync"],
            "articles": 3,
            "last_error": "",
        }
    ]
    assert listed[0]["last_sync"].startswith("20")
    articles = json.loads(cli(["articles", "--json"], data).stdout)
    assert sorted(a["id"] for a in articles) == sorted(
        web.url(p) for p in ("/news/gliwice.html", "/news/sodium.html", "/news/wind.html")
    )


def test_every_kind_of_feed_and_where_dates_and_outlets_come_from(make_assistant, web):
    assistant = make_assistant()
    bare = ["A page that states no date and no outlet of its own, only its words.", *SODIUM]
    web.route("/bare-atom.html", page("Atom story", bare))
    web.route(
        "/bare-json.html",
        page("JSON story", ["Another page without metadata of any kind at all.", *WIND]),
    )
    web.route(
        "/bare-rdf.html",
        page("RDF story", ["A third page without a date or an outlet named.", *GLIWICE]),
    )
    web.route(
        "/n1.html",
        page(
            "Sitemap story one",
            ["The first sitemap page has no date in its markup.", *SODIUM[::-1]],
        ),
    )
    web.route(
        "/n2.html",
        page("Sitemap story two", ["The second sitemap page has no date either.", *WIND[::-1]]),
    )
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Energy</title>'
        f'<entry><title>Atom story</title><link href="{web.url("/bare-atom.html")}"/><id>urn:a</id>'
        "<updated>2025-10-01T08:00:00Z</updated><summary>teaser</summary></entry></feed>"
    )
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON Energy",
        "items": [
            {
                "id": "j1",
                "url": web.url("/bare-json.html"),
                "title": "JSON story",
                "date_published": "2025-10-02T08:00:00Z",
            }
        ],
    }
    rdf = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="x"><title>RDF Energy</title></channel>'
        f'<item rdf:about="{web.url("/bare-rdf.html")}"><title>RDF story</title>'
        f"<link>{web.url('/bare-rdf.html')}</link><dc:date>2025-10-03</dc:date></item></rdf:RDF>"
    )
    news = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{web.url('/n1.html')}</loc><news:news><news:publication><news:name>Sitemap Times</news:name>"
        "</news:publication><news:publication_date>2025-10-04T09:00:00Z</news:publication_date>"
        "<news:title>Sitemap story one</news:title></news:news></url></urlset>"
    )
    child = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{web.url("/n2.html")}</loc></url></urlset>'
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{web.url('/child.xml')}</loc></sitemap></sitemapindex>"
    )
    urls = {
        "atom": web.route("/atom.xml", atom, content_type="application/atom+xml"),
        "json": web.route(
            "/feed.json", json.dumps(json_feed), content_type="application/feed+json"
        ),
        "rdf": web.route("/rss10.rdf", rdf, content_type="application/rdf+xml"),
        "sitemap": web.route("/news-sitemap.xml", news, content_type="application/xml"),
        "sitemap-index": web.route("/sitemap-index.xml", index, content_type="text/xml"),
    }
    web.route("/child.xml", child, content_type="application/xml")
    for kind, url in urls.items():
        added = assistant.add_feed(url)
        assert added.new and added.record.kind == kind
    report = assistant.sync()
    assert report.failed == [] and report.added == 5, report.to_dict()
    rows = {r.id: r for r in assistant.articles()}
    expect = {
        "/bare-atom.html": ("2025-10-01", "Atom Energy"),
        "/bare-json.html": ("2025-10-02", "JSON Energy"),
        "/bare-rdf.html": ("2025-10-03", "RDF Energy"),
        "/n1.html": ("2025-10-04", "Sitemap Times"),  # news:publication_date and news:name
        "/n2.html": ("", "127.0.0.1"),  # nothing says: undated, the host as outlet
    }
    for path, (day, outlet) in expect.items():
        row = rows[web.url(path)]
        assert (row.published_at, row.source) == (day, outlet), path
    kinds = {f.record.kind: f.articles for f in assistant.feeds()}
    assert kinds == {"atom": 1, "json": 1, "rdf": 1, "sitemap": 1, "sitemap-index": 1}
    # an unchanged re-sync: one conditional request per feed (and the sitemap's child: none,
    # since the index answered 304)
    web.clear()
    again = assistant.sync()
    assert again.not_modified == 5 and again.fetched == 0 and again.requests == 5
    assert all(r.status == 304 for r in web.requests())


def test_one_article_from_two_feeds_and_a_redirect_and_the_same_text_elsewhere(make_assistant, web):
    assistant = make_assistant()
    story = web.url("/story.html")
    web.route(
        "/story.html",
        page("Heat pumps strain the grid", SODIUM, outlet="Grid Weekly", canonical=story),
    )
    web.route("/go/story", status=301, headers={"Location": "/story.html"}, validators=False)
    web.route("/mirror.html", page("Heat pumps strain the grid (mirror)", SODIUM, outlet="Copycat"))
    web.route(
        "/a.xml",
        rss("Feed A", [{"title": "S", "link": story + "?utm_campaign=a&fbclid=x#top"}]),
        content_type="application/rss+xml",
    )
    web.route(
        "/b.xml",
        rss(
            "Feed B",
            [
                {"title": "S", "link": web.url("/go/story")},
                {"title": "M", "link": web.url("/mirror.html")},
            ],
        ),
        content_type="application/rss+xml",
    )
    assistant.add_feed(web.url("/a.xml"))
    assistant.add_feed(web.url("/b.xml"))
    report = assistant.sync()
    assert report.failed == [] and report.added == 1 and report.duplicates == 2
    assert [r.id for r in assistant.articles()] == [story]
    assert {f.record.title: f.articles for f in assistant.feeds()} == {"Feed A": 1, "Feed B": 1}
    # The next sync knows every link: an entry seen before (here in another feed) costs no
    # request; a changed entry is asked for conditionally, and the page had not changed.
    web.route(
        "/a.xml",
        rss(
            "Feed A",
            [{"title": "S2", "link": story}, {"title": "M", "link": web.url("/mirror.html")}],
        ),
        content_type="application/rss+xml",
    )
    web.clear()
    again = assistant.sync()
    assert (again.fetched, again.added, again.updated, again.unchanged) == (0, 0, 0, 2)
    assert sorted(web.paths()) == ["/a.xml", "/b.xml", "/story.html"]
    assert [r.status for r in web.requests("/story.html")] == [304]


def test_bad_feeds_and_hostile_pages_each_fail_on_one_line_and_the_rest_go_in(tmp_path, web):
    data = tmp_path / "data"
    env = {"ASSISTANT_FETCH_TIMEOUT": "1", "ASSISTANT_MAX_FILE_MB": "0.05"}
    good = lambda name, paras: page(f"{name} story", paras, outlet="Fault Lines", date="2025-11-01")  # noqa: E731
    long_text = " ".join(SODIUM * 5)
    web.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.route("/ok.html", good("Good", GLIWICE))
    web.route(
        "/latin.html",
        good("Zürich", ["Zürich's café owners voted for a tram line on Sunday.", *WIND]).encode(
            "utf-8"
        ),
        content_type="text/html; charset=iso-8859-1",
    )
    web.route(
        "/legacy.html",
        page("Legacy page", ["Le café de la gare a fermé, a dit le maire.", *SODIUM], charset="")
        .replace('<meta charset="">', "")
        .encode("cp1252"),
        content_type="text/html",
    )
    web.route(
        "/report.pdf",
        _pdf_with_text("The grid operator expects 40 percent more heat pumps by 2030."),
        content_type="application/pdf",
    )
    web.route("/missing.html", "no", status=404)
    web.route("/gone.html", "no", status=410)
    web.route("/broken.html", "no", status=500)
    web.route("/slow.html", good("Slow", WIND), delay=5)
    web.route("/loop1", status=302, headers={"Location": "/loop2"}, validators=False)
    web.route("/loop2", status=302, headers={"Location": "/loop1"}, validators=False)
    web.route("/huge.html", good("Huge", WIND * 200))
    bomb = gzip.compress(b" " * 50_000_000)
    web.route(
        "/bomb.html",
        handler=lambda h: _raw(h, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"}),
    )
    web.route("/image.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png")
    web.route("/private/memo.html", good("Private", SODIUM))
    web.route("/paywall.html", "<html><body>Subscribe to read.</body></html>", status=403)
    web.route("/script-only.html", "<html><body><script>render()</script></body></html>")
    refused = f"http://127.0.0.1:{free_port()}/x.html"
    items = [
        {"title": "ok", "link": web.url("/ok.html")},
        {"title": "latin", "link": web.url("/latin.html")},
        {"title": "legacy", "link": web.url("/legacy.html")},
        {"title": "pdf", "link": web.url("/report.pdf")},
        {"title": "missing", "link": web.url("/missing.html"), "description": "A teaser only."},
        {"title": "gone", "link": web.url("/gone.html")},
        {"title": "broken", "link": web.url("/broken.html")},
        {"title": "refused", "link": refused},
        {"title": "dns", "link": "http://no-such-host.invalid/story.html"},
        {"title": "slow", "link": web.url("/slow.html")},
        {"title": "loop", "link": web.url("/loop1")},
        {"title": "huge", "link": web.url("/huge.html")},
        {"title": "bomb", "link": web.url("/bomb.html")},
        {"title": "image", "link": web.url("/image.png")},
        {"title": "private", "link": web.url("/private/memo.html")},
        {"title": "script", "link": "javascript:alert(1)"},
        {"title": "local file", "link": "file:///etc/passwd"},
        {"title": "no link at all"},
        {
            "title": "Paywalled story",
            "link": web.url("/paywall.html"),
            "description": "Teaser.",
            "content": f"<p>{long_text}</p>",
        },
        {
            "title": "Script-only story",
            "link": web.url("/script-only.html"),
            "content": f"<p>{long_text} Rendered.</p>",
        },
    ]
    feed = web.route("/feed.xml", rss("Fault Lines", items), content_type="application/rss+xml")
    bad_feeds = {
        name: web.route(f"/{name}.xml", rss(name, []), content_type="application/rss+xml")
        for name in ("notxml", "malformed", "bomb-feed", "vanished")
    }
    sitemaps = '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    for child in ("/child-ok.xml", "/child-missing.xml"):
        sitemaps += f"<sitemap><loc>{web.url(child)}</loc></sitemap>"
    bad_feeds["index"] = web.route(
        "/index.xml", sitemaps + "</sitemapindex>", content_type="application/xml"
    )
    web.route(
        "/child-ok.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{web.url("/ok.html")}</loc></url></urlset>',
        content_type="application/xml",
    )
    for url in [feed, *bad_feeds.values()]:
        assert cli(["feeds", "add", url], data).returncode == 0
    # after they were added, the other feeds turn bad
    web.route("/notxml.xml", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")
    web.route(
        "/malformed.xml",
        '<rss version="2.0"><channel><title>Broken</chan',
        content_type="application/rss+xml",
    )
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    web.route(
        "/bomb-feed.xml",
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e0 "ha">{entities}]><rss><channel><title>&e9;</title></channel></rss>',
        content_type="application/rss+xml",
    )
    web.route("/vanished.xml", "gone", status=404)

    result = cli(["sync", "--json"], data, **env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    failed = {f["url"]: f["error"] for f in report["failed"]}
    expected = {
        web.url("/missing.html"): "HTTP 404 Not Found (the entry holds only a summary)",
        web.url("/gone.html"): "HTTP 410",
        web.url("/broken.html"): "HTTP 500",
        refused: "connection refused",
        "http://no-such-host.invalid/story.html": "DNS lookup failed",
        web.url("/slow.html"): "no answer within 1 s",
        web.url("/loop1"): "redirect loop",
        web.url("/huge.html"): "over the 0.05 MB limit",
        web.url("/bomb.html"): "decompressed response is over",
        web.url("/image.png"): "Content-Type image/png cannot be indexed",
        web.url("/private/memo.html"): "robots.txt",
        bad_feeds["notxml"]: "neither XML nor JSON",
        bad_feeds["malformed"]: "malformed XML",
        bad_feeds["bomb-feed"]: "declares entities",
        bad_feeds["vanished"]: "HTTP 404",
        web.url("/child-missing.xml"): "HTTP 404",  # a sitemap index's child
    }
    for url, words in expected.items():
        assert words in failed.get(url, ""), (url, failed.get(url))
    feed_level = [f["error"] for f in report["failed"] if f["url"] == feed]
    assert any(
        "entry 16 ('script')" in e and "javascript:alert(1)" in e and "not an http(s) URL" in e
        for e in feed_level
    )
    assert any("entry 17 ('local file')" in e and "not an http(s) URL" in e for e in feed_level)
    assert any("entry 18 ('no link at all') has no link" in e for e in feed_level)
    assert len(report["failed"]) == len(expected) + 3
    per_feed = {f["url"]: f for f in report["per_feed"]}
    assert per_feed[bad_feeds["vanished"]]["status"] == "failed"
    assert "HTTP 404" in per_feed[bad_feeds["vanished"]]["error"]
    assert (per_feed[feed]["status"], per_feed[feed]["failed"]) == ("read", 14)
    assert per_feed[feed]["error"].startswith("14 entries failed, e.g. ")
    # the rest went in: good pages, a wrong and a missing charset, a PDF, two from entry text
    assert report["added"] == 6, report
    assert {f["url"] for f in report["from_entry"]} == {
        web.url("/paywall.html"),
        web.url("/script-only.html"),
    }
    assert any(
        "HTTP 403" in f["reason"] and "feed entry's own text" in f["reason"]
        for f in report["from_entry"]
    )
    bodies = {a["id"]: a for a in json.loads(cli(["articles", "--json"], data).stdout)}
    assert set(bodies) == {
        web.url(p)
        for p in (
            "/ok.html",
            "/latin.html",
            "/legacy.html",
            "/report.pdf",
            "/paywall.html",
            "/script-only.html",
        )
    }
    from index import ChromaStore

    store = ChromaStore(path=data / "chroma")
    assert "Zürich's café owners" in store.get_article(web.url("/latin.html"))[1]
    assert "Le café de la gare" in store.get_article(web.url("/legacy.html"))[1]
    assert "40 percent more heat pumps" in store.get_article(web.url("/report.pdf"))[1]
    assert store.check().ok

    # The text report: one line per failure, naming the URL and the reason.
    text = cli(["sync"], data, **env)
    assert text.returncode == 1
    lines = [line for line in text.stderr.splitlines() if line.startswith("failed: ")]
    assert len(lines) == len(report["failed"])
    for url in expected:
        assert sum(line.startswith(f"failed: {url}: ") for line in lines) == 1, url
    listed = {f["url"]: f for f in json.loads(cli(["feeds", "list", "--json"], data).stdout)}
    assert "malformed XML" in listed[bad_feeds["malformed"]]["last_error"]
    assert "child-missing.xml: HTTP 404" in listed[bad_feeds["index"]]["last_error"]
    assert listed[bad_feeds["index"]]["articles"] == 1  # the child that answered gave its page
    assert listed[feed]["last_error"].startswith("14 entries failed, e.g. ")


def _raw(h, body: bytes, headers: dict[str, str]) -> None:
    h.send_response(200)
    for key, value in headers.items():
        h.send_header(key, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def test_ingest_mixes_paths_page_urls_and_feed_urls(tmp_path, web):
    data = tmp_path / "data"
    note = tmp_path / "note.md"
    note.write_text(
        "---\ntitle: Local note\nsource: Desk\n---\n" + " ".join(WIND), encoding="utf-8"
    )
    page_url = web.route(
        "/gliwice.html", page("GEM picks Gliwice", GLIWICE, outlet="Battery Brief")
    )
    web.route("/sodium.html", page("Sodium factory", SODIUM, outlet="Battery Brief"))
    feed = web.route(
        "/feed.xml",
        rss("Grid Weekly", [{"title": "S", "link": web.url("/sodium.html")}]),
        content_type="application/rss+xml",
    )
    result = cli(["ingest", str(note), page_url, feed, "--json"], data)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 3 and report["failed"] == []
    assert any("is a feed (rss)" in n and "feeds add" in n for n in report["notes"])
    assert json.loads(cli(["feeds", "list", "--json"], data).stdout) == []  # not followed
    # again: the page is asked for conditionally and is unchanged; the note is not re-read
    web.clear()
    again = json.loads(cli(["ingest", str(note), page_url, "--json"], data).stdout)
    assert (again["added"], again["unchanged"]) == (0, 2)
    (request,) = web.requests("/gliwice.html")
    assert request.status == 304
    # a URL that cannot be fetched is one failed line; the rest still goes in
    bad = cli(["ingest", web.url("/nothing.html"), "ftp://example.com/a.txt", str(note)], data)
    assert bad.returncode == 1
    assert f"failed: {web.url('/nothing.html')}: HTTP 404" in bad.stderr
    assert "failed: ftp://example.com/a.txt: not an http(s) URL" in bad.stderr


def test_add_detects_feeds_on_pages_refuses_pages_without_one_and_removes(tmp_path, web):
    data = tmp_path / "data"
    feed = feed_site(web)
    home = web.route(
        "/",
        f'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body><p>{GLIWICE[0]}</p></body></html>',
    )
    added = cli(["feeds", "add", home], data)
    assert added.returncode == 0 and f"names its feed: {feed}" in added.stdout
    assert "already following" in cli(["feeds", "add", feed + "?utm_source=x"], data).stdout
    plain = web.route("/plain.html", page("Just a page", WIND[::-1]))
    refused = cli(["feeds", "add", plain], data)
    assert (
        refused.returncode == 2
        and "not a feed" in refused.stderr
        and "assistant ingest" in refused.stderr
    )
    assert cli(["feeds", "add", "file:///etc/passwd"], data).returncode == 2
    missing_feed = cli(["feeds", "add", web.url("/nope.xml")], data)
    assert (
        missing_feed.returncode == 1 and f"{web.url('/nope.xml')}: HTTP 404" in missing_feed.stderr
    )
    # a second feed that shares one article with the first
    web.route(
        "/other.xml",
        rss(
            "Other",
            [{"title": "W", "link": web.url("/news/wind.html")}, {"title": "P", "link": plain}],
        ),
        content_type="application/rss+xml",
    )
    assert cli(["feeds", "add", web.url("/other.xml")], data).returncode == 0
    assert sync_json(data)["added"] == 4
    purged = cli(["feeds", "remove", feed, "--purge"], data)
    assert purged.returncode == 0 and "removed 2 articles" in purged.stdout
    left = {a["id"] for a in json.loads(cli(["articles", "--json"], data).stdout)}
    assert left == {web.url("/news/wind.html"), plain}  # the shared one stays
    kept = cli(["feeds", "remove", web.url("/other.xml")], data)
    assert kept.returncode == 0 and "removed" not in kept.stdout.replace("no longer", "")
    assert len(json.loads(cli(["articles", "--json"], data).stdout)) == 2
    assert json.loads(cli(["feeds", "list", "--json"], data).stdout) == []
    missing = cli(["feeds", "remove", feed], data)
    assert missing.returncode == 2 and "not a followed feed" in missing.stderr


def test_a_sync_killed_mid_write_leaves_the_index_consistent_and_the_next_one_finishes(
    tmp_path, web
):
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from index import ChromaStore

    data = tmp_path / "data"
    tokens = threading.Semaphore(0)  # one per page the server may answer, whichever it is
    topics = [
        "lithium",
        "nickel",
        "cobalt",
        "graphite",
        "sodium",
        "solar",
        "wind",
        "hydrogen",
        "copper",
        "zinc",
        "steel",
        "cement",
    ]
    items = []
    for i, topic in enumerate(topics):
        body = page(
            f"{topic.title()} report",
            [
                f"The {topic} market moved by {i + 3} percent in region {i} this quarter, analysts said.",
                *SODIUM[: 1 + i % 4],
                f"More {topic} projects are planned in city {i * 7} next year.",
            ],
            outlet="Markets Daily",
        ).encode()

        def gated(h, body=body):
            tokens.acquire(timeout=30)
            _raw(h, body, {"Content-Type": "text/html; charset=utf-8", "ETag": f'"{len(body)}"'})

        web.route(f"/{topic}.html", handler=gated)
        items.append({"title": topic, "link": web.url(f"/{topic}.html")})
    feed = web.route("/feed.xml", rss("Markets Daily", items), content_type="application/rss+xml")
    assert cli(["feeds", "add", feed], data).returncode == 0
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_INGEST_BATCH": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "sync", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        tokens.release(6)
        deadline = time.monotonic() + 120
        while ChromaStore(path=data / "chroma").counts()[0] < 3:
            assert process.poll() is None and time.monotonic() < deadline, (
                process.stderr.read() if process.stderr else ""
            )
            time.sleep(0.1)
        # one sync at a time: a second one waits, then says who holds the store
        busy = cli(["sync"], data, ASSISTANT_LOCK_WAIT="0.3")
        assert busy.returncode == 1 and "another ingest" in busy.stderr
        tokens.release(3)
        time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        tokens.release(100)
        if process.poll() is None:
            process.kill()
    written = ChromaStore(path=data / "chroma").counts()[0]
    assert 3 <= written < 12
    web.clear()
    report = sync_json(data)
    assert report["exit"] == 0 and report["failed"] == []
    assert report["added"] == 12 - written
    assert report["fetched"] <= 12 - written + 3  # what was written and remembered is not fetched
    store = ChromaStore(path=data / "chroma")
    assert store.counts()[0] == 12 and store.check().ok
    assert sync_json(data)["not_modified"] == 1


@pytest.mark.server
def test_replicas_on_one_chroma_server_share_the_feeds_and_what_was_fetched(
    chroma_server, embedder, tmp_path, web
):
    from conftest import unique_collection

    from assistant import NewsAssistant, load_settings

    host, port = chroma_server
    collection = unique_collection()

    def replica(name: str) -> NewsAssistant:
        settings = load_settings(
            chroma_host=host, chroma_port=port, collection=collection, data_dir=tmp_path / name
        )
        return NewsAssistant(settings, embedder=embedder)

    feed = feed_site(web)
    one, two = replica("one"), replica("two")
    assert one.add_feed(feed).new
    assert [f.record.url for f in two.feeds()] == [feed]  # the list lives in the store
    first = two.sync()  # under the server's ingest lease
    assert first.added == 3 and first.failed == []
    web.clear()
    again = one.sync()  # the other replica knows the validators: one 304
    assert (again.not_modified, again.fetched, again.requests) == (1, 0, 1)
    assert [r.status for r in web.requests()] == [304]
    assert one.feeds()[0].articles == 3 and one.feeds()[0].record.last_sync
    assert two.remove_feed(feed, purge=True) == 3
    assert one.feeds() == [] and one.store.counts() == (0, 0)

"""Reading what a URL answered: a feed (RSS 2.0, RSS 1.0, Atom, JSON Feed), a (news) sitemap
or sitemap index, or else a web page.

Feeds are parsed by feedparser, JSON Feed by the json module (feedparser does not read
it), sitemaps by lxml with entity resolution and network access off. XML that declares
entities is refused outright: no feed needs them, and they are how an entity-expansion
("billion laughs") bomb is built.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import urljoin

from .errors import LoadError
from .loaders import html_text, parse_date
from .web import Fetched, headers_of

__all__ = [
    "FEED_TYPES",
    "MIN_ENTRY_WORDS",
    "Entry",
    "FeedDoc",
    "Kind",
    "discover_feeds",
    "read_document",
]

Kind = Literal["rss", "rdf", "atom", "json", "sitemap", "sitemap-index"]

# What a request for a feed accepts, most wanted first.
FEED_TYPES = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)
# An entry's own content stands in for its page only when it is an article, not a teaser.
MIN_ENTRY_WORDS = 100
# Sitemaps can list tens of thousands of URLs; a sync takes the newest ones.
MAX_SITEMAP_URLS = 1000
MAX_CHILD_SITEMAPS = 20

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed or URL of a sitemap, as the feed states it."""

    link: str  # absolute, as given ("" when the entry has none)
    title: str = ""
    published: date | None = None  # the entry's published (else updated) date
    updated: str = ""  # the entry's updated/modified stamp as written
    content: str = ""  # the entry's full content (HTML), when it carries one
    summary: str = ""
    authors: tuple[str, ...] = ()
    outlet: str = ""  # a news sitemap's publication name
    position: int = 0  # 1-based, in the feed

    @property
    def fingerprint(self) -> str:
        """Changes when the entry changes (new updated date, title or content): its page is
        then fetched again."""
        parts = [self.link, self.title, self.updated, str(self.published or ""), self.content]
        parts.append(self.summary)
        return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        """How a report names the entry when it has no usable link."""
        title = " ".join(self.title.split())[:80]
        return f"entry {self.position}" + (f" ({title!r})" if title else "")

    def own_text(self) -> str:
        """The entry's content as plain text, when it is long enough to be the article
        itself ("" for a bare summary)."""
        for candidate in (self.content, self.summary):
            text = html_text(candidate) if candidate else ""
            if len(text.split()) >= MIN_ENTRY_WORDS:
                return text
        return ""


@dataclass(slots=True)
class FeedDoc:
    """A parsed feed or sitemap: its kind, title, entries; a sitemap index's children."""

    kind: Kind
    title: str = ""
    link: str = ""
    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # a sitemap index's child sitemaps


def read_document(fetched: Fetched) -> FeedDoc | None:
    """The feed or sitemap `fetched` holds; None when it is a web page (HTML or PDF).
    Raises LoadError naming the URL when it is neither, or a feed that cannot be read."""
    url, body, media = fetched.url, fetched.body, fetched.content_type
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if media in _JSON_TYPES or head.startswith((b"{", b"[")):
        return _json_feed(url, body)
    if media == "application/pdf" or head.startswith(b"%PDF"):
        return None
    root = _xml_root(url, body)
    tag = _local(root.tag) if root is not None else ""
    if tag in ("urlset", "sitemapindex"):
        return _sitemap(url, fetched.final_url, root)
    if tag in ("rss", "RDF", "feed", "channel"):
        return _feed(fetched)
    if (
        media in _HTML_TYPES
        or tag == "html"
        or head[:15].lower().startswith((b"<!doctype", b"<html"))
    ):
        return None
    if media.startswith("text/") and root is None and media not in ("text/xml",):
        return None  # plain text: the loaders read it as a page
    if root is None:
        raise LoadError(url, f"not a feed: the {media or 'response'} is neither XML nor JSON")
    raise LoadError(url, f"not a feed: XML whose root element is <{tag}>")


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2] if isinstance(tag, str) else ""


def _xml_root(url: str, body: bytes) -> Any:
    """The root element (lxml, entities unresolved, no network, recovering from errors);
    None when the body is not XML. LoadError when it declares entities."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise LoadError(
            url,
            "the XML declares entities (<!ENTITY>); refused, as an entity-expansion bomb "
            "would be (feeds do not need them)",
        )
    return root


def _feed(fetched: Fetched) -> FeedDoc:
    import feedparser

    parsed: Any = feedparser.parse(
        io.BytesIO(fetched.body),
        response_headers=dict(headers_of(fetched)),
        sanitize_html=True,
    )
    version = str(parsed.get("version") or "")
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        problem = parsed.get("bozo_exception")
        raise LoadError(fetched.url, f"malformed XML ({_first_line(problem)})")
    kind: Kind = "atom" if version.startswith("atom") else "rdf" if version == "rss10" else "rss"
    feed = parsed.get("feed") or {}
    doc = FeedDoc(kind, title=_clean(feed.get("title")), link=str(feed.get("link") or ""))
    for position, item in enumerate(entries, start=1):
        doc.entries.append(_feedparser_entry(item, position))
    return doc


def _feedparser_entry(item: Any, position: int) -> Entry:
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    published = date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday) if stamp else None
    contents = [c.get("value") or "" for c in item.get("content") or []]
    authors = [a.get("name") or "" for a in item.get("authors") or [] if isinstance(a, dict)]
    return Entry(
        link=str(item.get("link") or "").strip(),
        title=_clean(item.get("title")),
        published=published,
        updated=str(item.get("updated") or item.get("published") or ""),
        content=max(contents, key=len, default=""),
        summary=str(item.get("summary") or ""),
        authors=tuple(a.strip() for a in authors if a.strip()),
        position=position,
    )


def _json_feed(url: str, body: bytes) -> FeedDoc:
    """A JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LoadError(url, f"not a feed: malformed JSON ({_first_line(e)})") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or "jsonfeed.org" not in version:
        raise LoadError(url, "not a feed: JSON without a JSON Feed 'version'")
    items = data.get("items")
    if not isinstance(items, list):
        raise LoadError(url, "JSON Feed without an 'items' list")
    doc = FeedDoc("json", title=_clean(data.get("title")), link=_text(data.get("home_page_url")))
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            doc.entries.append(Entry(link="", position=position))
            continue
        link = _text(item.get("url")) or _text(item.get("external_url"))
        if not link and _text(item.get("id")).startswith(("http://", "https://")):
            link = _text(item.get("id"))
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
        stamp = _text(item.get("date_published")) or _text(item.get("date_modified"))
        content = _text(item.get("content_html")) or _escape(_text(item.get("content_text")))
        doc.entries.append(
            Entry(
                link=urljoin(url, link) if link else "",
                title=_clean(item.get("title")),
                published=_date(stamp),
                updated=_text(item.get("date_modified")) or stamp,
                content=content,
                summary=_text(item.get("summary")),
                authors=tuple(n for n in names if n),
                position=position,
            )
        )
    return doc


def _sitemap(url: str, base: str, root: Any) -> FeedDoc:
    """A sitemap (news:news entries give title, outlet and publication date) or an index."""
    if _local(root.tag) == "sitemapindex":
        children: list[tuple[str, str]] = []
        for node in root:
            if _local(node.tag) == "sitemap":
                loc = _child_text(node, "loc")
                if loc:
                    children.append((_child_text(node, "lastmod"), urljoin(base, loc)))
        children.sort(key=lambda c: c[0], reverse=True)  # newest first, by lastmod
        return FeedDoc("sitemap-index", sitemaps=[u for _, u in children[:MAX_CHILD_SITEMAPS]])
    entries: list[Entry] = []
    for position, node in enumerate((n for n in root if _local(n.tag) == "url"), start=1):
        loc = _child_text(node, "loc")
        lastmod = _child_text(node, "lastmod")
        news = next((c for c in node if _local(c.tag) == "news"), None)
        title = outlet = news_date = ""
        if news is not None:
            title = _child_text(news, "title")
            news_date = _child_text(news, "publication_date")
            publication = next((c for c in news if _local(c.tag) == "publication"), None)
            if publication is not None:
                outlet = _child_text(publication, "name")
        entries.append(
            Entry(
                link=urljoin(base, loc) if loc else "",
                title=_clean(title),
                published=_date(news_date),
                updated=lastmod or news_date,
                outlet=_clean(outlet),
                position=position,
            )
        )
    if len(entries) > MAX_SITEMAP_URLS:
        entries.sort(key=lambda e: (e.updated, str(e.published or "")), reverse=True)
        entries = entries[:MAX_SITEMAP_URLS]
    return FeedDoc("sitemap", entries=entries)


def discover_feeds(page: Fetched) -> list[str]:
    """Feed links a web page announces (<link rel="alternate" type="application/rss+xml">
    and the Atom and JSON Feed kinds), absolute, in page order."""
    import lxml.html
    from lxml import etree

    try:
        tree = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return []
    found: list[str] = []
    wanted = {"application/rss+xml", "application/atom+xml", "application/feed+json"}
    wanted |= {"application/rdf+xml", "application/json"}
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in wanted and href:
            found.append(urljoin(page.final_url, href))
    return list(dict.fromkeys(found))


def _child_text(node: Any, name: str) -> str:
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean(value: Any) -> str:
    return " ".join(str(value or "").split())


def _escape(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n")) if text else ""


def _date(value: str) -> date | None:
    try:
        return parse_date(value) if value else None
    except ValueError:
        return None


def _first_line(error: object) -> str:
    text = str(error or "").strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def utc_now() -> str:
    """Now, as the ISO UTC stamp feed rows keep."""
    return datetime.now(UTC).isoformat(timespec="seconds")

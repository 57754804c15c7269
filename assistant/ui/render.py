"""Safe HTML for the web UI, rendered from the Jinja2 templates in `templates/`.

Pure functions, no gradio: `app.py` wires them to the page. Article titles, text, outlets
and URLs are untrusted, and so is a conversation restored from the browser (see `chat.py`):
the templates autoescape every value (with `html.escape`, so ' is &#x27; and " is &quot;),
links are made only for http(s) URLs, and the only markup made in Python is the few filters
below, which escape their text first.

Line breaks in a template, with the indentation after them, are dropped as it loads: the
templates are laid out for reading, while the HTML stays compact (whitespace inside a chat
bubble would show).

Citation markers become links to `#src-<turn>-<n>`; the page's script turns a click on one
into a request for the source viewer (see `static/viewer.js`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from ..dates import format_date
from ..export import answer_markdown
from ..markers import MARKERS
from ..models import Answer, Citation, Timeline
from ..stories import also_in
from .chat import ChatTurn

if TYPE_CHECKING:
    from index import ArticleRecord, IngestReport

    from ..core import IndexStats
    from ..tracking import TrackedQuestion

__all__ = [
    "display_path",
    "feed_kind",
    "format_date",
    "ingest_rows",
    "render_answer",
    "render_article_list",
    "render_draft",
    "render_error",
    "render_feed_added",
    "render_feed_list",
    "render_ingest",
    "render_messages",
    "render_pending",
    "render_stats",
    "render_status",
    "render_sync",
    "render_timeline",
    "render_tracked",
    "render_tracked_badge",
    "render_user",
    "render_viewer",
    "render_viewer_hint",
    "render_viewer_missing",
    "safe_url",
]

# Articles up to this long are shown whole in the source viewer; longer ones around the quote.
VIEWER_WHOLE_ARTICLE = 6000
VIEWER_CONTEXT = 1500
# The article list shows at most this many rows; the search narrows it.
MAX_LIST_ROWS = 200
# A sync's result lists at most this many failed pages (each feed's row counts them all).
MAX_SYNC_PROBLEMS = 5
FEED_KINDS = {
    "rss": "RSS 2.0",
    "rdf": "RSS 1.0",
    "atom": "Atom",
    "json": "JSON Feed",
    "sitemap": "Sitemap",
    "sitemap-index": "Sitemap index",
}

_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_LAYOUT = re.compile(r"\n[ \t]*")


# A chat text as the template gets it: ("text", str), ("cites", [Citation]) for a marker
# whose sources are all known, or ("marker", "[7]") for one that stays plain text.
Part = tuple[str, Any]


# -- the template environment ----------------------------------------------------------------


class _CompactLoader(jinja2.PackageLoader):
    """Templates with their line breaks and the indentation after them removed."""

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        source, filename, uptodate = super().get_source(environment, template)
        return _LAYOUT.sub("", source), filename, uptodate


def _escaped(value: Any) -> Any:
    """Every value a template prints, as HTML text (markup made by a macro or filter passes)."""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _sentence(text: str) -> str:
    """`text` starting with a capital and ending with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _breaks(text: str) -> Markup:
    """Escaped text with its line breaks kept."""
    out = re.sub(r"\n{2,}", "<br><br>", str(_escaped(text)))
    return Markup(out.replace("\n", "<br>"))


def _text_html(text: str) -> Markup:
    """Escaped text with line breaks kept and **bold** honoured (LLMs write it)."""
    out = _BOLD.sub(r"<strong>\1</strong>", str(_escaped(text)))
    return _breaks(Markup(out.strip("\n")))


def _joined(items: Iterable[Any], separator: str) -> Markup:
    """The non-empty items, each escaped, with `separator` between them."""
    return Markup(_escaped(separator).join(_escaped(i) for i in items if i))


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_CompactLoader("assistant.ui", "templates"),
        autoescape=True,
        finalize=_escaped,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        also_in=also_in,
        breaks=_breaks,
        day=lambda iso: format_date(iso or "", short=True),
        joined=_joined,
        num="{:,}".format,
        safe_url=safe_url,
        sentence=_sentence,
        text_html=_text_html,
    )
    env.globals["plural"] = _plural
    return env


def _macro(template: str, name: str, *args: Any, **kwargs: Any) -> str:
    """The HTML of macro `name` of `template` for these arguments."""
    return str(getattr(_templates().get_template(template).module, name)(*args, **kwargs))


# -- small helpers -------------------------------------------------------------------------


def safe_url(url: str) -> str | None:
    """`url` when it is an absolute http(s) URL that is safe to link to, else None."""
    url = (url or "").strip()
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


# -- chat messages ---------------------------------------------------------------------------


def _with_chips(text: str, by_n: dict[int, Citation]) -> list[Part]:
    """`text` split at its [n] markers; a marker whose sources are all known becomes chips."""
    parts: list[Part] = []
    cursor = 0
    for m in MARKERS.finditer(text):
        parts.append(("text", text[cursor : m.start()]))
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if numbers and all(n in by_n for n in numbers):
            parts.append(("cites", [by_n[n] for n in numbers]))
        else:  # a marker that matches no checked citation stays plain text
            parts.append(("marker", m.group(0)))
        cursor = m.end()
    parts.append(("text", text[cursor:]))
    return parts


def _answer_spans(answer: Answer) -> list[tuple[bool, list[Part]]]:
    """The answer text as (unsupported?, parts) spans, each unsupported sentence its own."""
    by_n = {c.n: c for c in answer.citations}
    text = answer.answer
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in answer.unsupported:
        at = text.find(sentence, cursor) if sentence else -1
        if at == -1:
            at = text.find(sentence) if sentence else -1
        if at == -1 or any(s < at + len(sentence) and at < e for s, e in spans):
            continue
        spans.append((at, at + len(sentence)))
        cursor = at + len(sentence)
    spans.sort()
    out: list[tuple[bool, list[Part]]] = []
    cursor = 0
    for start, end in spans:
        out.append((False, _with_chips(text[cursor:start], by_n)))
        out.append((True, _with_chips(text[start:end], by_n)))
        cursor = end
    out.append((False, _with_chips(text[cursor:], by_n)))
    return out


def _cited_articles(answer: Answer) -> list[list[Citation]]:
    """The citations grouped by article, in the order the articles are first cited."""
    by_article: dict[str, list[Citation]] = {}
    for c in answer.citations:
        by_article.setdefault(c.article_id, []).append(c)
    return list(by_article.values())


def render_answer(turn: ChatTurn, index: int) -> str:
    """A checked answer as the chat shows it: text with source chips, flags for a refusal
    or unsupported sentences, the filters and search used, and the list of its sources."""
    answer = turn.answer
    searched = answer.standalone_question
    if " ".join(searched.split()) == " ".join(turn.question.split()):
        searched = ""
    cited = _cited_articles(answer) if answer.citations and not answer.refused else []
    spans = [] if answer.refused else _answer_spans(answer)
    markdown = "" if answer.refused else answer_markdown(answer)
    events = []  # a timeline: one dated line per story, shown as a list
    if answer.form == "timeline" and not answer.refused:
        by_n = {c.n: c for c in answer.citations}
        events = [_with_chips(line, by_n) for line in answer.answer.splitlines() if line.strip()]
    return _macro("chat.html", "answer", turn, index, spans, cited, searched, markdown, events)


def render_timeline(timeline: Timeline) -> str:
    """A timeline as the Articles tab lists it: each event's date (the one read from its
    sentence marked so), headline linked, outlets, summary and quote."""
    from ..timeline import describe_event

    rows = [
        (
            describe_event(i.event) if i.event else format_date(i.date or "undated"),
            i.event.phrase if i.event else "",
            i,
        )
        for i in timeline.items
    ]
    return _macro("timeline.html", "timeline", timeline, rows)


def render_tracked(questions: Sequence[TrackedQuestion], *, seen: float) -> str:
    """The Tracked tab: each tracked question with its last answer; those new articles
    changed after `seen` (epoch seconds) marked, with their new citations."""
    rows = []
    for q in questions:
        is_new = q.changed_at > seen
        new_ns = set(q.new_citations) if is_new else set()
        rows.append((q, is_new, new_ns))
    return _macro("tracked.html", "tracked", rows)


def render_tracked_badge(count: int) -> str:
    """The header's badge: how many tracked questions have new articles ("" when none)."""
    return _macro("tracked.html", "badge", count)


def render_user(question: str) -> str:
    """A question as the chat shows it."""
    return _macro("chat.html", "user", question)


def render_pending(message: str = "Searching your articles…") -> str:
    """The answer bubble while retrieval runs."""
    return _macro("chat.html", "pending", message)


def render_draft(text: str) -> str:
    """The answer as it streams in: markers shown but not yet clickable (not yet checked)."""
    text = text.strip("\n")
    parts: list[Part] = []
    cursor = 0
    for m in MARKERS.finditer(text):
        parts += [("text", text[cursor : m.start()]), ("marker", m.group(1).strip())]
        cursor = m.end()
    parts.append(("text", text[cursor:]))
    return _macro("chat.html", "draft", parts)


def render_error(message: str) -> str:
    """An answer bubble saying the question could not be answered, and why."""
    return _macro("chat.html", "error", message)


def render_messages(turns: Sequence[ChatTurn]) -> list[dict[str, str]]:
    """The chat's messages (role + HTML content) for a conversation."""
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": render_user(turn.question)})
        messages.append({"role": "assistant", "content": render_answer(turn, i)})
    return messages


# -- the source viewer -----------------------------------------------------------------------


def render_viewer_hint() -> str:
    """The viewer before any source is opened."""
    return _macro("viewer.html", "hint")


def render_viewer_missing(message: str) -> str:
    """The viewer when the clicked source cannot be shown at all."""
    return _macro("viewer.html", "missing", message)


def _locate(citation: Citation, body: str | None) -> tuple[int, int] | None:
    """Where the quote is in `body`: its stored offsets, else where the text is now."""
    if body is None:
        return None
    if body[citation.start : citation.end] == citation.quote and citation.quote:
        return citation.start, citation.end
    at = body.find(citation.quote) if citation.quote else -1
    return (at, at + len(citation.quote)) if at != -1 else None


def _window(body: str, start: int, end: int) -> tuple[int, int]:
    """The part of a long article shown around a quote, cut at whitespace."""
    if len(body) <= VIEWER_WHOLE_ARTICLE:
        return 0, len(body)
    lo, hi = max(0, start - VIEWER_CONTEXT), min(len(body), end + VIEWER_CONTEXT)
    if lo > 0:
        para = body.find("\n\n", lo, start)
        if para != -1:
            lo = para + 2
        else:
            space = body.find(" ", lo, start)
            lo = space + 1 if space != -1 else lo
    if hi < len(body):
        para = body.rfind("\n\n", end, hi)
        if para != -1:
            hi = para
        else:
            space = body.rfind(" ", end, hi)
            hi = space if space != -1 else hi
    return lo, hi


def render_viewer(
    citation: Citation,
    *,
    turn: int,
    record: ArticleRecord | None,
    body: str | None,
) -> str:
    """The article a citation points to, the quoted sentence in a <mark> in its context.

    `record`/`body` are None when the article is no longer indexed; the viewer then shows
    what the answer saved (title, outlet, date, link, quote) and says so.
    """
    shown = None
    where = _locate(citation, body)
    if body is not None and where is not None:
        start, end = where
        lo, hi = _window(body, start, end)
        shown = (lo, start, end, hi)
    return _macro(
        "viewer.html",
        "viewer",
        citation,
        turn,
        title=record.title if record else citation.title,
        source=record.source if record else citation.source,
        published=record.published_at if record else citation.published_at,
        url=record.url if record else citation.url,
        body=body,
        shown=shown,
    )


# -- the Articles tab ------------------------------------------------------------------------


def _matches(record: ArticleRecord, words: list[str]) -> bool:
    haystack = " ".join(
        (record.title, record.source, record.published_at, record.id, Path(record.path).name)
    ).casefold()
    return all(w in haystack for w in words)


def render_article_list(records: Sequence[ArticleRecord], query: str = "") -> str:
    """The indexed articles (title, outlet, date) matching `query`, each with a remove button."""
    words = (query or "").casefold().split()
    shown = [r for r in records if _matches(r, words)] if words else list(records)
    searched = query.strip() if words else ""
    return _macro("articles.html", "article_list", records, shown, searched, MAX_LIST_ROWS)


def display_path(path: str, base: Path | None) -> str:
    """A file name as the user knows it: relative to the upload folder when inside it."""
    if base is not None:
        prefix = str(base).rstrip("/\\") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def ingest_rows(report: IngestReport, base: Path | None) -> list[dict[str, Any]]:
    """One row per file (or bad entry of a file): name, status, articles, detail."""
    return [
        {
            "file": display_path(o.path, base),
            "status": o.status,
            "articles": o.articles,
            "detail": o.detail,
        }
        for o in report.files
    ]


def _ingest_head(rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """'2 files: 1 added, 1 failed · 3 passages indexed in 0.5 s'."""
    files = len({str(r["file"]).rsplit(":", 1)[0] for r in rows})
    counts = [
        _plural(int(summary.get(key, 0)), word, word)
        for key, word in (
            ("added", "added"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("duplicates", "duplicate"),
            ("removed", "removed"),
        )
        if summary.get(key)
    ]
    failed = sum(1 for r in rows if r["status"] == "failed")
    if failed:
        counts.append(f"{failed:,} failed")
    seconds = float(summary.get("seconds") or 0)
    return (
        f"{_plural(files, 'file')}: {', '.join(counts) or 'nothing to do'}"
        f" · {_plural(int(summary.get('chunks') or 0), 'passage')} indexed in {seconds:.1f} s"
    )


def render_ingest(rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """What happened to each uploaded file, and the totals."""
    if not rows:
        return _macro("articles.html", "ingest", "", [])
    lines = []
    for r in rows:
        status = str(r["status"])
        articles = int(r.get("articles") or 0)
        lines.append(
            {
                "status": status,
                "file": r["file"],
                "what": _plural(articles, "article") if articles else "",
                "detail": r.get("detail") or "",
            }
        )
    return _macro("articles.html", "ingest", _ingest_head(rows, summary), lines)


def render_stats(stats: IndexStats, *, outlets: int) -> str:
    """Index statistics: counts, outlets (`outlets` named ones), model, store and backend."""
    return _macro("articles.html", "stats", stats, outlets)


def render_status(backend: str, articles: int, outlets: int) -> str:
    """The line under the title: who answers and how much is indexed."""
    return _macro("articles.html", "status", backend, articles, outlets)


# -- the Feeds panel -------------------------------------------------------------------------


def feed_kind(kind: str) -> str:
    """A feed's kind in words ("rss" -> "RSS 2.0")."""
    return FEED_KINDS.get(kind, kind)


def _stamp(value: str) -> str:
    """An ISO UTC stamp as "2025-11-04 10:00 UTC" ("" stays "")."""
    from datetime import UTC, datetime

    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def render_feed_list(feeds: Sequence[dict[str, Any]]) -> str:
    """The followed feeds (as `/feeds` gives them): title, URL, kind, last sync, articles,
    last error, each with a remove button."""
    rows = [
        {
            "url": str(f.get("url") or ""),
            "title": str(f.get("title") or ""),
            "kind_label": feed_kind(str(f.get("kind") or "")),
            "last_sync": _stamp(str(f.get("last_sync") or "")),
            "articles": int(f.get("articles") or 0),
            "last_error": str(f.get("last_error") or ""),
        }
        for f in feeds
    ]
    return _macro("feeds.html", "feed_list", rows)


def render_feed_added(added: dict[str, Any] | None) -> str:
    """What adding a feed found: its kind, title and entries (`/add_feed`'s result)."""
    if not added:
        return _macro("feeds.html", "added", "")
    kind = feed_kind(str(added.get("kind") or ""))
    title = str(added.get("title") or added.get("url") or "")
    found = f"{added['found_on']} names its feed. " if added.get("found_on") else ""
    if not added.get("new"):
        return _macro("feeds.html", "added", f"{found}Already following {title} ({kind}).")
    count = int(added.get("entries") or 0)
    what = (
        _plural(count, "child sitemap")
        if added.get("kind") == "sitemap-index"
        else (_plural(count, "entry", "entries"))
    )
    line = f"{found}Following {title} ({kind}, {what}). Sync now fetches its articles."
    return _macro("feeds.html", "added", line)


def _sync_counts(counts: dict[str, Any], failed: int) -> str:
    """'3 added, 16 unchanged, 1 failed' from a sync's (or one feed's) counts."""
    words = [
        _plural(int(counts.get(key) or 0), word, word)
        for key, word in (
            ("added", "added"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("duplicates", "duplicate"),
        )
        if counts.get(key)
    ]
    if failed:
        words.append(f"{failed:,} failed")
    return ", ".join(words)


def _feed_row(f: dict[str, Any]) -> dict[str, str]:
    """One feed's line in a sync's result: status, badge, title, counts, error."""
    status = str(f.get("status") or "")
    failed = int(f.get("failed") or 0)
    row = {
        "title": str(f.get("title") or f.get("url") or ""),
        "error": str(f.get("error") or ""),
    }
    if status == "failed":
        return {**row, "status": "failed", "badge": "failed", "counts": ""}
    if status == "not_modified":
        return {**row, "status": "not modified", "badge": "unchanged", "counts": "nothing new"}
    changed = int(f.get("added") or 0) + int(f.get("updated") or 0)
    entries = _plural(int(f.get("entries") or 0), "entry", "entries")
    return {
        **row,
        "status": "synced",
        "badge": "failed" if failed else ("added" if changed else "unchanged"),
        "counts": f"{entries}: {_sync_counts(f, failed) or 'nothing to do'}",
    }


def render_sync(report: dict[str, Any] | None) -> str:
    """What a sync did (`/sync`'s result): the totals, one row per feed, the first pages
    that failed."""
    if not report:
        return _macro("feeds.html", "sync_result", "", [], [])
    feeds = int(report.get("feeds") or 0)
    if not feeds:
        head = "No feeds are followed; add one above first."
        return _macro("feeds.html", "sync_result", head, [], [])
    failed = report.get("failed") or []
    counts = _sync_counts(report, len(failed))
    head = (
        f"{_plural(feeds, 'feed')} ({int(report.get('not_modified') or 0):,} not modified), "
        f"{_plural(int(report.get('fetched') or 0), 'page')} fetched: "
        f"{counts or 'nothing new'}"
        f" · {_plural(int(report.get('chunks') or 0), 'passage')} indexed in "
        f"{float(report.get('seconds') or 0):.1f} s"
    )
    rows = [_feed_row(f) for f in report.get("per_feed") or []]
    problems = [f"{p.get('url', '')}: {p.get('error', '')}" for p in failed[:MAX_SYNC_PROBLEMS]]
    if len(failed) > MAX_SYNC_PROBLEMS:
        problems.append(f"and {len(failed) - MAX_SYNC_PROBLEMS:,} more")
    return _macro("feeds.html", "sync_result", head, rows, problems)

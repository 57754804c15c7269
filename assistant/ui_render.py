"""Safe HTML for the web UI, and the conversation it renders.

Pure functions, no gradio: `assistant/ui.py` wires them to the page. Article titles, text,
outlets and URLs are untrusted, and so is a conversation restored from the browser: every
string is escaped here, links are made only for http(s) URLs, and a stored conversation is
validated field by field before it is rendered.

Citation markers become links to `#src-<turn>-<n>`; the page's script turns a click on one
into a request for the source viewer (see `static/viewer.js`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from index.errors import UsageError
from index.models import SearchFilter

from .models import Answer, Citation

if TYPE_CHECKING:
    from index import ArticleRecord, IngestReport

    from .core import IndexStats

__all__ = [
    "MAX_STORED_TURNS",
    "ChatTurn",
    "Filters",
    "display_path",
    "dump_turns",
    "esc",
    "format_date",
    "ingest_rows",
    "load_turns",
    "render_answer",
    "render_article_list",
    "render_draft",
    "render_error",
    "render_ingest",
    "render_messages",
    "render_pending",
    "render_stats",
    "render_status",
    "render_user",
    "render_viewer",
    "render_viewer_hint",
    "render_viewer_missing",
    "safe_url",
]

# The browser keeps at most this many exchanges (localStorage is small).
MAX_STORED_TURNS = 50
# Articles up to this long are shown whole in the source viewer; longer ones around the quote.
VIEWER_WHOLE_ARTICLE = 6000
VIEWER_CONTEXT = 1500
# The article list shows at most this many rows; the search narrows it.
MAX_LIST_ROWS = 200

_MARKER = re.compile(r"\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*)\]")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


# -- small helpers -------------------------------------------------------------------------


def esc(text: object) -> str:
    """`text` as HTML text or attribute value: &, <, >, " and ' escaped."""
    return html.escape(str(text), quote=True)


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


def _external_link(url: str, label_html: str, *, cls: str = "") -> str:
    """A link that opens in a new tab, or just the label when `url` is not http(s)."""
    href = safe_url(url)
    if href is None:
        return label_html
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<a{klass} href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">'
        f"{label_html}</a>"
    )


def format_date(iso: str) -> str:
    """'2025-11-04' as '4 Nov 2025'; anything else unchanged (escape it when showing it)."""
    try:
        d = date.fromisoformat((iso or "").strip()[:10])
    except ValueError:
        return iso or ""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _sentence(text: str) -> str:
    """`text` starting with a capital and ending with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _meta_line(source: str, published_at: str) -> str:
    parts = [esc(source) if source else "", esc(format_date(published_at))]
    return " · ".join(p for p in parts if p)


# -- filters and the conversation ------------------------------------------------------------


def _parse_day(value: Any, label: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise UsageError(f"the {label} date {text!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True, slots=True)
class Filters:
    """What a question was limited to: outlets and a published-date range (inclusive)."""

    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, sources: Iterable[str] | None, since: Any, until: Any) -> Filters:
        """Filters from the page's inputs; UsageError for a bad date or an empty range."""
        names = tuple(dict.fromkeys(s.strip() for s in (sources or []) if s and s.strip()))
        first, last = _parse_day(since, "'from'"), _parse_day(until, "'to'")
        if first and last and first > last:
            raise UsageError(
                f"the 'from' date {first.isoformat()} is after the 'to' date "
                f"{last.isoformat()}; swap them or clear one"
            )
        return cls(names, first, last)

    def is_empty(self) -> bool:
        """True when nothing is filtered out."""
        return not (self.sources or self.since or self.until)

    def search_filter(self) -> SearchFilter | None:
        """The filter for `NewsAssistant.stream`, or None when there is nothing to filter."""
        if self.is_empty():
            return None
        return SearchFilter(sources=self.sources, since=self.since, until=self.until)

    def describe(self) -> str:
        """'Battery Brief · from 1 Jan 2025' (plain text); '' when nothing is filtered."""
        parts = []
        if self.sources:
            parts.append(", ".join(self.sources))
        if self.since:
            parts.append(f"from {format_date(self.since.isoformat())}")
        if self.until:
            parts.append(f"to {format_date(self.until.isoformat())}")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "sources": list(self.sources),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(slots=True)
class ChatTurn:
    """One exchange of the chat: the question, its checked answer and the filters used."""

    question: str
    answer: Answer
    filters: Filters = field(default_factory=Filters)

    def to_dict(self) -> dict[str, Any]:
        """What the browser stores (timings are left out)."""
        answer = self.answer.to_dict()
        answer.pop("timings_ms", None)
        return {"question": self.question, "answer": answer, "filters": self.filters.to_dict()}


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


def _citation_from(data: Any) -> Citation:
    if not isinstance(data, dict):
        raise TypeError("a citation must be an object")
    score = data.get("score", 0.0)
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise TypeError("score must be a number")
    return Citation(
        n=_int(data["n"]),
        article_id=_str(data["article_id"]),
        title=_str(data.get("title", "")),
        source=_str(data.get("source", "")),
        published_at=_str(data.get("published_at", "")),
        url=_str(data.get("url", "")),
        quote=_str(data["quote"]),
        start=_int(data["start"]),
        end=_int(data["end"]),
        score=float(score),
    )


def _turn_from(data: Any) -> ChatTurn:
    if not isinstance(data, dict) or not isinstance(data.get("answer"), dict):
        raise TypeError("a turn must be an object with an answer")
    a = data["answer"]
    answer = Answer(
        question=_str(a.get("question", data.get("question", ""))),
        answer=_str(a["answer"]),
        refused=bool(a.get("refused", False)),
        backend=_str(a.get("backend", "")),
        citations=[_citation_from(c) for c in a.get("citations", [])],
        unsupported=[_str(s) for s in a.get("unsupported", [])],
        standalone_question=_str(a.get("standalone_question", "")),
        notes=[_str(s) for s in a.get("notes", [])],
        quoted_instead=bool(a.get("quoted_instead", False)),
    )
    f = data.get("filters") or {}
    if not isinstance(f, dict):
        raise TypeError("filters must be an object")
    filters = Filters.parse([_str(s) for s in f.get("sources", [])], f.get("since"), f.get("until"))
    return ChatTurn(_str(data["question"]), answer, filters)


def load_turns(raw: Any) -> list[ChatTurn]:
    """The conversation stored in the browser; entries that do not parse are dropped."""
    if not isinstance(raw, list):
        return []
    turns = []
    for item in raw[-MAX_STORED_TURNS:]:
        try:
            turns.append(_turn_from(item))
        except (KeyError, TypeError, ValueError, UsageError):
            continue  # a tampered or outdated entry: skip it rather than lose the whole chat
    return turns


def dump_turns(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """The conversation as the browser stores it (the most recent turns only)."""
    return [t.to_dict() for t in turns[-MAX_STORED_TURNS:]]


# -- chat messages ---------------------------------------------------------------------------


def _text_html(text: str) -> str:
    """Escaped text with line breaks kept and **bold** honoured (LLMs write it)."""
    out = _BOLD.sub(r"<strong>\1</strong>", esc(text))
    out = re.sub(r"\n{2,}", "<br><br>", out.strip("\n"))
    return out.replace("\n", "<br>")


def _chip(turn: int, citation: Citation) -> str:
    tip = " — ".join(x for x in (citation.title, citation.source) if x)
    return (
        f'<a class="cite-chip" href="#src-{turn}-{citation.n}" '
        f'title="Source {citation.n}: {esc(tip)}">{citation.n}</a>'
    )


def _with_chips(text: str, turn: int, by_n: dict[int, Citation]) -> str:
    """Escaped text whose [n] markers are chips linking to their sources."""
    out: list[str] = []
    cursor = 0
    for m in _MARKER.finditer(text):
        out.append(_text_html(text[cursor : m.start()]))
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if numbers and all(n in by_n for n in numbers):
            out.append('<span class="cite-group">')
            out.extend(_chip(turn, by_n[n]) for n in numbers)
            out.append("</span>")
        else:  # a marker that matches no checked citation stays plain text
            out.append(esc(m.group(0)))
        cursor = m.end()
    out.append(_text_html(text[cursor:]))
    return "".join(out)


def _answer_body(answer: Answer, turn: int) -> str:
    """The answer text with chips, its unsupported sentences marked."""
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
    out: list[str] = []
    cursor = 0
    for start, end in spans:
        out.append(_with_chips(text[cursor:start], turn, by_n))
        out.append(
            '<span class="unsupported" title="No indexed article supports this sentence">'
            f"{_with_chips(text[start:end], turn, by_n)}</span>"
        )
        cursor = end
    out.append(_with_chips(text[cursor:], turn, by_n))
    return "".join(out)


def _source_list(answer: Answer, turn: int) -> str:
    """One line per cited article: its chips, title, outlet and date."""
    by_article: dict[str, list[Citation]] = {}
    for c in answer.citations:
        by_article.setdefault(c.article_id, []).append(c)
    rows = []
    for cites in by_article.values():
        first = cites[0]
        meta = _meta_line(first.source, first.published_at)
        chips = "".join(_chip(turn, c) for c in cites)
        rows.append(
            f'<li><span class="cite-group">{chips}</span>'
            f'<a class="source-title" href="#src-{turn}-{first.n}">'
            f"{esc(first.title or 'Untitled')}</a>"
            + (f'<span class="source-meta">{meta}</span>' if meta else "")
            + "</li>"
        )
    return (
        '<div class="sources"><div class="sources-label">Sources</div>'
        f'<ol class="source-list">{"".join(rows)}</ol></div>'
    )


def render_answer(turn: ChatTurn, index: int) -> str:
    """A checked answer as the chat shows it: text with source chips, flags for a refusal
    or unsupported sentences, the filters and search used, and the list of its sources."""
    answer = turn.answer
    parts = ['<div class="answer">']
    if answer.refused:
        hint = "widen the filters, " if not turn.filters.is_empty() else ""
        parts.append(
            '<div class="flag flag-refused" role="status"><strong>Not answered.</strong> '
            f"{esc(answer.answer)} Try other words, {hint}or add articles in the "
            "Articles tab.</div>"
        )
    else:
        parts.append(f'<div class="answer-text">{_answer_body(answer, index)}</div>')
    if answer.quoted_instead:
        said = " ".join(answer.unsupported)
        parts.append(
            '<div class="flag flag-unsupported" role="status"><strong>Not supported:</strong> '
            f"the LLM answered “{esc(said)}”, but no indexed article supports that. These are "
            "the closest passages.</div>"
        )
    elif answer.unsupported and not answer.refused:
        count = len(answer.unsupported)
        parts.append(
            '<div class="flag flag-unsupported" role="status"><strong>Check this:</strong> '
            f"{_plural(count, 'sentence')} of this answer {'is' if count == 1 else 'are'} "
            "not supported by any indexed article (underlined in red).</div>"
        )
    if answer.notes:
        items = "".join(f"<li>{esc(_sentence(note))}</li>" for note in answer.notes)
        parts.append(f'<div class="flag flag-note" role="note"><ul>{items}</ul></div>')
    notes = []
    if turn.filters.describe():
        notes.append(f"Only: {esc(turn.filters.describe())}")
    searched = answer.standalone_question
    if searched and " ".join(searched.split()) != " ".join(turn.question.split()):
        notes.append(f"Searched for: “{esc(searched)}”")
    if notes:
        parts.append(f'<div class="answer-notes">{" · ".join(notes)}</div>')
    if answer.citations and not answer.refused:
        parts.append(_source_list(answer, index))
    parts.append("</div>")
    return "".join(parts)


def render_user(question: str) -> str:
    """A question as the chat shows it."""
    return f'<div class="question">{_text_html(question)}</div>'


def render_pending(message: str = "Searching your articles…") -> str:
    """The answer bubble while retrieval runs."""
    return f'<div class="answer pending"><span class="spinner"></span>{esc(message)}</div>'


def render_draft(text: str) -> str:
    """The answer as it streams in: markers shown but not yet clickable (not yet checked)."""
    body = _MARKER.sub(
        lambda m: f'<span class="cite-chip draft">{esc(m.group(1).strip())}</span>',
        esc(text),
    )
    body = re.sub(r"\n{2,}", "<br><br>", body.strip("\n")).replace("\n", "<br>")
    return (
        f'<div class="answer draft"><div class="answer-text">{body}</div>'
        '<div class="answer-notes"><span class="spinner"></span>Checking the sources…</div></div>'
    )


def render_error(message: str) -> str:
    """An answer bubble saying the question could not be answered, and why."""
    return (
        '<div class="answer"><div class="flag flag-error" role="alert">'
        f"<strong>Could not answer.</strong> {esc(message)}</div></div>"
    )


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
    return (
        '<div class="viewer viewer-empty"><div class="viewer-kicker">Source viewer</div>'
        "<p>Click a numbered marker such as "
        '<span class="cite-chip static">1</span> in an answer to read the sentence it comes '
        "from, highlighted in its article.</p></div>"
    )


def render_viewer_missing(message: str) -> str:
    """The viewer when the clicked source cannot be shown at all."""
    return (
        '<div class="viewer viewer-empty"><div class="viewer-kicker">Source viewer</div>'
        f'<div class="flag flag-error">{esc(message)}</div></div>'
    )


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
    title = record.title if record else citation.title
    source = record.source if record else citation.source
    published = record.published_at if record else citation.published_at
    url = record.url if record else citation.url
    meta = [m for m in (esc(source), esc(format_date(published))) if m]
    link = _external_link(url, "Open the original ↗", cls="viewer-link")
    if safe_url(url) is not None:
        meta.append(link)
    elif url:
        meta.append(f'<span class="viewer-url" title="Not a web link">{esc(url)}</span>')
    parts = [
        '<article class="viewer">',
        f'<div class="viewer-kicker"><span class="cite-chip static">{citation.n}</span>'
        f"Source {citation.n} of answer {turn + 1}</div>",
        f'<h3 class="viewer-title">{esc(title or "Untitled")}</h3>',
        f'<div class="viewer-meta">{" · ".join(meta)}</div>',
    ]
    where = _locate(citation, body)
    if body is None:
        parts.append(
            '<div class="flag flag-unsupported">This article is no longer in the index; '
            "here is the sentence the answer quoted.</div>"
            f'<blockquote class="viewer-quote"><mark>{esc(citation.quote)}</mark></blockquote>'
        )
    elif where is None:
        parts.append(
            '<div class="flag flag-unsupported">The article has changed since this answer '
            "and no longer contains the quoted sentence:</div>"
            f'<blockquote class="viewer-quote"><mark>{esc(citation.quote)}</mark></blockquote>'
        )
    else:
        start, end = where
        if (start, end) != (citation.start, citation.end):
            parts.append(
                '<div class="flag flag-note">The article has changed since this answer; '
                "the quoted sentence is highlighted where it is now.</div>"
            )
        lo, hi = _window(body, start, end)
        before = ("… " if lo > 0 else "") + body[lo:start]
        after = body[end:hi] + (" …" if hi < len(body) else "")
        parts.append(
            '<div class="viewer-body"><div class="viewer-text">'
            f'{esc(before)}<mark id="cited-sentence">{esc(body[start:end])}</mark>{esc(after)}'
            "</div></div>"
        )
        if (lo, hi) != (0, len(body)):
            parts.append(
                f'<div class="viewer-foot">Showing characters {lo:,}–{hi:,} of '
                f"{len(body):,} around the quote.</div>"
            )
    parts.append("</article>")
    return "".join(parts)


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
    if not records:
        return (
            '<div class="article-list empty">No articles are indexed yet. '
            "Add some with the upload box.</div>"
        )
    if words:
        count = f"{len(shown):,} of {_plural(len(records), 'article')} match “{esc(query.strip())}”"
    else:
        count = _plural(len(records), "article")
    rows = []
    for r in shown[:MAX_LIST_ROWS]:
        title = _external_link(r.url, esc(r.title or "Untitled"), cls="article-title-link")
        rows.append(
            "<tr>"
            f'<td class="a-title"><div>{title}</div><div class="a-id">{esc(r.id)}</div></td>'
            f'<td class="a-outlet">{esc(r.source) or "—"}</td>'
            f'<td class="a-date">{esc(format_date(r.published_at)) or "—"}</td>'
            f'<td class="a-action"><button type="button" class="remove-article" '
            f'data-remove="{esc(r.id)}" title="Remove this article from the index">'
            "Remove</button></td></tr>"
        )
    more = ""
    if len(shown) > MAX_LIST_ROWS:
        more = (
            f'<div class="article-more">Showing the first {MAX_LIST_ROWS} of '
            f"{len(shown):,}; type in the search box to narrow the list.</div>"
        )
    table = (
        '<table class="article-table"><thead><tr><th>Title</th><th>Outlet</th>'
        f"<th>Published</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<div class="article-none">No article matches the search.</div>'
    )
    return f'<div class="article-list"><div class="article-count">{count}</div>{table}{more}</div>'


_STATUS_WORDS = {
    "added": "added",
    "updated": "updated",
    "unchanged": "unchanged",
    "duplicate": "duplicate",
    "failed": "failed",
    "removed": "removed",
}


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


def render_ingest(rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """What happened to each uploaded file, and the totals."""
    if not rows:
        return '<div class="ingest-empty">Results of each upload appear here.</div>'
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
    lines = []
    for r in rows:
        status = str(r["status"])
        articles = int(r.get("articles") or 0)
        what = _plural(articles, "article") if articles else ""
        detail = esc(r.get("detail") or "")
        lines.append(
            f'<tr class="row-{esc(status)}"><td><span class="badge badge-{esc(status)}">'
            f"{esc(_STATUS_WORDS.get(status, status))}</span></td>"
            f'<td class="i-file">{esc(r["file"])}</td><td class="i-count">{what}</td>'
            f'<td class="i-detail">{detail}</td></tr>'
        )
    seconds = float(summary.get("seconds") or 0)
    head = (
        f"{_plural(files, 'file')}: {', '.join(counts) or 'nothing to do'}"
        f" · {_plural(int(summary.get('chunks') or 0), 'passage')} indexed in {seconds:.1f} s"
    )
    return (
        f'<div class="ingest"><div class="ingest-summary">{esc(head)}</div>'
        f'<table class="ingest-table"><tbody>{"".join(lines)}</tbody></table></div>'
    )


def render_stats(stats: IndexStats, *, outlets: int) -> str:
    """Index statistics: counts, outlets (`outlets` named ones), model, store and backend."""
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td class='num'>{count:,}</td></tr>"
        for name, count in stats.sources.items()
    )
    return (
        '<div class="stats">'
        f'<div class="stat"><div class="stat-n">{stats.articles:,}</div>'
        '<div class="stat-label">articles</div></div>'
        f'<div class="stat"><div class="stat-n">{stats.chunks:,}</div>'
        '<div class="stat-label">passages</div></div>'
        f'<div class="stat"><div class="stat-n">{outlets:,}</div>'
        '<div class="stat-label">outlets</div></div>'
        "</div>"
        '<dl class="stats-facts">'
        f"<dt>Answers by</dt><dd>{esc(stats.backend)}</dd>"
        f"<dt>Embedding model</dt><dd>{esc(stats.embedding_model)}</dd>"
        f"<dt>Store</dt><dd>{esc(stats.store)}</dd></dl>"
        + (
            f'<table class="stats-outlets"><thead><tr><th>Outlet</th><th class="num">Articles'
            f"</th></tr></thead><tbody>{rows}</tbody></table>"
            if rows
            else ""
        )
    )


def render_status(backend: str, articles: int, outlets: int) -> str:
    """The line under the title: who answers and how much is indexed."""
    return (
        '<div class="status-line" role="status">'
        f"Answers by <strong>{esc(backend)}</strong> · "
        f"<strong>{_plural(articles, 'article')}</strong> indexed from "
        f"{_plural(outlets, 'outlet')}</div>"
    )

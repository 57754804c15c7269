"""Read news articles from files: .txt, .md, .html/.htm, .json/.jsonl and .pdf.

Every problem becomes a `LoadError` naming the file (and line, for JSONL) and the reason;
a bad object in a JSON Lines file does not lose the good ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import LoadError
from .models import Article

__all__ = [
    "SUPPORTED_SUFFIXES",
    "FileLoad",
    "PageText",
    "decode_text",
    "decode_web",
    "html_text",
    "iter_files",
    "load_file",
    "parse_date",
    "read_page",
]

SUPPORTED_SUFFIXES = frozenset(
    {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".ndjson", ".pdf"}
)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# Plain-text header lines: "date 2025-11-04" (as in exported news text) or "key: value".
_DATE_LINE = re.compile(r"\A\s*date[:\s]\s*(\d{4}-\d{2}-\d{2})\b[ \t]*\n?", re.IGNORECASE)
_HEADER_LINE = re.compile(
    r"\A[ \t]*(title|source|outlet|url|link|authors?|published_at|date)[ \t]*:[ \t]*(\S[^\n]*)\n",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"\A\s*#\s+(.+?)\s*#*\s*(?:\n|\Z)")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_MD_HEADING_MARK = re.compile(r"^#{1,6}\s+", re.MULTILINE)


@dataclass(slots=True)
class FileLoad:
    """The articles read from one file, and the problems met on the way."""

    path: str
    file_hash: str
    articles: list[Article] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PageText:
    """A downloaded page's text and the metadata it states itself ("" or None where it
    states none, so the caller can fill in what its feed entry says)."""

    body: str
    title: str = ""
    source: str = ""
    published_at: date | None = None
    url: str = ""  # the canonical URL the page declares (rel=canonical, og:url)
    authors: tuple[str, ...] = ()


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})


def read_page(url: str, data: bytes, *, content_type: str, charset: str = "") -> PageText:
    """A downloaded page (HTML, PDF or plain text, by its Content-Type, else by its first
    bytes) read through the same loaders as files. LoadError naming the URL otherwise."""
    head = data[:1024].lstrip().lower()
    if content_type == "application/pdf" or head.startswith(b"%pdf"):
        pdf = _load_pdf(url, data, url)
        return PageText(pdf.body, pdf.title, "", pdf.published_at, "", pdf.authors)
    sniffed_html = head.startswith((b"<!doctype html", b"<html"))
    if content_type in _HTML_TYPES or (not content_type and sniffed_html):
        return _html_page(url, decode_web(url, data, charset), web=True)
    if content_type in _TEXT_TYPES:
        text = decode_web(url, data, charset)
        if not text.strip():
            raise LoadError(url, "the page is empty")
        article = _load_text(url, text, url)
        return PageText(article.body, article.title if article.title != url else "")
    shown = content_type or "(none)"
    raise LoadError(
        url, f"Content-Type {shown} cannot be indexed; a page must be HTML, PDF or plain text"
    )


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_web(name: str, data: bytes, charset: str = "") -> str:
    """A downloaded page's bytes as text. Valid UTF-8 wins whatever the headers say (servers
    often declare Latin-1 for UTF-8 pages); else the declared charset (header, else <meta>)
    when it decodes the bytes; else Windows-1252, as for files."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return decode_text(name, data)
    try:
        return _normalise_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    declared = charset
    if not declared:
        match = _META_CHARSET.search(data[:4096])
        declared = match.group(1).decode("ascii", "replace") if match else ""
    if declared:
        import codecs

        try:
            codecs.lookup(declared)
            return _normalise_newlines(data.decode(declared))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(name, data)


_BLOCKS = frozenset(
    {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}
)


def html_text(fragment: str) -> str:
    """The text of an HTML fragment (a feed entry's content), paragraphs kept apart."""
    import lxml.html
    from lxml import etree

    if "<" not in fragment:
        return _normalise_newlines(fragment).strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.lower() in _BLOCKS:
            node.tail = "\n\n" + (node.tail or "")
    text = root.text_content()
    paragraphs = (" ".join(p.split()) for p in text.split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def iter_files(
    paths: Iterable[str | Path], *, skip: Iterable[str | Path] = ()
) -> Iterator[Path | LoadError]:
    """Every file under `paths` (folders recursively, hidden entries skipped, symlink loops
    broken), in a stable order; a path that cannot be walked comes out as a `LoadError`.
    Folders in `skip` (the index's own data dir) are not walked into."""
    skipped = {os.path.realpath(p) for p in skip}
    seen_dirs: set[str] = set(skipped)
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield LoadError(str(path), "no such file or folder")
        elif path.is_dir() and os.path.realpath(path) in skipped:
            yield LoadError(
                str(path),
                "this is the index's own data folder (ASSISTANT_DATA_DIR); it holds "
                "no articles to index",
            )
        elif path.is_dir():
            yield from _walk(path, seen_dirs)
        else:
            yield path


def _walk(root: Path, seen_dirs: set[str]) -> Iterator[Path | LoadError]:
    real = os.path.realpath(root)
    if real in seen_dirs:
        return
    seen_dirs.add(real)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        yield LoadError(str(root), f"cannot read folder ({e.strerror or e})")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symlinks; loops are cut by `seen_dirs`
        except OSError as e:
            yield LoadError(str(path), f"cannot read ({e.strerror or e})")
            continue
        if is_dir:
            yield from _walk(path, seen_dirs)
        elif entry.is_file():
            yield path
        elif entry.is_symlink():
            yield LoadError(str(path), "broken symbolic link")


def load_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> FileLoad:
    """Read one file into articles. Raises `LoadError` when nothing can be read from it."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LoadError(name, f"unsupported file type '{suffix or '(none)'}'; supported: {kinds}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(
                name,
                f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit "
                "(raise ASSISTANT_MAX_FILE_MB to index it)",
            )
        data = path.read_bytes()
    except PermissionError as e:
        raise LoadError(name, "permission denied; make the file readable") from e
    except OSError as e:
        raise LoadError(name, f"cannot read file ({e.strerror or e})") from e
    if not data.strip():
        raise LoadError(name, "file is empty")
    result = FileLoad(path=name, file_hash=hashlib.sha256(data).hexdigest())
    default_id = str(path.resolve())
    if suffix == ".pdf":
        result.articles.append(_load_pdf(name, data, default_id))
    elif suffix in {".json", ".jsonl", ".ndjson"}:
        _load_json(name, decode_text(name, data), default_id, result, lines=suffix != ".json")
    else:
        text = decode_text(name, data)
        if suffix in {".html", ".htm"}:
            result.articles.append(_load_html(name, text, default_id))
        elif suffix in {".md", ".markdown"}:
            result.articles.append(_load_markdown(name, text, default_id))
        else:
            result.articles.append(_load_text(name, text, default_id))
    return result


def decode_text(name: str, data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM) or UTF-16 with a BOM; Windows-1252 as a
    last resort for legacy files; binary content is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _normalise_newlines(data.decode("utf-16"))
        except UnicodeDecodeError as e:
            raise LoadError(name, "broken UTF-16 text; re-save the file as UTF-8") from e
    if b"\x00" in data[:8192]:
        raise LoadError(name, "binary content, not text (is the file extension right?)")
    try:
        return _normalise_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise LoadError(
                name, f"not valid UTF-8 text (bad byte at offset {e.start}); re-save as UTF-8"
            ) from e
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
        if controls > len(text) / 100:
            raise LoadError(name, "binary content, not text (is the file extension right?)") from e
        return _normalise_newlines(text)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_date(value: Any) -> date | None:
    """A publication date from a date, datetime, ISO string or plain English date; None when
    empty. Raises ValueError for text that is not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value).date()  # a Unix timestamp
        except (OverflowError, OSError, ValueError) as e:
            raise ValueError(f"cannot read {value!r} as a date (timestamp out of range)") from e
    if not isinstance(value, str):
        raise ValueError(f"cannot read {value!r} as a date")
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    from dateutil import parser as dateparser

    try:
        return dateparser.parse(text).date()
    except (ValueError, OverflowError) as e:
        raise ValueError(f"cannot read {value!r} as a date") from e


def _outlet_from_url(url: str) -> str:
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.")


def _title_from(name: str, body: str) -> str:
    stem = Path(name).stem.replace("_", " ").replace("-", " ").strip()
    if len(re.findall(r"[A-Za-z]{3,}", stem)) >= 2:
        return stem[:1].upper() + stem[1:]
    words = body.split()
    return " ".join(words[:12]) + (" …" if len(words) > 12 else "")


def _article(
    name: str,
    *,
    default_id: str,
    body: str,
    title: str = "",
    source: str = "",
    published_at: date | None = None,
    url: str = "",
    authors: Iterable[str] = (),
    article_id: str = "",
) -> Article:
    body = body.strip()
    if not body:
        raise LoadError(name, "no article text found")
    url = url.strip()
    return Article(
        id=article_id or url or default_id,
        title=" ".join(title.split()) or _title_from(name, body),
        body=body,
        source=source.strip() or _outlet_from_url(url),
        published_at=published_at,
        url=url,
        authors=tuple(a.strip() for a in authors if a and a.strip()),
        path=name,
    )


def _load_text(name: str, text: str, default_id: str) -> Article:
    meta: dict[str, Any] = {}
    while True:
        if match := _DATE_LINE.match(text):
            meta["date"] = match.group(1)
        elif match := _HEADER_LINE.match(text):
            meta[match.group(1).lower()] = match.group(2).strip()
        else:
            break
        text = text[match.end() :]
    fields = _fields_from_mapping(name, meta)
    title = str(meta.get("title", ""))
    first, sep, rest = text.strip().partition("\n")
    # A short first line without end punctuation, followed by more text, is a headline.
    headline = not first.rstrip().endswith((".", "!", "?", '"', "”"))
    if not title and sep and rest.strip() and len(first.split()) <= 20 and headline:
        title, text = first.strip(), rest
    return _article(name, default_id=default_id, body=text, title=title, **fields)


def _load_markdown(name: str, text: str, default_id: str) -> Article:
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as e:
            raise LoadError(
                name,
                f"malformed front matter ({_first_line(e)}); fix the YAML between the --- lines",
            ) from e
        if not isinstance(loaded, dict):
            raise LoadError(name, "front matter must be 'key: value' lines")
        meta = {str(k).lower(): v for k, v in loaded.items()}
        text = text[match.end() :]
    heading = _MD_HEADING.match(text)
    title = str(meta.get("title") or "")
    if heading:
        title = title or heading.group(1)
        text = text[heading.end() :]
    body = _MD_HEADING_MARK.sub(
        "", _MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", text)))
    )
    fields = _fields_from_mapping(name, meta)
    fields["title"] = title
    return _article(name, default_id=default_id, body=body, **fields)


def _load_html(name: str, html: str, default_id: str) -> Article:
    page = _html_page(name, html)
    return _article(
        name,
        default_id=default_id,
        body=page.body,
        title=page.title,
        source=page.source,
        published_at=page.published_at,
        url=page.url,
        authors=page.authors,
    )


def _html_page(name: str, html: str, *, web: bool = False) -> PageText:
    """The main text and stated metadata of an HTML page (trafilatura). For a downloaded
    page (`web`) the date comes from the page's metadata only, never guessed from its text,
    and a site name trafilatura only derived from the host name is left blank."""
    import trafilatura

    options: dict[str, Any] = {}
    if web:
        options["date_extraction_params"] = {"extensive_search": False, "original_date": True}
    try:
        doc: Any = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, **options
        )
    except Exception as e:  # trafilatura raises assorted lxml errors on broken markup
        raise LoadError(name, f"malformed HTML ({_first_line(e)})") from e
    if doc is None or not (getattr(doc, "text", "") or "").strip():
        raise LoadError(name, "no article text found in the HTML page")
    published = None
    if doc.date:
        try:
            published = parse_date(doc.date)
        except ValueError:
            published = None
    authors = [a for a in re.split(r"\s*[;,]\s*", doc.author or "") if a]
    source = doc.sitename or ""
    if web and source.lower().removeprefix("www.") in _hosts(doc.url, doc.hostname, name):
        source = ""
    return PageText(
        body=_without_headline(_normalise_newlines(doc.text), doc.title or ""),
        title=" ".join((doc.title or "").split()),
        source=source.strip(),
        published_at=published,
        url=(doc.url or "").strip(),
        authors=tuple(a.strip() for a in authors if a.strip()),
    )


def _hosts(*urls: str | None) -> set[str]:
    """Host names (without www.) of URLs or bare host names."""
    found = set()
    for value in urls:
        if value:
            host = urlparse(value).hostname if "://" in value else value
            if host:
                found.add(host.lower().removeprefix("www."))
    return found


def _without_headline(text: str, title: str) -> str:
    """The page text without its leading headline: trafilatura keeps the <h1> as the first
    line, which would be quoted glued to the first sentence and shown twice."""
    first, sep, rest = text.strip().partition("\n")
    same = " ".join(first.split()).casefold() == " ".join(title.split()).casefold()
    return rest if title and sep and rest.strip() and same else text


def _load_pdf(name: str, data: bytes, default_id: str) -> Article:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError(name, "PDF is encrypted; save an unprotected copy")
        text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
        info: Any = reader.metadata or {}
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as e:
        raise LoadError(name, f"malformed PDF ({_first_line(e)})") from e
    if len(text.strip()) < 20:
        raise LoadError(name, "PDF has no text layer (a scan?); run OCR on it first")
    published = None
    created = getattr(info, "creation_date", None) if info else None
    if isinstance(created, datetime):
        published = created.date()
    title = str(info.get("/Title") or "") if info else ""
    author = str(info.get("/Author") or "") if info else ""
    return _article(
        name,
        default_id=default_id,
        body=_normalise_newlines(text),
        title=title,
        published_at=published,
        authors=[author] if author else [],
    )


_BODY_KEYS = ("body", "text", "content")
_DATE_KEYS = ("published_at", "date", "published", "publishedat")
_SOURCE_KEYS = ("source", "outlet", "publisher", "site")


def _fields_from_mapping(name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Article fields from a JSON object or front matter; raises LoadError naming a bad field."""
    fields: dict[str, Any] = {}
    for key in _DATE_KEYS:
        if obj.get(key) not in (None, ""):
            try:
                fields["published_at"] = parse_date(obj[key])
            except ValueError as e:
                raise LoadError(name, f"field '{key}': {e}; use YYYY-MM-DD") from e
            break
    for key in _SOURCE_KEYS:
        value = obj.get(key)
        if isinstance(value, dict):  # {"source": {"name": "Reuters"}}
            value = value.get("name")
        if value:
            fields["source"] = str(value)
            break
    url_key = next((k for k in ("url", "link") if obj.get(k) not in (None, "")), "url")
    url = obj.get(url_key) or ""
    if not isinstance(url, str):
        raise LoadError(name, f"field '{url_key}' must be a string (the article's link)")
    fields["url"] = url
    # A null optional field is a missing one ("author": null is common in real exports).
    author_key = next((k for k in ("authors", "author") if obj.get(k) is not None), "authors")
    authors = obj.get(author_key) or []
    if isinstance(authors, str):
        authors = [a for a in re.split(r"\s*;\s*|\s*,\s*|\s+and\s+", authors) if a]
    elif not isinstance(authors, list):
        raise LoadError(name, f"field '{author_key}' must be a list of names or a string (or null)")
    fields["authors"] = [str(a) for a in authors if a is not None]
    return fields


def _article_from_object(name: str, obj: Any, default_id: str) -> Article:
    if not isinstance(obj, dict):
        raise LoadError(name, f"expected a JSON object per article, got {type(obj).__name__}")
    obj = {str(k).lower(): v for k, v in obj.items()}
    body = next((obj[k] for k in _BODY_KEYS if obj.get(k)), None)
    if body is None:
        raise LoadError(name, "no article text: give it a 'body', 'text' or 'content' field")
    if not isinstance(body, str):
        body_key = next(k for k in _BODY_KEYS if obj.get(k))
        raise LoadError(name, f"field '{body_key}' must be a string (the article's text)")
    title = obj.get("title") or ""
    explicit_id = obj.get("id")
    return _article(
        name,
        default_id=default_id,
        body=_normalise_newlines(body),
        title=str(title),
        article_id=str(explicit_id) if explicit_id not in (None, "") else "",
        **_fields_from_mapping(name, obj),
    )


def _load_json(name: str, text: str, default_id: str, result: FileLoad, *, lines: bool) -> None:
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LoadError(
                name, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from e
        objects = data if isinstance(data, list) else [data]
        many = isinstance(data, list)
        for i, obj in enumerate(objects, start=1):
            where = f"{name}[{i}]" if many else name
            try:
                result.articles.append(
                    _article_from_object(where, obj, f"{default_id}#{i}" if many else default_id)
                )
            except LoadError as e:
                result.errors.append(e)
        return
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            result.errors.append(
                LoadError(where, f"malformed JSON line ({e.msg}, column {e.colno})")
            )
            continue
        try:
            result.articles.append(_article_from_object(where, obj, f"{default_id}#{lineno}"))
        except LoadError as e:
            result.errors.append(e)
    if not result.articles and not result.errors:
        raise LoadError(name, "file is empty")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__

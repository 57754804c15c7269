"""An answer as Markdown, for documents and chat front ends.

`answer_markdown`: the answer with footnote citations (`[^1]`), each footnote the quoted
sentence, outlet, date and link: what `ask --format markdown`, the page's "Copy as
Markdown" and the API hand out. `answer_with_sources`: the answer with its [n] markers
kept and a "Sources" list after it, the reply of the OpenAI-compatible endpoint.

Article text is escaped where Markdown would read it as markup (emphasis, links, HTML), so
an article cannot inject links or tags into a document or a chat front end.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from .models import Answer, Citation

__all__ = [
    "SOURCES_HEADING",
    "answer_markdown",
    "answer_with_sources",
    "markdown_link",
    "markdown_text",
]

# What separates an answer from its Sources list in `answer_with_sources`.
SOURCES_HEADING = "\n\n**Sources**\n\n"

# Characters a URL keeps as they are; spaces and parentheses (which end a Markdown link)
# are percent-encoded.
_URL_SAFE = ":/?#@!$&'*+,;=%~"
_MARKER = re.compile(r"\[(\d+)\]")
_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_LINE_START = re.compile(r"^(\s*)([#>+-]|\d+[.)])(?=\s)", re.MULTILINE)


def markdown_text(text: str) -> str:
    """Plain text that Markdown shows as written: markup characters backslash-escaped."""
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def markdown_link(title: str, url: str) -> str:
    """`[title](url)` for an http(s) URL; the title alone (escaped) for any other."""
    label = markdown_text(_one_line(title)) or "(untitled)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return label
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return label
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


def _with_markers(answer: Answer, marker: str) -> str:
    """The answer's text escaped, its [n] markers written as `marker` (with {n})."""
    cited = {c.n for c in answer.citations}
    pieces: list[str] = []
    last = 0
    for match in _MARKER.finditer(answer.answer):
        n = int(match.group(1))
        if n not in cited:
            continue
        pieces += [markdown_text(answer.answer[last : match.start()]), marker.format(n=n)]
        last = match.end()
    pieces.append(markdown_text(answer.answer[last:]))
    return "".join(pieces)


def _where(c: Citation) -> str:
    """“Outlet, 2025-11-04”, what is known of it."""
    return ", ".join(markdown_text(x) for x in (c.source, c.published_at) if x)


def _notes(answer: Answer) -> list[str]:
    lines = [f"*Note: {markdown_text(_one_line(note))}*" for note in answer.notes]
    if answer.unsupported:
        heading = (
            "The LLM's answer, which no source supports:"
            if answer.quoted_instead
            else "Not supported by any source:"
        )
        lines.append(
            heading + "\n" + "\n".join(f"- {markdown_text(s)}" for s in answer.unsupported)
        )
    return lines


def _as_list(answer: Answer, text: str) -> str:
    """A timeline's lines (one dated event each) as a Markdown list; other answers as they are."""
    if answer.form != "timeline" or answer.refused:
        return text
    return "\n".join(f"- {line}" for line in text.splitlines() if line.strip())


def answer_markdown(answer: Answer, *, heading: bool = True) -> str:
    """The answer as a Markdown document with footnote citations.

    Each [n] becomes `[^n]`; each footnote holds the quoted sentence, then its outlet, date
    and a link to the article: `[^1]: “GEM Co. is partnering …” — Battery Brief,
    2025-11-04, [Ascend Elements and GEM team up …](https://…)`. With `heading`, the
    question comes first as a level-2 heading.
    """
    blocks = []
    if heading and answer.question:
        blocks.append(f"## {markdown_text(_one_line(answer.question))}")
    blocks.append(_as_list(answer, _with_markers(answer, "[^{n}]")))
    blocks += _notes(answer)
    if answer.citations:
        blocks.append(
            "\n".join(
                f"[^{c.n}]: “{markdown_text(_one_line(c.quote))}” — "
                + ", ".join(x for x in (_where(c), markdown_link(c.title, c.url)) if x)
                for c in answer.citations
            )
        )
    return "\n\n".join(blocks) + "\n"


def answer_with_sources(answer: Answer) -> str:
    """The answer with its [n] markers, then a "Sources" list: each source's title (linked),
    outlet and date, and the quoted sentence."""
    blocks = [_as_list(answer, _with_markers(answer, "[{n}]")), *_notes(answer)]
    if answer.citations:
        lines = []
        for c in answer.citations:
            where = _where(c)
            lines.append(
                f"{c.n}. {markdown_link(c.title, c.url)}" + (f" ({where})" if where else "")
            )
            lines.append(f"   > {markdown_text(_one_line(c.quote))}")
        return "\n\n".join(blocks) + SOURCES_HEADING + "\n".join(lines)
    return "\n\n".join(blocks)

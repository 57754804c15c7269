"""The browser chat (Gradio): `build_app` makes the page, `launch` serves it, `serve` does both.

The only module that imports gradio. Handlers call the same `NewsAssistant` API as the CLI
and keep no per-session state of their own: a conversation lives in the browser
(`gr.BrowserState`, i.e. localStorage), so it survives a reload, its citations stay with
their answers, and people chatting at the same time never see each other's answers.
Everything shown is rendered by `ui_render`, which escapes article text, titles and URLs.

Gradio's API (gradio_client) offers the same functions: `/ask`, `/ingest`, `/articles`,
`/remove` and `/stats`.

Exposure: `serve` binds where ASSISTANT_HOST says (127.0.0.1 by default), asks for a login
when ASSISTANT_AUTH / ASSISTANT_AUTH_FILE are set (the page and every API route), and warns
when it is reachable from other machines without one. Uploads are copied into
`<data dir>/uploads` under names `safe_upload_name` makes (never a path), one file at a time:
a file of another type or over ASSISTANT_MAX_FILE_MB gets its own failed row.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import logging
import os
import re
import secrets
import signal
import sys
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import AssistantError, UsageError, UserError
from index.ingestion import IngestReport
from index.loaders import SUPPORTED_SUFFIXES

from .local import ASK_ROUTE, ServerFile, answer_payload
from .models import Turn
from .text import clean_question
from .ui_render import (
    MAX_STORED_TURNS,
    ChatTurn,
    Filters,
    dump_turns,
    ingest_rows,
    load_turns,
    render_article_list,
    render_draft,
    render_error,
    render_ingest,
    render_messages,
    render_pending,
    render_stats,
    render_status,
    render_user,
    render_viewer,
    render_viewer_hint,
    render_viewer_missing,
)

if TYPE_CHECKING:
    import gradio as gr

    from .core import NewsAssistant

__all__ = ["EXAMPLES", "build_app", "exposure_warning", "launch", "safe_upload_name", "serve"]

log = logging.getLogger(__name__)

EXAMPLES = [
    "Who is GEM partnering with?",
    "When did Northvolt file for bankruptcy protection?",
    "What does the EU battery regulation require?",
    "How is Redwood Materials reusing old EV batteries?",
]
# How many earlier exchanges a follow-up question is read with.
HISTORY_TURNS = 6
STORAGE_KEY = "news-assistant-conversation"
UPLOAD_DIR = "uploads"
# An upload's copy is named with at most this many UTF-8 bytes (file systems allow 255).
MAX_NAME_BYTES = 150
# Gradio cuts off any single uploaded file over this many times ASSISTANT_MAX_FILE_MB while it
# streams in. Up to there the page refuses an oversized file itself, with a row naming it,
# and still indexes the others; Gradio's own check would drop the whole selection.
UPLOAD_CAP_FACTOR = 2
# Gradio's temporary copies of uploads are deleted this many seconds after they arrive (the
# page copies what it indexes into ASSISTANT_DATA_DIR/uploads at once).
UPLOAD_CACHE_SECONDS = 3600
AUTH_MESSAGE = "Sign in to the News Assistant with the user name and password you were given."


def _static(name: str) -> str:
    return (resources.files("assistant") / "static" / name).read_text(encoding="utf-8")


def _plain(message: str) -> str:
    """An error message as a sentence: capitalised, ending with a full stop."""
    message = " ".join(message.split())
    if not message:
        return "Something went wrong."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _error(error: BaseException, doing: str) -> gr.Error:
    """A `gr.Error` in plain words; unexpected errors are logged, never shown as a traceback.

    Toasts render HTML (sanitised), so the message is escaped: a file or article name
    with markup in it shows as text.
    """
    import gradio as gr

    if isinstance(error, gr.Error):
        return error
    if isinstance(error, AssistantError):
        return gr.Error(_toast(_plain(str(error))), print_exception=False)
    log.error("unexpected error while %s", doing, exc_info=error)
    return gr.Error(
        f"Something went wrong while {doing}. The server log has the details.",
        print_exception=False,
    )


def _toast(message: str) -> str:
    """Text for a toast, which renders (sanitised) HTML: markup in names shows as text."""
    return html.escape(message, quote=False)


def safe_upload_name(name: str, taken: set[str]) -> str:
    """The name an uploaded file is copied under: the last part of `name` (no folders),
    letters, digits, spaces and ``_ . - ( ) [ ] , + & '`` only (anything else becomes _),
    no leading dot, at most MAX_NAME_BYTES bytes, and unique (ignoring case) in `taken`,
    which it joins. Nothing in `name` can point the copy outside the upload folder."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r"[^\w.\-()\[\],+&' ]+", "_", base).strip(" .")
    stem, suffix = os.path.splitext(base)
    if len(suffix) > 12 or not re.fullmatch(r"\.\w+", suffix or ".x"):
        stem, suffix = base, ""  # not a real extension: keep it in the name
    stem = stem.strip(" .") or "upload"

    def fit(stem: str, tail: str) -> str:
        while len(f"{stem}{tail}".encode()) > MAX_NAME_BYTES and len(stem) > 1:
            stem = stem[:-1]
        return f"{stem.rstrip(' .') or 'upload'}{tail}"

    candidate, i = fit(stem, suffix), 2
    while candidate.casefold() in taken:
        candidate, i = fit(stem, f"-{i}{suffix}"), i + 1
    taken.add(candidate.casefold())
    return candidate


class _Refused(Exception):
    """An uploaded file that is not copied, with the reason in words."""


def _megabytes(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 102.4 * 1024 else f"{size / 1024:.0f} KB"


def _copy_upload(source: Path, folder: Path, name: str, *, limit: int, limit_mb: float) -> Path:
    """Copy an uploaded file into `folder` as `name` (see `safe_upload_name`), refusing a
    type the loaders cannot read or a file over `limit` bytes before copying it. The copy is
    written under a temporary name and renamed, so no half-copied file is ever indexed and
    a link planted at the target is replaced, never followed."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        what = f"{suffix} files" if suffix else "files without an extension"
        raise _Refused(f"{what} cannot be indexed; upload .txt, .md, .html, .json, .jsonl or .pdf")
    too_big = f"over the {limit_mb:g} MB limit per file (ASSISTANT_MAX_FILE_MB); split it"
    try:
        size = source.stat().st_size
    except OSError as e:
        raise _Refused(f"the upload could not be read ({e.strerror or e})") from e
    if size > limit:
        raise _Refused(f"file is {_megabytes(size)}, {too_big}")
    target = folder / name
    if target.parent != folder or name in ("", ".", ".."):
        raise _Refused("the file name is not usable")  # safe_upload_name prevents this
    fd, part = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        copied = 0
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while block := src.read(1 << 20):
                copied += len(block)
                if copied > limit:  # the file grew since the check
                    raise _Refused(f"file is over {_megabytes(limit)}, {too_big}")
                out.write(block)
        os.replace(part, target)
    except OSError as e:
        raise _Refused(f"the upload could not be copied ({e.strerror or e})") from e
    finally:
        Path(part).unlink(missing_ok=True)
    return target


def _history(raw: Any) -> list[Turn]:
    """API history: a list of [question, answer] pairs (or {"question", "answer"} objects)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise UsageError("history must be a list of [question, answer] pairs")
    turns = []
    for item in raw:
        if isinstance(item, dict):
            item = [item.get("question"), item.get("answer")]
        if (
            not isinstance(item, list | tuple)
            or len(item) != 2
            or not all(isinstance(x, str) for x in item)
        ):
            raise UsageError("history must be a list of [question, answer] pairs of strings")
        turns.append(Turn(item[0], item[1]))
    return turns


def build_app(assistant: NewsAssistant) -> gr.Blocks:
    """The page for `assistant`: the chat with its source viewer and filters, and the
    Articles tab (upload, list, remove, stats); plus the named API endpoints."""
    import gradio as gr

    settings = assistant.settings
    uploads_dir = settings.data_dir / UPLOAD_DIR
    # The browser encrypts the stored conversation with this; it is stable across restarts
    # of the same index (so a reload after a restart keeps the chat) and differs between
    # indexes (so a chat never shows citations into another index).
    secret = hashlib.sha256(
        f"news-assistant|{settings.data_dir.resolve()}|{settings.chroma_host or ''}|"
        f"{settings.collection}".encode()
    ).hexdigest()[:32]

    # -- the index as the page shows it ---------------------------------------------------

    def index_views(selected: Sequence[str] | None, query: str | None) -> tuple[Any, ...]:
        """Status line, outlet choices, article list and stats, all from the index now."""
        stats = assistant.stats()
        records = assistant.articles()
        names = sorted({r.source for r in records if r.source}, key=str.casefold)
        keep = [s for s in (selected or []) if s in names]
        return (
            render_status(stats.backend, stats.articles, len(names)),
            gr.Dropdown(choices=names, value=keep),
            render_article_list(records, query or ""),
            render_stats(stats, outlets=len(names)),
        )

    def refresh(selected: list[str] | None, query: str | None) -> tuple[Any, ...]:
        try:
            return index_views(selected, query)
        except Exception as e:
            raise _error(e, "reading the index") from e

    # -- the chat -------------------------------------------------------------------------

    def respond(
        question: str,
        conversation: Any,
        outlets: list[str] | None,
        since: str | None,
        until: str | None,
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Stream the answer to `question` into the chat; store the checked answer."""
        if not (question or "").strip():
            gr.Warning("Type a question first.")
            return
        try:
            text = clean_question(question)
            filters = Filters.parse(outlets, since, until)
        except AssistantError as e:
            raise _error(e, "reading your question") from e
        turns = load_turns(conversation)
        history = [Turn(t.question, t.answer.answer) for t in turns[-HISTORY_TURNS:]]
        shown = render_messages(turns)
        user = {"role": "user", "content": render_user(text)}
        yield "", [*shown, user, {"role": "assistant", "content": render_pending()}], gr.skip()
        draft, final = "", None
        try:
            for chunk in assistant.stream(text, history=history, where=filters.search_filter()):
                if chunk.answer is not None:
                    final = chunk.answer
                elif chunk.text or chunk.restart:
                    # A restart voids the draft so far (a fallback backend starts over).
                    draft = chunk.text if chunk.restart else draft + chunk.text
                    bubble = {"role": "assistant", "content": render_draft(draft)}
                    yield gr.skip(), [*shown, user, bubble], gr.skip()
        except Exception as e:  # the edge: show why in the chat and a toast, keep the question
            message = _error(e, "answering").message
            gr.Warning(message)
            bubble = {"role": "assistant", "content": render_error(message)}
            yield question, [*shown, user, bubble], gr.skip()
            return
        if final is None:  # the chain always ends with an answer; be safe anyway
            yield question, shown, gr.skip()
            return
        # The chat shows exactly what the browser keeps, so chip numbers match after a reload.
        turns = [*turns, ChatTurn(text, final, filters)][-MAX_STORED_TURNS:]
        yield gr.skip(), render_messages(turns), dump_turns(turns)

    def respond_example(
        conversation: Any,
        outlets: list[str] | None,
        since: str | None,
        until: str | None,
        evt: gr.SelectData,
    ) -> Iterator[tuple[Any, Any, Any]]:
        value = evt.value
        question = value.get("text", "") if isinstance(value, dict) else str(value or "")
        yield from respond(question, conversation, outlets, since, until)

    def restore(conversation: Any) -> list[dict[str, str]]:
        return render_messages(load_turns(conversation))

    def open_source(conversation: Any, evt: gr.EventData) -> str:
        """The source viewer for the citation clicked (its turn and number)."""
        data = evt._data if isinstance(evt._data, dict) else {}
        try:
            turn, n = int(data["turn"]), int(data["n"])
        except (KeyError, TypeError, ValueError):
            return render_viewer_missing("That link does not point to a source.")
        turns = load_turns(conversation)
        if not 0 <= turn < len(turns):
            return render_viewer_missing("That answer is no longer in this conversation.")
        citation = next((c for c in turns[turn].answer.citations if c.n == n), None)
        if citation is None:
            return render_viewer_missing(f"Answer {turn + 1} has no source {n}.")
        try:
            record, body = assistant.article(citation.article_id)
        except UsageError:  # removed since the answer was given
            return render_viewer(citation, turn=turn, record=None, body=None)
        except Exception as e:
            raise _error(e, "opening the source") from e
        return render_viewer(citation, turn=turn, record=record, body=body)

    def describe_filters(outlets: list[str] | None, since: str | None, until: str | None) -> Any:
        try:
            described = Filters.parse(outlets, since, until).describe()
        except UsageError as e:
            return gr.Accordion(label=f"Filters: {_plain(str(e))}")
        label = f"Filters: {described}" if described else "Filters: all outlets, any date"
        return gr.Accordion(label=label)

    # -- the Articles tab -----------------------------------------------------------------

    # Gradio finds the progress tracker by its default value, hence the call in the default.
    def ingest_files(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> Any:  # noqa: B008
        """Index uploaded files; the report as data (one row per file). A file of a type
        the loaders cannot read, or over ASSISTANT_MAX_FILE_MB, gets a failed row and is
        neither copied nor indexed; the others are."""
        if not files:
            raise gr.Error(
                "Choose one or more files first: drop them on the upload box or click it.",
                print_exception=False,
            )
        limit = int(settings.max_file_mb * 1024 * 1024)
        try:
            uploads_dir.mkdir(parents=True, exist_ok=True)
            taken: set[str] = set()
            copies: list[Path] = []
            refused: list[dict[str, Any]] = []
            for f in files:
                source = Path(f if isinstance(f, str) else getattr(f, "path", str(f)))
                name = safe_upload_name(source.name, taken)
                try:
                    copies.append(
                        _copy_upload(
                            source, uploads_dir, name, limit=limit, limit_mb=settings.max_file_mb
                        )
                    )
                except _Refused as e:
                    refused.append(
                        {"file": name, "status": "failed", "articles": 0, "detail": str(e)}
                    )
            report = IngestReport()
            if copies:
                progress((0, len(copies)), desc="Reading files", unit="files")

                def on_progress(p: Any) -> None:
                    done = p.files_done >= p.files_total
                    desc = (
                        "Embedding and storing passages" if done else f"Read {Path(p.current).name}"
                    )
                    progress((p.files_done, p.files_total), desc=desc, unit="files")

                report = assistant.ingest(copies, progress=on_progress)
        except Exception as e:
            raise _error(e, "indexing the files") from e
        if copies:
            indexed = {r.path for r in assistant.articles()}
            for copy in copies:  # keep no copy of a file that gave nothing
                if str(copy.resolve()) not in indexed:
                    copy.unlink(missing_ok=True)
        summary = report.to_dict()
        rows = refused + ingest_rows(report, uploads_dir.resolve())
        summary["files"] = rows
        summary["failed"] = [
            {"file": r["file"], "error": r["detail"]} for r in rows if r["status"] == "failed"
        ]
        return summary

    def show_ingest(report: Any, outlets: list[str] | None, query: str | None) -> tuple[Any, ...]:
        report = report if isinstance(report, dict) else {}
        rows = report.get("files") or []
        failed = [r for r in rows if r.get("status") == "failed"]
        if failed:
            listed = "; ".join(f"{r['file']}: {r['detail']}" for r in failed[:3])
            more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
            files = f"{len(failed)} file{'s' if len(failed) != 1 else ''}"
            gr.Warning(_toast(f"{files} could not be indexed: {listed}{more}"))
        elif rows:
            gr.Info(f"Indexed {len(rows)} file{'s' if len(rows) != 1 else ''}.")
        return (render_ingest(rows, report), None, *refresh(outlets, query))

    def remove_article(
        outlets: list[str] | None, query: str | None, evt: gr.EventData
    ) -> tuple[Any, ...]:
        data = evt._data if isinstance(evt._data, dict) else {}
        article_id = data.get("remove")
        try:
            records = {r.id: r for r in assistant.articles()}
            record = records.get(article_id) if isinstance(article_id, str) else None
            if record is None:
                gr.Warning("That article is no longer indexed; the list is up to date now.")
            else:
                assistant.remove([record.id])
                _forget_upload(record.path, uploads_dir, assistant)
                gr.Info(_toast(f"Removed “{record.title or record.id}”."))
        except Exception as e:
            raise _error(e, "removing the article") from e
        return refresh(outlets, query)

    def search_articles(query: str | None) -> str:
        try:
            return render_article_list(assistant.articles(), query or "")
        except Exception as e:
            raise _error(e, "searching the articles") from e

    # -- the API (gradio_client) ----------------------------------------------------------

    def ask(
        question: str,
        outlets: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        history: list[list[str]] | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the indexed articles: the answer text with [n] markers,
        `refused`, `unsupported` sentences and `citations` (article, quote, offsets)."""
        try:
            filters = Filters.parse(outlets, since, until)
            answer = assistant.ask(
                question, history=_history(history), where=filters.search_filter()
            )
        except Exception as e:
            raise _error(e, "answering") from e
        return {**answer.to_dict(), "filters": filters.to_dict()}

    def articles() -> list[dict[str, Any]]:
        """Every indexed article (id, title, outlet, date, URL), newest first."""
        try:
            return [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "published_at": r.published_at,
                    "url": r.url,
                    "chunks": len(r.chunk_ids),
                }
                for r in assistant.articles()
            ]
        except Exception as e:
            raise _error(e, "listing the articles") from e

    def remove(article_ids: list[str]) -> dict[str, Any]:
        """Remove indexed articles by id; returns how many were removed."""
        try:
            records = {r.id: r for r in assistant.articles()}
            unknown = [a for a in article_ids if a not in records]
            if unknown:
                raise UsageError(f"no indexed article has the id {unknown[0]!r}")
            removed = assistant.remove(list(article_ids)) if article_ids else 0
            for article_id in article_ids:
                _forget_upload(records[article_id].path, uploads_dir, assistant)
        except Exception as e:
            raise _error(e, "removing articles") from e
        return {"removed": removed}

    def stats() -> dict[str, Any]:
        """What is indexed: articles, chunks, outlets, embedding model, store, backend."""
        try:
            return assistant.stats().to_dict()
        except Exception as e:
            raise _error(e, "reading the index") from e

    # -- the page -------------------------------------------------------------------------

    # Gradio finds EventData/SelectData arguments by their type hints, which this module
    # (with postponed annotations and a lazy gradio import) cannot resolve by name.
    respond_example.__annotations__["evt"] = gr.SelectData
    open_source.__annotations__["evt"] = gr.EventData
    remove_article.__annotations__["evt"] = gr.EventData
    ingest_files.__annotations__["progress"] = gr.Progress

    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(
        title="News Assistant",
        analytics_enabled=False,
        delete_cache=(UPLOAD_CACHE_SECONDS, UPLOAD_CACHE_SECONDS),
    ) as app:
        conversation = gr.BrowserState([], storage_key=STORAGE_KEY, secret=secret)
        with gr.Row(elem_classes="app-header-row"):
            gr.HTML(
                '<div class="app-header"><h1>News Assistant</h1><span class="tagline">'
                "Ask about your articles — every answer links to the sentences it comes "
                "from.</span></div>",
                js_on_load=None,
            )
        status = gr.HTML(render_status(assistant.backend_label, 0, 0), js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    chat = gr.Chatbot(
                        elem_id="chat",
                        label="Conversation",
                        show_label=False,
                        height=560,
                        render_markdown=False,
                        sanitize_html=True,
                        feedback_options=None,
                        buttons=[],
                        placeholder=(
                            "**Ask a question about your news articles.**  \n"
                            "Each answer quotes its sources; click a number to read it."
                        ),
                        examples=[{"text": q} for q in EXAMPLES],
                    )
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(
                            elem_id="question",
                            show_label=False,
                            placeholder="Ask about your articles, e.g. Who is GEM partnering with?",
                            lines=1,
                            max_lines=6,
                            scale=6,
                            autofocus=True,
                            submit_btn=False,
                        )
                        ask_button = gr.Button(
                            "Ask", variant="primary", scale=1, min_width=80, elem_id="ask"
                        )
                    with gr.Accordion(
                        "Filters: all outlets, any date", open=False, elem_id="filters"
                    ) as filter_box:
                        outlets = gr.Dropdown(
                            label="Outlets",
                            info="Answer only from these outlets (none chosen = all).",
                            choices=[],
                            multiselect=True,
                            elem_id="filter-outlets",
                        )
                        with gr.Row(equal_height=True):
                            since = gr.DateTime(
                                label="Published from",
                                include_time=False,
                                type="string",
                                elem_id="filter-since",
                            )
                            until = gr.DateTime(
                                label="Published until",
                                include_time=False,
                                type="string",
                                elem_id="filter-until",
                            )
                        with gr.Row(equal_height=True):
                            gr.HTML(
                                '<div class="filters-hint">Filters apply to the next '
                                "question; each answer says which it used.</div>",
                                js_on_load=None,
                            )
                            clear_filters = gr.Button(
                                "Clear filters", size="sm", variant="secondary", scale=0
                            )
                    with gr.Row():
                        gr.HTML(
                            '<div class="chat-hint">Follow-up questions use the '
                            "conversation; the chat is kept in this browser.</div>",
                            js_on_load=None,
                        )
                        new_chat = gr.Button(
                            "New conversation",
                            size="sm",
                            variant="secondary",
                            scale=0,
                            min_width=160,
                            elem_id="new-chat",
                        )
                with gr.Column(scale=2, min_width=320):
                    viewer = gr.HTML(
                        render_viewer_hint(),
                        elem_id="source-viewer",
                        js_on_load=_static("viewer.js"),
                    )
            with gr.Tab("Articles", id="articles-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    # No file_types: Gradio would refuse the whole upload for one file of
                    # another type; ingest_files refuses that file alone, in words.
                    files = gr.File(
                        label="Add articles (.txt .md .html .json .jsonl .pdf)",
                        file_count="multiple",
                        type="filepath",
                        elem_id="upload",
                    )
                    index_button = gr.Button(
                        "Index files", variant="primary", elem_id="index-files"
                    )
                    results = gr.HTML(
                        render_ingest([], {}),
                        elem_id="ingest-results",
                        js_on_load=None,
                        min_height=40,
                    )
                    report = gr.JSON(label="report", visible=False)
                    search = gr.Textbox(
                        label="Indexed articles",
                        placeholder="Search by title, outlet, date or id",
                        elem_id="article-search",
                    )
                    article_list = gr.HTML(
                        elem_id="article-list", js_on_load=_static("articles.js")
                    )
                with gr.Column(scale=2, min_width=300):
                    gr.HTML('<h3 class="stats-heading">Index</h3>', js_on_load=None)
                    index_stats = gr.HTML(elem_id="index-stats", js_on_load=None)

        views = [status, outlets, article_list, index_stats]
        app.load(refresh, [outlets, search], views, **private)
        app.load(restore, [conversation], [chat], **private)

        chat_inputs = [question, conversation, outlets, since, until]
        chat_outputs = [question, chat, conversation]
        gr.on(
            [question.submit, ask_button.click],
            respond,
            chat_inputs,
            chat_outputs,
            show_progress="hidden",
            **private,
        )
        chat.example_select(
            respond_example, chat_inputs[1:], chat_outputs, show_progress="hidden", **private
        )
        viewer.click(open_source, [conversation], [viewer], show_progress="hidden", **private)

        def start_over() -> tuple[Any, ...]:
            return [], [], render_viewer_hint()

        new_chat.click(start_over, None, [chat, conversation, viewer], **private)
        chat.clear(start_over, None, [chat, conversation, viewer], **private)
        gr.on(
            [outlets.change, since.change, until.change],
            describe_filters,
            [outlets, since, until],
            [filter_box],
            show_progress="hidden",
            **private,
        )
        clear_filters.click(lambda: ([], None, None), None, [outlets, since, until], **private)

        writes: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "index-writes"}
        index_button.click(
            ingest_files,
            [files],
            [report],
            api_name="ingest",
            show_progress_on=[results],
            **writes,
        ).success(show_ingest, [report, outlets, search], [results, files, *views], **private)
        search.change(
            search_articles,
            [search],
            [article_list],
            show_progress="hidden",
            trigger_mode="always_last",
            **private,
        )
        article_list.click(remove_article, [outlets, search], views, **writes, **private)

        gr.api(ask, api_name="ask")
        gr.api(articles, api_name="articles")
        gr.api(remove, api_name="remove", **writes)
        gr.api(stats, api_name="stats")

    app.queue(default_concurrency_limit=8)
    return app


def _forget_upload(path: str, uploads_dir: Path, assistant: NewsAssistant) -> None:
    """Delete an uploaded file's copy once no indexed article comes from it."""
    try:
        target = Path(path)
        if target.parent.resolve() != uploads_dir.resolve():
            return  # only files the page uploaded, never the user's own folders
        if any(r.path == path for r in assistant.articles()):
            return
        target.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the uploaded copy %s", path, exc_info=True)


def _theme() -> Any:
    import gradio as gr

    # System fonts: the page must not fetch fonts from the internet.
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    max_file_mb: float = 50.0,
    auth: Sequence[tuple[str, str]] = (),
    quiet: bool = False,
) -> str:
    """Serve `app` on host:port with the page's theme and styles; returns the local URL.
    With `auth` (user, password) pairs, the page and every API call need a login.
    `max_file_mb` is the app's per-file limit (ASSISTANT_MAX_FILE_MB): the server stops any
    file over UPLOAD_CAP_FACTOR times it while it arrives.
    With `block=False` it returns at once and the server runs until `app.close()`."""
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        show_error=False,
        max_file_size=int(UPLOAD_CAP_FACTOR * max_file_mb * 1024 * 1024),
        auth=list(auth) or None,
        auth_message=AUTH_MESSAGE if auth else None,
        theme=_theme(),
        css=_static("ui.css"),
        footer_links=["api"],
        ssr_mode=False,
        quiet=quiet,
    )
    return str(url)


def exposure_warning(host: str, *, login: bool) -> str | None:
    """What to tell the person starting the UI when `host` is reachable from other machines
    and no login is configured; None when it binds to loopback or needs a login."""
    name = host.strip().strip("[]").lower()
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name in ("localhost", "localhost.")
    if loopback or login:
        return None
    return (
        f"the web UI listens on {host}, so other machines can reach it, and no login is "
        "set: anyone who reaches it can read, add and remove articles. Set ASSISTANT_AUTH "
        "(user:password pairs) or ASSISTANT_AUTH_FILE, and put a TLS reverse proxy in "
        "front (README: Running it safely); or bind to 127.0.0.1 (ASSISTANT_HOST)."
    )


def serve(assistant: NewsAssistant, *, host: str, port: int) -> None:
    """Build the page and serve it until interrupted, with the login ASSISTANT_AUTH /
    ASSISTANT_AUTH_FILE configure; warns when it is exposed without one."""
    settings = assistant.settings
    logins = settings.logins()
    warning = exposure_warning(host, login=bool(logins))
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    # Load the models and the keyword index now, not on the first question (and not by
    # eight at once).
    assistant.searcher.retrieve("warm up", k=1)
    app = build_app(assistant)
    url = launch(
        app, host=host, port=port, max_file_mb=settings.max_file_mb, auth=logins, block=False
    )
    entry = serve_cli(app, assistant, url=url)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwind, so the server file is withdrawn

    # Both, explicitly: a server started in the background of a script inherits an
    # ignored SIGINT, and a service manager stops it with SIGTERM.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        app.block_thread()
    finally:
        entry.withdraw(settings.data_dir)


def serve_cli(app: gr.Blocks, assistant: NewsAssistant, *, url: str) -> ServerFile:
    """Answer `assistant ask` for this data dir: add the `/cli/ask` route (it needs the
    token written to `<data dir>/server.json`, whatever the page's login) and announce it."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    loopback = _loopback_url(url)
    entry = ServerFile.announce(assistant.settings.data_dir, url=loopback)

    def cli_ask(request: Request, payload: dict[str, Any]) -> JSONResponse:
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {entry.token}".encode()):
            return JSONResponse({"error": "a valid server token is required"}, status_code=401)
        try:
            return JSONResponse(answer_payload(assistant, payload))
        except UserError as e:
            return JSONResponse({"error": str(e), "kind": "usage"}, status_code=400)
        except AssistantError as e:
            return JSONResponse({"error": str(e), "kind": "runtime"}, status_code=500)
        except Exception as e:
            log.exception("answering a CLI question failed")
            return JSONResponse(
                {"error": f"unexpected {type(e).__name__}: {e}", "kind": "runtime"},
                status_code=500,
            )

    # FastAPI reads the parameters' types, which postponed annotations hide from it.
    cli_ask.__annotations__ = {"request": Request, "payload": dict, "return": JSONResponse}
    app.server_app.add_api_route(ASK_ROUTE, cli_ask, methods=["POST"], include_in_schema=False)
    # Gradio's catch-all routes come first otherwise; the new route must be matched first.
    routes = app.server_app.router.routes
    routes.insert(0, routes.pop())
    return entry


def _loopback_url(url: str) -> str:
    """The server's URL as a process on this machine reaches it (0.0.0.0 -> 127.0.0.1)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme or "http", netloc, "", "", "")).rstrip("/")

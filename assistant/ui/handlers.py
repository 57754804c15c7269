"""What the page and its API do: `UIHandlers`, one object holding the `NewsAssistant`, with a
method per event. `app.py` wires them to components; a test can call them directly, no
server needed (they return what Gradio shows, or gradio update objects).

The handlers call the same `NewsAssistant` API as the CLI and keep no per-session state of
their own: a conversation lives in the browser (`gr.BrowserState`, i.e. localStorage), so it
survives a reload, its citations stay with their answers, and people chatting at the same
time never see each other's answers. Errors reach the person as `gr.Error` (see `errors.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from index.errors import UsageError
from index.ingestion import IngestReport

from ..core import NewsAssistant
from ..export import answer_markdown
from ..models import Turn
from ..text import clean_question
from .chat import MAX_STORED_TURNS, ChatTurn, Filters, dump_turns, load_turns
from .errors import plain, reported, toast, ui_error
from .render import (
    feed_kind,
    ingest_rows,
    render_article_list,
    render_draft,
    render_error,
    render_feed_added,
    render_feed_list,
    render_ingest,
    render_messages,
    render_pending,
    render_stats,
    render_status,
    render_sync,
    render_timeline,
    render_tracked,
    render_tracked_badge,
    render_user,
    render_viewer,
    render_viewer_hint,
    render_viewer_missing,
)
from .uploads import UPLOAD_DIR, copy_uploads, forget_upload

__all__ = ["HISTORY_TURNS", "UIHandlers", "api_history"]

# How many earlier exchanges a follow-up question is read with.
HISTORY_TURNS = 6

# Gradio reads these methods' type hints (EventData, SelectData) at run time, so every name in
# a handler's signature is imported for real above, not only for type checking.


def api_history(raw: Any) -> list[Turn]:
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


def _event_data(evt: gr.EventData) -> dict[str, Any]:
    """What the page's script sent with a click (see static/*.js); {} when not an object."""
    return evt._data if isinstance(evt._data, dict) else {}


class UIHandlers:
    """The page's and the API's event handlers for one `NewsAssistant`."""

    def __init__(self, assistant: NewsAssistant) -> None:
        self.assistant = assistant
        self.uploads_dir = assistant.settings.data_dir / UPLOAD_DIR

    # -- the index as the page shows it ---------------------------------------------------

    @reported("reading the index")
    def refresh(self, selected: list[str] | None, query: str | None) -> tuple[Any, ...]:
        """Status line, outlet choices, article list and stats, all from the index now."""
        stats = self.assistant.stats()
        records = self.assistant.articles()
        names = sorted({r.source for r in records if r.source}, key=str.casefold)
        keep = [s for s in (selected or []) if s in names]
        return (
            render_status(stats.backend, stats.articles, len(names)),
            gr.Dropdown(choices=names, value=keep),
            render_article_list(records, query or ""),
            render_stats(stats, outlets=len(names)),
        )

    # -- the chat -------------------------------------------------------------------------

    def respond(
        self,
        question: str,
        conversation: Any,
        outlets: list[str] | None,
        since: str | None,
        until: str | None,
    ) -> Iterator[tuple[Any, Any, Any]]:
        """Stream the answer to `question` into the chat; store the checked answer.

        Yields (question box, chat messages, stored conversation); a failure is shown in the
        chat and a toast, and the question stays in the box.
        """
        if not (question or "").strip():
            gr.Warning("Type a question first.")
            return
        with reported("reading your question"):
            text = clean_question(question)
            filters = Filters.parse(outlets, since, until)
        turns = load_turns(conversation)
        history = [Turn(t.question, t.answer.answer) for t in turns[-HISTORY_TURNS:]]
        shown = render_messages(turns)
        user = {"role": "user", "content": render_user(text)}
        yield "", [*shown, user, {"role": "assistant", "content": render_pending()}], gr.skip()
        draft, final = "", None
        where = filters.search_filter()
        try:
            for chunk in self.assistant.stream(text, history=history, where=where):
                if chunk.answer is not None:
                    final = chunk.answer
                elif chunk.text or chunk.restart:
                    # A restart voids the draft so far (a fallback backend starts over).
                    draft = chunk.text if chunk.restart else draft + chunk.text
                    bubble = {"role": "assistant", "content": render_draft(draft)}
                    yield gr.skip(), [*shown, user, bubble], gr.skip()
        except Exception as e:  # the edge: show why in the chat and a toast, keep the question
            message = ui_error(e, "answering").message
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
        self,
        conversation: Any,
        outlets: list[str] | None,
        since: str | None,
        until: str | None,
        evt: gr.SelectData,
    ) -> Iterator[tuple[Any, Any, Any]]:
        """`respond` to the example question clicked."""
        value = evt.value
        question = value.get("text", "") if isinstance(value, dict) else str(value or "")
        yield from self.respond(question, conversation, outlets, since, until)

    def restore(self, conversation: Any) -> tuple[Any, gr.Textbox, gr.Button]:
        """The chat's messages for the conversation the browser kept (none kept: the chat
        as it is, so an example question clicked meanwhile keeps its answer), and the
        question box and Ask button opened."""
        turns = load_turns(conversation)
        shown = render_messages(turns) if turns else gr.skip()
        return shown, gr.Textbox(interactive=True), gr.Button(interactive=True)

    def start_over(self) -> tuple[Any, ...]:
        """An empty chat, conversation and source viewer."""
        return [], [], render_viewer_hint()

    def open_source(self, conversation: Any, evt: gr.EventData) -> str:
        """The source viewer for the citation clicked (its turn and number)."""
        data = _event_data(evt)
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
        with reported("opening the source"):
            try:
                record, body = self.assistant.article(citation.article_id)
            except UsageError:  # removed since the answer was given
                return render_viewer(citation, turn=turn, record=None, body=None)
        return render_viewer(citation, turn=turn, record=record, body=body)

    def describe_filters(
        self, outlets: list[str] | None, since: str | None, until: str | None
    ) -> Any:
        """The filter box's title: what the next question will be limited to."""
        try:
            described = Filters.parse(outlets, since, until).describe()
        except UsageError as e:
            return gr.Accordion(label=f"Filters: {plain(str(e))}")
        label = f"Filters: {described}" if described else "Filters: all outlets, any date"
        return gr.Accordion(label=label)

    def clear_filters(self) -> tuple[Any, ...]:
        """No outlets, no dates."""
        return [], None, None

    # -- the Articles tab -----------------------------------------------------------------

    # Gradio finds the progress tracker by its default value, hence the call in the default.
    def ingest_files(
        self,
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> dict[str, Any]:
        """Index uploaded files; the report as data (one row per file). A file of a type
        the loaders cannot read, or over ASSISTANT_MAX_FILE_MB, gets a failed row and is
        neither copied nor indexed; the others are."""
        if not files:
            raise gr.Error(
                "Choose one or more files first: drop them on the upload box or click it.",
                print_exception=False,
            )
        with reported("indexing the files"):
            uploads = copy_uploads(
                files, self.uploads_dir, limit_mb=self.assistant.settings.max_file_mb
            )
            report = IngestReport()
            if uploads.copies:
                progress((0, len(uploads.copies)), desc="Reading files", unit="files")

                def on_progress(p: Any) -> None:
                    done = p.files_done >= p.files_total
                    desc = (
                        "Embedding and storing passages" if done else f"Read {Path(p.current).name}"
                    )
                    progress((p.files_done, p.files_total), desc=desc, unit="files")

                report = self.assistant.ingest(uploads.copies, progress=on_progress)
        if uploads.copies:  # keep no copy of a file that gave nothing
            uploads.drop_unindexed({r.path for r in self.assistant.articles()})
        summary = report.to_dict()
        rows = uploads.refused + ingest_rows(report, self.uploads_dir.resolve())
        summary["files"] = rows
        summary["failed"] = [
            {"file": r["file"], "error": r["detail"]} for r in rows if r["status"] == "failed"
        ]
        return summary

    def show_ingest(
        self, report: Any, outlets: list[str] | None, query: str | None
    ) -> tuple[Any, ...]:
        """The upload's results, an emptied upload box and the index views; a toast says
        which files failed (or how many were indexed)."""
        report = report if isinstance(report, dict) else {}
        rows = report.get("files") or []
        failed = [r for r in rows if r.get("status") == "failed"]
        if failed:
            listed = "; ".join(f"{r['file']}: {r['detail']}" for r in failed[:3])
            more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
            files = f"{len(failed)} file{'s' if len(failed) != 1 else ''}"
            gr.Warning(toast(f"{files} could not be indexed: {listed}{more}"))
        elif rows:
            gr.Info(f"Indexed {len(rows)} file{'s' if len(rows) != 1 else ''}.")
        return (render_ingest(rows, report), None, *self.refresh(outlets, query))

    def remove_article(
        self, outlets: list[str] | None, query: str | None, evt: gr.EventData
    ) -> tuple[Any, ...]:
        """Remove the article whose Remove button was clicked; the index views afterwards."""
        article_id = _event_data(evt).get("remove")
        with reported("removing the article"):
            records = {r.id: r for r in self.assistant.articles()}
            record = records.get(article_id) if isinstance(article_id, str) else None
            if record is None:
                gr.Warning("That article is no longer indexed; the list is up to date now.")
            else:
                self.assistant.remove([record.id])
                self._forget_upload(record.path)
                gr.Info(toast(f"Removed “{record.title or record.id}”."))
        return self.refresh(outlets, query)

    @reported("searching the articles")
    def search_articles(self, query: str | None) -> str:
        """The article list narrowed to `query`."""
        return render_article_list(self.assistant.articles(), query or "")

    # -- coverage at a glance (the Articles tab) ----------------------------------------

    @reported("counting the articles")
    def coverage_plot(
        self,
        outlets: list[str] | None,
        since: Any,
        until: Any,
        per: str | None,
    ) -> Any:
        """Articles per outlet per day or week, within the chat's filters, for the bar plot."""
        import pandas as pd

        from ..coverage import coverage

        filters = Filters.parse(outlets, since, until)
        rows = coverage(
            self.assistant.articles(),
            per="week" if per == "week" else "day",
            sources=filters.sources,
            since=filters.since,
            until=filters.until,
        )
        return pd.DataFrame(
            {
                "period": [r.period.isoformat() for r in rows],
                "outlet": [r.source for r in rows],
                "articles": [r.articles for r in rows],
            }
        )

    @reported("building the timeline")
    def timeline_view(
        self, subject: str | None, outlets: list[str] | None, since: Any, until: Any
    ) -> tuple[Any, str]:
        """A timeline within the chat's filters: its dated strip (a point per story, in date
        order, as high as the number of outlets that ran it) and its list."""
        import pandas as pd

        from ..coverage import timeline_strip
        from ..models import Timeline

        filters = Filters.parse(outlets, since, until)
        text = (subject or "").strip()
        found = (
            self.assistant.timeline(clean_question(text), where=filters.search_filter())
            if text
            else Timeline(subject="")
        )
        points = timeline_strip(found)
        strip = pd.DataFrame(
            {
                "date": [p.day.isoformat() for p in points],
                "outlets": [p.outlets for p in points],
                "outlet": [p.source for p in points],
                "headline": [f"[{p.n}] {p.title}" for p in points],
            }
        )
        # Room above the highest point, so none sits on the plot's edge.
        top = max((p.outlets for p in points), default=1) + 1
        return gr.ScatterPlot(value=strip, y_lim=[0, top]), render_timeline(found)

    # -- the Tracked tab ------------------------------------------------------------------

    @reported("reading the tracked questions")
    def tracked_view(self, seen: float | None) -> tuple[str, str]:
        """The header's badge and the Tracked tab: questions whose answer new articles
        changed after `seen` (when this browser last opened the tab) are counted and marked."""
        questions = self.assistant.tracked()
        since = float(seen or 0.0)
        fresh = sum(1 for q in questions if q.changed_at > since)
        return render_tracked_badge(fresh), render_tracked(questions, seen=since)

    @reported("reading the tracked questions")
    def tracked_badge(self, seen: float | None) -> str:
        """The header's badge alone: how many questions changed after `seen`."""
        since = float(seen or 0.0)
        return render_tracked_badge(
            sum(1 for q in self.assistant.tracked() if q.changed_at > since)
        )

    def tracked_seen(self) -> float:
        """The Tracked tab was opened: its updates count as seen from now."""
        return time.time()

    def _forget_upload(self, path: str) -> None:
        forget_upload(path, self.uploads_dir, (r.path for r in self.assistant.articles()))

    # -- the Feeds panel ------------------------------------------------------------------

    @reported("listing the feeds")
    def feed_list(self) -> str:
        """The followed feeds as the panel shows them."""
        return render_feed_list(self.feeds())

    def add_feed(self, url: str | None) -> dict[str, Any]:
        """Follow a feed or sitemap (or the feed a page names), its kind detected by
        fetching it once: `url`, `kind`, `title`, `new` (false when it was followed
        already), `entries` and `found_on` (the page that named it, or "").

        A server bound to a non-loopback address does not fetch loopback, private or
        link-local addresses (see `serve`)."""
        url = (url or "").strip()
        if not url:
            raise gr.Error(
                "Type the URL of a feed, a sitemap or a page that names its feed first.",
                print_exception=False,
            )
        with reported("adding the feed"):
            added = self.assistant.add_feed(url)
        r = added.record
        return {
            "url": r.url,
            "kind": r.kind,
            "title": r.title,
            "new": added.new,
            "entries": added.entries,
            "found_on": added.found_on,
        }

    def show_added(self, added: Any) -> tuple[Any, ...]:
        """An emptied URL box, what was found, and the feed list."""
        added = added if isinstance(added, dict) else {}
        gr.Info(toast(plain(_added_line(added))))
        return "", render_feed_added(added), self.feed_list()

    @reported("removing the feed")
    def remove_feed(self, url: str, purge: bool = False) -> dict[str, Any]:
        """Stop following a feed; `purge` also removes the articles only it gave. Returns
        how many articles were removed."""
        return {"removed": self.assistant.remove_feed((url or "").strip(), purge=bool(purge))}

    def remove_feed_clicked(
        self, purge: bool, outlets: list[str] | None, query: str | None, evt: gr.EventData
    ) -> tuple[Any, ...]:
        """Remove the feed whose Remove button was clicked (and its articles when the box
        is ticked); the feed list and the index views afterwards."""
        url = _event_data(evt).get("remove_feed")
        with reported("removing the feed"):
            known = {f.record.url for f in self.assistant.feeds()}
            if not isinstance(url, str) or url not in known:
                gr.Warning("That feed is no longer followed; the list is up to date now.")
            else:
                removed = self.assistant.remove_feed(url, purge=bool(purge))
                also = f" and removed {removed} of its articles" if purge else ""
                gr.Info(toast(f"No longer following {url}{also}."))
        return (self.feed_list(), *self.refresh(outlets, query))

    # Gradio finds the progress tracker by its default value, hence the call in the default.
    def sync_feeds(self, progress: gr.Progress = gr.Progress()) -> dict[str, Any]:  # noqa: B008
        """Fetch every followed feed once; new and changed articles go in. The report as
        data (`sync --json`'s object, with a `per_feed` row per feed)."""
        progress(0, desc="Waiting for the store")

        def on_progress(p: Any) -> None:
            if p.stage == "feeds":
                progress((p.done, p.total), desc="Reading feeds", unit="feeds")
            else:
                progress((p.done, p.total), desc="Fetching and indexing pages", unit="pages")

        def on_wait(message: str) -> None:
            progress(0, desc=plain(message))

        with reported("syncing the feeds"):
            report = self.assistant.sync(progress=on_progress, on_wait=on_wait)
        return report.to_dict()

    def show_sync(
        self, report: Any, outlets: list[str] | None, query: str | None
    ) -> tuple[Any, ...]:
        """What the sync did, the feed list and the index views; a toast when something
        failed."""
        report = report if isinstance(report, dict) else {}
        failed = report.get("failed") or []
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            gr.Warning(toast(f"{first.get('url')}: {first.get('error')}{more}"))
        return (render_sync(report), self.feed_list(), *self.refresh(outlets, query))

    # -- the API (gradio_client) ----------------------------------------------------------

    @reported("answering")
    def ask(
        self,
        question: str,
        outlets: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        history: list[list[str]] | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the indexed articles: the answer text with [n] markers,
        `refused`, `unsupported` sentences, `citations` (article, quote, offsets) and
        `markdown` (the answer with footnote citations)."""
        filters = Filters.parse(outlets, since, until)
        answer = self.assistant.ask(
            question, history=api_history(history), where=filters.search_filter()
        )
        markdown = answer_markdown(answer)
        return {**answer.model_dump(), "filters": filters.to_dict(), "markdown": markdown}

    @reported("building the timeline")
    def timeline(
        self,
        subject: str,
        outlets: list[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """The dated events the indexed articles report on a subject, oldest first, one per
        story: `items` (each `date`, `published_at`, `event` when the sentence dates it,
        `citation` with the quote, offsets and `also_reported_by`, `summary`), and
        `markdown` (the timeline as a list with footnote citations)."""
        from ..timeline import timeline_answer

        filters = Filters.parse(outlets, since, until)
        subject = clean_question(subject)
        found = self.assistant.timeline(subject, where=filters.search_filter())
        markdown = answer_markdown(timeline_answer(subject, found))
        return {**found.model_dump(), "filters": filters.to_dict(), "markdown": markdown}

    @reported("listing the articles")
    def articles(self) -> list[dict[str, Any]]:
        """Every indexed article (id, title, outlet, date, URL), newest first."""
        return [
            {
                "id": r.id,
                "title": r.title,
                "source": r.source,
                "published_at": r.published_at,
                "url": r.url,
                "chunks": len(r.chunk_ids),
            }
            for r in self.assistant.articles()
        ]

    @reported("removing articles")
    def remove(self, article_ids: list[str]) -> dict[str, Any]:
        """Remove indexed articles by id; returns how many were removed."""
        records = {r.id: r for r in self.assistant.articles()}
        unknown = [a for a in article_ids if a not in records]
        if unknown:
            raise UsageError(f"no indexed article has the id {unknown[0]!r}")
        removed = self.assistant.remove(list(article_ids)) if article_ids else 0
        for article_id in article_ids:
            self._forget_upload(records[article_id].path)
        return {"removed": removed}

    @reported("reading the index")
    def stats(self) -> dict[str, Any]:
        """What is indexed: articles, chunks, outlets, embedding model, store, backend."""
        return self.assistant.stats().to_dict()

    @reported("listing the feeds")
    def feeds(self) -> list[dict[str, Any]]:
        """The followed feeds: url, kind, title, last_sync (UTC), articles, last_error."""
        return [f.to_dict() for f in self.assistant.feeds()]


def _added_line(added: dict[str, Any]) -> str:
    """The toast after adding a feed."""
    title = added.get("title") or added.get("url") or "the feed"
    if not added.get("new"):
        return f"Already following {title}"
    kind = feed_kind(str(added.get("kind") or ""))
    return f"Following {title} ({kind}); Sync now fetches its articles"

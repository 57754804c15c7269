"""The `assistant` command: ingest, feeds, sync, watch, ask, timeline, stats, articles, stories,
track, remove, serve, mcp, eval.

Exit status: 0 success, 1 when something failed at run time (a file, the store, the LLM),
2 for usage and configuration errors.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from collections.abc import Callable

    from index import IngestProgress, IngestReport, SyncProgress, SyncReport

    from .core import NewsAssistant
    from .models import Answer, Timeline, Turn
    from .settings import Settings
    from .tracking import TrackedUpdate

__all__ = ["cli", "main"]


def _settings(ctx: click.Context) -> Settings:
    """The settings, read once (without loading the assistant)."""
    from .settings import load_settings

    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        root.obj["settings"] = load_settings()
    return root.obj["settings"]


def _assistant(ctx: click.Context) -> NewsAssistant:
    from .core import NewsAssistant

    settings = _settings(ctx)
    root = ctx.find_root()
    if "assistant" not in root.obj:
        assistant = root.obj["assistant"] = NewsAssistant(settings)
        root.call_on_close(lambda: assistant.finish_background(on_wait=_say_finishing))
    return root.obj["assistant"]


def _say_finishing(work: str) -> None:
    click.echo(
        f"Finishing the {work} before exiting, so that the next run starts at once "
        "(Ctrl-C stops it; the next run builds it again).",
        err=True,
    )


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _safe(text: str) -> str:
    """Article text for a terminal: control characters (escape sequences) removed."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-assistant")
def cli() -> None:
    """Ask questions of your news articles; every answer cites the sentences it comes from.

    Settings come from environment variables (ASSISTANT_DATA_DIR, ASSISTANT_LLM, ...);
    see the README.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again from PATHS.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[str, ...], rebuild: bool, as_json: bool) -> None:
    """Index articles from files and folders (recursively): .txt .md .html .json .jsonl .pdf,
    and from web pages by URL (https://...).

    A URL of a feed or sitemap indexes the pages it lists now, once; `assistant feeds add`
    follows it."""
    assistant = _assistant(ctx)
    progress: Callable[[IngestProgress], None] | None = None
    if not as_json and sys.stderr.isatty():

        def show(p: IngestProgress) -> None:
            line = f"\r{p.files_done}/{p.files_total} files, {p.chunks_written} chunks"
            click.echo(line, nl=False, err=True)

        progress = show

    def waiting(message: str) -> None:
        click.echo(message, err=True)

    report = assistant.ingest(list(paths), rebuild=rebuild, progress=progress, on_wait=waiting)
    if progress:
        click.echo("", err=True)
    updates = _check_tracked(assistant)
    if as_json:
        _echo_json({**report.to_dict(), "tracked": [u.to_dict() for u in updates or []]})
    else:
        _print_report(report)
        _print_updates(updates or [], quiet=True)
    ctx.exit(1 if report.failed or updates is None else 0)


def _print_report(report: IngestReport) -> None:
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicate, {report.removed} removed; "
        f"{report.chunks} chunks written in {report.seconds:.1f} s"
    )
    for outcome in report.files:
        if outcome.status == "duplicate":
            click.echo(f"duplicate: {_safe(outcome.path)}: {_safe(outcome.detail)}")
    for note in report.notes:
        click.echo(f"note: {_safe(note)}")
    for error in report.failed:
        click.echo(f"failed: {_safe(error.path)}: {_safe(error.reason)}", err=True)


@cli.group()
def feeds() -> None:
    """Follow feeds and news sitemaps: add, list, remove (`assistant sync` fetches them)."""


@feeds.command("add")
@click.argument("url")
@click.pass_context
def feeds_add(ctx: click.Context, url: str) -> None:
    """Follow URL: an RSS, Atom or JSON feed, a (news) sitemap or sitemap index, or a page
    that names its feed. Its articles come in at the next `assistant sync`."""
    added = _assistant(ctx).add_feed(url)
    r = added.record
    if added.found_on:
        click.echo(f"{_safe(added.found_on)} names its feed: {_safe(r.url)}")
    if not added.new:
        click.echo(f"already following {_safe(r.url)} ({r.kind}, {_safe(r.title)})")
        return
    one, many = (
        ("child sitemap", "child sitemaps") if r.kind == "sitemap-index" else ("entry", "entries")
    )
    what = f"{added.entries} {one if added.entries == 1 else many}"
    click.echo(f"following {_safe(r.url)} ({r.kind}, {_safe(r.title)}, {what})")
    click.echo("run `assistant sync` to fetch its articles")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """List the followed feeds: URL, kind, title, last sync, articles, last error."""
    found = _assistant(ctx).feeds()
    if as_json:
        _echo_json([f.to_dict() for f in found])
        return
    if not found:
        click.echo("no feeds are followed; add one with `assistant feeds add URL`")
        return
    for f in found:
        r = f.record
        click.echo(f"{_safe(r.url)}  ({r.kind}) {_safe(r.title)}")
        line = f"    last sync {r.last_sync or 'never'}, {f.articles} articles"
        click.echo(line + (f", last error: {_safe(r.last_error)}" if r.last_error else ""))


@feeds.command("remove")
@click.argument("url")
@click.option("--purge", is_flag=True, help="Also remove the articles only this feed gave.")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str, purge: bool) -> None:
    """Stop following URL (its articles stay unless --purge)."""
    removed = _assistant(ctx).remove_feed(url, purge=purge)
    click.echo(f"no longer following {_safe(url)}")
    if purge:
        click.echo(f"removed {removed} article{'s' if removed != 1 else ''}")


@cli.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def sync_command(ctx: click.Context, as_json: bool) -> None:
    """Fetch every followed feed once; new and changed articles go in.

    Exit status 0 when everything went in, 1 when a feed or page failed."""
    assistant = _assistant(ctx)
    progress: Callable[[SyncProgress], None] | None = None
    if not as_json and sys.stderr.isatty():

        def show(p: SyncProgress) -> None:
            click.echo(f"\r{p.stage} {p.done}/{p.total}   ", nl=False, err=True)

        progress = show

    def waiting(message: str) -> None:
        click.echo(message, err=True)

    report = assistant.sync(progress=progress, on_wait=waiting)
    if progress:
        click.echo("", err=True)
    updates = _check_tracked(assistant)
    if as_json:
        _echo_json({**report.to_dict(), "tracked": [u.to_dict() for u in updates or []]})
    else:
        _print_sync(report)
        _print_updates(updates or [], quiet=True)
    ctx.exit(1 if report.failed or updates is None else 0)


def _print_sync(report: SyncReport) -> None:
    if not report.feeds:
        click.echo("no feeds are followed; add one with `assistant feeds add URL`", err=True)
        return
    click.echo(
        f"{report.feeds} feed{'s' if report.feeds != 1 else ''} "
        f"({report.not_modified} not modified), {report.entries} entries, "
        f"{report.fetched} pages fetched: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.duplicates} duplicate; "
        f"{report.chunks} chunks written in {report.seconds:.1f} s"
    )
    for note in report.from_entry:
        click.echo(f"from the feed entry: {_safe(note.path)}: {_safe(note.reason)}")
    for error in report.failed:
        click.echo(f"failed: {_safe(error.path)}: {_safe(error.reason)}", err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    metavar="MINUTES",
    help="Minutes between syncs of the followed feeds (default ASSISTANT_SYNC_MINUTES, 30; "
    "fractions allowed, 0.5 = 30 s; 0: no feed syncs).",
)
@click.pass_context
def watch(ctx: click.Context, paths: tuple[str, ...], interval: float | None) -> None:
    """Keep the index up to date until stopped (Ctrl-C or SIGTERM): files and folders in
    PATHS are taken in as files appear or change, and their articles removed when they go;
    the followed feeds are synced every --interval minutes.

    Starts with one pass over PATHS (what changed while nothing watched) and a sync. Each
    pass prints one line, plus one per file that changed or failed."""
    import signal
    import threading

    from .schedule import watch as watch_passes

    assistant = _assistant(ctx)
    minutes = assistant.settings.sync_minutes if interval is None else interval
    if not paths and minutes <= 0:
        raise click.UsageError("nothing to watch: name folders or files, or give --interval > 0")
    stop = threading.Event()

    def waiting(message: str) -> None:
        click.echo(f"{_now()} {message}", err=True)

    passes = watch_passes(assistant, paths, interval=minutes * 60, stop=stop, on_wait=waiting)

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():  # asked twice: stop now
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping (after the file or page at hand; again to stop at once)", err=True)

    # Both, explicitly: a watch started in the background inherits an ignored SIGINT, and a
    # service manager stops it with SIGTERM.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    shown = ", ".join(_safe(p) for p in paths) or "no folders"
    feeds = f"feeds every {minutes:g} min" if minutes > 0 else "no feed syncs"
    click.echo(f"watching {shown}; {feeds}; Ctrl-C stops")
    try:
        for event in passes:
            _print_pass(event)
        click.echo("stopped", err=True)
    except KeyboardInterrupt:
        click.echo("stopped at once; the next ingest or sync finishes what was cut short", err=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _now() -> str:
    from datetime import datetime

    return datetime.now().strftime("%H:%M:%S")


def _print_pass(event: Any) -> None:
    """One line per pass of `watch`, and one per file or page that changed or failed."""
    from .schedule import FilesPass, PassFailed, SyncPass

    at = _now()
    if isinstance(event, PassFailed):
        click.echo(f"{at} {event.what}: failed: {_safe(str(event.error))}", err=True)
        return
    if isinstance(event, SyncPass):
        r = event.report
        click.echo(
            f"{at} feeds: {r.feeds} synced ({r.not_modified} not modified), {r.fetched} pages "
            f"fetched: {r.added} added, {r.updated} updated, {r.unchanged} unchanged, "
            f"{r.duplicates} duplicate; {r.chunks} chunks in {r.seconds:.1f} s"
        )
        for note in r.from_entry:
            click.echo(f"    from the feed entry: {_safe(note.path)}: {_safe(note.reason)}")
        for error in r.failed:
            click.echo(f"    failed: {_safe(error.path)}: {_safe(error.reason)}", err=True)
        return
    assert isinstance(event, FilesPass)
    files = event.report
    what = "files (first pass)" if event.initial else "files"
    click.echo(
        f"{at} {what}: {files.added} added, {files.updated} updated, "
        f"{files.unchanged} unchanged, {files.duplicates} duplicate, {files.removed} removed; "
        f"{files.chunks} chunks in {files.seconds:.1f} s"
    )
    if event.deleted and not event.initial:
        click.echo(f"    gone: {', '.join(_safe(p) for p in event.deleted)}")
    elif event.deleted:
        click.echo(f"    gone since the last run: {len(event.deleted)} files")
    changed = [o for o in files.files if o.status in ("added", "updated", "removed", "duplicate")]
    for outcome in changed[:20]:
        detail = f": {_safe(outcome.detail)}" if outcome.detail else ""
        click.echo(f"    {outcome.status}: {_safe(outcome.path)}{detail}")
    if len(changed) > 20:
        click.echo(f"    ... and {len(changed) - 20} more")
    for error in files.failed:
        click.echo(f"    failed: {_safe(error.path)}: {_safe(error.reason)}", err=True)


def _parse_date(value: str | None, flag: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD", param_hint=flag
        ) from None


@cli.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 50), help="How many chunks to retrieve.")
@click.option("--source", "sources", multiple=True, help="Only this outlet (repeatable).")
@click.option("--since", help="Only articles published on or after YYYY-MM-DD.")
@click.option("--until", help="Only articles published on or before YYYY-MM-DD.")
@click.option(
    "--as-of",
    "as_of",
    help="Answer as if asked on YYYY-MM-DD: “this week”, “yesterday” … count from it "
    "(default today).",
)
@click.option(
    "-c",
    "--continue",
    "follow_up",
    is_flag=True,
    help="A follow-up: continue the last conversation (kept in ASSISTANT_DATA_DIR).",
)
@click.option(
    "--conversation",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the conversation in this file (read if it exists, then extended).",
)
@click.option(
    "--local",
    is_flag=True,
    help="Answer in this process even when `assistant serve` runs on the same data dir.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    help="text (default), json (as --json), or markdown: the answer with footnote citations.",
)
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_of: str | None,
    follow_up: bool,
    conversation: Path | None,
    local: bool,
    as_json: bool,
    output: str,
) -> None:
    """Answer QUESTION from the indexed articles, with numbered sources.

    When `assistant serve` runs on the same data dir, the question goes to it (it has
    the models and the index loaded already) unless --local is given."""
    from .conversation import ConversationFile
    from .models import Turn
    from .text import clean_question

    question = clean_question(question)
    settings = _settings(ctx)
    since_day, until_day = _parse_date(since, "--since"), _parse_date(until, "--until")
    today = _parse_date(as_of, "--as-of")
    chat = ConversationFile(conversation or settings.data_dir / "conversation.json")
    history = chat.load() if (follow_up or conversation) else []
    answer = (
        None if local else _ask_server(settings, question, k, sources, since, until, as_of, history)
    )
    if answer is None:
        from index import SearchFilter

        assistant = _assistant(ctx)
        assistant.require_index()
        where = SearchFilter(sources=sources, since=since_day, until=until_day)
        answer = assistant.ask(question, history=history, k=k, where=where, today=today)
    try:
        chat.save([*history, Turn(answer.question, answer.answer)])
    except OSError as e:
        click.echo(f"warning: could not keep the conversation in {chat.path} ({e})", err=True)
    if as_json or output == "json":
        _echo_json(answer.model_dump())
    elif output == "markdown":
        from .export import answer_markdown

        click.echo(_safe(answer_markdown(answer)), nl=False)
    else:
        _print_answer(answer)


def _ask_server(
    settings: Settings,
    question: str,
    k: int | None,
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_of: str | None,
    history: list[Turn],
) -> Answer | None:
    """The answer of the `assistant serve` running on this data dir; None when none runs."""
    from .local import ServerFile, ask_server
    from .models import Answer

    entry = ServerFile.find(settings.data_dir)
    if entry is None:
        return None
    payload = {
        "question": question,
        "k": k,
        "sources": list(sources),
        "since": since,
        "until": until,
        "as_of": as_of,
        "history": [[t.question, t.answer] for t in history],
    }
    found = ask_server(entry, payload, timeout=settings.llm_timeout * 2 + 60)
    return Answer.model_validate(found) if found is not None else None


def _print_answer(answer: Answer) -> None:
    click.echo(_safe(answer.answer))
    if answer.notes:
        click.echo("")
        for note in answer.notes:
            click.echo(f"Note: {_safe(note)}")
    if answer.citations:
        click.echo("\nSources:")
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published_at) if x)
        click.echo(f"[{c.n}] {_safe(c.title)}" + (f" ({_safe(meta)})" if meta else ""))
        if c.url:
            click.echo(f"    {_safe(c.url)}")
        if c.also_reported_by:
            from .stories import also_in

            outlets = also_in(c.also_reported_by, story_size=c.story_size)
            click.echo(f"    also in: {_safe(', '.join(outlets))}")
        click.echo(f'    "{_safe(c.quote)}"')
    if answer.unsupported:
        heading = (
            "The LLM's answer, which no source supports:"
            if answer.quoted_instead
            else "Not supported by any source:"
        )
        click.echo(f"\n{heading}")
        for sentence in answer.unsupported:
            click.echo(f"  - {_safe(sentence)}")


@cli.command()
@click.argument("subject")
@click.option("--source", "sources", multiple=True, help="Only this outlet (repeatable).")
@click.option("--since", help="Only articles published on or after YYYY-MM-DD.")
@click.option("--until", help="Only articles published on or before YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def timeline(
    ctx: click.Context,
    subject: str,
    sources: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """The dated events the articles report on SUBJECT, oldest first: one per story, each
    the sentence that best states what happened, quoted with its source and the other
    outlets that ran it."""
    from index import SearchFilter

    from .text import clean_question

    subject = clean_question(subject)
    since_day, until_day = _parse_date(since, "--since"), _parse_date(until, "--until")
    if since_day and until_day and since_day > until_day:
        raise click.BadParameter(
            f"{since} is after --until {until}; swap them", param_hint="--since"
        )
    assistant = _assistant(ctx)
    assistant.require_index()
    found = assistant.timeline(
        subject, where=SearchFilter(sources=sources, since=since_day, until=until_day)
    )
    if as_json:
        _echo_json(found.model_dump())
    else:
        _print_timeline(found)


def _print_timeline(found: Timeline) -> None:
    from .dates import format_date
    from .stories import also_in
    from .timeline import describe_event

    if not found.items:
        click.echo(f"No indexed article reports events on {_safe(found.subject)!r}.")
    for item in found.items:
        c = item.citation
        published = format_date(item.published_at) if item.published_at else "undated"
        if item.event is not None:
            click.echo(
                f"{describe_event(item.event)}  (read from the text: “{_safe(item.event.phrase)}”; "
                f"published {published})"
            )
        elif item.date and item.date != item.published_at:
            click.echo(f"{format_date(item.date)}  (first reported; this copy {published})")
        else:
            click.echo(published)
        click.echo(f"  [{c.n}] {_safe(c.source or '-')}: {_safe(c.title)}")
        if c.also_reported_by:
            outlets = also_in(c.also_reported_by, story_size=c.story_size)
            click.echo(f"      also in: {_safe(', '.join(outlets))}")
        if c.url:
            click.echo(f"      {_safe(c.url)}")
        if item.summary:
            click.echo(f"      {_safe(item.summary)}")
        click.echo(f'      "{_safe(c.quote)}"')
        click.echo("")
    for note in found.notes:
        click.echo(f"Note: {_safe(note)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Show what is indexed: articles, chunks, outlets, model and store."""
    s = _assistant(ctx).stats()
    if as_json:
        _echo_json(s.to_dict())
        return
    click.echo(f"articles:        {s.articles}")
    click.echo(f"stories:         {s.stories}")
    click.echo(f"chunks:          {s.chunks}")
    click.echo(f"embedding model: {s.embedding_model}")
    click.echo(f"store:           {s.store}")
    click.echo(f"answers by:      {s.backend}")
    if s.sources:
        click.echo("outlets:")
        for name, count in s.sources.items():
            click.echo(f"  {count:5d}  {_safe(name)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def articles(ctx: click.Context, as_json: bool) -> None:
    """List the indexed articles, newest first."""
    records = _assistant(ctx).articles()
    if as_json:
        _echo_json(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "published_at": r.published_at,
                    "url": r.url,
                    "path": r.path,
                    "chunks": len(r.chunk_ids),
                }
                for r in records
            ]
        )
        return
    for r in records:
        click.echo(
            f"{r.published_at or '----------'}  {_safe(r.source or '-')[:20]:20}  {_safe(r.title)}"
        )
        click.echo(f"            id: {_safe(r.id)}")


@cli.command()
@click.option(
    "--min-copies",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Only stories run by at least this many articles.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def stories(ctx: click.Context, min_copies: int, as_json: bool) -> None:
    """List the stories: copies of one report grouped, the most copied first."""
    found = _assistant(ctx).stories(min_copies=min_copies)
    if as_json:
        _echo_json([story.to_dict() for story in found])
        return
    for story in found:
        count = f"{len(story.copies)} cop{'y' if len(story.copies) == 1 else 'ies'}"
        click.echo(f"{story.story_id}  {count}  {_safe(story.original.title)}")
        for copy in story.copies:
            click.echo(
                f"  {copy.published_at or '----------'}  {_safe(copy.source or '-')[:20]:20}  "
                f"{_safe(copy.article_id)}"
            )


@cli.group()
def track() -> None:
    """Tracked questions: asked again whenever new articles come in (`ingest`, `sync`)."""


@track.command("add")
@click.argument("question")
@click.pass_context
def track_add(ctx: click.Context, question: str) -> None:
    """Track a question; later checks report what new articles add to its answer."""
    tracked = _assistant(ctx).track(question)
    click.echo(f"tracking {tracked.id}: {_safe(tracked.question)}")


@track.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def track_list(ctx: click.Context, as_json: bool) -> None:
    """List the tracked questions with when each was last checked."""
    found = _assistant(ctx).tracked()
    if as_json:
        _echo_json([t.to_dict() for t in found])
        return
    if not found:
        click.echo("no tracked questions; add one with `assistant track add QUESTION`")
    for t in found:
        click.echo(f"{t.id}  checked {t.to_dict()['checked_at']}  {_safe(t.question)}")


@track.command("remove")
@click.argument("tracked_id", metavar="ID")
@click.pass_context
def track_remove(ctx: click.Context, tracked_id: str) -> None:
    """Stop tracking a question (its ID from `track list`)."""
    _assistant(ctx).untrack(tracked_id)
    click.echo(f"no longer tracking {tracked_id}")


@track.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def track_check(ctx: click.Context, as_json: bool) -> None:
    """Ask each tracked question again over the articles indexed since its last check."""
    updates = _assistant(ctx).check_tracked()
    if as_json:
        _echo_json([u.to_dict() for u in updates])
        return
    if not updates:
        click.echo("no tracked questions; add one with `assistant track add QUESTION`")
    _print_updates(updates, quiet=False)


def _check_tracked(assistant: NewsAssistant) -> list[TrackedUpdate] | None:
    """The tracked questions checked after an ingest or sync; None (said on stderr) when
    the check failed, so the report of what went in is still printed."""
    from index.errors import AssistantError

    try:
        return assistant.check_tracked()
    except AssistantError as e:
        click.echo(f"error: checking the tracked questions failed: {e}", err=True)
        return None


def _print_updates(updates: list[TrackedUpdate], *, quiet: bool) -> None:
    """Each tracked question's update; `quiet` leaves out those with nothing new."""
    for update in updates:
        if not update.changed or update.answer is None:
            if not quiet:
                click.echo(f"{update.id}  {_safe(update.question)}: nothing new")
            continue
        click.echo(
            f"\ntracked {update.id}  {_safe(update.question)}: new articles change the answer"
        )
        _print_answer(update.answer)
        marks = ", ".join(f"[{n}]" for n in update.new_citations)
        click.echo(f"New since the last check: {marks}")


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.pass_context
def remove(ctx: click.Context, targets: tuple[str, ...]) -> None:
    """Remove articles by id (URL) or by the file or folder they were read from."""
    count = _assistant(ctx).remove(list(targets))
    click.echo(f"removed {count} article{'s' if count != 1 else ''}")


@cli.command()
@click.option("--repair", is_flag=True, help="Fix what can be fixed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def check(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """Check that every article has all its chunks and no chunk is left over.

    Exit status 0 when consistent (or repaired), 1 when not."""
    report = _assistant(ctx).check(repair=repair)
    if as_json:
        _echo_json(report.to_dict())
    else:
        state = "consistent" if report.ok else "NOT consistent"
        click.echo(f"{report.articles} articles, {report.chunks} chunks: {state}")
        if report.journal:
            click.echo(f"  an interrupted run left {len(report.journal)} articles half-written")
        if report.orphan_chunks:
            click.echo(f"  {len(report.orphan_chunks)} chunks belong to no indexed article")
        for article_id in report.incomplete_articles:
            click.echo(f"  missing chunks: {_safe(article_id)}")
        if report.repaired:
            click.echo("repaired: leftovers dropped; ingest the files of incomplete articles again")
        elif not report.ok:
            click.echo("run `assistant check --repair` to fix")
    ctx.exit(0 if report.ok or report.repaired else 1)


@cli.command()
@click.option("--host", help="Address to bind (default ASSISTANT_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default ASSISTANT_PORT, 7860).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the chat in the browser (and Gradio's API)."""
    from .ui import serve as serve_ui

    assistant = _assistant(ctx)
    serve_ui(assistant, host=host or assistant.settings.host, port=port or assistant.settings.port)


@cli.command("mcp")
@click.pass_context
def mcp_command(ctx: click.Context) -> None:
    """Serve the Model Context Protocol over stdio, for desktop assistants and agents
    (tools: ask, search, get_article, list_sources; `serve` offers it at /mcp too)."""
    from .mcp_server import build_mcp

    assistant = _assistant(ctx)
    assistant.require_index()
    build_mcp(assistant).run("stdio")


@cli.command("eval")
@click.option(
    "--articles",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="Articles as JSON Lines (id, title, source, published_at, url, body).",
)
@click.option(
    "--questions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="Questions as JSON Lines (question, question_date, type, answers, gold_article_ids).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    help="Write one JSON line per question (answer, citations, retrieved_article_ids, "
    "retrieved_chunks, verdicts).",
)
@click.pass_context
def eval_command(
    ctx: click.Context, articles: str, questions: str, as_json: bool, out: str | None
) -> None:
    """Measure retrieval, answers, citations, refusals and latency on a question set.

    The articles are indexed in a data dir of their own (ASSISTANT_DATA_DIR/eval/HASH),
    reused while the file, the embedding model and the chunk size stay the same. Each
    question is asked as of its `question_date`. Questions with `evidence_facts` are also
    scored on the chunks that hold them, with the metrics broken down by question type.
    """
    from .eval import eval_assistant, format_by_type, format_table, load_questions, run_eval

    settings = _settings(ctx)
    asked = load_questions(questions)
    click.echo(f"indexing {articles} (reused when unchanged) ...", err=True)
    assistant, built = eval_assistant(articles, settings)
    click.echo(
        f"{'built' if built else 'reused'} the eval index in {assistant.settings.data_dir}",
        err=True,
    )
    assistant.searcher.retrieve("warm up", k=1)  # load the models before timing anything
    sink = open(out, "w", encoding="utf-8") if out else None  # noqa: SIM115
    try:
        with click.progressbar(
            length=len(asked), label="asking", file=sys.stderr, show_pos=True, show_eta=True
        ) as bar:

            def on_row(row: Any) -> None:
                if sink is not None:
                    sink.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
                bar.update(1)

            report, _ = run_eval(assistant, asked, on_row=on_row)
    finally:
        if sink is not None:
            sink.close()
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(format_table({"this pipeline": report}))
        if report.by_type and len(report.by_type) > 1:
            click.echo("\n" + format_by_type(report))


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI; errors become one line on stderr and an exit status."""
    from index.errors import AssistantError, UserError

    try:
        code = cli.main(args=argv, prog_name="assistant", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except AssistantError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2 if isinstance(e, UserError) else 1)
    except Exception as e:
        # A bug, not a user error: still one line, with the way to see more.
        if os.environ.get("ASSISTANT_DEBUG"):
            raise
        click.echo(
            f"error: unexpected {type(e).__name__}: {e} (set ASSISTANT_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

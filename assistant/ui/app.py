"""The page's layout and its event wiring: `build_app(assistant) -> gr.Blocks`.

What each event does is in `handlers.py`; this module only places components and connects
them. Gradio's API (gradio_client) offers the same functions as the page: `/ask`, `/ingest`,
`/articles`, `/remove`, `/stats`, and for feeds `/feeds`, `/add_feed`, `/remove_feed` and
`/sync`; every other event is private.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import gradio as gr

from .handlers import UIHandlers
from .render import (
    render_feed_added,
    render_ingest,
    render_status,
    render_sync,
    render_viewer_hint,
)
from .uploads import UPLOAD_CACHE_SECONDS

if TYPE_CHECKING:
    from ..core import NewsAssistant
    from ..settings import Settings

__all__ = ["EXAMPLES", "STORAGE_KEY", "build_app", "static"]

EXAMPLES = [
    "Who is GEM partnering with?",
    "When did Northvolt file for bankruptcy protection?",
    "What does the EU battery regulation require?",
    "How is Redwood Materials reusing old EV batteries?",
]
STORAGE_KEY = "news-assistant-conversation"
TRACKED_SEEN_KEY = "news-assistant-tracked-seen"
# Events only the page uses: not part of the API.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
# Events that change the index run one at a time.
WRITES: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "index-writes"}


FOCUS_QUESTION = "() => { document.querySelector('#question textarea')?.focus(); }"


def static(name: str) -> str:
    """A file of `static/` (the page's scripts and styles) as text."""
    return (resources.files("assistant.ui") / "static" / name).read_text(encoding="utf-8")


def conversation_secret(settings: Settings) -> str:
    """The key the browser encrypts the stored conversation with. It is stable across
    restarts of the same index (so a reload after a restart keeps the chat) and differs
    between indexes (so a chat never shows citations into another index)."""
    where = f"{settings.data_dir.resolve()}|{settings.chroma_host or ''}|{settings.collection}"
    return hashlib.sha256(f"news-assistant|{where}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class ChatTab:
    """The chat's components."""

    chat: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    filter_box: gr.Accordion
    outlets: gr.Dropdown
    since: gr.DateTime
    until: gr.DateTime
    clear_filters: gr.Button
    new_chat: gr.Button
    viewer: gr.HTML


@dataclass(slots=True)
class FeedsPanel:
    """The Feeds panel's components (in the Articles tab)."""

    url: gr.Textbox
    add: gr.Button
    added: gr.HTML
    added_report: gr.JSON
    feed_list: gr.HTML
    purge: gr.Checkbox
    sync: gr.Button
    results: gr.HTML
    report: gr.JSON


@dataclass(slots=True)
class CoveragePanel:
    """Coverage at a glance (in the Articles tab): articles per outlet per day or week, and
    a timeline as a dated strip and a list; both follow the chat's filters."""

    per: gr.Radio
    plot: gr.BarPlot
    subject: gr.Textbox
    show: gr.Button
    strip: gr.ScatterPlot
    timeline: gr.HTML


@dataclass(slots=True)
class ArticlesTab:
    """The Articles tab's components."""

    files: gr.File
    index: gr.Button
    results: gr.HTML
    report: gr.JSON
    feeds: FeedsPanel
    search: gr.Textbox
    article_list: gr.HTML
    stats: gr.HTML
    coverage: CoveragePanel


def build_app(assistant: NewsAssistant) -> gr.Blocks:
    """The page for `assistant`: the chat with its source viewer and filters, and the
    Articles tab (upload, feeds, list, remove, stats); plus the named API endpoints."""
    handlers = UIHandlers(assistant)
    secret = conversation_secret(assistant.settings)
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
        tracked_badge = gr.HTML(elem_id="tracked-badge", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"), gr.Row(equal_height=False):
                chat = _chat_tab()
            with gr.Tab("Articles", id="articles-tab"), gr.Row(equal_height=False):
                articles = _articles_tab()
            with gr.Tab("Tracked", id="tracked-tab") as tracked_tab:
                tracked_panel = gr.HTML(elem_id="tracked-panel", js_on_load=None)

        views = [status, chat.outlets, articles.article_list, articles.stats]
        app.load(handlers.refresh, [chat.outlets, articles.search], views, **PRIVATE)
        # The question box and the Ask button open once the kept conversation is shown: an
        # answer streamed before it would be overwritten by it.
        app.load(
            handlers.restore, [conversation], [chat.chat, chat.question, chat.ask], **PRIVATE
        ).then(None, js=FOCUS_QUESTION)
        app.load(handlers.feed_list, None, [articles.feeds.feed_list], **PRIVATE)
        _wire_chat(handlers, chat, conversation)
        _wire_articles(handlers, articles, chat, views)
        _wire_feeds(handlers, articles, chat, views)
        _wire_coverage(handlers, articles.coverage, chat, app)
        _wire_tracked(handlers, app, tracked_tab, tracked_badge, tracked_panel)

        gr.api(handlers.ask, api_name="ask")
        gr.api(handlers.timeline, api_name="timeline")
        gr.api(handlers.articles, api_name="articles")
        gr.api(handlers.remove, api_name="remove", **WRITES)
        gr.api(handlers.stats, api_name="stats")
        gr.api(handlers.feeds, api_name="feeds")
        gr.api(handlers.remove_feed, api_name="remove_feed", **WRITES)

    app.queue(default_concurrency_limit=8)
    return app


def _chat_tab() -> ChatTab:
    """The conversation, the question box, the filters, and the source viewer beside them."""
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
                submit_btn=False,
                interactive=False,  # until the kept conversation is restored (see build_app)
            )
            ask = gr.Button(
                "Ask", variant="primary", scale=1, min_width=80, elem_id="ask", interactive=False
            )
        filter_box, outlets, since, until, clear_filters = _filter_box()
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
            render_viewer_hint(), elem_id="source-viewer", js_on_load=static("viewer.js")
        )
    return ChatTab(
        chat, question, ask, filter_box, outlets, since, until, clear_filters, new_chat, viewer
    )


def _filter_box() -> tuple[gr.Accordion, gr.Dropdown, gr.DateTime, gr.DateTime, gr.Button]:
    """The filters under the question box: outlets, a date range, a button to clear them."""
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
            clear_filters = gr.Button("Clear filters", size="sm", variant="secondary", scale=0)
    return filter_box, outlets, since, until, clear_filters


def _articles_tab() -> ArticlesTab:
    """The upload box and its results, the article list with its search, the index stats."""
    with gr.Column(scale=3, min_width=420):
        # No file_types: Gradio would refuse the whole upload for one file of another type;
        # ingest_files refuses that file alone, in words.
        files = gr.File(
            label="Add articles (.txt .md .html .json .jsonl .pdf)",
            file_count="multiple",
            type="filepath",
            elem_id="upload",
        )
        index = gr.Button("Index files", variant="primary", elem_id="index-files")
        results = gr.HTML(
            render_ingest([], {}), elem_id="ingest-results", js_on_load=None, min_height=40
        )
        report = gr.JSON(label="report", visible=False)
        feeds = _feeds_panel()
        search = gr.Textbox(
            label="Indexed articles",
            placeholder="Search by title, outlet, date or id",
            elem_id="article-search",
        )
        article_list = gr.HTML(elem_id="article-list", js_on_load=static("articles.js"))
    with gr.Column(scale=2, min_width=300):
        gr.HTML('<h3 class="stats-heading">Index</h3>', js_on_load=None)
        stats = gr.HTML(elem_id="index-stats", js_on_load=None)
        coverage = _coverage_panel()
    return ArticlesTab(files, index, results, report, feeds, search, article_list, stats, coverage)


def _coverage_panel() -> CoveragePanel:
    """The coverage chart and the timeline's strip and list."""
    gr.HTML('<h3 class="coverage-heading">Coverage</h3>', js_on_load=None)
    per = gr.Radio(["day", "week"], value="week", label="Articles per outlet per", elem_id="per")
    plot = gr.BarPlot(
        x="period",
        y="articles",
        color="outlet",
        sort="x",
        y_aggregate="sum",
        x_title="published",
        x_label_angle=-45,
        show_label=False,
        elem_id="coverage-plot",
    )
    gr.HTML('<h3 class="timeline-heading">Timeline</h3>', js_on_load=None)
    with gr.Row(equal_height=True):
        subject = gr.Textbox(
            show_label=False,
            placeholder="A subject, e.g. GEM recycling",
            scale=3,
            elem_id="timeline-subject",
        )
        show = gr.Button("Show timeline", scale=1, min_width=120, elem_id="show-timeline")
    strip = gr.ScatterPlot(
        x="date",
        y="outlets",
        color="outlet",
        tooltip=["headline"],
        sort="x",
        y_title="outlets that ran it",
        show_label=False,
        elem_id="timeline-strip",
    )
    timeline = gr.HTML(elem_id="timeline-list", js_on_load=None)
    return CoveragePanel(per, plot, subject, show, strip, timeline)


def _feeds_panel() -> FeedsPanel:
    """Add a feed, the followed feeds (each with a remove button), Sync now and its result."""
    gr.HTML('<h3 class="feeds-heading">Feeds</h3>', js_on_load=None)
    with gr.Row(equal_height=True):
        url = gr.Textbox(
            show_label=False,
            placeholder="https://… an RSS, Atom or JSON feed, a sitemap, or a page that "
            "names its feed",
            scale=5,
            elem_id="feed-url",
        )
        add = gr.Button("Add feed", scale=1, min_width=110, elem_id="add-feed")
    added = gr.HTML(render_feed_added(None), elem_id="feed-added", js_on_load=None)
    added_report = gr.JSON(label="added", visible=False)
    feed_list = gr.HTML(elem_id="feed-list", js_on_load=static("feeds.js"))
    with gr.Row(equal_height=True):
        purge = gr.Checkbox(
            label="Removing a feed also removes the articles only it gave",
            value=False,
            elem_id="feed-purge",
            scale=3,
        )
        sync = gr.Button("Sync now", scale=1, min_width=110, elem_id="sync-now")
    results = gr.HTML(render_sync(None), elem_id="sync-results", js_on_load=None, min_height=40)
    report = gr.JSON(label="sync report", visible=False)
    return FeedsPanel(url, add, added, added_report, feed_list, purge, sync, results, report)


def _wire_chat(handlers: UIHandlers, tab: ChatTab, conversation: gr.BrowserState) -> None:
    """Questions (typed or an example), source clicks, starting over, the filters."""
    inputs = [tab.question, conversation, tab.outlets, tab.since, tab.until]
    outputs = [tab.question, tab.chat, conversation]
    gr.on(
        [tab.question.submit, tab.ask.click],
        handlers.respond,
        inputs,
        outputs,
        show_progress="hidden",
        **PRIVATE,
    )
    tab.chat.example_select(
        handlers.respond_example, inputs[1:], outputs, show_progress="hidden", **PRIVATE
    )
    tab.viewer.click(
        handlers.open_source, [conversation], [tab.viewer], show_progress="hidden", **PRIVATE
    )
    start_over = handlers.start_over  # one function: both events share its queue
    tab.new_chat.click(start_over, None, [tab.chat, conversation, tab.viewer], **PRIVATE)
    tab.chat.clear(start_over, None, [tab.chat, conversation, tab.viewer], **PRIVATE)
    filters = [tab.outlets, tab.since, tab.until]
    gr.on(
        [tab.outlets.change, tab.since.change, tab.until.change],
        handlers.describe_filters,
        filters,
        [tab.filter_box],
        show_progress="hidden",
        **PRIVATE,
    )
    tab.clear_filters.click(handlers.clear_filters, None, filters, **PRIVATE)


def _wire_articles(handlers: UIHandlers, tab: ArticlesTab, chat: ChatTab, views: list[Any]) -> None:
    """Indexing uploads (the `/ingest` endpoint), searching and removing articles."""
    tab.index.click(
        handlers.ingest_files,
        [tab.files],
        [tab.report],
        api_name="ingest",
        show_progress_on=[tab.results],
        **WRITES,
    ).success(
        handlers.show_ingest,
        [tab.report, chat.outlets, tab.search],
        [tab.results, tab.files, *views],
        **PRIVATE,
    )
    tab.search.change(
        handlers.search_articles,
        [tab.search],
        [tab.article_list],
        show_progress="hidden",
        trigger_mode="always_last",
        **PRIVATE,
    )
    tab.article_list.click(
        handlers.remove_article, [chat.outlets, tab.search], views, **WRITES, **PRIVATE
    )


def _wire_coverage(
    handlers: UIHandlers, panel: CoveragePanel, chat: ChatTab, app: gr.Blocks
) -> None:
    """The coverage chart and the timeline follow the chat's filters."""
    filters = [chat.outlets, chat.since, chat.until]
    changed = [chat.outlets.change, chat.since.change, chat.until.change]
    gr.on(
        [app.load, panel.per.change, *changed],
        handlers.coverage_plot,
        [*filters, panel.per],
        [panel.plot],
        show_progress="hidden",
        trigger_mode="always_last",
        **PRIVATE,
    )
    gr.on(
        [panel.show.click, panel.subject.submit, *changed],
        handlers.timeline_view,
        [panel.subject, *filters],
        [panel.strip, panel.timeline],
        trigger_mode="always_last",
        **PRIVATE,
    )


def _wire_feeds(handlers: UIHandlers, tab: ArticlesTab, chat: ChatTab, views: list[Any]) -> None:
    """Adding a feed (`/add_feed`), syncing (`/sync`), removing a feed from its row."""
    feeds = tab.feeds
    gr.on(
        [feeds.add.click, feeds.url.submit],
        handlers.add_feed,
        [feeds.url],
        [feeds.added_report],
        api_name="add_feed",
        show_progress_on=[feeds.added],
    ).success(
        handlers.show_added,
        [feeds.added_report],
        [feeds.url, feeds.added, feeds.feed_list],
        **PRIVATE,
    )
    feeds.sync.click(
        handlers.sync_feeds,
        None,
        [feeds.report],
        api_name="sync",
        show_progress_on=[feeds.results],
        **WRITES,
    ).success(
        handlers.show_sync,
        [feeds.report, chat.outlets, tab.search],
        [feeds.results, feeds.feed_list, *views],
        **PRIVATE,
    )
    feeds.feed_list.click(
        handlers.remove_feed_clicked,
        [feeds.purge, chat.outlets, tab.search],
        [feeds.feed_list, *views],
        **WRITES,
        **PRIVATE,
    )


def _wire_tracked(
    handlers: UIHandlers, app: gr.Blocks, tab: gr.Tab, badge: gr.HTML, panel: gr.HTML
) -> None:
    """The Tracked tab and the header's badge, refreshed every minute (the server's
    background sync checks the tracked questions); opening the tab marks what changed since
    this browser last opened it, then counts it as seen."""
    seen = gr.BrowserState(0.0, storage_key=TRACKED_SEEN_KEY)
    timer = gr.Timer(60)
    gr.on(
        [app.load, timer.tick],
        handlers.tracked_view,
        [seen],
        [badge, panel],
        show_progress="hidden",
        **PRIVATE,
    )
    tab.select(handlers.tracked_view, [seen], [badge, panel], **PRIVATE).then(
        handlers.tracked_seen, None, [seen], **PRIVATE
    ).then(handlers.tracked_badge, [seen], [badge], show_progress="hidden", **PRIVATE)

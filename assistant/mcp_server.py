"""The Model Context Protocol server (the official `mcp` SDK): the assistant's tools for
agents and desktop assistants.

`assistant mcp` serves it over stdio; `assistant serve` mounts it over streamable HTTP at
`/mcp`, behind the server's API keys and login (assistant/access.py). Tools, each with a
typed input schema, a structured result (its output schema advertised) and the same result
as readable text:

- `ask(question, sources?, since?, until?, as_of?)`: the checked answer with its citations
  (quote, offsets, title, outlet, date, url), `refused` and `unsupported`;
- `search(query, k?, sources?, since?, until?)`: the best passages, each with the same
  citation fields (its text is the article's body between `start` and `end`);
- `get_article(id)`: an article's metadata and full text;
- `list_sources()`: the outlets, with their article counts and date ranges;
- `timeline(subject, since?, until?, sources?)`: the dated events the articles report on a
  subject, oldest first, one per story, each a cited verbatim quote (see assistant/timeline.py).

Articles are also resources: `article://{id}` (the id percent-encoded) reads its text.
A bad argument is a tool error that names it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from index import SearchFilter
from index.errors import AssistantError

from .access import Access
from .export import answer_with_sources, markdown_link
from .models import Citation, Timeline

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from .core import NewsAssistant

__all__ = [
    "AnswerResult",
    "ArticleResult",
    "Passage",
    "SearchResult",
    "SourceSummary",
    "SourcesResult",
    "build_mcp",
    "mcp_http_app",
]

log = logging.getLogger("assistant.mcp")

INSTRUCTIONS = (
    "Answers questions about the indexed news articles. Every sentence of an answer cites "
    "the exact sentence of an article it comes from (quote, title, outlet, date, link); "
    "when the articles do not say, the answer is refused instead of guessed. Use `ask` for "
    "an answer, `search` for passages, `get_article` for a whole article, `list_sources` "
    "for the outlets and dates indexed and `timeline` for the dated events on a subject."
)

Outlets = Annotated[
    list[str] | None, Field(description="Only these outlets (as list_sources names them).")
]
Since = Annotated[date | None, Field(description="Only articles published on or after this day.")]
Until = Annotated[date | None, Field(description="Only articles published on or before this day.")]


class AnswerResult(BaseModel):
    """A checked answer: text with [n] markers, one citation per n."""

    question: str
    answer: str = Field(description="The answer; each [n] marker cites citations[n-1].")
    refused: bool = Field(description="True when the indexed articles do not cover it.")
    citations: list[Citation]
    unsupported: list[str] = Field(description="Sentences of the answer no source supports.")
    notes: list[str]
    backend: str
    form: str = Field(
        default="answer",
        description='"timeline" when the question asked for a chronology: one dated line per '
        "story, oldest first (the `timeline` tool gives the items).",
    )


class Passage(BaseModel):
    """A retrieved passage with what a citation needs: `text == article text[start:end]`."""

    article_id: str
    title: str
    source: str
    published_at: str
    url: str
    text: str
    start: int
    end: int
    score: float


class SearchResult(BaseModel):
    """The best passages for a query, best first."""

    query: str
    passages: list[Passage]


class ArticleResult(BaseModel):
    """An indexed article: its metadata and full text."""

    id: str
    title: str
    source: str
    published_at: str
    url: str
    authors: list[str]
    text: str


class SourceSummary(BaseModel):
    """An outlet: how many articles of it are indexed, from when to when."""

    name: str
    articles: int
    first_published: str
    last_published: str


class SourcesResult(BaseModel):
    """The indexed outlets, the most articles first."""

    sources: list[SourceSummary]
    articles: int


def _result(data: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data.model_dump(mode="json"),
    )


def _where(sources: list[str] | None, since: date | None, until: date | None) -> SearchFilter:
    if since and until and since > until:
        raise ToolError(f"since ({since}) is after until ({until}); swap them")
    return SearchFilter(sources=tuple(sources or ()), since=since, until=until)


def _passages_text(result: SearchResult) -> str:
    if not result.passages:
        return f"No indexed passage matches {result.query!r}."
    lines = []
    for i, p in enumerate(result.passages, start=1):
        where = ", ".join(x for x in (p.source, p.published_at) if x)
        lines.append(f"{i}. {markdown_link(p.title, p.url)} ({where}) [id: {p.article_id}]")
        lines.append(f"   > {' '.join(p.text.split())}")
    return "\n".join(lines)


def build_mcp(assistant: NewsAssistant) -> MCPServer[Any]:
    """The MCP server for `assistant`: its tools and the `article://{id}` resources."""
    server: MCPServer[Any] = MCPServer("news-assistant", instructions=INSTRUCTIONS)

    def guarded(what: str, call: Any) -> Any:
        try:
            return call()
        except AssistantError as e:  # the user's mistake or the store's: said as it is
            raise ToolError(f"{what}: {e}") from e

    @server.tool(title="Ask the news")
    def ask(
        question: Annotated[str, Field(min_length=1, description="The question to answer.")],
        sources: Outlets = None,
        since: Since = None,
        until: Until = None,
        as_of: Annotated[
            date | None,
            Field(description='The day "this week", "yesterday" … count from (default today).'),
        ] = None,
    ) -> Annotated[CallToolResult, AnswerResult]:
        """Answer a question from the indexed news articles. Every claim carries an [n]
        marker citing the article sentence it comes from (quote, title, outlet, date, url);
        `refused` is true when the articles do not cover it."""
        where = _where(sources, since, until)
        answer = guarded("answering", lambda: assistant.ask(question, where=where, today=as_of))
        data = AnswerResult(
            question=answer.question,
            answer=answer.answer,
            refused=answer.refused,
            citations=answer.citations,
            unsupported=answer.unsupported,
            notes=answer.notes,
            backend=answer.backend,
            form=answer.form,
        )
        return _result(data, answer_with_sources(answer))

    @server.tool(title="Search the news")
    def search(
        query: Annotated[str, Field(min_length=1, description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = 5,
        sources: Outlets = None,
        since: Since = None,
        until: Until = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """The indexed passages that best match a query (hybrid keyword and semantic
        search, at most two per article), each with its article's title, outlet, date, url
        and offsets into the article text."""
        where = _where(sources, since, until)
        docs = guarded(
            "searching",
            lambda: assistant.retriever.invoke(
                query, k=k, sources=where.sources, since=since, until=until
            ),
        )
        result = SearchResult(
            query=query,
            passages=[
                Passage(
                    text=d.page_content,
                    **{key: d.metadata[key] for key in Passage.model_fields if key != "text"},
                )
                for d in docs
            ],
        )
        return _result(result, _passages_text(result))

    @server.tool(title="Read an article")
    def get_article(
        id: Annotated[str, Field(min_length=1, description="The article's id (search gives it).")],
    ) -> Annotated[CallToolResult, ArticleResult]:
        """An indexed article's title, outlet, date, url, authors and full text."""
        record, body = guarded("reading the article", lambda: assistant.article(id))
        data = ArticleResult(
            id=record.id,
            title=record.title,
            source=record.source,
            published_at=record.published_at,
            url=record.url,
            authors=list(record.authors),
            text=body,
        )
        where = ", ".join(x for x in (record.source, record.published_at) if x)
        head = f"# {record.title}\n\n{where}" + (f"\n{record.url}" if record.url else "")
        return _result(data, f"{head}\n\n{body}")

    @server.tool(title="List the outlets")
    def list_sources() -> Annotated[CallToolResult, SourcesResult]:
        """The outlets indexed, with how many articles each has and their first and last
        publication dates."""
        records = guarded("listing the outlets", assistant.articles)
        by_name: dict[str, list[str]] = {}
        for r in records:
            by_name.setdefault(r.source or "(unknown outlet)", []).append(r.published_at)
        sources = [
            SourceSummary(
                name=name,
                articles=len(days),
                first_published=min((d for d in days if d), default=""),
                last_published=max((d for d in days if d), default=""),
            )
            for name, days in sorted(by_name.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ]
        data = SourcesResult(sources=sources, articles=len(records))
        lines = [f"{len(records)} articles from {len(sources)} outlets:"] + [
            f"- {s.name}: {s.articles} ({s.first_published or '?'} to {s.last_published or '?'})"
            for s in sources
        ]
        return _result(data, "\n".join(lines))

    @server.tool(title="Timeline of a subject")
    def timeline(
        subject: Annotated[str, Field(min_length=1, description="What the timeline is about.")],
        since: Since = None,
        until: Until = None,
        sources: Outlets = None,
    ) -> Annotated[CallToolResult, Timeline]:
        """The dated events the indexed articles report on a subject, oldest first, one per
        story: each the sentence that best states what happened, quoted verbatim with its
        citation (title, outlet, date, url, offsets) and the other outlets that ran it; the
        event's own date when the sentence gives one ("on Tuesday", "in March")."""
        from .timeline import timeline_answer

        where = _where(sources, since, until)
        found = guarded("building the timeline", lambda: assistant.timeline(subject, where=where))
        text = answer_with_sources(timeline_answer(subject, found))
        return _result(found, text)

    @server.resource(
        "article://{id}",
        name="article",
        title="An indexed article",
        description="An article's text with its title, outlet, date and link; the id "
        "percent-encoded (article://" + quote("https://example.com/a", safe="") + ").",
        mime_type="text/markdown",
    )
    def article(id: str) -> str:
        record, body = guarded("reading the article", lambda: assistant.article(id))
        where = ", ".join(x for x in (record.source, record.published_at) if x)
        return f"# {record.title}\n\n{where}\n{record.url}\n\n{body}"

    return server


class _Mounted:
    """The MCP server's streamable-HTTP endpoint as an ASGI app inside another server: it
    checks the Authorization header, and starts the SDK's session manager on the first
    request (the host app's start-up has passed by the time it is mounted)."""

    def __init__(self, server: MCPServer[Any], *, access: Access, host: str) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
        from mcp.server.transport_security import TransportSecuritySettings

        # With keys or logins, a request that carries one is welcome under any Host (a
        # reverse proxy's public name); without, `access` answers loopback names only, as
        # the SDK's DNS-rebinding protection would.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        # Stateless, JSON replies: each request stands alone, so any worker may answer it.
        server.streamable_http_app(
            stateless_http=True, json_response=True, host=host, transport_security=security
        )
        self.manager = server.session_manager
        self.endpoint = StreamableHTTPASGIApp(self.manager)
        self.access = access
        self._started: asyncio.Event | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> None:
        async with self._lock:
            if self._started is not None:
                return
            started = asyncio.Event()

            async def hold() -> None:
                async with self.manager.run():
                    started.set()
                    await asyncio.Event().wait()  # until the server's loop stops

            self._task = asyncio.get_running_loop().create_task(hold())
            await started.wait()
            self._started = started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.access.allows(authorization, host=host):
            from starlette.responses import JSONResponse

            from .chat_api import DENIED

            response = JSONResponse(
                {"error": DENIED}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        if self._started is None:
            await self._start()
        await self.endpoint(scope, receive, send)


def mcp_http_app(assistant: NewsAssistant, *, access: Access, host: str) -> Any:
    """The `/mcp` endpoint for a server bound to `host`, as an ASGI app (mount it as a route)."""
    return _Mounted(build_mcp(assistant), access=access, host=host)

"""The MCP server, driven by the official `mcp` SDK's own client: over stdio (`assistant mcp`
as a real process) and over streamable HTTP (`/mcp` of a real `assistant serve`), both on
the indexed sample corpus with the real embedding model."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import ROOT
from mcp import Client, StdioServerParameters
from served import ServedAssistant

GEM = "Who is GEM partnering with?"
TOOLS = {"ask", "search", "get_article", "list_sources", "timeline"}

pytestmark = pytest.mark.slow


def _text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> Any:
    """A tool's result; a JSON-RPC error for bad arguments is returned as its message."""
    from mcp import MCPError

    try:
        return await client.call_tool(tool, arguments)
    except MCPError as e:
        return e


def _error_text(outcome: Any) -> str:
    """What a failed call says, whether the SDK made it a tool error or a protocol error."""
    if isinstance(outcome, Exception):
        return str(outcome)
    assert outcome.is_error, outcome
    return _text(outcome)


async def exercise(client: Client) -> None:
    """List the tools, call each, check quotes against the articles, and bad arguments."""
    async with client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert set(tools["ask"].input_schema["properties"]) == {
            "question",
            "sources",
            "since",
            "until",
            "as_of",
        }
        assert tools["ask"].input_schema["required"] == ["question"]
        assert set(tools["search"].input_schema["properties"]) == {
            "query",
            "k",
            "sources",
            "since",
            "until",
        }
        for tool in tools.values():
            assert tool.output_schema and tool.output_schema["type"] == "object"
            assert tool.description

        # ask: a checked answer; every quote is verbatim in its article.
        asked = await client.call_tool("ask", {"question": GEM})
        assert not asked.is_error, _text(asked)
        answer = asked.structured_content
        assert answer["refused"] is False
        assert "Ascend Elements" in answer["answer"]
        assert answer["citations"]
        assert "**Sources**" in _text(asked) and "[1]" in _text(asked)
        for cite in answer["citations"]:
            got = await client.call_tool("get_article", {"id": cite["article_id"]})
            assert not got.is_error, _text(got)
            article = got.structured_content
            assert article["text"][cite["start"] : cite["end"]] == cite["quote"]
            assert cite["quote"] in _text(got)
            assert article["title"] == cite["title"]
            assert article["url"] == cite["url"]

        refused = await client.call_tool(
            "ask", {"question": "What did the central bank decide about interest rates?"}
        )
        assert refused.structured_content["refused"] is True

        # search: passages with the citation fields, filtered by date and outlet.
        found = await client.call_tool(
            "search", {"query": "battery recycling", "k": 3, "since": "2025-01-01"}
        )
        assert not found.is_error, _text(found)
        passages = found.structured_content["passages"]
        assert 1 <= len(passages) <= 3
        assert all(p["published_at"] >= "2025-01-01" for p in passages)
        top = passages[0]
        body = (await client.call_tool("get_article", {"id": top["article_id"]})).structured_content
        assert body["text"][top["start"] : top["end"]] == top["text"]
        only = await client.call_tool("search", {"query": "batteries", "sources": ["Grid Weekly"]})
        assert {p["source"] for p in only.structured_content["passages"]} == {"Grid Weekly"}

        # list_sources: outlets with counts and date ranges.
        listed = (await client.call_tool("list_sources", {})).structured_content
        outlets = {s["name"]: s for s in listed["sources"]}
        assert outlets["Battery Brief"]["articles"] == 1
        assert outlets["Battery Brief"]["first_published"] == "2025-11-04"
        assert outlets["Grid Weekly"]["articles"] >= 2
        assert listed["articles"] == sum(s["articles"] for s in listed["sources"])

        # Resources: article://ID (the id percent-encoded).
        uri = "article://" + quote(top["article_id"], safe="")
        read = await client.read_resource(uri)
        assert top["text"] in read.contents[0].text

        # Bad arguments: an error that names the argument.
        bad_k = await _call(client, "search", {"query": "batteries", "k": 0})
        assert "k" in _error_text(bad_k)
        bad_day = await _call(client, "ask", {"question": GEM, "since": "2025-13-45"})
        assert "since" in _error_text(bad_day)
        missing = await _call(client, "ask", {})
        assert "question" in _error_text(missing)
        unknown = await client.call_tool("get_article", {"id": "no-such-article"})
        assert unknown.is_error and "no indexed article has the id 'no-such-article'" in _text(
            unknown
        )
        swapped = await client.call_tool(
            "search", {"query": "x", "since": "2025-02-01", "until": "2025-01-01"}
        )
        assert swapped.is_error and "since" in _text(swapped)


def test_mcp_over_stdio(tmp_path, sample_dir):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_LLM": "extractive"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "assistant.cli", "mcp"], env=env, cwd=str(ROOT)
    )
    asyncio.run(exercise(Client(params, read_timeout_seconds=120)))


def test_mcp_over_http_behind_the_api_keys(tmp_path, sample_dir):
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    with ServedAssistant(tmp_path, sample_dir) as served:
        url = f"{served.url}/mcp"
        transport = streamable_http_client(
            url, http_client=create_mcp_http_client(headers=served.auth)
        )
        asyncio.run(exercise(Client(transport, read_timeout_seconds=120)))
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            denied = httpx.post(url, json=body, headers=headers)
            assert denied.status_code == 401
            assert "ASSISTANT_API_KEYS" in denied.json()["error"]
        # With a key, a request forwarded by a reverse proxy under a public name is served.
        accept = {"Accept": "application/json, text/event-stream", "Host": "news.example.org"}
        proxied = httpx.post(url, json=body, headers={**served.auth, **accept})
        assert proxied.status_code == 200, proxied.text

"""The OpenAI-compatible API of `assistant serve` (`/v1`), driven by the real `openai` client
(sync and async, streaming and not) against a real server process on loopback over the
indexed sample corpus; and the start-up rule for API keys off loopback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import openai
import pytest
from conftest import ROOT, free_port
from served import ServedAssistant

GEM = "Who is GEM partnering with?"
FOLLOW_UP = "And when will they start?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory, sample_dir):
    with ServedAssistant(tmp_path_factory.mktemp("chat-api"), sample_dir) as running:
        yield running


def _client(served, **options):
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0, **options)


def _check_reply(content: str, citations: list[dict]) -> None:
    """The content: the checked answer with [n] markers, then a Markdown Sources list that
    holds each citation's title, link, outlet, date and quote."""
    answer, _, sources = content.partition("\n\n**Sources**\n\n")
    assert "Ascend Elements" in answer and "[1]" in answer
    assert citations
    for c in citations:
        assert f"[{c['n']}]" in answer
        assert f"{c['n']}. [{c['title']}]({c['url']}) ({c['source']}, {c['published_at']})" in (
            sources
        )
        assert f"> {c['quote']}" in sources


def test_models_lists_one_model(served):
    models = _client(served).models.list()
    assert [m.id for m in models.data] == ["news-assistant"]
    assert _client(served).models.retrieve("news-assistant").id == "news-assistant"


def test_chat_completion_with_citations(served, sample_dir):
    reply = _client(served).chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": GEM}]
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.role == "assistant"
    extra = reply.model_extra or {}
    citations = extra["citations"]
    assert extra["refused"] is False
    _check_reply(reply.choices[0].message.content, citations)
    assert {"n", "article_id", "quote", "start", "end", "title", "source", "url"} <= set(
        citations[0]
    )


def test_streaming_gives_the_same_content_and_citations(served):
    client = _client(served)
    plain = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": GEM}]
    )
    pieces, finish, last = [], None, None
    with client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": GEM}], stream=True
    ) as stream:
        for chunk in stream:
            assert chunk.object == "chat.completion.chunk"
            delta = chunk.choices[0].delta
            pieces.append(delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
            last = chunk
    assert len([p for p in pieces if p]) > 1  # really streamed in pieces
    assert "".join(pieces) == plain.choices[0].message.content
    assert finish == "stop"
    assert (last.model_extra or {})["citations"] == (plain.model_extra or {})["citations"]


def test_follow_up_uses_the_earlier_turns(served):
    client = _client(served)
    first = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": GEM}]
    )
    # Asked alone, "And when will they start?" is about anything (Northvolt, here).
    alone = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": FOLLOW_UP}]
    )
    assert "Battery Brief" not in alone.choices[0].message.content.partition("**Sources**")[0]
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": GEM},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP},
    ]
    reply = client.chat.completions.create(model="news-assistant", messages=messages)
    content = reply.choices[0].message.content
    assert (reply.model_extra or {})["refused"] is False
    # With the history it is about GEM's partnership, and not the same answer again.
    assert (reply.model_extra or {})["citations"][0]["source"] == "Battery Brief"
    assert content != first.choices[0].message.content


def test_filters_through_extra_body(served):
    reply = _client(served).chat.completions.create(
        model="news-assistant",
        messages=[{"role": "user", "content": GEM}],
        extra_body={"sources": ["Policy Desk"]},
    )
    extra = reply.model_extra or {}
    assert all(c["source"] == "Policy Desk" for c in extra["citations"])
    with pytest.raises(openai.BadRequestError) as caught:
        _client(served).chat.completions.create(
            model="news-assistant",
            messages=[{"role": "user", "content": GEM}],
            extra_body={"since": "last week"},
        )
    assert caught.value.body["param"] == "since"


def test_errors_in_openai_format(served):
    with pytest.raises(openai.BadRequestError) as empty:
        _client(served).chat.completions.create(model="news-assistant", messages=[])
    assert empty.value.status_code == 400
    assert empty.value.body["type"] == "invalid_request_error"
    assert empty.value.body["param"] == "messages"
    assert "non-empty" in empty.value.body["message"]

    wrong = openai.OpenAI(base_url=f"{served.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        wrong.chat.completions.create(
            model="news-assistant", messages=[{"role": "user", "content": GEM}]
        )
    assert denied.value.status_code == 401
    assert denied.value.body["code"] == "invalid_api_key"
    assert "ASSISTANT_API_KEYS" in denied.value.body["message"]
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    assert httpx.get(f"{served.url}/v1/models").status_code == 401  # no key at all
    # A reverse proxy's public name in Host is fine with a key.
    proxied = {**served.auth, "Host": "news.example.org"}
    assert httpx.get(f"{served.url}/v1/models", headers=proxied).status_code == 200

    with pytest.raises(openai.NotFoundError) as unknown:
        _client(served).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": GEM}]
        )
    assert unknown.value.body["param"] == "model"

    # The page's login works as well as a key (HTTP Basic) only where one is set: none here.
    basic = httpx.get(f"{served.url}/v1/models", auth=("alice", "pw"))
    assert basic.status_code == 401


def test_eight_async_clients_at_once_streaming_and_not(served):
    questions = [
        GEM,
        "When did Northvolt file for bankruptcy protection?",
        "What does the EU battery regulation require?",
        "How is Redwood Materials reusing old EV batteries?",
    ]

    async def one(i: int) -> tuple[str, str]:
        client = openai.AsyncOpenAI(
            base_url=f"{served.url}/v1", api_key=served.key, max_retries=0, timeout=120
        )
        question = questions[i % len(questions)]
        messages = [{"role": "user", "content": question}]
        if i % 2:
            stream = await client.chat.completions.create(
                model="news-assistant", messages=messages, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
        else:
            reply = await client.chat.completions.create(model="news-assistant", messages=messages)
            text = reply.choices[0].message.content
        await client.close()
        return question, text

    async def all_of_them() -> list[tuple[str, str]]:
        return await asyncio.gather(*(one(i) for i in range(8)))

    results = asyncio.run(all_of_them())
    by_question: dict[str, set[str]] = {}
    for question, text in results:
        assert "**Sources**" in text
        by_question.setdefault(question, set()).add(text)
    # Each question got the same answer whether streamed or not, whoever asked alongside.
    assert len(by_question) == 4 and all(len(texts) == 1 for texts in by_question.values())
    assert "Northvolt" in next(iter(by_question[questions[1]]))


def test_serve_off_loopback_refuses_to_start_without_api_keys(tmp_path, sample_dir):
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(sample_dir),
        "ASSISTANT_LLM": "extractive",
        "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": str(free_port()),
    }
    env.pop("ASSISTANT_API_KEYS", None)
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "the server listens on 0.0.0.0" in done.stderr  # GRADIO_SERVER_NAME was read
    assert "set ASSISTANT_API_KEYS=" in done.stderr


def test_without_keys_a_loopback_server_answers_this_machine_only(tmp_path, sample_dir):
    with ServedAssistant(tmp_path, sample_dir, ASSISTANT_API_KEYS="") as served:
        client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="anything", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["news-assistant"]
        rebound = httpx.get(f"{served.url}/v1/models", headers={"Host": "evil.example:7860"})
        assert rebound.status_code == 401
        assert "only requests to a loopback address" in rebound.json()["error"]["message"]
        mcp = httpx.post(
            f"{served.url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Host": "evil.example:7860"},
        )
        assert mcp.status_code == 401

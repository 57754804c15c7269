"""The OpenAI-compatible chat API that `assistant serve` offers at `/v1`, for chat front ends
(Open WebUI, LibreChat, editors) and the `openai` client.

- `GET /v1/models`: one model, `news-assistant`.
- `POST /v1/chat/completions`: the last user message is the question, the earlier user and
  assistant messages are the conversation (system messages are ignored). The reply's content
  is the checked answer with its [n] markers, then a Markdown "Sources" list
  (`export.answer_with_sources`); the same citations, as objects, are in the response's
  `citations` field, beside `refused`, `unsupported` and `notes`. `stream: true` sends the
  same content as server-sent events (`chat.completion.chunk`s, then `data: [DONE]`), the
  citations in the last chunk. The content streamed is the answer after its citations were
  checked, so nothing sent is taken back.
- Options beyond OpenAI's (the openai client's `extra_body`): `sources` (outlets), `since`,
  `until` (YYYY-MM-DD, published dates), `as_of` (the day "this week" counts from), `k`.

Errors are OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 401 for a
missing or wrong key, 400 for a bad request (no messages, no user message, a bad date),
404 for another model, 500 when answering failed.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from index import SearchFilter
from index.errors import AssistantError, UsageError, UserError

from .access import Access
from .export import SOURCES_HEADING, answer_with_sources
from .models import Answer, Turn

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

    from .core import NewsAssistant

__all__ = ["MODEL", "add_chat_api", "completion", "parse_request"]

log = logging.getLogger("assistant.api")

DENIED = (
    "a valid API key is required: send `Authorization: Bearer KEY` with a key of the "
    "server's ASSISTANT_API_KEYS (without keys, only requests to a loopback address such as "
    "127.0.0.1 are answered)"
)

MODEL = "news-assistant"
# The stream's content goes out in pieces of about this many characters.
_PIECE = 48


class RequestError(UsageError):
    """A request the API refuses, with the parameter it is about."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "\n".join(str(p) for p in parts)
    if content is None:
        return ""
    raise RequestError(f"{where}.content must be a string or a list of parts", param=where)


def _day(body: dict[str, Any], key: str) -> date | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RequestError(f"{key} {value!r} is not a date; use YYYY-MM-DD", param=key) from None


def parse_request(body: Any) -> dict[str, Any]:
    """The `NewsAssistant.ask` arguments of a chat-completions request body (question,
    history, k, where, today); RequestError naming the parameter when it is malformed."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and model != MODEL:
        raise RequestError(
            f"the model {model!r} does not exist; this server offers {MODEL!r}",
            param="model",
            status=404,
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(
            "messages must be a non-empty list; send the question as the last "
            '{"role": "user", "content": ...} message',
            param="messages",
        )
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(f"{where} must be an object with a role", param=where)
        turns.append((message["role"], _text(message.get("content"), where)))
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users:
        raise RequestError("messages holds no user message to answer", param="messages")
    question = turns[users[-1]][1]
    history: list[Turn] = []
    pending: str | None = None
    for role, text in turns[: users[-1]]:
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            # Our own replies end with their Sources list: the answer is what came before.
            history.append(Turn(pending, text.partition(SOURCES_HEADING)[0].strip()))
            pending = None
    sources = body.get("sources") or []
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise RequestError("sources must be a list of outlet names", param="sources")
    k = body.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50):
        raise RequestError("k must be a whole number from 1 to 50", param="k")
    return {
        "question": question,
        "history": history,
        "k": k,
        "where": SearchFilter(
            sources=tuple(sources), since=_day(body, "since"), until=_day(body, "until")
        ),
        "today": _day(body, "as_of"),
    }


def _extras(answer: Answer) -> dict[str, Any]:
    """The structured fields beside OpenAI's: what a client that knows can use."""
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "refused": answer.refused,
        "unsupported": answer.unsupported,
        "notes": answer.notes,
    }


def completion(answer: Answer, *, created: int | None = None) -> dict[str, Any]:
    """A `chat.completion` object for an answer."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_with_sources(answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extras(answer),
    }


def _chunks(answer: Answer) -> Iterator[bytes]:
    """The answer as server-sent `chat.completion.chunk` events, then `[DONE]`."""
    base: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
    }

    def event(delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        data = {**base, "choices": [choice], **extra}
        return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    content = answer_with_sources(answer)
    for start in range(0, len(content), _PIECE):
        yield event({"content": content[start : start + _PIECE]}, None)
    yield event({}, "stop", **_extras(answer))
    yield b"data: [DONE]\n\n"


def _error(status: int, message: str, kind: str, param: str | None = None) -> Response:
    from starlette.responses import JSONResponse

    code = {401: "invalid_api_key", 404: "model_not_found"}.get(status)
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def add_chat_api(app: FastAPI, assistant: NewsAssistant, *, access: Access) -> None:
    """Add `/v1/models` and `/v1/chat/completions` to `app`, ahead of its other routes."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    def denied(request: Request) -> Response | None:
        if access.allows(request.headers.get("authorization"), host=request.headers.get("host")):
            return None
        return _error(401, DENIED, "invalid_request_error")

    def model_card() -> dict[str, Any]:
        return {"id": MODEL, "object": "model", "created": 0, "owned_by": "news-assistant"}

    async def models(request: Request) -> Response:
        return denied(request) or JSONResponse({"object": "list", "data": [model_card()]})

    async def model(request: Request) -> Response:
        if refused := denied(request):
            return refused
        name = request.path_params["name"]
        if name != MODEL:
            return _error(404, f"the model {name!r} does not exist", "invalid_request_error")
        return JSONResponse(model_card())

    async def chat_completions(request: Request) -> Response:
        if refused := denied(request):
            return refused
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return _error(400, "the request body is not JSON", "invalid_request_error")
        try:
            options = parse_request(body)
            answer = await run_in_threadpool(lambda: assistant.ask(**options))
        except RequestError as e:
            return _error(e.status, str(e), "invalid_request_error", e.param)
        except UserError as e:
            return _error(400, str(e), "invalid_request_error", "messages")
        except AssistantError as e:
            return _error(500, str(e), "server_error")
        except Exception as e:
            log.exception("answering a chat completion failed")
            return _error(500, f"unexpected {type(e).__name__}: {e}", "server_error")
        if body.get("stream"):
            return StreamingResponse(
                _chunks(answer),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return JSONResponse(completion(answer))

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name:path}", model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    # Gradio's catch-all routes would match first otherwise.
    app.router.routes[0:0] = routes

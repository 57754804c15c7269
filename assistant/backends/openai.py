"""OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp) through langchain-openai.

The only module that imports openai or langchain-openai.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

import prompts
from index import Hit

from ..errors import LLMError
from ..models import REFUSAL, Turn
from ..parts import is_yes_no
from . import GenerationRequest

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["OpenAIBackend", "answer_messages", "rewrite_messages"]


def answer_messages(request: GenerationRequest) -> list[BaseMessage]:
    """The chat messages for an answer: rules, earlier turns, then sources and question."""
    sources = "\n\n".join(
        prompts.render(
            "source",
            n=n,
            title=_attribute(hit.title or "untitled"),
            source=_attribute(hit.source or "unknown outlet"),
            published_at=hit.published_at or "undated",
            text=_SOURCE_TAG.sub(r"(\1source", text),
        ).strip()
        for n, (hit, text) in enumerate(_shown(request), start=1)
    )
    messages: list[BaseMessage] = [
        SystemMessage(prompts.render("answer_system", refusal=REFUSAL)),
    ]
    for turn in request.history:
        messages += [HumanMessage(turn.question), AIMessage(turn.answer)]
    today = (request.today or date.today()).isoformat()
    messages.append(
        HumanMessage(
            prompts.render(
                "answer_user",
                sources=sources,
                parts=_parts(request),
                question=request.question,
                today=today,
            )
        )
    )
    return messages


def _parts(request: GenerationRequest) -> str:
    """For a question about several reports: which source stands for each ("" otherwise)."""
    numbers = {hit.chunk_id: n for n, hit in enumerate(request.hits, start=1)}
    reports = [
        f"- {_attribute(part.label)}: source [{numbers[part.chunk_id]}]"
        for part in request.parts
        if part.chunk_id in numbers
    ]
    if len(reports) < 2:
        return ""
    direct = _YES_NO if is_yes_no(request.query or request.question) else _NAME_OR_NUMBER
    return prompts.render("answer_parts", direct=direct, reports="\n".join(reports))


# What the direct answer of a question about several reports is (a small model told "Yes,
# No, or the name" answered "Yes" to questions asking who).
_YES_NO = "the word Yes or the word No"
_NAME_OR_NUMBER = (
    "the name or number the question asks for, exactly as the source writes it, and its "
    "source number in square brackets"
)


def _shown(request: GenerationRequest) -> list[tuple[Hit, str]]:
    """The sources the model sees: each hit with its passage (the whole text by default)."""
    if request.passages:
        return list(zip(request.hits, request.passages, strict=False))
    return [(hit, hit.text) for hit in request.hits]


def rewrite_messages(question: str, history: Sequence[Turn]) -> list[BaseMessage]:
    """The chat messages that ask for a follow-up question in standalone form."""
    lines = []
    for turn in history[-4:]:
        lines += [f"User: {turn.question}", f"Assistant: {turn.answer}"]
    return [HumanMessage(prompts.render("rewrite", history="\n".join(lines), question=question))]


class OpenAIBackend:
    """A chat model behind the OpenAI API; failures become one clear `LLMError`."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout: float = 60.0,
        retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 512,
    ) -> None:
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.timeout = timeout
        self.name = f"openai:{model}"
        # A local server needs no key, but the client insists on one.
        self._chat = ChatOpenAI(
            model=model,
            api_key=SecretStr(api_key or "not-needed"),
            base_url=base_url,
            timeout=timeout,
            max_retries=retries,
            temperature=temperature,
            # A cited answer is a few sentences; a small model asked to copy a sentence can
            # go on copying for minutes (3,049 tokens, 9 minutes, seen on 2 cores). Sent as
            # `max_tokens`, which every OpenAI-compatible server reads (llama.cpp's ignores
            # the newer `max_completion_tokens` the client would send instead).
            extra_body={"max_tokens": max_tokens},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIBackend:
        """Build from ASSISTANT_LLM_* and OPENAI_* settings."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return cls(
            model=settings.llm_model,
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            retries=settings.llm_retries,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )

    def generate(self, request: GenerationRequest) -> Iterator[str]:
        """Stream the model's answer; the openai client retries 429/5xx/timeouts itself."""
        finished = False
        wrote = False
        try:
            for chunk in self._chat.stream(answer_messages(request)):
                finished = finished or bool(chunk.response_metadata.get("finish_reason"))
                text = _text_of(chunk.content)
                if text:
                    wrote = True
                    yield text
        except LLMError:
            raise
        except Exception as e:
            raise self._explain(e) from e
        if finished and not wrote:
            raise LLMError(f"the LLM server at {self.base_url} sent an empty answer; ask again")
        if not finished:
            # The connection closed before the server said the answer was complete.
            raise LLMError(
                f"the LLM server at {self.base_url} stopped in the middle of its answer; ask again"
            )

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """The question made standalone by the model (the question itself without history)."""
        if not history:
            return question
        try:
            reply = self._chat.invoke(rewrite_messages(question, history))
        except Exception as e:
            raise self._explain(e) from e
        lines = [line.strip() for line in _text_of(reply.content).splitlines() if line.strip()]
        rewritten = lines[0].strip("\"'“”‘’ ") if lines else ""
        # A reply that is empty or rambles is no better than the question itself.
        return rewritten if 0 < len(rewritten) <= 4 * len(question) + 200 else question

    def _explain(self, error: Exception) -> LLMError:
        import openai

        where = f"the LLM server at {self.base_url}"
        if isinstance(error, openai.AuthenticationError):
            return LLMError(f"{where} rejected the API key (401); check OPENAI_API_KEY")
        if isinstance(error, openai.PermissionDeniedError):
            return LLMError(f"{where} refused access (403); check the key's permissions")
        if isinstance(error, openai.RateLimitError):
            return LLMError(
                f"{where} is rate limiting requests (429) and retries ran out; wait a moment "
                "and ask again, or raise ASSISTANT_LLM_RETRIES"
            )
        if isinstance(error, openai.NotFoundError):
            return LLMError(
                f"{where} does not know model {self.model!r} (404); set ASSISTANT_LLM_MODEL"
            )
        if isinstance(error, openai.APITimeoutError):
            return LLMError(
                f"{where} did not answer within {self.timeout:g} s; raise ASSISTANT_LLM_TIMEOUT "
                "or check the server"
            )
        if isinstance(error, openai.APIConnectionError):
            return LLMError(f"cannot reach {where}; check OPENAI_BASE_URL and that the server runs")
        if isinstance(error, openai.APIStatusError):
            return LLMError(f"{where} failed with HTTP {error.status_code}; try again later")
        return LLMError(
            f"{where} sent a reply that could not be read ({type(error).__name__}: {error})"
        )


# Article text must not be able to close its own source block or open a fake one.
_SOURCE_TAG = re.compile(r"<(/?)\s*source", re.IGNORECASE)


def _attribute(value: str) -> str:
    return " ".join(value.replace('"', "'").replace("<", "(").replace(">", ")").split())


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return ""

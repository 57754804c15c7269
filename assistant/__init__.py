"""Answering questions about news articles with verified citations."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.errors import (
        AssistantError,
        ConfigError,
        LoadError,
        ModelMismatchError,
        OperationalError,
        StoreError,
        UsageError,
        UserError,
    )

    from .core import IndexStats, NewsAssistant, sample_corpus
    from .errors import LLMError
    from .export import answer_markdown
    from .models import REFUSAL, Answer, AnswerChunk, Citation, Turn
    from .retriever import NewsRetriever
    from .settings import Settings, load_settings

# Names load on first use (PEP 562) so that importing the package stays fast.
_LAZY = {
    "AssistantError": "index.errors",
    "ConfigError": "index.errors",
    "LLMError": ".errors",
    "LoadError": "index.errors",
    "ModelMismatchError": "index.errors",
    "OperationalError": "index.errors",
    "StoreError": "index.errors",
    "UsageError": "index.errors",
    "UserError": "index.errors",
    "IndexStats": ".core",
    "NewsAssistant": ".core",
    "sample_corpus": ".core",
    "REFUSAL": ".models",
    "Answer": ".models",
    "AnswerChunk": ".models",
    "Citation": ".models",
    "Turn": ".models",
    "NewsRetriever": ".retriever",
    "answer_markdown": ".export",
    "Settings": ".settings",
    "load_settings": ".settings",
}

__all__ = [
    "REFUSAL",
    "Answer",
    "AnswerChunk",
    "AssistantError",
    "Citation",
    "ConfigError",
    "IndexStats",
    "LLMError",
    "LoadError",
    "ModelMismatchError",
    "NewsAssistant",
    "NewsRetriever",
    "OperationalError",
    "Settings",
    "StoreError",
    "Turn",
    "UsageError",
    "UserError",
    "answer_markdown",
    "load_settings",
    "sample_corpus",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

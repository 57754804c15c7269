"""The assistant's errors: the index's two families, plus the language-model failure.

`UserError` (configuration or usage the user can fix) and `OperationalError` (a file, the
store or a model provider failed at run time) are defined by the index; the assistant adds
`LLMError`, an `OperationalError` only its LLM backends raise.
"""

from __future__ import annotations

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

__all__ = [
    "AssistantError",
    "ConfigError",
    "LLMError",
    "LoadError",
    "ModelMismatchError",
    "OperationalError",
    "StoreError",
    "UsageError",
    "UserError",
]


class LLMError(OperationalError):
    """The language model provider failed (bad key, rate limit, server error, timeout)."""

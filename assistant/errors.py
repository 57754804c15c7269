"""The one error the assistant adds to the index's two families (`index.errors`): `LLMError`,
an `OperationalError` only its LLM backends raise."""

from __future__ import annotations

from index.errors import OperationalError

__all__ = ["LLMError"]


class LLMError(OperationalError):
    """The language model provider failed (bad key, rate limit, server error, timeout)."""

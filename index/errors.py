"""The one error hierarchy of the product.

Two families: `UserError` (configuration or usage the user can fix) and `OperationalError`
(a file or the store failed at run time; `assistant.errors` adds `LLMError` for the model
providers). Every message names the thing that went wrong and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AssistantError",
    "BusyError",
    "ConfigError",
    "LoadError",
    "ModelMismatchError",
    "OperationalError",
    "StoreError",
    "UsageError",
    "UserError",
]


class AssistantError(Exception):
    """Base of every error the product raises on purpose."""


class UserError(AssistantError):
    """Something the user can fix: a setting, an argument, a command."""


class ConfigError(UserError):
    """A setting is missing or has a bad value."""


class UsageError(UserError):
    """A command or API call was used the wrong way (bad argument, unknown article)."""


class ModelMismatchError(UserError):
    """The index was built with another embedding model than the one configured."""


class OperationalError(AssistantError):
    """Something failed while running: a file, the store, a model provider."""


class LoadError(OperationalError):
    """A file could not be read as an article; `path` names it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(OperationalError):
    """The Chroma store could not be reached or refused an operation."""


class BusyError(StoreError):
    """Another ingest or sync holds the store's one-writer lock (or lease) and did not let
    go in time: a scheduled sync skips its round on this, a command reports it."""

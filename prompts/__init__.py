"""Prompt templates kept as plain files next to this module, rendered by one loader."""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources

__all__ = ["load", "render", "variables"]


class PromptError(KeyError):
    """A template is missing, or was rendered without one of its variables."""


@lru_cache(maxsize=32)
def load(name: str) -> str:
    """The text of `prompts/<name>.txt`."""
    try:
        return resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise PromptError(f"no prompt template named {name!r} in the prompts package") from e


def variables(name: str) -> set[str]:
    """The `{placeholders}` a template needs."""
    return {field for _, field, _, _ in string.Formatter().parse(load(name)) if field}


def render(name: str, /, **values: object) -> str:
    """The template filled in; a missing variable is an error, never an empty string."""
    missing = variables(name) - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs {', '.join(sorted(missing))}")
    return load(name).format(**values)

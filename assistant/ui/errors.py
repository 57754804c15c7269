"""Errors at the UI's edge: what goes wrong in a handler reaches the person as a `gr.Error`
in plain words, never as a traceback."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

from index.errors import AssistantError

__all__ = ["plain", "reported", "toast", "ui_error"]

log = logging.getLogger("assistant.ui")


def plain(message: str) -> str:
    """An error message as a sentence: capitalised, ending with a full stop. One that
    starts with a URL or a file name ("http://…: refused", "a.txt: empty") keeps it as is."""
    message = " ".join(message.split())
    if not message:
        return "Something went wrong."
    if message.split(" ", 1)[0].rstrip(",;:").isalpha():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def toast(message: str) -> str:
    """Text for a toast, which renders (sanitised) HTML: markup in names shows as text."""
    return html.escape(message, quote=False)


def ui_error(error: BaseException, doing: str) -> gr.Error:
    """A `gr.Error` in plain words; unexpected errors are logged, never shown as a traceback.

    Toasts render HTML (sanitised), so the message is escaped: a file or article name
    with markup in it shows as text.
    """
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, AssistantError):
        return gr.Error(toast(plain(str(error))), print_exception=False)
    log.error("unexpected error while %s", doing, exc_info=error)
    return gr.Error(
        f"Something went wrong while {doing}. The server log has the details.",
        print_exception=False,
    )


@contextmanager
def reported(doing: str) -> Iterator[None]:
    """Turn any error in the block (or the decorated function) into `ui_error(e, doing)`.

    `doing` completes "Something went wrong while ...", e.g. "reading the index". Works as
    a decorator on plain functions; a generator wraps the part that may fail in a `with`.
    """
    try:
        yield
    except gr.Error:
        raise
    except Exception as e:
        raise ui_error(e, doing) from e

"""The browser chat (Gradio). `build_app` makes the page; `serve` launches it.

The only module that imports gradio. Handlers call the same `NewsAssistant` API as the CLI.
Article text, titles and URLs are untrusted: everything is escaped before it is shown.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from index.errors import AssistantError

if TYPE_CHECKING:
    import gradio as gr

    from .core import NewsAssistant
    from .models import Answer

__all__ = ["build_app", "render_answer", "serve"]

EXAMPLES = [
    "Who is GEM partnering with?",
    "When did Northvolt file for bankruptcy protection?",
    "What does the EU battery regulation require?",
]


def _link(url: str, text: str) -> str:
    if url.startswith(("http://", "https://")):
        href = html.escape(url, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{text}</a>'
    return text


def render_answer(answer: Answer) -> str:
    """An answer as safe HTML: the text (markers kept) and its sources with quotes."""
    parts = [f"<p>{html.escape(answer.answer)}</p>"]
    if answer.unsupported:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in answer.unsupported)
        parts.append(f"<p><strong>Not supported by any source:</strong></p><ul>{items}</ul>")
    if answer.citations:
        rows = []
        for c in answer.citations:
            meta = " · ".join(html.escape(x) for x in (c.source, c.published_at) if x)
            title = _link(c.url, html.escape(c.title or "untitled"))
            rows.append(
                f"<li>[{c.n}] {title}"
                + (f" <em>({meta})</em>" if meta else "")
                + f"<blockquote>{html.escape(c.quote)}</blockquote></li>"
            )
        parts.append(
            f"<ol class='sources' style='list-style:none;padding-left:0'>{''.join(rows)}</ol>"
        )
    return "\n".join(parts)


def build_app(assistant: NewsAssistant) -> gr.Blocks:
    """The chat page for `assistant`."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no phoning home
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]]) -> Iterator[Any]:
        history = [*history, {"role": "user", "content": message}]
        try:
            draft = ""
            for chunk in assistant.stream(message):
                if chunk.answer is not None:
                    content = render_answer(chunk.answer)
                else:
                    draft += chunk.text
                    content = html.escape(draft)
                yield "", [*history, {"role": "assistant", "content": content}]
        except AssistantError as e:
            raise gr.Error(str(e)) from e

    with gr.Blocks(title="News Assistant") as app:
        gr.Markdown("## News Assistant\nAsk about your articles; every answer cites its sources.")
        status = gr.Markdown()
        chat = gr.Chatbot(label="Conversation", height=520)
        box = gr.Textbox(placeholder="Ask a question about your articles", label="Question")
        gr.Examples(EXAMPLES, inputs=box)
        box.submit(respond, [box, chat], [box, chat])

        def describe() -> str:
            articles, chunks = assistant.store.counts()
            label = assistant.backend_label
            return f"Answers by: {label} · {articles} articles, {chunks} chunks indexed"

        app.load(describe, None, status)
    return app


def serve(assistant: NewsAssistant, *, host: str, port: int) -> None:
    """Launch the chat and block until interrupted."""
    app = build_app(assistant)
    app.queue(default_concurrency_limit=8).launch(server_name=host, server_port=port)

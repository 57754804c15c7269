"""Run the news assistant in the browser: index the sample articles if the index is empty,
then serve the chat on ASSISTANT_HOST:ASSISTANT_PORT (default http://127.0.0.1:7860), behind
a login when ASSISTANT_AUTH or ASSISTANT_AUTH_FILE is set."""

from __future__ import annotations

import sys


def main() -> int:
    """Wire settings, index and assistant together and launch the UI."""
    from assistant import AssistantError, NewsAssistant, UserError, load_settings
    from assistant.ui import serve

    try:
        settings = load_settings()
        assistant = NewsAssistant(settings)
        report = assistant.ensure_samples()
        if report is not None:
            print(f"Indexed {report.added} sample articles ({report.chunks} chunks).")
        print(f"Answers by: {assistant.backend_label}")
        serve(assistant, host=settings.host, port=settings.port)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, UserError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

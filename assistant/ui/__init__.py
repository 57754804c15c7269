"""The browser chat (Gradio): `build_app` makes the page, `launch` serves it, `serve` does both.

The only package that imports gradio, and only when one of its names is used: importing
`assistant.ui.render` (pure HTML) or `assistant.ui.uploads` loads no gradio.

- `handlers.py`: what each button, box and API endpoint does (`UIHandlers`, one class
  holding the `NewsAssistant`); `errors.py` turns their errors into `gr.Error`.
- `app.py`: the layout and the event wiring (`build_app`).
- `server.py`: `launch`, `serve`, the `/cli/ask` route, the exposure warning.
- `render.py` and `templates/`: the HTML; `chat.py`: the conversation the browser keeps.
- `uploads.py`: naming, copying and cleaning up uploaded files.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import EXAMPLES, build_app
    from .handlers import UIHandlers
    from .server import exposure_warning, launch, serve
    from .uploads import MAX_NAME_BYTES, safe_upload_name

__all__ = [
    "EXAMPLES",
    "MAX_NAME_BYTES",
    "UIHandlers",
    "build_app",
    "exposure_warning",
    "launch",
    "safe_upload_name",
    "serve",
]

_WHERE = {
    "EXAMPLES": "app",
    "build_app": "app",
    "UIHandlers": "handlers",
    "exposure_warning": "server",
    "launch": "server",
    "serve": "server",
    "MAX_NAME_BYTES": "uploads",
    "safe_upload_name": "uploads",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that the pure modules (and `assistant --help`) do not load gradio.
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)

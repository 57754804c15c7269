"""Serving the page: `launch` (one app, on host:port), `serve` (build, launch, answer the
CLI, until interrupted) and the warning for a page others can reach without a login.

Machine interfaces: `serve` also answers the OpenAI chat API at `/v1` (assistant/chat_api.py)
and MCP at `/mcp` (assistant/mcp_server.py), behind ASSISTANT_API_KEYS or the login; bound to
a non-loopback address it refuses to start without API keys.

Exposure: `serve` binds where ASSISTANT_HOST says (127.0.0.1 by default), asks for a login
when ASSISTANT_AUTH / ASSISTANT_AUTH_FILE are set (the page and every API route), and warns
when it is reachable from other machines without one. Bound to anything but loopback, its web
fetches (feeds and pages added in the page or through the API, and every sync it runs) refuse
loopback, private, link-local and cloud-metadata addresses unless ASSISTANT_FETCH_PRIVATE
allows them: whoever reaches the page must not make the server fetch inside its network.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import gradio as gr

from index.errors import AssistantError, UserError

from ..local import ASK_ROUTE, ServerFile, answer_payload
from .app import build_app, static
from .uploads import UPLOAD_CAP_FACTOR

if TYPE_CHECKING:
    from ..access import Access
    from ..core import NewsAssistant

__all__ = [
    "AUTH_MESSAGE",
    "exposure_warning",
    "guards_fetches",
    "is_loopback",
    "launch",
    "serve",
    "serve_api",
    "serve_cli",
]

log = logging.getLogger("assistant.ui")

# Tries of a launch whose own page did not answer within Gradio's 3 s.
LAUNCH_TRIES = 3
AUTH_MESSAGE = "Sign in to the News Assistant with the user name and password you were given."


def _theme() -> Any:
    # System fonts: the page must not fetch fonts from the internet.
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def launch(
    app: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    max_file_mb: float = 50.0,
    auth: Sequence[tuple[str, str]] = (),
    quiet: bool = False,
) -> str:
    """Serve `app` on host:port with the page's theme and styles; returns the local URL.
    With `auth` (user, password) pairs, the page and every API call need a login.
    `max_file_mb` is the app's per-file limit (ASSISTANT_MAX_FILE_MB): the server stops any
    file over UPLOAD_CAP_FACTOR times it while it arrives.
    With `block=False` it returns at once and the server runs until `app.close()`.

    Gradio checks that its own page answers within 3 s of starting and gives up at once
    otherwise ("localhost is not accessible"): on a busy machine (2 cores serving a model
    and an ingest) a first request can take longer, so the launch is tried three times."""
    for attempt in range(1, LAUNCH_TRIES + 1):
        try:
            _, url, _ = app.launch(
                server_name=host,
                server_port=port,
                prevent_thread_lock=not block,
                show_error=False,
                max_file_size=int(UPLOAD_CAP_FACTOR * max_file_mb * 1024 * 1024),
                auth=list(auth) or None,
                auth_message=AUTH_MESSAGE if auth else None,
                theme=_theme(),
                css=static("ui.css"),
                footer_links=["api"],
                ssr_mode=False,
                quiet=quiet,
            )
            return str(url)
        except ValueError as error:
            if "localhost is not accessible" not in str(error):
                raise
            app.close()
            late = error
            log.warning(
                "the web UI's page did not answer in time (try %d of %d)", attempt, LAUNCH_TRIES
            )
    raise UserError(
        f"the web UI started on {host}:{port} but its own page did not answer within 3 s, "
        f"{LAUNCH_TRIES} times; the machine may be too busy, or a proxy setting (HTTP_PROXY "
        "without NO_PROXY=localhost) sends local requests away: try again, or unset the "
        "proxy for localhost"
    ) from late


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps a server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name in ("localhost", "localhost.")


def guards_fetches(host: str) -> bool:
    """Whether a server bound to `host` must refuse to fetch non-public addresses: yes
    unless it is bound to loopback (then only this machine's users reach it)."""
    return not is_loopback(host)


def exposure_warning(host: str, *, login: bool) -> str | None:
    """What to tell the person starting the UI when `host` is reachable from other machines
    and no login is configured; None when it binds to loopback or needs a login."""
    if is_loopback(host) or login:
        return None
    return (
        f"the web UI listens on {host}, so other machines can reach it, and no login is "
        "set: anyone who reaches it can read, add and remove articles. Set ASSISTANT_AUTH "
        "(user:password pairs) or ASSISTANT_AUTH_FILE, and put a TLS reverse proxy in "
        "front (README: Running it safely); or bind to 127.0.0.1 (ASSISTANT_HOST)."
    )


def serve(assistant: NewsAssistant, *, host: str, port: int) -> None:
    """Build the page and serve it until interrupted, with the login ASSISTANT_AUTH /
    ASSISTANT_AUTH_FILE configure; warns when it is exposed without one.

    Bound to a non-loopback address, the assistant's fetches refuse non-public addresses
    (unless ASSISTANT_FETCH_PRIVATE). The followed feeds are synced in the background every
    ASSISTANT_SYNC_MINUTES (see `BackgroundSync`), until the server stops."""
    from ..access import Access, require_keys
    from ..schedule import BackgroundSync

    settings = assistant.settings
    logins = settings.logins()
    access = Access(keys=settings.keys(), logins=logins)
    require_keys(host, access.keys, loopback=is_loopback(host))
    warning = exposure_warning(host, login=bool(logins))
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if guards_fetches(host):
        assistant.guard_fetches = True
        if not settings.fetch_private:
            print(
                f"Feeds and pages are not fetched from loopback, private or link-local "
                f"addresses: the server listens on {host} (ASSISTANT_FETCH_PRIVATE=true "
                "allows them).",
                flush=True,
            )
    # Load the models and the keyword index now, not on the first question (and not by
    # eight at once).
    assistant.searcher.retrieve("warm up", k=1)
    app = build_app(assistant)
    url = launch(
        app, host=host, port=port, max_file_mb=settings.max_file_mb, auth=logins, block=False
    )

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwind, so the server file is withdrawn

    # Both, explicitly: a server started in the background of a script inherits an
    # ignored SIGINT, and a service manager stops it with SIGTERM. Before the server file
    # is written: a stop right after it appears must still withdraw it.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    entry: ServerFile | None = None
    background: BackgroundSync | None = None
    try:
        entry = serve_cli(app, assistant, url=url)
        serve_api(app, assistant, host=host, access=access)
        background = BackgroundSync(assistant, minutes=settings.sync_minutes)
        background.start()
        if settings.sync_minutes > 0:
            print(f"Feeds are synced every {settings.sync_minutes:g} minutes.", flush=True)
        app.block_thread()
    finally:
        if background is not None:
            background.stop()
        if entry is not None:
            entry.withdraw(settings.data_dir)


def serve_cli(app: gr.Blocks, assistant: NewsAssistant, *, url: str) -> ServerFile:
    """Answer `assistant ask` for this data dir: add the `/cli/ask` route (it needs the
    token written to `<data dir>/server.json`, whatever the page's login) and announce it."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    loopback = _loopback_url(url)
    entry = ServerFile.announce(assistant.settings.data_dir, url=loopback)

    def cli_ask(request: Request, payload: dict[str, Any]) -> JSONResponse:
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {entry.token}".encode()):
            return JSONResponse({"error": "a valid server token is required"}, status_code=401)
        try:
            return JSONResponse(answer_payload(assistant, payload))
        except UserError as e:
            return JSONResponse({"error": str(e), "kind": "usage"}, status_code=400)
        except AssistantError as e:
            return JSONResponse({"error": str(e), "kind": "runtime"}, status_code=500)
        except Exception as e:
            log.exception("answering a CLI question failed")
            return JSONResponse(
                {"error": f"unexpected {type(e).__name__}: {e}", "kind": "runtime"},
                status_code=500,
            )

    # FastAPI reads the parameters' types, which postponed annotations hide from it.
    cli_ask.__annotations__ = {"request": Request, "payload": dict, "return": JSONResponse}
    app.server_app.add_api_route(ASK_ROUTE, cli_ask, methods=["POST"], include_in_schema=False)
    # Gradio's catch-all routes come first otherwise; the new route must be matched first.
    routes = app.server_app.router.routes
    routes.insert(0, routes.pop())
    return entry


def serve_api(app: gr.Blocks, assistant: NewsAssistant, *, host: str, access: Access) -> None:
    """Add the machine interfaces: the OpenAI-compatible API at `/v1` and the MCP server
    over streamable HTTP at `/mcp`, both behind `access` (the API keys and logins)."""
    from starlette.routing import Route

    from ..chat_api import add_chat_api
    from ..mcp_server import mcp_http_app

    add_chat_api(app.server_app, assistant, access=access)
    endpoint = mcp_http_app(assistant, access=access, host=host)
    app.server_app.router.routes.insert(0, Route("/mcp", endpoint=endpoint))


def _loopback_url(url: str) -> str:
    """The server's URL as a process on this machine reaches it (0.0.0.0 -> 127.0.0.1)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme or "http", netloc, "", "", "")).rstrip("/")

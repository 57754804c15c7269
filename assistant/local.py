"""A running `assistant serve` on a data dir, for the CLI to answer through.

Loading torch, the embedding model and the index takes the CLI seconds per question. A
server that already holds them announces itself in `<data dir>/server.json` (its local
URL, its process id and a random token, readable only by its owner); `assistant ask`
finds the file, sends the question to the server's `/cli/ask` route with the token, and
prints the answer. Only the standard library is imported on this path, so the question
costs about as much as starting Python.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import OperationalError, UsageError

__all__ = ["ASK_ROUTE", "ServerFile", "ask_server"]

ASK_ROUTE = "/cli/ask"
_FILE = "server.json"


@dataclass(frozen=True, slots=True)
class ServerFile:
    """What a running server writes about itself into its data dir."""

    url: str
    pid: int
    token: str
    host: str = ""

    @staticmethod
    def path(data_dir: Path) -> Path:
        """Where the file lives for a data dir."""
        return data_dir / _FILE

    @classmethod
    def announce(cls, data_dir: Path, *, url: str) -> ServerFile:
        """Write the file for this process (mode 0600: the token is a credential)."""
        entry = cls(url=url.rstrip("/"), pid=os.getpid(), token=secrets.token_urlsafe(24))
        entry = cls(entry.url, entry.pid, entry.token, socket.gethostname())
        data_dir.mkdir(parents=True, exist_ok=True)
        path = cls.path(data_dir)
        tmp = path.with_name(f".{_FILE}.{entry.pid}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(
                {"url": entry.url, "pid": entry.pid, "token": entry.token, "host": entry.host}, f
            )
        tmp.replace(path)
        return entry

    @classmethod
    def find(cls, data_dir: Path) -> ServerFile | None:
        """The server announced in `data_dir`, if its process still runs on this host."""
        try:
            data = json.loads(cls.path(data_dir).read_text(encoding="utf-8"))
            entry = cls(
                str(data["url"]), int(data["pid"]), str(data["token"]), data.get("host", "")
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if entry.host and entry.host != socket.gethostname():
            return None
        try:
            os.kill(entry.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it runs, as another user
        return entry

    def withdraw(self, data_dir: Path) -> None:
        """Remove the file, if it is still this server's."""
        found = ServerFile.find(data_dir)
        if found is not None and found.pid == self.pid and found.token == self.token:
            ServerFile.path(data_dir).unlink(missing_ok=True)


def ask_server(
    entry: ServerFile, payload: dict[str, Any], *, timeout: float
) -> dict[str, Any] | None:
    """The server's answer (an `Answer.model_dump()` object); None when it cannot be reached,
    so the caller answers by itself. A refusal of the question itself (empty, too long) is
    a UsageError, a failure while answering an OperationalError, as if asked locally."""
    request = urllib.request.Request(
        entry.url + ASK_ROUTE,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {entry.token}"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(request, timeout=timeout) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read())
        except ValueError:
            return None
        if not isinstance(body, dict) or "error" not in body:
            return None
        error = str(body["error"])
        if body.get("kind") == "usage":
            raise UsageError(error) from None
        raise OperationalError(error) from None
    except TimeoutError as e:
        raise OperationalError(
            f"the assistant server at {entry.url} did not answer within {timeout:g} s; "
            "ask again, or add --local to answer without it"
        ) from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise OperationalError(
                f"the assistant server at {entry.url} did not answer within {timeout:g} s; "
                "ask again, or add --local to answer without it"
            ) from e
        return None  # not running there any more: answer locally
    except (OSError, ValueError):
        return None


def answer_payload(assistant: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """What the server's `/cli/ask` route does: the payload `assistant ask` sends, answered
    by `assistant.ask` (the same call the CLI makes locally)."""
    from datetime import date

    from index import SearchFilter

    from .models import Turn

    def day(key: str) -> date | None:
        value = payload.get(key)
        if not value:
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise UsageError(f"{key} {value!r} is not a date; use YYYY-MM-DD") from None

    try:
        history = [Turn(str(q), str(a)) for q, a in payload.get("history") or []]
        k = int(payload["k"]) if payload.get("k") is not None else None
        sources = tuple(str(s) for s in payload.get("sources") or ())
    except (TypeError, ValueError) as e:
        raise UsageError(f"malformed request ({e})") from e
    answer = assistant.ask(
        str(payload.get("question", "")),
        history=history,
        k=k,
        where=SearchFilter(sources=sources, since=day("since"), until=day("until")),
        today=day("as_of"),
    )
    return answer.model_dump()

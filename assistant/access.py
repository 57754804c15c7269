"""Who may use the server's machine interfaces (the OpenAI-compatible `/v1` and MCP's `/mcp`).

A request carries `Authorization: Bearer KEY` with a key of ASSISTANT_API_KEYS, or HTTP
Basic with a login of ASSISTANT_AUTH / ASSISTANT_AUTH_FILE (the page's login). With
neither configured, a server on loopback answers requests addressed to a loopback name
(`Host: 127.0.0.1:7860`, `localhost`): not those a reverse proxy forwards under a public
name, nor a web page's through a DNS-rebinding name. A server bound to another address
refuses to start without keys (`require_keys`), so these interfaces are never open to a
network.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from index.errors import ConfigError

__all__ = ["Access", "local_host", "require_keys"]


@dataclass(frozen=True, slots=True)
class Access:
    """The API keys and logins a request may present."""

    keys: Sequence[str] = ()
    logins: Sequence[tuple[str, str]] = ()

    @property
    def open(self) -> bool:
        """True when no key or login is configured (only allowed on loopback)."""
        return not self.keys and not self.logins

    def allows(self, authorization: str | None, *, host: str | None = None) -> bool:
        """Whether a request with this Authorization header (and, when no key or login is
        configured, this Host header) may go through."""
        if self.open:
            return host is None or local_host(host)
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            given = credentials.encode()
            # Every key compared, so the time taken does not say which one nearly matched.
            return sum(secrets.compare_digest(given, k.encode()) for k in self.keys) > 0
        if scheme.lower() == "basic" and credentials:
            try:
                user, colon, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            if not colon:
                return False
            pair = f"{user}:{password}".encode()
            return (
                sum(secrets.compare_digest(pair, f"{u}:{p}".encode()) for u, p in self.logins) > 0
            )
        return False


def local_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback (`127.0.0.1:7860`, `[::1]`,
    `localhost`)."""
    import ipaddress

    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def require_keys(host: str, keys: Sequence[str], *, loopback: bool) -> None:
    """ConfigError when a server bound to a non-loopback `host` has no API keys."""
    if loopback or keys:
        return
    raise ConfigError(
        f"the server listens on {host}, which other machines can reach, and its OpenAI-"
        "compatible API (/v1) and MCP endpoint (/mcp) need API keys there: set "
        "ASSISTANT_API_KEYS=key1,key2 (clients send `Authorization: Bearer key1`), or bind "
        "to 127.0.0.1 (ASSISTANT_HOST)"
    )

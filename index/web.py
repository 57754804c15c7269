"""Fetching web pages politely and safely, and the one form of a URL an article is known by.

`Fetcher` is the only way the index talks HTTP: one identifying User-Agent, robots.txt
honoured (RFC 9309, cached a day), at most 2 requests at a time per host and 8 overall,
conditional requests (ETag / Last-Modified), `Retry-After` honoured on 429/503 within a
bound, a timeout per step and per download, a size cap enforced while streaming and on the
decompressed size (a gzip bomb is cut off with flat memory), at most 5 redirects. With
`guard_private` it refuses loopback, private, link-local and cloud-metadata addresses after
DNS resolution and on every redirect, and connects to the address it checked (no DNS
rebinding between the check and the connection). Every failure is a `FetchError` naming
the URL and the reason in one line.
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from .errors import LoadError, UsageError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchError",
    "FetchOptions",
    "Fetched",
    "Fetcher",
    "RobotsCache",
    "canonical_url",
    "is_url",
    "user_agent",
]

_PRODUCT = "news-assistant"

# Query parameters that only say how a reader got to a page (campaigns, click ids).
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
        "s_cid",
        "ncid",
        "cmpid",
        "ito",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_URL = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*://")
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a cached robots.txt should not be used for longer
_CHUNK = 64 * 1024


def user_agent(version: str, contact: str = "") -> str:
    """The User-Agent every request carries: product/version and how to reach its operator."""
    return f"{_PRODUCT}/{version}" + (f" (+{contact})" if contact else "")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version(_PRODUCT)
    except metadata.PackageNotFoundError:
        return "0"


DEFAULT_USER_AGENT = user_agent(_version())


def is_url(text: str) -> bool:
    """True when `text` is written as a URL (scheme://...), whatever the scheme."""
    return bool(_URL.match(text.strip()))


def canonical_url(url: str) -> str:
    """The one form of a URL an article is known by: scheme and host lower-cased, default
    port, fragment and tracking parameters (utm_*, fbclid, gclid, mc_cid ...) dropped, an
    empty path written "/". Other parameters keep their order (it can matter)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username is not None:
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{auth}@{netloc}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not (key.lower() in _TRACKING_PARAMS or key.lower().startswith(_TRACKING_PREFIXES))
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


class FetchError(LoadError):
    """A URL could not be fetched; `path` is the URL, `reason` says why in one line."""


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How the fetcher behaves; the defaults are the polite ones the README describes."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 20.0  # seconds for each step (connect, each read); 3x for a whole download
    max_bytes: int = 50 * 1024 * 1024  # per response, raw and decompressed
    max_redirects: int = 5
    per_host: int = 2
    total: int = 8
    guard_private: bool = False  # refuse non-public addresses (a server's fetches)
    allow_private: bool = False  # ASSISTANT_FETCH_PRIVATE: the operator allows them anyway
    retries: int = 2  # on 429/503 with a Retry-After within max_retry_after
    max_retry_after: float = 60.0
    robots: bool = True


@dataclass(slots=True)
class Fetched:
    """A response read in full: 200 with its body, or 304 (not modified, no body)."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    content_type: str = ""  # media type, lower-case, without parameters
    charset: str = ""
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        """True for a 304: what was fetched last time is still current."""
        return self.status == 304


@dataclass(slots=True)
class RobotsCache:
    """robots.txt per origin, shared by the fetcher's threads; rows fetched during a run are
    in `fresh`, so the caller can keep them (in the store) for the next run."""

    entries: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    fresh: dict[str, tuple[str | None, float]] = field(default_factory=dict)
    _parsed: dict[str, RobotFileParser | None] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lock(self, origin: str) -> threading.Lock:
        """The lock one origin's robots.txt is fetched under (so it is fetched once)."""
        with self._lock:
            return self._locks.setdefault(origin, threading.Lock())

    def get(self, origin: str) -> tuple[bool, RobotFileParser | None]:
        """(known and fresh, its parser or None when everything is allowed)."""
        with self._lock:
            entry = self.entries.get(origin)
            if entry is None or time.time() - entry[1] > ROBOTS_TTL:
                return False, None
            if origin not in self._parsed:
                self._parsed[origin] = _robots_parser(entry[0])
            return True, self._parsed[origin]

    def put(self, origin: str, text: str | None) -> None:
        """Remember a freshly fetched robots.txt (None: no rules)."""
        with self._lock:
            entry = (text, time.time())
            self.entries[origin] = self.fresh[origin] = entry
            self._parsed.pop(origin, None)


def _robots_parser(text: str | None) -> RobotFileParser | None:
    if text is None:
        return None
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


class _RetryLater(Exception):
    def __init__(self, status: int, seconds: float) -> None:
        super().__init__(status, seconds)
        self.status = status
        self.seconds = seconds


class Fetcher:
    """A polite, size- and time-bounded HTTP client, safe to share between threads.

    Example:
        with Fetcher(FetchOptions(timeout=10)) as fetcher:
            page = fetcher.get("https://example.com/news/1.html")
    """

    def __init__(self, options: FetchOptions | None = None, *, robots: RobotsCache | None = None):
        import httpx

        self.options = options or FetchOptions()
        self.robots = robots if robots is not None else RobotsCache()
        o = self.options
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(o.timeout),
            limits=httpx.Limits(max_connections=o.total, max_keepalive_connections=o.total),
            headers={"User-Agent": o.user_agent, "Accept-Encoding": "gzip, deflate"},
            # Proxies from the environment, except when the address guard is on: a proxy
            # would connect to addresses the guard never sees.
            trust_env=not o.guard_private,
        )
        self._all = threading.BoundedSemaphore(o.total)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()
        self.requests = 0  # HTTP requests sent (robots.txt included)
        self._count_lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    # -- the public call -------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        etag: str = "",
        last_modified: str = "",
        accept: str = "*/*",
        max_bytes: int | None = None,
    ) -> Fetched:
        """GET `url` (redirects followed, robots.txt checked at every hop), conditionally when
        `etag`/`last_modified` are given; a 304 comes back as `not_modified`. Raises
        FetchError with the URL and the reason."""
        check_url(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        limit = max_bytes or self.options.max_bytes
        for attempt in range(self.options.retries + 1):
            try:
                got = self._follow(url, headers, limit, robots=self.options.robots)
            except _RetryLater as e:
                wait = e.seconds
                if attempt >= self.options.retries or wait > self.options.max_retry_after:
                    raise FetchError(
                        url,
                        f"HTTP {e.status}: the server asks to retry after {wait:g} s"
                        + ("; retries ran out" if wait <= self.options.max_retry_after else "")
                        + "; try again later",
                    ) from None
                time.sleep(wait)
                continue
            if got.not_modified and not (etag or last_modified):
                raise FetchError(url, "HTTP 304 Not Modified to a request that was not conditional")
            return got
        raise AssertionError("unreachable")

    # -- redirects, robots, the address guard ----------------------------------------------

    def _follow(self, url: str, headers: dict[str, str], limit: int, *, robots: bool) -> Fetched:
        current = url
        # Exact URLs: a redirect that only drops tracking parameters is no loop.
        seen = [urldefrag(url)[0]]
        for _ in range(self.options.max_redirects + 1):
            if robots and not self._allowed(url, current):
                raise FetchError(url, f"robots.txt of {_origin(current)} disallows {current}")
            location = self._fetch_one(url, current, headers, limit)
            if isinstance(location, Fetched):
                return location
            target = urljoin(current, location)
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise FetchError(url, f"redirected to {target[:200]}, which is not http(s)")
            key = urldefrag(target)[0]
            if key in seen:
                raise FetchError(url, f"redirect loop ({current} leads back to {target})")
            seen.append(key)
            current = target
        raise FetchError(url, f"too many redirects (more than {self.options.max_redirects})")

    def _allowed(self, url: str, target: str) -> bool:
        origin = _origin(target)
        known, parser = self.robots.get(origin)
        if not known:
            with self.robots.lock(origin):
                known, parser = self.robots.get(origin)
                if not known:
                    self.robots.put(origin, self._fetch_robots(url, origin))
                    known, parser = self.robots.get(origin)
        return parser is None or parser.can_fetch(_PRODUCT, target)

    def _fetch_robots(self, url: str, origin: str) -> str | None:
        """robots.txt's text; None when there is none (4xx: everything allowed, RFC 9309).
        A server error means "disallow everything for now" and is reported as such."""
        robots_url = origin + "/robots.txt"
        try:
            got = self._follow(robots_url, {"Accept": "text/plain"}, 512 * 1024, robots=False)
        except FetchError as e:
            if e.reason.startswith("HTTP 4"):
                return None
            if e.reason.startswith("HTTP 5"):
                raise FetchError(
                    url, f"robots.txt at {robots_url} answered {e.reason}; not fetching for now"
                ) from None
            raise FetchError(url, e.reason) from None
        return got.body.decode("utf-8", "replace")

    def _route(self, url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        """Where to connect: the URL itself, or with the guard on, the URL with its host
        replaced by the address that was checked (Host header and TLS name kept)."""
        if not self.options.guard_private:
            return url, {}, {}
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
        address = _resolve(url, host, port, allow_private=self.options.allow_private)
        literal = f"[{address}]" if ":" in address else address
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rpartition("@")[2]
        return pinned, {"Host": host_header}, {"sni_hostname": host}

    # -- one request -----------------------------------------------------------------------

    def _fetch_one(
        self, url: str, target: str, headers: dict[str, str], limit: int
    ) -> Fetched | str:
        """One GET: the Fetched response, or the Location of a redirect."""
        import httpx

        pinned, extra, extensions = self._route(target)
        deadline = time.monotonic() + 3 * self.options.timeout
        with self._slot((urlsplit(target).hostname or "").lower()):
            with self._count_lock:
                self.requests += 1
            try:
                with self._client.stream(
                    "GET", pinned, headers={**headers, **extra}, extensions=extensions
                ) as response:
                    if self.options.guard_private:
                        _check_peer(url, response, self.options.allow_private)
                    status = response.status_code
                    if status in _REDIRECTS:
                        location = response.headers.get("location", "").strip()
                        if not location:
                            raise FetchError(url, f"HTTP {status} redirect without a Location")
                        return location
                    if status in (429, 503) and "retry-after" in response.headers:
                        raise _RetryLater(status, _retry_after(response.headers["retry-after"]))
                    if status >= 400:
                        phrase = response.reason_phrase or ""
                        raise FetchError(url, f"HTTP {status} {phrase}".strip())
                    if status == 304:
                        return _fetched(url, target, response, b"")
                    if status != 200:
                        raise FetchError(url, f"HTTP {status}: expected 200 with the page")
                    body = _read_body(url, target, response, limit, deadline)
                    return _fetched(url, target, response, body)
            except (FetchError, _RetryLater):
                raise
            except httpx.TimeoutException:
                raise FetchError(
                    url,
                    f"no answer within {self.options.timeout:g} s (ASSISTANT_FETCH_TIMEOUT)",
                ) from None
            except httpx.HTTPError as e:
                raise FetchError(url, _transport_reason(e)) from e

    @contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        """One of the host's request slots (2), then one of all (8)."""
        with self._hosts_lock:
            mine = self._hosts.setdefault(host, threading.BoundedSemaphore(self.options.per_host))
        with mine, self._all:
            yield


def check_url(url: str) -> None:
    """FetchError unless the URL can be fetched: http(s), with a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise FetchError(url, f"not an http(s) URL ({shown}); only web pages can be fetched")
    if not parts.hostname:
        raise FetchError(url, "the URL has no host name")


def require_url(url: str) -> str:
    """The URL stripped, or a UsageError when it is not an http(s) URL with a host."""
    url = url.strip()
    try:
        check_url(url)
    except FetchError as e:
        raise UsageError(f"{url}: {e.reason}") from None
    return url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")


def _refusal(address: str) -> str | None:
    """Why an address must not be fetched by a server, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or ip.is_multicast:
        return "not a public address"
    return None


def _resolve(url: str, host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: every address the name resolves to must be public
    (unless allowed), so no answer of a round-robin or rebinding DNS can point inside."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise FetchError(url, f"DNS lookup of {host} failed ({e.strerror})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(url, f"DNS lookup of {host} found no address")
    if not allow_private:
        for address in addresses:
            why = _refusal(address)
            if why:
                raise FetchError(url, _private_reason(host, address, why))
    return addresses[0]


def _private_reason(host: str, address: str, why: str) -> str:
    return (
        f"refused: {host} is {address}, {why}; a server does not fetch such addresses "
        "(set ASSISTANT_FETCH_PRIVATE=true to allow them)"
    )


def _check_peer(url: str, response: httpx.Response, allow_private: bool) -> None:
    """The address actually connected to passes the same rule (belt and braces)."""
    if allow_private:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer:
        why = _refusal(str(peer[0]))
        if why:
            raise FetchError(url, _private_reason(str(peer[0]), str(peer[0]), why))


def _retry_after(value: str) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _fetched(url: str, target: str, response: httpx.Response, body: bytes) -> Fetched:
    content_type, _, params = response.headers.get("content-type", "").partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    return Fetched(
        url=url,
        final_url=target,
        status=response.status_code,
        content_type=content_type.strip().lower(),
        charset=charset,
        body=body,
        etag=response.headers.get("etag", ""),
        last_modified=response.headers.get("last-modified", ""),
    )


def _too_big(url: str, limit: int, what: str) -> FetchError:
    return FetchError(
        url,
        f"{what} is over the {limit / 2**20:.3g} MB limit (ASSISTANT_MAX_FILE_MB); not indexed",
    )


def _read_body(
    url: str, target: str, response: httpx.Response, limit: int, deadline: float
) -> bytes:
    """The body, decompressed, never more than `limit` bytes in memory (raw or decoded)."""
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and int(declared) > limit:
        raise _too_big(url, limit, f"the response ({int(declared) / 2**20:.1f} MB)")
    decoder = _Decoder(url, encoding)
    out = bytearray()
    raw = 0
    for chunk in response.iter_raw(_CHUNK):
        raw += len(chunk)
        if raw > limit:
            raise _too_big(url, limit, "the response")
        decoder.feed(chunk, out, limit)
        if time.monotonic() > deadline:
            raise FetchError(url, "the download took too long (3 x ASSISTANT_FETCH_TIMEOUT)")
    decoder.finish(out, limit)
    body = bytes(out)
    # A .gz file served without Content-Encoding (sitemap.xml.gz): decompress it too.
    if body[:2] == b"\x1f\x8b" and encoding in ("identity", ""):
        gz = bytearray()
        _Decoder(url, "gzip").feed(body, gz, limit)
        return bytes(gz)
    return body


class _Decoder:
    """Incremental gzip/deflate decoding whose output is capped as it is produced, so a
    small compressed body that expands without bound (a gzip bomb) is cut off early."""

    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        self.encoding = encoding
        self._z: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("identity", ""):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")
        self._started = False

    def feed(self, data: bytes, out: bytearray, limit: int) -> None:
        """Decode `data` into `out`; FetchError once `out` would pass `limit`."""
        if self._z is None:
            out += data
            return
        pending = data
        while pending and not self._z.eof:
            try:
                piece = self._z.decompress(pending, _CHUNK)
            except zlib.error as e:
                if self.encoding == "deflate" and not self._started:
                    # Some servers send raw deflate, without the zlib header.
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise FetchError(self.url, f"the {self.encoding} data is corrupt ({e})") from None
            self._started = True
            out += piece
            if len(out) > limit:
                raise _too_big(self.url, limit, "the decompressed response")
            pending = self._z.unconsumed_tail

    def finish(self, out: bytearray, limit: int) -> None:
        """Whatever the decoder still holds."""
        if self._z is None:
            return
        out += self._z.flush()
        if len(out) > limit:
            raise _too_big(self.url, limit, "the decompressed response")


def _transport_reason(error: BaseException) -> str:
    """A transport failure in words: DNS, refused, reset, TLS, protocol."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for e in chain:
        if isinstance(e, socket.gaierror):
            return f"DNS lookup failed ({e.strerror})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "the server closed the connection"
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"DNS lookup failed ({text})"
    if "connection refused" in lowered:
        return "connection refused"
    if "ssl" in lowered or "certificate" in lowered:
        return f"TLS error ({text})"
    return f"{type(error).__name__}: {text}"[:300]


def headers_of(fetched: Fetched) -> Mapping[str, str]:
    """The response headers a feed parser needs to read the body's encoding and base URL."""
    content_type = fetched.content_type + (
        f"; charset={fetched.charset}" if fetched.charset else ""
    )
    return {"content-type": content_type, "content-location": fetched.final_url}


_T = TypeVar("_T")


def parallel(
    tasks: Sequence[Callable[[], _T]],
    *,
    workers: int,
    window: int = 0,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[tuple[int, _T | None, BaseException | None]]:
    """Run tasks on a pool of threads; yield (index, result, error) in the tasks' order,
    with at most `window` (default 4 x `workers`) tasks started and not yet consumed, so
    memory stays bounded while the consumer is busy. In order, so that which of two pages
    with the same text is kept does not depend on which server answered first.

    `on_wait` is called (on the consumer's thread) whenever the next result is not ready
    yet, before waiting for it: the consumer's chance to do other work meanwhile."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    if not tasks:
        return
    window = max(window, 1) if window else 4 * max(1, workers)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks)))) as pool:
        running: deque[tuple[int, Future[_T]]] = deque()
        following = iter(enumerate(tasks))
        for i, task in following:
            running.append((i, pool.submit(task)))
            if len(running) >= window:
                break
        while running:
            i, future = running.popleft()
            if on_wait is not None and not future.done():
                on_wait()
            error = future.exception()
            yield i, None if error else future.result(), error
            nxt = next(following, None)
            if nxt is not None:
                running.append((nxt[0], pool.submit(nxt[1])))

"""A recording proxy for an OpenAI-compatible server, so a slow local model answers each
distinct prompt once across benchmark runs.

`bench/quality.py --llm --cache DIR` starts it on loopback in front of OPENAI_BASE_URL.
A chat request is looked up by a hash of its body (model, messages, temperature); a miss
is forwarded to the real server without streaming, and the reply is stored in DIR and
served (as server-sent events when the client asked to stream). A changed prompt is a
miss, so a cached run measures exactly what an uncached one would, only faster.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class CachingProxy:
    """`with CachingProxy(upstream, folder) as proxy:` then use `proxy.base_url`."""

    def __init__(self, upstream: str, folder: Path, *, timeout: float = 600.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.folder = folder
        self.timeout = timeout
        self.hits = 0
        self.misses = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> CachingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reply(self, body: dict[str, Any], auth: str | None) -> str:
        """The model's text for a chat request, from the cache or the real server."""
        key_fields = {k: body.get(k) for k in ("model", "messages", "temperature", "top_p")}
        key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()
        path = self.folder / f"{key}.json"
        if path.exists():
            with self._lock:
                self.hits += 1
            return str(json.loads(path.read_text(encoding="utf-8"))["text"])
        forward = {**body, "stream": False}
        forward.pop("stream_options", None)
        request = urllib.request.Request(
            f"{self.upstream}/chat/completions",
            data=json.dumps(forward).encode(),
            headers={"Content-Type": "application/json", "Authorization": auth or "Bearer x"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            data = json.loads(response.read())
        text = data["choices"][0]["message"].get("content") or ""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"text": text, "request": key_fields}), encoding="utf-8")
        tmp.replace(path)
        with self._lock:
            self.misses += 1
        return str(text)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with urllib.request.urlopen(f"{proxy.upstream}/models", timeout=30) as r:
                    self._send(200, r.read(), "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    text = proxy.reply(body, self.headers.get("Authorization"))
                except Exception as e:  # the real server failed: pass a 502 on
                    payload = json.dumps({"error": {"message": str(e), "type": "proxy"}})
                    self._send(502, payload.encode(), "application/json")
                    return
                model = body.get("model", "m")
                if not body.get("stream"):
                    self._send(
                        200, json.dumps(_completion(text, model)).encode(), "application/json"
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for piece in (text[i : i + 16] for i in range(0, len(text), 16)):
                    self._event(_chunk(piece, model, None))
                self._event(_chunk("", model, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _send(self, status: int, payload: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _event(self, data: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-cached",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def _chunk(text: str, model: str, finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-cached",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}
        ],
    }

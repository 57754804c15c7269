"""`assistant serve` as a real process on loopback, over a copy of an indexed data dir, for
the tests of its machine interfaces (the OpenAI-compatible API, MCP over HTTP)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import ROOT, free_port

API_KEY = "test-key-7f3a"


class ServedAssistant:
    """`with ServedAssistant(folder, source) as served:` then `served.url`, `served.key`."""

    def __init__(self, folder: Path, source: Path, **env: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.data = folder / "data"
        shutil.copytree(source, self.data)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = API_KEY
        self.log = folder / "serve.log"
        self.env = {
            **os.environ,
            "ASSISTANT_DATA_DIR": str(self.data),
            "ASSISTANT_LLM": "extractive",
            "ASSISTANT_API_KEYS": f"other-key,{API_KEY}",
            "ASSISTANT_SYNC_MINUTES": "0",
            "PYTHONUNBUFFERED": "1",
            **env,
        }

    def __enter__(self) -> ServedAssistant:
        command = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", *command],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + 180
        while True:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            try:
                reply = httpx.get(f"{self.url}/v1/models", headers=self.auth, timeout=5)
                if reply.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()

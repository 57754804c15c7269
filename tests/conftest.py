"""Shared fixtures: real embedding model, real Chroma in temp dirs, a scripted OpenAI-compatible
server on loopback, the CLI run in this process; no network."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

# No test reaches the internet: no proxies, no hub downloads, no telemetry.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
# Settings come from the test, never from the developer's shell.
for _var in list(os.environ):
    if _var.startswith("ASSISTANT_") or _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(_var)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "assistant" / "samples"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def embedder():
    """The real packaged all-MiniLM-L6-v2, loaded once per test session."""
    from index import Embedder

    return Embedder()


def run_cli(
    args: Sequence[str],
    *,
    data: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    process: bool = False,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`assistant ARGS` as a shell sees it: the exit status, stdout and stderr.

    `data` is ASSISTANT_DATA_DIR, `env` more variables over the test session's environment,
    `cwd` the working folder. By default the console script's `main` runs in this process
    through click's CliRunner (env and cwd restored afterwards): each call reads its settings
    afresh and builds its own NewsAssistant; only the embedding model an earlier call loaded
    is reused (the per-process model cache), which changes no result. `process=True` runs a
    real `python -m assistant.cli` instead, for tests where the process itself matters
    (another process's writes, crash safety, import-time laziness)."""
    overrides = dict(env or {})
    if data is not None:
        overrides["ASSISTANT_DATA_DIR"] = str(data)
    if process:
        return subprocess.run(
            [sys.executable, "-m", "assistant.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **overrides},
            cwd=cwd,
            timeout=timeout,
        )
    from click.testing import CliRunner

    from assistant.cli import main

    code: int | str | None = 0
    with (
        contextlib.chdir(cwd or os.getcwd()),
        CliRunner().isolation(env=overrides) as (stdout, stderr, _),
    ):
        try:
            main(list(args))
        except SystemExit as e:
            code = 0 if e.code is None else e.code
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    assert isinstance(code, int), f"main() exited with {code!r}, not a status"
    return subprocess.CompletedProcess(
        ["assistant", *args], code, stdout.getvalue().decode(), stderr.getvalue().decode()
    )


@pytest.fixture
def llm_server():
    """A scripted OpenAI-compatible server on loopback (replies "OK" until scripted)."""
    from openai_server import OpenAIServer

    with OpenAIServer() as server:
        yield server


@pytest.fixture
def make_assistant(tmp_path, embedder):
    """Build a NewsAssistant on a fresh data dir; keyword arguments become settings."""
    from assistant import NewsAssistant, load_settings

    def make(**overrides):
        overrides.setdefault("data_dir", tmp_path / "data")
        return NewsAssistant(load_settings(**overrides), embedder=embedder)

    return make


def scripted_llm_assistant(data: Path, embedder, base_url: str, **overrides):
    """A NewsAssistant on `data` answering through the scripted OpenAI-compatible server at
    `base_url` (no retries, short timeout); keyword arguments become settings."""
    from assistant import NewsAssistant, load_settings

    settings = dict(
        data_dir=data,
        openai_base_url=base_url,
        openai_api_key="sk-test",
        llm_model="scripted-model",
        llm_timeout=5,
        llm_retries=0,
    )
    return NewsAssistant(load_settings(**{**settings, **overrides}), embedder=embedder)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A data dir with the sample corpus indexed once, copied for each test that uses it."""
    from assistant import NewsAssistant, load_settings

    data = tmp_path_factory.mktemp("sample-index")
    assistant = NewsAssistant(load_settings(data_dir=data, llm="extractive"))
    report = assistant.ingest([SAMPLES])
    assert not report.failed, report.failed
    return data


@pytest.fixture
def sample_assistant(tmp_path, sample_dir, embedder):
    """An extractive NewsAssistant over its own copy of the indexed sample corpus."""
    from assistant import NewsAssistant, load_settings

    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    return NewsAssistant(load_settings(data_dir=data, llm="extractive"), embedder=embedder)


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    """A real `chroma run` on loopback, once its heartbeat answers."""
    import httpx

    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("`chroma run` did not start")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """(host, port) of a real Chroma server: the one CI started (TEST_CHROMA_HOST and
    TEST_CHROMA_PORT), else a `chroma run` on loopback started for this test session."""
    host = os.environ.get("TEST_CHROMA_HOST")
    if host:
        yield host, int(os.environ.get("TEST_CHROMA_PORT", "8000"))
        return
    port = free_port()
    process = start_chroma(tmp_path_factory.mktemp("chroma-server"), port)
    yield "127.0.0.1", port
    process.terminate()
    process.wait(timeout=30)


def unique_collection() -> str:
    """A collection name no other test uses (tests share one Chroma server)."""
    return f"t{uuid.uuid4().hex[:12]}"

"""What one `assistant ask` costs from the shell: alone (a cold process loads torch, the
model and the index), and through a running `assistant serve` on the same data dir,
against the time Python takes just to import torch.

    .venv/bin/python bench/cli.py [--runs 5]

The sample articles are indexed in a temporary data dir; every figure is the median of
`--runs` fresh processes (wall time, as the shell sees it). The cold run is also broken
down by phase, measured in one process: imports, opening the store, loading the model,
the keyword index, and the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
QUESTION = "Who is GEM partnering with?"

PHASES = (
    f"QUESTION = {QUESTION!r}\n"
    """
import time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import torch; mark("import torch")
import chromadb; mark("import chromadb")
from assistant.core import NewsAssistant
from assistant.settings import load_settings
mark("import the assistant (langchain, pydantic)")
assistant = NewsAssistant(load_settings())
assistant.require_index(); mark("open the store")
assistant.embedder.encode(["warm up"]); mark("load the embedding model")
assistant.searcher.keyword.search("warm up", k=1); mark("load the keyword index")
assistant.ask(QUESTION); mark("answer the question")
import json
print(json.dumps([(b[0], (b[1] - a[1]) * 1000) for a, b in zip(marks, marks[1:])]))
"""
)


def timed(args: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall seconds of `args` over `runs` fresh processes (each must succeed)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    """Index the samples, time the three ways, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {
            **os.environ,
            "ASSISTANT_DATA_DIR": str(data),
            "ASSISTANT_LLM": "extractive",
            "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
        cli = [PYTHON, "-m", "assistant.cli"]
        subprocess.run(
            [*cli, "ingest", str(ROOT / "assistant" / "samples")],
            env=env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        torch_s = timed([PYTHON, "-c", "import torch"], env, args.runs)
        local_s = timed([*cli, "ask", QUESTION, "--local"], env, args.runs)
        phases = subprocess.run(
            [PYTHON, "-c", PHASES], env=env, capture_output=True, text=True, cwd=ROOT, check=True
        )
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(free_port())],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 300
            while not (data / "server.json").exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("assistant serve did not start")
                time.sleep(0.2)
            served_s = timed([*cli, "ask", QUESTION], env, args.runs)
            check = subprocess.run(
                [*cli, "ask", QUESTION, "--json"], env=env, capture_output=True, text=True
            )
            answer = json.loads(check.stdout)
            assert "Ascend Elements" in answer["answer"], answer
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {args.runs} runs\n"
    )
    print("| command | wall time (s) |")
    print("| --- | ---: |")
    print(f'| `python -c "import torch"` | {torch_s:.2f} |')
    print(f"| `assistant ask` through a running `assistant serve` | {served_s:.2f} |")
    print(f"| `assistant ask --local` (cold process) | {local_s:.2f} |")
    print("\nWhere a cold `ask --local` spends its time (one process):\n")
    print("| phase | ms |")
    print("| --- | ---: |")
    for name, ms in json.loads(phases.stdout.strip().splitlines()[-1]):
        print(f"| {name} | {ms:,.0f} |")


if __name__ == "__main__":
    main()

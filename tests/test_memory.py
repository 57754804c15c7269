"""The malloc arena cap: threads allocating at once share the pools the settings allow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Eight threads allocate at once (blocks under glibc's mmap threshold come from an arena),
# then glibc's malloc_stats lists the arenas ("Arena N:") on stderr.
_PROGRAM = textwrap.dedent(
    """
    import ctypes, threading
    from assistant import NewsAssistant, load_settings

    NewsAssistant(load_settings(data_dir={data!r}, malloc_arenas={arenas}))
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        kept = [bytearray(50_000) for _ in range(200)]
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctypes.CDLL("libc.so.6").malloc_stats()
    """
)


def arenas_used(tmp_path, arenas: int) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(data=str(tmp_path / "data"), arenas=arenas)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_stats")
def test_concurrent_threads_share_the_arenas_the_settings_allow(tmp_path):
    assert arenas_used(tmp_path, 2) == 2
    assert arenas_used(tmp_path, 0) > 2  # glibc's own default: a pool per busy thread

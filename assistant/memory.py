"""Process memory: how many malloc arenas glibc may keep for the process's threads.

glibc gives each thread that allocates at the same time as another a pool (arena) of its
own, up to eight per core; memory freed in one pool is not reused by the others, so eight
threads answering at once (the web UI's workers, the API's) hold several copies of the
same temporary arrays. A cap of two measured about 7 % less peak memory (bench/query.py,
13,530 chunks, 8 askers). Nothing to do on other C libraries.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["limit_malloc_arenas"]

_M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h


def limit_malloc_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas at `count` for threads that start allocating from now on;
    False when nothing was changed (0, MALLOC_ARENA_MAX already set, not glibc)."""
    if count <= 0 or "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, count))
    except (OSError, AttributeError):  # another C library: its own allocator, left alone
        return False

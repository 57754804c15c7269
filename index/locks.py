"""One writer per store: an flock beside an on-disk store, a lease row on a Chroma server."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import BusyError

__all__ = ["Lease", "file_lock", "open_lock"]

_LEASE = "ingest-lease"


def _busy(holder: str, where: object) -> BusyError:
    return BusyError(
        f"another ingest ({holder}) is writing to {where}; "
        "wait for it to finish, then run this one again"
    )


def _me() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


@contextmanager
def file_lock(path: Path, *, wait: float, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """An exclusive flock; the holder's pid is written in the file for the wait message."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise _busy(holder, path.parent) from None
                if on_wait and not told:
                    on_wait(f"waiting for another ingest ({holder}) to finish")
                    told = True
                time.sleep(0.2)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(_me())
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def open_lock(path: Path) -> Iterator[None]:
    """Held while a process opens an on-disk store: Chroma creates its tables on first open,
    and two processes doing that at once fail ("table collections already exists")."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    """A best-effort one-writer lease in a Chroma collection (for a shared Chroma server):
    claim the row when it is free or expired, re-read to confirm, renew while held."""

    TTL = 120.0  # renewed on every write, so only a dead holder's lease runs out

    def __init__(
        self, state: Any, where: str, *, wait: float, on_wait: Callable[[str], None] | None
    ) -> None:
        self.state = state
        self.where = where
        self.wait = wait
        self.on_wait = on_wait
        self.owner = f"{_me()} ({uuid.uuid4().hex[:8]})"

    def _holder(self) -> tuple[str, float]:
        got = self.state.get(ids=[_LEASE], include=["documents"])
        if not got["ids"]:
            return "", 0.0
        data = json.loads(got["documents"][0])
        owner, expires = str(data["owner"]), float(data["expires"])
        if data.get("host") == socket.gethostname() and not _alive(int(data.get("pid", 0))):
            return owner, 0.0  # a process on this machine that died holding it: expired
        return owner, expires

    def _claim(self) -> None:
        doc = json.dumps(
            {
                "owner": self.owner,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "expires": time.time() + self.TTL,
            }
        )
        self.state.upsert(ids=[_LEASE], documents=[doc], embeddings=[[1.0]])

    def __enter__(self) -> Lease:
        deadline = time.monotonic() + self.wait
        told = False
        while True:
            holder, expires = self._holder()
            if not holder or expires < time.time() or holder == self.owner:
                self._claim()
                time.sleep(0.3)  # let a racing claimant's write land, then see who won
                if self._holder()[0] == self.owner:
                    return self
                continue
            if time.monotonic() >= deadline:
                raise _busy(holder, self.where)
            if self.on_wait and not told:
                self.on_wait(f"waiting for another ingest ({holder}) to finish")
                told = True
            time.sleep(0.5)

    def renew(self) -> None:
        """Push the expiry back (called on every write while the lease is held)."""
        self._claim()

    def __exit__(self, *exc: object) -> None:
        try:
            if self._holder()[0] == self.owner:
                self.state.delete(ids=[_LEASE])
        except Exception:  # the server is gone: the lease simply expires
            pass

"""The keyword index's vocabulary: token -> id, append-only, without a Python string per token.

A year of news holds millions of distinct tokens (names, numbers, misspellings). A dict of
them costs about 100 bytes a token and seconds to rebuild from a snapshot; here the stored
tokens are one UTF-8 buffer with their end offsets, found through a sorted array of 64-bit
hashes (hashed in numpy, a block at a time, when a snapshot is read) and checked against
their bytes, so a hash collision costs a comparison, never a wrong id. Tokens added since
are kept in a small dict until there are enough of them to fold into the arrays.

One writer (the index's catch-up) adds tokens while searches look them up: everything a
reader needs is one `_Table`, replaced whole when tokens are folded in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Vocab", "hash_packed", "hash_token", "pack"]

_MASK = (1 << 64) - 1
_MUL = 0x9E3779B97F4A7C15  # odd: the powers of it spread each byte over the 64 bits
_LEN = 0xC2B2AE3D27D4EB4F
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_FOLD = 500_000  # tokens kept in the dict before they are folded into the arrays
_HASH_BLOCK = 1 << 20  # tokens hashed per numpy step (bounds the temporaries)


def hash_token(data: bytes) -> int:
    """A token's 64-bit hash: sum of (byte + 1) * MUL^position, its length mixed in, then
    a finaliser (splitmix64's). `hash_packed` computes the same in numpy."""
    h = 0
    power = 1
    for byte in data:
        h = (h + (byte + 1) * power) & _MASK
        power = (power * _MUL) & _MASK
    h ^= (len(data) * _LEN) & _MASK
    h ^= h >> 31
    h = (h * _MIX1) & _MASK
    h ^= h >> 29
    h = (h * _MIX2) & _MASK
    h ^= h >> 32
    return h


def _powers(n: int) -> np.ndarray:
    powers = np.full(max(n, 1), _MUL, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)  # wraps modulo 2^64, as hash_token masks


def hash_packed(buffer: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`hash_token` of every token of a packed buffer (UTF-8 bytes, end offsets)."""
    n = len(ends)
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    starts = np.zeros(n, dtype=np.int64)
    starts[1:] = ends[:-1]
    lengths = (ends - starts).astype(np.int64)
    powers = _powers(int(lengths.max()))
    with np.errstate(over="ignore"):
        for lo in range(0, n, _HASH_BLOCK):
            hi = min(n, lo + _HASH_BLOCK)
            first, last = int(starts[lo]), int(ends[hi - 1])
            size = lengths[lo:hi]
            local = starts[lo:hi] - first
            chunk = buffer[first:last].astype(np.uint64) + np.uint64(1)
            if len(chunk) == 0:
                h = np.zeros(hi - lo, dtype=np.uint64)
            else:
                owner = np.repeat(np.arange(hi - lo), size)
                position = np.arange(len(chunk), dtype=np.int64) - local[owner]
                sums = np.add.reduceat(chunk * powers[position], np.minimum(local, len(chunk) - 1))
                h = np.where(size > 0, sums, np.uint64(0))
            h ^= size.astype(np.uint64) * np.uint64(_LEN)
            h ^= h >> np.uint64(31)
            h *= np.uint64(_MIX1)
            h ^= h >> np.uint64(29)
            h *= np.uint64(_MIX2)
            h ^= h >> np.uint64(32)
            out[lo:hi] = h
    return out


def pack(tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Tokens as one UTF-8 buffer and their end offsets (no padding)."""
    encoded = [t.encode("utf-8") for t in tokens]
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), ends


@dataclass(frozen=True, slots=True)
class _Table:
    """The stored tokens (ids 0..n-1, in id order in `buffer`), their hashes sorted with the
    id of each, and the tokens added since (ids n.., a dict and a list, append-only)."""

    buffer: np.ndarray  # uint8
    ends: np.ndarray  # int64
    hashes: np.ndarray  # uint64, ascending
    slots: np.ndarray  # int32: slots[i] is the id whose hash is hashes[i]
    added: dict[str, int] = field(default_factory=dict)
    added_tokens: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return len(self.ends)

    def token(self, i: int) -> bytes:
        start = int(self.ends[i - 1]) if i else 0
        return self.buffer[start : int(self.ends[i])].tobytes()

    def find(self, data: bytes, h: int, at: int) -> int:
        """The id of `data` among the stored tokens (its hash `h`, found at `at` in the
        sorted hashes), or -1."""
        while at < len(self.hashes) and int(self.hashes[at]) == h:
            i = int(self.slots[at])
            if self.token(i) == data:
                return i
            at += 1
        return -1


def _table(buffer: np.ndarray, ends: np.ndarray, hashes: np.ndarray | None = None) -> _Table:
    if hashes is None or len(hashes) != len(ends):
        hashes = hash_packed(buffer, ends)
    order = np.argsort(hashes, kind="stable")
    return _Table(buffer, ends, hashes[order], order.astype(np.int32))


class Vocab:
    """Token -> id for the keyword index; ids are dense, in order of first sight."""

    def __init__(self, buffer: np.ndarray | None = None, ends: np.ndarray | None = None) -> None:
        empty = np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
        self._t = _table(*(empty if buffer is None or ends is None else (buffer, ends)))

    @classmethod
    def from_sorted(
        cls, buffer: np.ndarray, ends: np.ndarray, hashes: np.ndarray, slots: np.ndarray
    ) -> Vocab:
        """From a snapshot that kept the sorted hashes and their ids as well."""
        vocab = cls()
        vocab._t = _Table(buffer, ends, hashes, slots.astype(np.int32, copy=False))
        return vocab

    def __len__(self) -> int:
        t = self._t
        return t.stored + len(t.added_tokens)

    def get(self, token: str, default: int = -1) -> int:
        """The token's id, or `default` when it is not known."""
        t = self._t
        i = t.added.get(token)
        if i is not None:
            return i
        if t.stored:
            data = token.encode("utf-8")
            h = hash_token(data)
            found = t.find(data, h, int(np.searchsorted(t.hashes, np.uint64(h))))
            if found >= 0:
                return found
        return default

    def __getitem__(self, token: str) -> int:
        i = self.get(token)
        if i < 0:
            raise KeyError(token)
        return i

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token) >= 0

    def add(self, tokens: Iterable[str]) -> dict[str, int]:
        """The id of each distinct token, new ones given the next ids in order of first
        sight (the one writer's call)."""
        t = self._t
        ids: dict[str, int] = {}
        unknown: list[str] = []
        for token in dict.fromkeys(tokens):
            i = t.added.get(token)
            if i is None:
                unknown.append(token)
            else:
                ids[token] = i
        if unknown and t.stored:
            found = self._stored_ids(t, unknown)
            still: list[str] = []
            for token, i in zip(unknown, found.tolist(), strict=True):
                if i >= 0:
                    ids[token] = i
                else:
                    still.append(token)
            unknown = still
        for token in unknown:
            ids[token] = t.added[token] = t.stored + len(t.added_tokens)
            t.added_tokens.append(token)
        if len(t.added_tokens) >= _FOLD:
            self._fold()
        return ids

    @staticmethod
    def _stored_ids(t: _Table, tokens: list[str]) -> np.ndarray:
        """The stored id of each token, or -1: hashes looked up and bytes compared in
        numpy; only a token whose hash is shared by another (or absent) goes to `find`."""
        buffer, ends = pack(tokens)
        hashes = hash_packed(buffer, ends)
        at = np.minimum(np.searchsorted(t.hashes, hashes), len(t.hashes) - 1)
        ids = t.slots[at].astype(np.int64)
        starts = np.zeros(len(ends), dtype=np.int64)
        starts[1:] = ends[:-1]
        size = ends - starts
        stored_start = np.where(ids > 0, t.ends[ids - 1], 0)
        ok = (t.hashes[at] == hashes) & (t.ends[ids] - stored_start == size)
        if ok.any():
            lengths = size[ok]
            owner = np.repeat(np.arange(int(ok.sum())), lengths)
            offset = np.arange(len(owner), dtype=np.int64) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
            same = (
                buffer[np.repeat(starts[ok], lengths) + offset]
                == t.buffer[np.repeat(stored_start[ok], lengths) + offset]
            )
            differs = np.bincount(owner[~same], minlength=int(ok.sum())) > 0
            ok[np.flatnonzero(ok)[differs]] = False
        found = np.where(ok, ids, -1)
        raw = buffer.tobytes()
        for k in np.flatnonzero(~ok).tolist():  # not found, or a shared hash: look closer
            data = raw[int(starts[k]) : int(ends[k])]
            found[k] = t.find(data, int(hashes[k]), int(np.searchsorted(t.hashes, hashes[k])))
        return found

    def _fold(self) -> None:
        """Move the added tokens into the arrays (their ids unchanged)."""
        n = len(self)
        hashes, slots = self.sorted_hashes(n)
        self._t = _Table(*self.packed(n), hashes, slots)

    def packed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `n` tokens as a packed buffer and end offsets (for a snapshot)."""
        t = self._t
        if n <= t.stored:
            last = int(t.ends[n - 1]) if n else 0
            return t.buffer[:last], t.ends[:n]
        extra, extra_ends = pack(t.added_tokens[: n - t.stored])
        base = int(t.ends[-1]) if t.stored else 0
        return (
            np.concatenate([t.buffer[:base], extra]),
            np.concatenate([t.ends, extra_ends + base]),
        )

    def sorted_hashes(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The sorted hashes of the first `n` tokens and the id of each (for a snapshot,
        so that reading it sorts nothing)."""
        t = self._t
        if n == t.stored:
            return t.hashes, t.slots
        in_order = t.hashes[np.argsort(t.slots)][:n]
        if n > t.stored:
            added = hash_packed(*pack(t.added_tokens[: n - t.stored]))
            in_order = np.concatenate([in_order, added])
        table = _table(*self.packed(n), in_order)
        return table.hashes, table.slots

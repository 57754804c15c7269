"""BM25 keyword search over the store's chunks, kept in step with the store.

The index holds, per chunk, its id, article, outlet, date and length, and for every stemmed
token the chunks holding it with their term frequencies (term-major postings), all in flat
numpy arrays: no Python object per chunk, so a year of news fits beside the HNSW index.
Scores are the lucene variant of BM25 exactly as bm25s computes them (same float32 weights,
summed in the same order), precomputed per posting of the main segment.

Before a search the index compares the store's `signature()` (one cheap round trip) with
the one it last saw; when another ingest (in this process or any other sharing the store)
changed the chunks, it fetches only the chunks it does not have, tokenises only those, and
masks the ones that are gone. Additions go to a small delta segment scored at query time
with the same BM25 formula (idf over both segments); when the delta outgrows a fifth of the
main segment (or a quarter of it is removed), the main segment is re-derived from the
postings it holds, never by fetching or tokenising again.

A snapshot on disk (the same flat arrays) lets a new process start in seconds; when its
signature is the store's, nothing is fetched at all. Without one (or with a stale or
damaged one) on a large store, the first sync starts the catch-up in a background thread
that streams the chunks in batches: searches meanwhile answer from what the index already
holds (nothing, on a first build), and `warming` says so, for the caller to show.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .models import Hit, SearchFilter
from .schema import date_to_int, published_int
from .tokens import tokenize
from .vocab import Vocab, pack

if TYPE_CHECKING:
    from .store import ChromaStore

__all__ = ["KeywordHit", "KeywordIndex", "tokenize"]

_SNAPSHOT_VERSION = 3  # 3: flat postings, delta and removals included
_FETCH = 1000  # chunks fetched (and tokenised) per store round trip
_SEGMENT = 50_000  # chunks per consolidated segment while streaming
_ALIGN = 64  # where each array of a snapshot starts in its file (a cache line)
_PAD_ID = 0xD935  # the zip extra-field id that pads a member to an alignment
_BLOCK = 1_000_000  # postings handled per step when (re)building: bounds temporaries
_MAX_TF = np.iinfo(np.uint16).max
BACKGROUND_FROM = 10_000  # stored chunks from which a first catch-up runs in the background

# (token ids, doc ids, term frequencies) of some postings; doc ids ascend within a token.
_Part = tuple[np.ndarray, np.ndarray, np.ndarray]


def _member(data: Any, name: str) -> tuple[int, tuple[int, ...], np.dtype] | None:
    """Where the array `name` of an open .npz (`np.load`'s NpzFile) starts in its file, with
    its shape and dtype, when it is stored uncompressed and can be mapped; else None."""
    try:
        info = data.zip.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        f = data.fid
        f.seek(info.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return None
        if fortran or dtype.hasobject or not int(np.prod(shape)):
            return None
        return f.tell(), shape, dtype
    except (OSError, ValueError, KeyError, AttributeError, struct.error):
        return None


def _mapped(data: Any, path: Path, name: str) -> np.ndarray:
    """The array `name` of an open uncompressed .npz snapshot, mapped from the file instead
    of read into memory (its pages are read when touched, and are the kernel's to drop):
    the postings and the vocabulary are touched only for a query's words, the term
    frequencies only when the index is rebuilt or saved. Read the usual way when it cannot
    be mapped, or when its data is not aligned to its items in the file (numpy copies a
    whole unaligned array to search it: 15-30 ms a word in a 6M-token vocabulary)."""
    where = _member(data, name)
    if where is None or where[0] % max(where[2].alignment, 1):
        return np.asarray(data[name])
    offset, shape, dtype = where
    # The file `np.load` opened, not the path again: a snapshot written meanwhile by another
    # process replaces the path, and its arrays sit at other offsets.
    return np.memmap(data.fid, dtype=dtype, mode="r", offset=offset, shape=shape)


def _aligned(data: Any) -> bool:
    """Whether every array of an open .npz snapshot starts at an `_ALIGN` boundary."""
    return all(
        (where := _member(data, name.removesuffix(".npy"))) is None or where[0] % _ALIGN == 0
        for name in data.zip.namelist()
    )


def _write_aligned(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` as an uncompressed .npz (`np.load` reads it) whose every array
    starts at an `_ALIGN`-byte boundary of the file, so that it can be mapped and searched
    in place: each member's local header is padded with an extra field (the id zipalign
    uses), and a .npy header is itself a multiple of 64 bytes."""
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = array.nbytes + 4096  # at most; decides zip64 as zipfile does
            zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
            header = 30 + len(info.filename.encode("ascii")) + (20 if zip64 else 0)
            pad = (-(f.tell() + header + 4)) % _ALIGN
            info.extra = struct.pack("<HH", _PAD_ID, pad) + bytes(pad)
            with archive.open(info, "w", force_zip64=zip64) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _bounds(array: np.ndarray, source: Any = None, block: int = 1 << 22) -> tuple[int, int]:
    """(min, max) of a non-empty 1-D array; a whole mapped one is read from `source` (the
    open file it is mapped from) a block at a time, so that checking it does not make the
    whole array resident in this process."""
    if source is None or not isinstance(array, np.memmap):
        return int(array.min()), int(array.max())
    low, high = None, None
    source.seek(array.offset)
    left = len(array)
    while left:
        part = np.fromfile(source, dtype=array.dtype, count=min(block, left))
        if not len(part):
            raise ValueError("keyword snapshot ends early")
        left -= len(part)
        lo, hi = int(part.min()), int(part.max())
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
    assert low is not None and high is not None
    return low, high


class _Stopped(Exception):
    """A background catch-up was asked to stop."""


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A chunk found by keyword search: its id, article, publication date and BM25 score."""

    chunk_id: str
    article_id: str
    published: int  # YYYYMMDD, 0 when undated
    score: float


@dataclass(frozen=True, slots=True)
class _Postings:
    """Term-major postings: the docs holding token t are docs[indptr[t]:indptr[t + 1]]
    (ascending), with their term frequencies in tf."""

    indptr: np.ndarray  # int64, tokens + 1
    docs: np.ndarray  # int32
    tf: np.ndarray  # uint16

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    def span(self, token: int) -> tuple[int, int]:
        if token >= self.n_terms:
            return 0, 0
        return int(self.indptr[token]), int(self.indptr[token + 1])

    def parts(self, *, offset: int = 0, keep: np.ndarray | None = None) -> Iterator[_Part]:
        """The postings in blocks of whole tokens, doc ids shifted by `offset`, then (with
        `keep`, a mask over the shifted ids) the removed ones dropped and the rest renumbered."""
        remap = np.cumsum(keep, dtype=np.int64) - 1 if keep is not None else None
        start = 0
        while start < self.n_terms:
            stop = int(np.searchsorted(self.indptr, self.indptr[start] + _BLOCK, "right")) - 1
            stop = min(max(stop, start + 1), self.n_terms)
            lo, hi = int(self.indptr[start]), int(self.indptr[stop])
            terms = np.repeat(
                np.arange(start, stop, dtype=np.int32), np.diff(self.indptr[start : stop + 1])
            )
            docs = self.docs[lo:hi].astype(np.int64) + offset
            tf = self.tf[lo:hi]
            if keep is not None and remap is not None:
                kept = keep[docs]
                terms, docs, tf = terms[kept], remap[docs[kept]], tf[kept]
            yield terms, docs.astype(np.int32), tf
            start = stop


@dataclass(slots=True)
class _Batch:
    """Tokenised chunks, doc-major: chunk i's (token, tf) pairs follow chunk i-1's."""

    chunk_ids: np.ndarray  # bytes (ids are uniform width: chunk_ids_for)
    article_codes: np.ndarray  # int32
    source_codes: np.ndarray  # int32
    published: np.ndarray  # int32, YYYYMMDD or 0
    lengths: np.ndarray  # int32, tokens per chunk
    pairs: np.ndarray  # int32, (token, tf) pairs per chunk
    terms: np.ndarray  # int32
    tf: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.lengths)

    def parts(self, *, offset: int) -> Iterator[_Part]:
        """The pairs as postings, chunk i numbered offset + i."""
        docs = np.repeat(np.arange(offset, offset + len(self), dtype=np.int32), self.pairs)
        yield self.terms, docs, self.tf

    @staticmethod
    def concat(batches: Sequence[_Batch]) -> _Batch:
        fields = _Batch.__slots__
        return _Batch(*(np.concatenate([getattr(b, f) for b in batches]) for f in fields))


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a search reads, replaced whole (never changed in place) on each sync."""

    signature: str | None
    chunk_ids: np.ndarray  # bytes, one per doc (removed ones too, until a rebuild)
    article_codes: np.ndarray  # int32
    source_codes: np.ndarray  # int32
    published: np.ndarray  # int32
    lengths: np.ndarray  # int32
    alive: np.ndarray  # bool
    n_terms: int  # vocabulary size the postings know
    built: int = 0  # docs[:built] are in the main segment, the rest in the delta
    main: _Postings | None = None
    weights: np.ndarray | None = None  # float32 BM25 weight of each main posting
    df_main: np.ndarray | None = None  # int64 document frequency per token (main)
    avgdl: float = 1.0  # mean main doc length (at least 1), for the delta's formula
    delta: _Postings | None = None  # docs numbered from 0 (doc built + i)

    def __len__(self) -> int:
        return len(self.lengths)


def _empty_state() -> _State:
    none = np.zeros(0, dtype=np.int32)
    return _State(None, np.zeros(0, dtype="S1"), none, none, none, none, none.astype(bool), 0)


def _assemble(parts: Callable[[], Iterator[_Part]], n_terms: int) -> _Postings:
    """Term-major postings from parts given in doc order (a counting sort: two passes over
    the parts, no sort of the whole; the output is the only allocation of its size)."""
    counts = np.zeros(n_terms, dtype=np.int64)
    for terms, _, _ in parts():
        counts += np.bincount(terms, minlength=n_terms)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    docs = np.empty(int(indptr[-1]), dtype=np.int32)
    tf = np.empty(int(indptr[-1]), dtype=np.uint16)
    cursor = indptr[:-1].copy()
    for terms, part_docs, part_tf in parts():
        order = np.argsort(terms, kind="stable")
        ordered = terms[order]
        rank = np.arange(len(ordered)) - np.searchsorted(ordered, ordered)
        dest = cursor[ordered] + rank
        docs[dest] = part_docs[order]
        tf[dest] = part_tf[order]
        cursor += np.bincount(terms, minlength=n_terms)
    return _Postings(indptr, docs, tf)


def _segment_parts(segments: list[_Batch], offset: int, passes: Iterator[int]) -> Iterator[_Part]:
    """The segments' postings numbered from `offset`; `_assemble`'s second pass (the last)
    lets go of each segment once placed, so that a build's peak stays near its output."""
    if next(passes) == 1:
        while segments:
            segment = segments.pop(0)
            yield from segment.parts(offset=offset)
            offset += len(segment)
        return
    for segment in segments:
        yield from segment.parts(offset=offset)
        offset += len(segment)


def _bm25_weights(
    main: _Postings, lengths: np.ndarray, k1: float, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 weight per posting, document frequencies): bm25s's lucene variant, the
    same operations in the same precision, so that scores match it bit for bit."""
    n_docs = len(lengths)
    df = np.diff(main.indptr)
    idf = np.zeros(main.n_terms, dtype=np.float32)
    present = df > 0
    if present.any():
        values, inverse = np.unique(df[present], return_inverse=True)
        # math.log as bm25s does (numpy's log may differ in the last bit)
        logs = [math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in values.tolist()]
        idf[present] = np.array(logs)[inverse]
    avg = lengths.mean()
    norm = k1 * ((1 - b) + b * lengths / avg)
    weights = np.empty(len(main.docs), dtype=np.float32)
    for terms, docs, tf in main.parts():
        lo = int(main.indptr[terms[0]]) if len(terms) else 0
        freq = tf.astype(np.float64)
        weights[lo : lo + len(docs)] = idf[terms].astype(np.float64) * (freq / (norm[docs] + freq))
    return weights, df


def _unpack(buffer: np.ndarray, ends: np.ndarray) -> list[str]:
    raw = buffer.tobytes()
    starts = itertools.chain([0], ends.tolist())
    return [raw[s:e].decode("utf-8") for s, e in zip(starts, ends.tolist(), strict=False)]


class KeywordIndex:
    """BM25 over every chunk of a `ChromaStore`, synchronised by the store's signature.

    Args:
        store: the store whose chunks are indexed.
        cache_dir: where the snapshot lives (None: no snapshot).
        k1, b: BM25 parameters.
        background_from: a first catch-up of at least this many stored chunks runs in a
            background thread (searches meanwhile answer from what is ready; see `warming`).
    """

    def __init__(
        self,
        store: ChromaStore,
        *,
        cache_dir: Path | str | None = None,
        k1: float = 1.2,
        b: float = 0.75,
        background_from: int | None = None,
    ) -> None:
        self.store = store
        self.k1 = k1
        self.b = b
        self.background_from = BACKGROUND_FROM if background_from is None else background_from
        self.cache_path = self._cache_path(cache_dir)
        self._lock = threading.RLock()
        self._state = _empty_state()
        # Name tables, append-only (a background catch-up extends them while searches read).
        self._vocab = Vocab()
        # Whether the snapshot read was of an older layout (no vocab hashes, or arrays not
        # aligned for mapping): it is written again in the current one.
        self._older_layout = False
        self._article_code: dict[str, int] = {}
        self._articles: list[str] = []
        self._source_code: dict[str, int] = {}
        self._sources: list[str] = []
        self._loaded = False
        self._warm = False  # a catch-up finished (or a snapshot matched the store)
        self._job: threading.Thread | None = None
        self._stop = threading.Event()
        self._progress = (0, 0)  # chunks tokenised, chunks to tokenise (background job)
        self.error: Exception | None = None  # why the last background catch-up failed
        self._save_lock = threading.Lock()
        self._save_wanted = False
        self._saver: threading.Thread | None = None

    def _cache_path(self, cache_dir: Path | str | None) -> Path | None:
        if cache_dir is None:
            return None
        key = f"{self.store.location}\0{self.store.collection_name}"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return Path(cache_dir) / f"{self.store.collection_name}-{digest}.npz"

    # -- keeping in step -------------------------------------------------------------------

    def sync(self) -> bool:
        """Catch up with the store; True when anything changed. Cheap when nothing did.

        The first catch-up of a large store starts in the background and returns False at
        once; searches answer from what is ready until it is done (see `warming`)."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._load_snapshot()
            if self._job is not None:
                if self._job.is_alive():
                    return False
                self._job = None
            signature = self.store.signature()
            if signature == self._state.signature:
                return False
            stored = self.store.counts()[1] if not self._warm else 0
            if not self._warm and stored >= self.background_from:
                self._progress = (0, stored)
                self._job = threading.Thread(
                    target=self._background, args=(signature,), name="keyword-index"
                )
                self._job.start()
                return False
            changed = self._catch_up(signature)
            self._warm = True
            return changed

    def _background(self, signature: str) -> None:
        try:
            self._catch_up(signature)
            self._warm = True
            self.error = None
        except _Stopped:
            pass  # the next sync starts again
        except Exception as e:  # a thread's edge: kept for `warming`, retried next sync
            self.error = e

    def stop(self) -> None:
        """Stop a background catch-up between two batches (nothing is kept: the next
        sync starts it again)."""
        self._stop.set()
        if self._job is not None:
            self._job.join()
        self._stop.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background catch-up and snapshot write; True when both are done."""
        for thread in (self._job, self._saver):
            if thread is not None:
                thread.join(timeout)
        return not any(t is not None and t.is_alive() for t in (self._job, self._saver))

    def facts(
        self, signature: str | None, *, behind: bool = False
    ) -> tuple[list[int], set[str]] | None:
        """The publication day (YYYYMMDD) of every indexed article, ascending (undated ones
        left out), and the outlets, read from the index's own arrays: when it is complete
        and in step with the store's `signature`, else None (ask the store). With `behind`,
        also from a snapshot the store has moved past, while it catches up (it lacks what
        changed since it was written)."""
        state = self._state
        job = self._job
        running = job is not None and job.is_alive()
        in_step = self._warm and not running and state.signature == signature
        if not in_step and not (behind and state.signature and len(state)):
            return None
        alive = state.alive
        _, first = np.unique(state.article_codes[alive], return_index=True)
        days = np.sort(state.published[alive][first])
        sources = {self._sources[int(c)] for c in np.unique(state.source_codes[alive])}
        return [int(d) for d in days[days > 0]], {s for s in sources if s}

    @property
    def warming(self) -> str:
        """What searches miss while a background catch-up runs ("" when nothing)."""
        job = self._job
        if job is None or not job.is_alive():
            return ""
        done, total = self._progress
        if len(self._state) == 0:
            return f"keyword index warming up: {done:,} of {total:,} chunks"
        return f"keyword index catching up: {done:,} of {total:,} new chunks"

    def _catch_up(self, signature: str) -> bool:
        """Fetch and tokenise the chunks the index lacks, mask the gone ones, and publish
        the new state. Runs without the lock but for the swap: only one runs at a time."""
        stored = np.array([cid.encode("utf-8") for cid in self.store.chunk_ids()], dtype=bytes)
        state = self._state
        known = state.chunk_ids[state.alive]
        new = stored[~np.isin(stored, known)] if len(known) else stored
        gone = state.alive & ~np.isin(state.chunk_ids, stored)
        del stored, known
        self._progress = (0, len(new))
        segments: list[_Batch] = []
        pending: list[_Batch] = []
        for start in range(0, len(new), _FETCH):
            if self._stop.is_set():
                raise _Stopped
            ids = [cid.decode("utf-8") for cid in new[start : start + _FETCH]]
            pending.append(self._tokenise(self.store.get_chunks(ids)))
            self._progress = (min(start + _FETCH, len(new)), len(new))
            if sum(len(b) for b in pending) >= _SEGMENT:
                segments.append(_Batch.concat(pending))
                pending = []
        if pending:
            segments.append(_Batch.concat(pending))
        added = sum(len(s) for s in segments)
        updated = self._updated(state, gone, segments)
        with self._lock:
            self._state = replace(updated, signature=signature)
        self._schedule_save()
        return bool(gone.any() or added)

    def _tokenise(self, hits: Sequence[Hit]) -> _Batch:
        tokens = [tokenize(f"{hit.title}\n{hit.text}") for hit in hits]
        codes = self._vocab.add(itertools.chain.from_iterable(tokens))
        token_ids = [[codes[t] for t in chunk] for chunk in tokens]
        lengths = np.array([len(ids) for ids in token_ids], dtype=np.int32)
        flat = np.fromiter(
            itertools.chain.from_iterable(token_ids), dtype=np.int64, count=int(lengths.sum())
        )
        docs = np.repeat(np.arange(len(hits), dtype=np.int64), lengths)
        width = len(self._vocab)
        keys, counts = np.unique(docs * width + flat, return_counts=True)
        return _Batch(
            chunk_ids=np.array([h.chunk_id.encode("utf-8") for h in hits], dtype=bytes),
            article_codes=self._codes(
                [h.article_id for h in hits], self._article_code, self._articles
            ),
            source_codes=self._codes([h.source for h in hits], self._source_code, self._sources),
            published=np.array([published_int(h.published_at) for h in hits], dtype=np.int32),
            lengths=lengths,
            pairs=np.bincount(keys // width, minlength=len(hits)).astype(np.int32),
            terms=(keys % width).astype(np.int32),
            tf=np.minimum(counts, _MAX_TF).astype(np.uint16),
        )

    @staticmethod
    def _codes(names: list[str], codes: dict[str, int], table: list[str]) -> np.ndarray:
        out = np.empty(len(names), dtype=np.int32)
        for i, name in enumerate(names):
            code = codes.get(name)
            if code is None:
                code = codes[name] = len(table)
                table.append(name)
            out[i] = code
        return out

    def _updated(self, state: _State, gone: np.ndarray, segments: list[_Batch]) -> _State:
        """The state with `gone` masked and `segments` appended: into the delta, or with
        the main segment re-derived when the delta grew (or removals piled up) too much."""
        n_terms = len(self._vocab)
        alive = state.alive & ~gone
        added = sum(len(s) for s in segments)
        total = len(state) + added
        alive = np.concatenate([alive, np.ones(added, dtype=bool)])
        per_doc: dict[str, Any] = {
            field: np.concatenate([getattr(state, field), *(getattr(s, field) for s in segments)])
            for field in ("chunk_ids", "article_codes", "source_codes", "published", "lengths")
        }
        dead_share = 1.0 - float(alive.mean()) if total else 0.0
        if (
            state.main is None
            or total - state.built > max(2000, state.built // 5)
            or dead_share > 0.25
        ):
            return self._rebuilt(state, alive, per_doc, segments, n_terms)
        if not added:
            return replace(state, alive=alive)

        passes = itertools.count()

        def parts() -> Iterator[_Part]:
            if state.delta is not None:
                yield from state.delta.parts()
            offset = len(state) - state.built
            yield from _segment_parts(segments, offset, passes)

        return replace(
            state, alive=alive, n_terms=n_terms, delta=_assemble(parts, n_terms), **per_doc
        )

    def _rebuilt(
        self,
        state: _State,
        alive: np.ndarray,
        per_doc: dict[str, Any],
        segments: list[_Batch],
        n_terms: int,
    ) -> _State:
        """Every live doc in one main segment, from the postings already held (removed docs
        dropped, the rest renumbered), never by fetching or tokenising again."""
        keep = alive if not alive.all() else None

        passes = itertools.count()

        def parts() -> Iterator[_Part]:
            if state.main is not None:
                yield from state.main.parts(keep=keep)
            if state.delta is not None:
                yield from state.delta.parts(offset=state.built, keep=keep)
            # New docs are all live: they follow the live ones already held.
            offset = len(state) if keep is None else int(keep[: len(state)].sum())
            yield from _segment_parts(segments, offset, passes)

        if keep is not None:
            per_doc = {field: values[keep] for field, values in per_doc.items()}
        n_docs = len(per_doc["lengths"])
        empty = replace(state, alive=np.ones(n_docs, dtype=bool), n_terms=n_terms, **per_doc)
        if n_docs == 0:
            return replace(empty, built=0, main=None, weights=None, df_main=None, delta=None)
        main = _assemble(parts, n_terms)
        lengths = per_doc["lengths"]
        weights, df = _bm25_weights(main, lengths, self.k1, self.b)
        avgdl = max(float(np.mean(lengths)), 1.0)
        return replace(
            empty, built=n_docs, main=main, weights=weights, df_main=df, avgdl=avgdl, delta=None
        )

    @property
    def delta_size(self) -> int:
        """How many chunks are served from the delta segment (not yet in the main one)."""
        state = self._state
        return len(state) - state.built

    def _scores(self, state: _State, ids: list[int], mask: np.ndarray) -> np.ndarray:
        """BM25 scores of every doc (main segment, then delta) for the query's token ids."""
        built = state.built
        main = np.zeros(built, dtype=np.float32)
        if state.main is not None and state.weights is not None:
            for token in ids:  # ascending, as bm25s sums them
                lo, hi = state.main.span(token)
                main[state.main.docs[lo:hi]] += state.weights[lo:hi]
            main *= mask[:built]
        if state.delta is None:
            return main
        # The delta's formula as it always was (float64, idf over both segments).
        tf = np.zeros((len(state) - built, len(ids)), dtype=np.float32)
        for j, token in enumerate(ids):
            lo, hi = state.delta.span(token)
            tf[state.delta.docs[lo:hi], j] = state.delta.tf[lo:hi]
        df_main = state.df_main if state.df_main is not None else np.zeros(0, dtype=np.int64)
        df = np.array([df_main[i] if i < len(df_main) else 0 for i in ids]) + (tf > 0).sum(axis=0)
        n = len(state)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        delta_len = state.lengths[built:].astype(np.float32)
        norm = self.k1 * (1 - self.b + self.b * delta_len / state.avgdl)
        delta = (tf / (tf + norm[:, None]) * idf).sum(axis=1) * mask[built:]
        return np.concatenate([main, delta.astype(np.float32)])

    # -- searching -------------------------------------------------------------------------

    def search(self, query: str, *, k: int, where: SearchFilter | None = None) -> list[KeywordHit]:
        """The best `k` chunks for `query` by BM25, best first (while `warming`, from the
        chunks the index holds so far)."""
        self.sync()
        state = self._state
        if not len(state) or k <= 0:
            return []
        vocab = self._vocab
        ids = sorted({i for t in tokenize(query) if (i := vocab.get(t, -1)) >= 0})
        ids = [i for i in ids if i < state.n_terms]
        if not ids:
            return []
        scores = self._scores(state, ids, self._mask(state, where))
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        articles = self._articles
        return [
            KeywordHit(
                state.chunk_ids[i].decode("utf-8"),
                articles[state.article_codes[i]],
                int(state.published[i]),
                float(scores[i]),
            )
            for i in top
        ]

    def _mask(self, state: _State, where: SearchFilter | None) -> np.ndarray:
        mask = state.alive.copy()
        if where is None or where.is_empty():
            return mask.astype(np.float32)
        if where.sources:
            codes = [self._source_code[s] for s in where.sources if s in self._source_code]
            mask &= np.isin(state.source_codes, codes)
        if where.since:
            mask &= state.published >= date_to_int(where.since)
        if where.until:
            mask &= (state.published <= date_to_int(where.until)) & (state.published > 0)
        if where.article_ids:
            codes = [self._article_code[a] for a in where.article_ids if a in self._article_code]
            mask &= np.isin(state.article_codes, codes)
        return mask.astype(np.float32)

    def __len__(self) -> int:
        return int(self._state.alive.sum())

    # -- snapshot --------------------------------------------------------------------------

    def _schedule_save(self) -> None:
        """Write the snapshot: at once when it is small or this is the background job, else
        from a thread (a large one takes a second or two, not to be spent on a question); a
        change while it writes is written after it. Not a daemon: a process waits for it."""
        if self.cache_path is None:
            return
        if len(self._state) < self.background_from or threading.current_thread() is self._job:
            with self._save_lock:
                self._save_snapshot(self._state)
            return
        with self._save_lock:
            self._save_wanted = True
            if self._saver is not None and self._saver.is_alive():
                return
            self._saver = threading.Thread(target=self._save_loop, name="keyword-snapshot")
            self._saver.start()

    def _save_loop(self) -> None:
        while True:
            with self._save_lock:
                if not self._save_wanted:
                    return
                self._save_wanted = False
            self._save_snapshot(self._state)

    def _save_snapshot(self, state: _State) -> None:
        assert self.cache_path is not None
        vocab, vocab_ends = self._vocab.packed(state.n_terms)
        hashed = self._vocab.sorted_hashes(state.n_terms)
        n_articles = int(state.article_codes.max(initial=-1)) + 1
        n_sources = int(state.source_codes.max(initial=-1)) + 1
        articles, article_ends = pack(self._articles[:n_articles])
        sources, source_ends = pack(self._sources[:n_sources])
        header = {
            "version": _SNAPSHOT_VERSION,
            "signature": state.signature,
            "location": self.store.location,
            "collection": self.store.collection_name,
            "k1": self.k1,
            "b": self.b,
            "built": state.built,
            "n_terms": state.n_terms,
        }
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
            "vocab": vocab,
            "vocab_ends": vocab_ends,
            "vocab_hashes": hashed[0],
            "vocab_slots": hashed[1],
            "articles": articles,
            "article_ends": article_ends,
            "sources": sources,
            "source_ends": source_ends,
            "chunk_ids": state.chunk_ids,
            "article_codes": state.article_codes,
            "source_codes": state.source_codes,
            "published": state.published,
            "lengths": state.lengths,
            "alive": state.alive,
        }
        for name, postings in (("main", state.main), ("delta", state.delta)):
            if postings is not None:
                arrays[f"{name}_indptr"] = postings.indptr
                arrays[f"{name}_docs"] = postings.docs
                arrays[f"{name}_tf"] = postings.tf
        if state.weights is not None:  # 4 bytes a posting on disk spare seconds of start-up
            arrays["main_weights"] = state.weights
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(".tmp.npz")
            _write_aligned(tmp, arrays)
            tmp.replace(self.cache_path)
        except OSError:
            pass  # the snapshot only saves start-up time; the index itself is in memory

    def _load_snapshot(self) -> None:
        """Start from the snapshot when it is this store's and intact; trust it without
        fetching anything when its signature is the store's."""
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            state = self._read_snapshot(self.cache_path)
        except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile):
            return  # a damaged snapshot is rebuilt from the store
        if state is None:
            return
        self._state = state
        if state.signature and state.signature == self.store.signature():
            self._warm = True
        if self._older_layout:
            self._schedule_save()  # written again with the vocab's hashes, aligned

    def _read_snapshot(self, path: Path) -> _State | None:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode("utf-8"))
            if (
                header.get("version") != _SNAPSHOT_VERSION
                or (header.get("location"), header.get("collection"))
                != (self.store.location, self.store.collection_name)
                or (header.get("k1"), header.get("b")) != (self.k1, self.b)
            ):
                return None
            hashed = "vocab_hashes" in data.files
            self._older_layout = not hashed or not _aligned(data)
            if hashed:
                vocab = Vocab.from_sorted(
                    _mapped(data, path, "vocab"),
                    _mapped(data, path, "vocab_ends"),
                    _mapped(data, path, "vocab_hashes"),
                    _mapped(data, path, "vocab_slots"),
                )
            else:
                vocab = Vocab(data["vocab"], data["vocab_ends"])
            articles = _unpack(data["articles"], data["article_ends"])
            sources = _unpack(data["sources"], data["source_ends"])
            per_doc: dict[str, Any] = {
                field: data[field]
                for field in (
                    "chunk_ids",
                    "article_codes",
                    "source_codes",
                    "published",
                    "lengths",
                    "alive",
                )
            }
            weights = _mapped(data, path, "main_weights") if "main_weights" in data.files else None
            postings: dict[str, _Postings | None] = {}
            for name in ("main", "delta"):
                postings[name] = (
                    _Postings(
                        data[f"{name}_indptr"],
                        _mapped(data, path, f"{name}_docs"),
                        _mapped(data, path, f"{name}_tf"),
                    )
                    if f"{name}_indptr" in data.files
                    else None
                )
            n_docs, built, n_terms = len(per_doc["lengths"]), int(header["built"]), len(vocab)
            if (
                any(len(v) != n_docs for v in per_doc.values())
                or int(header["n_terms"]) != n_terms
                or not 0 <= built <= n_docs
                or int(per_doc["article_codes"].max(initial=-1)) >= len(articles)
                or int(per_doc["source_codes"].max(initial=-1)) >= len(sources)
            ):
                raise ValueError("inconsistent keyword snapshot")
            for name, size in (("main", built), ("delta", n_docs - built)):
                p = postings[name]
                if p is None:
                    continue
                sized = int(p.indptr[-1]) == len(p.docs) == len(p.tf)
                if p.n_terms > n_terms or not sized:
                    raise ValueError("inconsistent keyword snapshot")
                if len(p.docs):
                    low, high = _bounds(p.docs, data.fid)
                    if not 0 <= low <= high < size:
                        raise ValueError("inconsistent keyword snapshot")
        main = postings["main"]
        state = replace(
            _empty_state(),
            signature=header.get("signature"),
            n_terms=n_terms,
            built=built,
            main=main,
            delta=postings["delta"],
            **per_doc,
        )
        if main is not None and built:
            lengths = state.lengths[:built]
            if weights is None or len(weights) != len(main.docs):
                weights, _ = _bm25_weights(main, lengths, self.k1, self.b)
            avgdl = max(float(np.mean(lengths)), 1.0)
            df = np.diff(main.indptr)
            state = replace(state, weights=weights, df_main=df, avgdl=avgdl)
        self._vocab = vocab
        self._article_code = {a: i for i, a in enumerate(articles)}
        self._articles = articles
        self._source_code = {s: i for i, s in enumerate(sources)}
        self._sources = sources
        return state

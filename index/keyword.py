"""BM25 keyword search over the store's chunks (bm25s), kept in step with the store.

The index holds each chunk's stemmed token ids and the metadata filters need. Before a
search it compares the store's `signature()` (one cheap round trip) with the one it last
saw; when another ingest (in this process or any other sharing the store) changed the
chunks, it fetches only the chunks it does not have, tokenises only those, and drops the
ones that are gone. Removals are masked out at once. Additions go to a small delta
segment scored at query time with the same BM25 formula (idf over both segments); when
the delta outgrows a fifth of the main bm25s matrix (or a quarter of it is removed), the
matrix is re-derived from the cached token ids, never by fetching or tokenising again.
A snapshot on disk lets a new process start from the tokens instead of the whole store.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .models import SearchFilter
from .schema import date_to_int, published_int
from .tokens import tokenize

if TYPE_CHECKING:
    from .store import ChromaStore

__all__ = ["KeywordHit", "KeywordIndex", "tokenize"]

_SNAPSHOT_VERSION = 2  # 2: tokens from index.tokens


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A chunk found by keyword search: its id, article, publication date and BM25 score."""

    chunk_id: str
    article_id: str
    published: int  # YYYYMMDD, 0 when undated
    score: float


@dataclass(frozen=True, slots=True)
class _Doc:
    chunk_id: str
    article_id: str
    source: str
    published: int  # YYYYMMDD, 0 when undated
    tokens: np.ndarray  # token ids (int32)


class KeywordIndex:
    """BM25 over every chunk of a `ChromaStore`, synchronised by the store's signature."""

    def __init__(
        self,
        store: ChromaStore,
        *,
        cache_dir: Path | str | None = None,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self.store = store
        self.k1 = k1
        self.b = b
        self.cache_path = self._cache_path(cache_dir)
        self._lock = threading.RLock()
        self._signature: str | None = None
        self._vocab: dict[str, int] = {}
        self._docs: list[_Doc] = []
        self._pos: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._published = np.zeros(0, dtype=np.int32)
        self._source_ids = np.zeros(0, dtype=np.int32)
        self._sources: dict[str, int] = {}
        self._bm25: Any = None
        self._built_docs = 0  # docs[:_built_docs] are in the bm25s matrix, the rest in the delta
        self._df_main = np.zeros(0, dtype=np.int64)  # document frequency per token id (main)
        self._avgdl = 1.0
        self._delta: Any = None  # scipy CSC (docs x tokens) of term frequencies of the delta
        self._delta_len = np.zeros(0, dtype=np.float32)
        self._loaded = False

    def _cache_path(self, cache_dir: Path | str | None) -> Path | None:
        if cache_dir is None:
            return None
        key = f"{self.store.location}\0{self.store.collection_name}"
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
        return Path(cache_dir) / f"{self.store.collection_name}-{digest}.npz"

    # -- keeping in step -------------------------------------------------------------------

    def sync(self) -> bool:
        """Catch up with the store; True when anything changed. Cheap when nothing did."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._load_snapshot()
            signature = self.store.signature()
            if signature == self._signature:
                return False
            stored = self.store.chunk_ids()
            wanted = set(stored)
            gone = [cid for cid in self._pos if cid not in wanted]
            new = [cid for cid in stored if cid not in self._pos]
            for cid in gone:
                self._alive[self._pos.pop(cid)] = False
            self._add(new)
            delta = len(self._docs) - self._built_docs
            if (
                self._bm25 is None
                or delta > max(2000, self._built_docs // 5)
                or self._dead_share() > 0.25
            ):
                self._rebuild()
            elif new:
                self._build_delta()
            self._signature = signature
            self._save_snapshot()
            return bool(gone or new)

    def _add(self, chunk_ids: Sequence[str]) -> None:
        docs: list[_Doc] = []
        for start in range(0, len(chunk_ids), 1000):
            for hit in self.store.get_chunks(chunk_ids[start : start + 1000]):
                docs.append(
                    _Doc(
                        hit.chunk_id,
                        hit.article_id,
                        hit.source,
                        published_int(hit.published_at),
                        self._token_ids(tokenize(f"{hit.title}\n{hit.text}")),
                    )
                )
        self._append(docs)

    def _token_ids(self, tokens: Iterable[str]) -> np.ndarray:
        vocab = self._vocab
        return np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int32)

    def _append(self, docs: list[_Doc]) -> None:
        if not docs:
            return
        first = len(self._docs)
        self._docs.extend(docs)
        for i, doc in enumerate(docs, start=first):
            self._pos[doc.chunk_id] = i
        self._alive = np.concatenate([self._alive, np.ones(len(docs), dtype=bool)])
        self._published = np.concatenate(
            [self._published, np.array([d.published for d in docs], dtype=np.int32)]
        )
        codes = [self._sources.setdefault(d.source, len(self._sources)) for d in docs]
        self._source_ids = np.concatenate([self._source_ids, np.array(codes, dtype=np.int32)])

    def _dead_share(self) -> float:
        return 1.0 - float(self._alive.mean()) if len(self._alive) else 0.0

    def _rebuild(self) -> None:
        """Drop removed chunks and re-derive the BM25 score matrix from cached token ids."""
        import bm25s

        if not self._alive.all():
            keep = np.flatnonzero(self._alive)
            self._docs = [self._docs[i] for i in keep]
            self._published = self._published[keep]
            self._source_ids = self._source_ids[keep]
            self._alive = np.ones(len(self._docs), dtype=bool)
            self._pos = {d.chunk_id: i for i, d in enumerate(self._docs)}
        self._built_docs = len(self._docs)
        self._build_delta()
        if not self._docs:
            self._bm25 = None
            return
        model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        model.scores = model.build_index_from_ids(
            unique_token_ids=list(range(len(self._vocab))),
            corpus_token_ids=[d.tokens.tolist() for d in self._docs],
            show_progress=False,
        )
        self._bm25 = model
        self._df_main = np.bincount(
            np.concatenate([np.unique(d.tokens) for d in self._docs]),
            minlength=len(self._vocab),
        )
        self._avgdl = max(float(np.mean([len(d.tokens) for d in self._docs])), 1.0)

    def _build_delta(self) -> None:
        """Term frequencies of the docs added since the matrix was built."""
        from scipy.sparse import csc_matrix

        docs = self._docs[self._built_docs :]
        if not docs:
            self._delta, self._delta_len = None, np.zeros(0, dtype=np.float32)
            return
        rows = np.concatenate([np.full(len(d.tokens), i) for i, d in enumerate(docs)])
        cols = np.concatenate([d.tokens for d in docs])
        self._delta = csc_matrix(
            (np.ones(len(cols), dtype=np.float32), (rows, cols)),
            shape=(len(docs), len(self._vocab)),
        )  # duplicate (row, col) pairs add up to the term frequency
        self._delta_len = np.array([len(d.tokens) for d in docs], dtype=np.float32)

    @property
    def delta_size(self) -> int:
        """How many chunks are served from the delta segment (not yet in the matrix)."""
        with self._lock:
            return len(self._docs) - self._built_docs

    def _scores(self, ids: list[int], mask: np.ndarray) -> np.ndarray:
        """BM25 scores of every doc (main matrix, then delta) for the query's token ids."""
        built = self._built_docs
        main_ids = [i for i in ids if i < len(self._df_main)]
        if self._bm25 is not None and main_ids:
            main = self._bm25.get_scores_from_ids(main_ids, weight_mask=mask[:built])
        else:
            main = np.zeros(built, dtype=np.float32)
        if self._delta is None:
            return main
        tf = self._delta[:, ids].toarray()
        df_main = np.array([self._df_main[i] if i < len(self._df_main) else 0 for i in ids])
        df = df_main + (tf > 0).sum(axis=0)
        n = len(self._docs)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        norm = self.k1 * (1 - self.b + self.b * self._delta_len / self._avgdl)
        delta = (tf / (tf + norm[:, None]) * idf).sum(axis=1) * mask[built:]
        return np.concatenate([main, delta.astype(np.float32)])

    # -- searching -------------------------------------------------------------------------

    def search(self, query: str, *, k: int, where: SearchFilter | None = None) -> list[KeywordHit]:
        """The best `k` chunks for `query` by BM25, best first."""
        self.sync()
        with self._lock:
            if not self._docs or k <= 0:
                return []
            ids = sorted({self._vocab[t] for t in tokenize(query) if t in self._vocab})
            if not ids:
                return []
            scores = self._scores(ids, self._mask(where))
            k = min(k, int(np.count_nonzero(scores)))
            if k == 0:
                return []
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            docs = self._docs
            return [
                KeywordHit(
                    docs[i].chunk_id, docs[i].article_id, docs[i].published, float(scores[i])
                )
                for i in top
            ]

    def _mask(self, where: SearchFilter | None) -> np.ndarray:
        mask = self._alive.copy()
        if where is None or where.is_empty():
            return mask.astype(np.float32)
        if where.sources:
            codes = [self._sources[s] for s in where.sources if s in self._sources]
            mask &= np.isin(self._source_ids, codes)
        if where.since:
            mask &= self._published >= date_to_int(where.since)
        if where.until:
            mask &= (self._published <= date_to_int(where.until)) & (self._published > 0)
        if where.article_ids:
            wanted = set(where.article_ids)
            mask &= np.fromiter((d.article_id in wanted for d in self._docs), dtype=bool)
        return mask.astype(np.float32)

    def __len__(self) -> int:
        with self._lock:
            return int(self._alive.sum())

    # -- snapshot --------------------------------------------------------------------------

    def _save_snapshot(self) -> None:
        if self.cache_path is None:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            alive = [d for d, ok in zip(self._docs, self._alive, strict=True) if ok]
            lengths = np.array([len(d.tokens) for d in alive], dtype=np.int64)
            tokens = np.concatenate([d.tokens for d in alive]) if alive else np.zeros(0, np.int32)
            header = {
                "version": _SNAPSHOT_VERSION,
                "signature": self._signature,
                "location": self.store.location,
                "collection": self.store.collection_name,
            }
            tmp = self.cache_path.with_suffix(".tmp.npz")
            np.savez(
                tmp,
                header=np.array(json.dumps(header)),
                vocab=np.array(list(self._vocab), dtype=str),
                chunk_ids=np.array([d.chunk_id for d in alive], dtype=str),
                article_ids=np.array([d.article_id for d in alive], dtype=str),
                sources=np.array([d.source for d in alive], dtype=str),
                published=np.array([d.published for d in alive], dtype=np.int32),
                lengths=lengths,
                tokens=tokens,
            )
            tmp.replace(self.cache_path)
        except OSError:
            pass  # the snapshot only saves start-up time; the index itself is in memory

    def _load_snapshot(self) -> None:
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            with np.load(self.cache_path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("version") != _SNAPSHOT_VERSION or (
                    header.get("location"),
                    header.get("collection"),
                ) != (self.store.location, self.store.collection_name):
                    return
                self._vocab = {str(t): i for i, t in enumerate(data["vocab"])}
                offsets = np.concatenate([[0], np.cumsum(data["lengths"])])
                tokens = data["tokens"].astype(np.int32)
                docs = [
                    _Doc(
                        str(cid), str(aid), str(src), int(pub), tokens[offsets[i] : offsets[i + 1]]
                    )
                    for i, (cid, aid, src, pub) in enumerate(
                        zip(
                            data["chunk_ids"],
                            data["article_ids"],
                            data["sources"],
                            data["published"],
                            strict=True,
                        )
                    )
                ]
        except (OSError, ValueError, KeyError):
            return  # a damaged snapshot is rebuilt from the store
        self._append(docs)
        # The snapshot's signature is deliberately not trusted: sync() compares chunk ids.

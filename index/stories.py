"""Stories: the copies of one report grouped, by near-duplicate detection at ingest.

A syndicated report runs in many outlets with a new headline, a rewritten intro, another
byline or dateline, a paragraph dropped or added. Each article's body is reduced to a
MinHash signature over its five-word shingles (datasketch); locality-sensitive hashing
splits the signature into bands, and two articles are compared only when one band is
equal. Two articles are copies when their signatures agree on at least `MATCH` of their
values (an estimate of the Jaccard similarity of their shingles). A story is a connected
group of copies; its original is the earliest copy (by publication date, then id), and
its id is derived from the original's, so rebuilding the grouping gives the same ids.

The state lives in the store, in two collections with one row per article. In
`<name>-stories`, a lean row: its signature (base64 of the values' low 16 bits; not the
document, which Chroma would index for full-text search), its story id, whether it is the
original, its date; the original's row also holds the story's size. In `<name>-bands`, one
short key per band, for a story's first `REPRESENTATIVES` copies only (a story changing
its original rewrites lean rows only). A new article's candidates are found by a metadata
filter on its band keys (no scan of the index, and the same against a Chroma server),
which returns ids only; then only the candidates' lean rows are read, and a stored story
stands as one unit: joining it rewrites the new copy's row and the original's (its
size), not every copy's. So a copy that is like only a later copy of a large story, and
not like any of its first ones, starts a story of its own. Unrelated articles
do share a band now and then (about one pair in 8,000 of real news articles: a shared
quote or boilerplate paragraph), so at 100,000 articles a new one has a dozen such
candidates, and reading their band keys as well cost more than the rest of grouping.
Adding, changing or removing an article regroups only the stories it touches.
`ChromaStore` calls `place` and `drop` inside its journaled writes and removals, and
`recover` after an interrupted one.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import schema

if TYPE_CHECKING:
    import numpy as np

    from .store import ChromaStore

__all__ = [
    "BANDS",
    "MATCH",
    "NUM_PERM",
    "SCHEME",
    "SHINGLE_WORDS",
    "Copy",
    "Story",
    "signature",
    "similarity",
    "story_id_for",
]

SHINGLE_WORDS = 5
NUM_PERM = 128
# 21 bands of 2 values (the first 42 of the 128): a pair at similarity 0.5 shares a band
# 99.8% of the time, at 0.45 99.1%; unrelated articles (near 0) almost never. Each band is
# a metadata key on the article's band row, so fewer bands make each write cheaper; 42
# bands of 3 wrote twice the keys for less recall (99.6% and 98.2%).
BANDS = 21
ROWS = 2
MATCH = 0.5
# Fewer shingles than this (a brief of under 44 words) and a shared footer or standard
# paragraph outweighs the article's own words: it is its own story. (The shortest of the
# 756 RealTime QA articles has 90.)
MIN_SHINGLES = 40
# Signature values are kept to their low 16 bits: two different values agree by chance
# once in 65,536, which moves a similarity estimate by less than 0.0001, at half the bytes
# stored and read.
SIG_BITS = 16
# A story's first copies (by arrival) carry band rows and stand for it when new articles
# look for their story: a copy joining a story of hundreds is compared with these, and
# reads these rows, not every copy's.
REPRESENTATIVES = 8
# Stored with the collection: signatures made another way are made again.
SCHEME = (
    f"crc32poly-minhash-affine32-seed1-{NUM_PERM}p-{SHINGLE_WORDS}w-{BANDS}x{ROWS}"
    f"-u{SIG_BITS}-bands32-rep{REPRESENTATIVES}"
)
_SCHEME_KEY = "scheme"
_QUERY_ARTICLES = 100  # articles whose band keys go into one candidate query
_IN_LIMIT = 500
_WORD = re.compile(r"\w+")
_POLY = 0x100000001B3  # the FNV-1 64-bit prime: a multiplier that spreads the words' bits


@dataclass(frozen=True, slots=True)
class Copy:
    """One article of a story, as a listing or a citation names it."""

    article_id: str
    source: str
    published_at: str
    url: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Story:
    """A story: its id and its copies, the original first, then by date."""

    story_id: str
    copies: tuple[Copy, ...]

    @property
    def original(self) -> Copy:
        """The earliest copy."""
        return self.copies[0]

    def to_dict(self) -> dict[str, Any]:
        """The `stories --json` object of one story."""
        return {
            "story_id": self.story_id,
            "original": self.original.article_id,
            "copies": [
                {
                    "article_id": c.article_id,
                    "title": c.title,
                    "source": c.source,
                    "published_at": c.published_at,
                    "url": c.url,
                }
                for c in self.copies
            ],
        }


# -- signatures ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hasher:
    """datasketch's permutations, made once (making them is most of a MinHash's cost)."""

    template: Any = None

    def minhash(self, values: np.ndarray) -> Any:
        from datasketch import MinHash

        if self.template is None:
            self.template = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32")
        m = MinHash(
            num_perm=NUM_PERM,
            seed=1,
            scheme="affine32",
            permutations=self.template.permutations,
            hashfunc=_as_is,
        )
        m.update_batch(values.tolist())
        return m


def _as_is(value: int) -> int:
    """The shingles come hashed already (see `shingle_hashes`)."""
    return value


_HASHER = _Hasher()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str) -> set[str]:
    """The text's five-word shingles, lower-cased, punctuation ignored (for reading;
    signatures hash them without building the strings)."""
    words = _words(text)
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def shingle_hashes(text: str) -> np.ndarray:
    """A 32-bit hash of each five-word shingle: each word's CRC-32, combined over the
    window as a polynomial (mod 2^64), the top 32 bits kept; datasketch mixes them again
    before its permutations. The same shingle always gets the same hash, in any process."""
    import numpy as np

    words = _words(text)
    if not words:
        return np.zeros(0, dtype=np.uint32)
    h = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), np.uint64, len(words))
    width = min(SHINGLE_WORDS, len(words))
    count = len(words) - width + 1
    acc = np.zeros(count, dtype=np.uint64)
    for j in range(width):
        acc = acc * np.uint64(_POLY) + h[j : j + count] + np.uint64(1)
    return np.unique((acc >> np.uint64(32)).astype(np.uint32))


def signature(text: str) -> np.ndarray | None:
    """The MinHash signature of a body (None when it is too short to group): the low
    16 bits of each value."""
    import numpy as np

    hashes = shingle_hashes(text)
    if len(hashes) < MIN_SHINGLES:
        return None
    values: np.ndarray = _HASHER.minhash(hashes).hashvalues
    return (values & 0xFFFF).astype(np.uint16)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal signature values: an estimate of the shingles' Jaccard similarity."""
    import numpy as np

    return float(np.count_nonzero(a == b)) / len(a)


def band_keys(sig: np.ndarray) -> list[str]:
    """One short key per band of the signature (32 bits: two unrelated bands get the same
    key by chance once in four billion)."""
    raw = sig.astype("<u2").tobytes()
    width = ROWS * 2
    return [
        hashlib.blake2b(raw[i * width : (i + 1) * width], digest_size=4).hexdigest()
        for i in range(BANDS)
    ]


def _encode(sig: np.ndarray | None) -> str:
    return "" if sig is None else base64.b64encode(sig.astype("<u2").tobytes()).decode("ascii")


def _decode(text: str | None) -> np.ndarray | None:
    import numpy as np

    if not text:
        return None
    return np.frombuffer(base64.b64decode(text), dtype="<u2").copy()


def story_id_for(original_id: str) -> str:
    """A story's id: derived from its original's article id (stable across rebuilds)."""
    return "story-" + hashlib.sha1(original_id.encode("utf-8")).hexdigest()[:12]


def _band(i: int) -> str:
    return f"b{i:02d}"


# -- the stored rows -------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    """One article's rows in the stories and bands collections."""

    article_id: str
    published: int  # YYYYMMDD, 0 when undated
    sig: np.ndarray | None
    keys: list[str] = field(default_factory=list)
    story_id: str = ""
    original: bool = False
    size: int = 1
    banded: bool = False  # a representative: it has a band row

    @classmethod
    def new(cls, article_id: str, body: str, published: int) -> _Node:
        sig = signature(body)
        return cls(article_id, published, sig, band_keys(sig) if sig is not None else [])

    @classmethod
    def stored(cls, article_id: str, meta: dict[str, Any] | None, *, keys: bool) -> _Node:
        """A stored row; with `keys`, its band keys made again from the signature (cheaper
        than reading them; only grouping needs them)."""
        meta = meta or {}
        sig = _decode(str(meta.get("signature", "")))
        return cls(
            article_id,
            int(meta.get("published_int", 0)),
            sig,
            band_keys(sig) if keys and sig is not None else [],
            str(meta.get("story_id", "")),
            bool(meta.get("original", False)),
            int(meta.get("size", 1)),
            bool(meta.get("banded", False)),
        )

    def metadata(self) -> dict[str, Any]:
        """The lean row: what grouping and listing read."""
        return {
            "story_id": self.story_id,
            "original": self.original,
            "size": self.size,
            "published_int": self.published,
            "signature": _encode(self.sig),
            "banded": self.banded,
        }

    def bands(self) -> dict[str, Any]:
        """The band row: what the candidate filter reads (never fetched)."""
        return {_band(i): key for i, key in enumerate(self.keys)} or {"none": True}

    def order(self) -> tuple[int, str]:
        return _order(self.published, self.article_id)


def _order(published: int, article_id: str) -> tuple[int, str]:
    """A story's copies in order: earliest first; undated copies after dated ones; then by
    id."""
    return (published or 99_999_999, article_id)


def _collection(store: ChromaStore) -> Any:
    return store._client.get_or_create_collection(
        schema.collection_name(store.collection_name, "stories"),
        embedding_function=None,
        metadata={_SCHEME_KEY: SCHEME},
    )


def _bands(store: ChromaStore) -> Any:
    return store._client.get_or_create_collection(
        schema.collection_name(store.collection_name, "bands"),
        embedding_function=None,
        metadata={_SCHEME_KEY: SCHEME},
    )


def _nodes(got: dict[str, Any], *, keys: bool = False) -> dict[str, _Node]:
    return {
        aid: _Node.stored(aid, meta, keys=keys)
        for aid, meta in zip(got["ids"], got["metadatas"], strict=True)
    }


def _get(
    collection: Any, store: ChromaStore, ids: Sequence[str], *, keys: bool = False
) -> dict[str, _Node]:
    found: dict[str, _Node] = {}
    step = min(store._batch_size(), _IN_LIMIT)
    for start in range(0, len(ids), step):
        got = collection.get(ids=list(ids[start : start + step]), include=["metadatas"])
        found.update(_nodes(got, keys=keys))
    return found


def _story_rows(
    collection: Any, story_ids: Iterable[str], *, originals: bool = False
) -> Iterator[dict[str, Any]]:
    """The lean rows (`get` results) of these stories' members, or only their originals."""
    wanted = sorted({s for s in story_ids if s})
    for start in range(0, len(wanted), _IN_LIMIT):
        part = wanted[start : start + _IN_LIMIT]
        where: dict[str, Any] = {"story_id": part[0] if len(part) == 1 else {"$in": part}}
        if originals:
            where = {"$and": [where, {"original": True}]}
        yield collection.get(where=where, include=["metadatas"])


def _members(collection: Any, story_ids: Iterable[str], *, keys: bool = False) -> dict[str, _Node]:
    found: dict[str, _Node] = {}
    for got in _story_rows(collection, story_ids):
        found.update(_nodes(got, keys=keys))
    return found


def _candidates(
    collection: Any, bands: Any, store: ChromaStore, nodes: Sequence[_Node]
) -> dict[str, _Node]:
    """Stored rows sharing a band key with one of `nodes`: ids from the band rows, then
    the lean rows of those not among `nodes`."""
    ids: set[str] = set()
    keyed = [n for n in nodes if n.keys]
    for start in range(0, len(keyed), _QUERY_ARTICLES):
        part = keyed[start : start + _QUERY_ARTICLES]
        where = {
            "$or": [{_band(i): {"$in": sorted({n.keys[i] for n in part})}} for i in range(BANDS)]
        }
        ids.update(bands.get(where=where, include=[])["ids"])
    ids.difference_update(n.article_id for n in nodes)
    return _get(collection, store, sorted(ids), keys=True)


def _group(
    fresh: dict[str, _Node],
    loose: dict[str, _Node],
    candidates: dict[str, _Node],
) -> list[tuple[list[str], list[_Node]]]:
    """Link the `fresh` articles (being placed) to each other, to the stored `candidates`
    (representatives of stored stories, each standing for its whole story, which stays
    together as stored) and to the `loose` ones (the members of stories a change or
    removal touched, which may split, compared among themselves too): pairs that share a
    band key and agree on at least MATCH of their signature. Returns each resulting group
    as (the stored stories it takes in, its fresh and loose articles). A copy joining a
    story of hundreds costs one comparison per representative, not one per copy."""
    unit = {aid: aid for aid in (*fresh, *loose)}
    for aid, node in candidates.items():
        unit[aid] = "S:" + node.story_id
    parent = {u: u for u in unit.values()}

    def root(u: str) -> str:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    nodes = {**candidates, **loose, **fresh}
    buckets: dict[tuple[int, str], list[str]] = {}
    for aid in sorted(nodes):
        for i, key in enumerate(nodes[aid].keys):
            buckets.setdefault((i, key), []).append(aid)
    tried: set[tuple[str, str]] = set()
    for members in buckets.values():
        new = [m for m in members if m in fresh]
        mixed = [m for m in members if m in loose]
        pairs = [
            *((a, b) for x, a in enumerate(new) for b in new[x + 1 :]),
            *((a, b) for a in new for b in members if b not in fresh),
            *((a, b) for x, a in enumerate(mixed) for b in mixed[x + 1 :]),
        ]
        for a, b in pairs:
            ra, rb = root(unit[a]), root(unit[b])
            pair = (a, b) if a < b else (b, a)
            if ra == rb or pair in tried:
                continue
            tried.add(pair)
            sa, sb = nodes[a].sig, nodes[b].sig
            if sa is not None and sb is not None and similarity(sa, sb) >= MATCH:
                parent[ra] = rb
    groups: dict[str, tuple[set[str], list[_Node]]] = {}
    for aid, u in unit.items():
        stories, own = groups.setdefault(root(u), (set(), []))
        if u.startswith("S:"):
            stories.add(u[2:])
        else:
            own.append(nodes[aid])
    return [(sorted(stories), own) for stories, own in groups.values()]


def _settle(
    collection: Any,
    group: tuple[list[str], list[_Node]],
    originals: dict[str, _Node],
) -> tuple[list[_Node], list[_Node]]:
    """Name one group's story after its earliest copy and size it; returns the rows to
    write (lean) and the articles that become representatives (band rows to write). Only
    the originals of the stored stories it takes in are rewritten, unless a story is
    renamed (an earlier copy arrived, or two stories merged): then all its members."""
    stories, own = group
    kept = [originals[s] for s in stories if s in originals]
    if not kept and not own:
        return [], []
    earliest = min([*kept, *own], key=_Node.order)
    story = story_id_for(earliest.article_id)
    size = sum(o.size for o in kept) + len(own)
    rows: list[_Node] = []
    banded = sum(min(o.size, REPRESENTATIVES) for o in kept if o.story_id == story)
    banded += sum(1 for n in own if n.banded)
    promoted: list[_Node] = []
    for node in sorted(own, key=_Node.order):
        node.story_id, node.original = story, node is earliest
        node.size = size if node.original else 0
        if not node.banded and banded < REPRESENTATIVES:
            node.banded, banded = True, banded + 1
            promoted.append(node)
        rows.append(node)
    for original in kept:
        if original.story_id == story:
            if original.size != size:
                original.size = size
                rows.append(original)
            continue
        for member in _members(collection, [original.story_id]).values():
            member.story_id, member.original, member.size = story, False, 0
            if not member.banded and banded < REPRESENTATIVES:
                member.banded, banded = True, banded + 1
                promoted.append(member)
            rows.append(member)
    return rows, promoted


def _originals(collection: Any, story_ids: Iterable[str]) -> dict[str, _Node]:
    """The original's row of each of these stories, by story id."""
    found: dict[str, _Node] = {}
    for got in _story_rows(collection, story_ids, originals=True):
        for node in _nodes(got).values():
            found[node.story_id] = node
    return found


def _save(collection: Any, store: ChromaStore, nodes: Sequence[_Node], *, bands: bool) -> None:
    """Upsert the lean rows of `nodes`, or (`bands`) their band rows."""
    step = store._batch_size()
    for start in range(0, len(nodes), step):
        part = nodes[start : start + step]
        collection.upsert(
            ids=[n.article_id for n in part],
            metadatas=[n.bands() if bands else n.metadata() for n in part],
            embeddings=[[1.0]] * len(part),
        )


def _regroup(
    store: ChromaStore, collection: Any, bands: Any, new: Sequence[_Node], gone: Sequence[str]
) -> None:
    """Place `new` articles (their signatures replacing any stored ones) and take out the
    `gone` ones, regrouping only the stories either touches. Band rows go first: a run
    stopped in between leaves a band row without its lean row, which candidates skip and
    the journal's recovery places again."""
    fresh = {n.article_id: n for n in new}
    changing = set(fresh) | set(gone)
    before = _get(collection, store, sorted(changing))
    untrusted = {n.story_id for n in before.values() if n.story_id}
    loose = {
        aid: n
        for aid, n in _members(collection, untrusted, keys=True).items()
        if aid not in changing
    }
    was = {aid: n.metadata() for aid, n in loose.items()}
    candidates = {
        aid: n
        for aid, n in _candidates(collection, bands, store, new).items()
        if aid not in changing and aid not in loose and n.story_id
    }
    groups = _group(fresh, loose, candidates)
    kept = {s for stories, _ in groups for s in stories}
    # A copy is like its original, so the original is almost always among the candidates;
    # the others are read by a metadata query (slow on a large index: seen at 40% of a
    # write's time when it was run for every story).
    originals = {n.story_id: n for n in candidates.values() if n.original and n.story_id in kept}
    originals.update(_originals(collection, kept - originals.keys()))
    rows: list[_Node] = []
    promoted: list[_Node] = []
    for group in groups:
        written, banded = _settle(collection, group, originals)
        rows.extend(written)
        promoted.extend(banded)
    _save(bands, store, promoted, bands=True)
    _save(
        collection,
        store,
        [n for n in rows if n.article_id in fresh or was.get(n.article_id) != n.metadata()],
        bands=False,
    )
    unbanded = [aid for aid, n in before.items() if n.banded and not fresh.get(aid, n).banded]
    doomed = [aid for aid in gone if aid not in fresh]
    if doomed:
        collection.delete(ids=doomed)
    if doomed or unbanded:
        bands.delete(ids=sorted({*doomed, *unbanded}))


def place(store: ChromaStore, articles: Sequence[tuple[str, str, int]]) -> None:
    """Group new or changed articles, each (id, body, published YYYYMMDD), into stories."""
    if articles:
        new = [_Node.new(aid, body, published) for aid, body, published in articles]
        _regroup(store, _collection(store), _bands(store), new, ())


def drop(store: ChromaStore, article_ids: Sequence[str]) -> None:
    """Take removed articles out of their stories (a story may split in two)."""
    if article_ids:
        _regroup(store, _collection(store), _bands(store), (), list(article_ids))


def reset(store: ChromaStore) -> None:
    """Forget every story (the index was emptied)."""
    for part in ("stories", "bands"):
        try:
            store._client.delete_collection(schema.collection_name(store.collection_name, part))
        except Exception:  # a collection that is not there is already reset
            pass


def recover(store: ChromaStore, pending: Sequence[str]) -> int:
    """Bring the stories in line with the article rows after an interrupted write (the
    journal's `pending` articles are placed again, or dropped when their row is gone), and
    rebuild them when they were made another way or are missing articles. Cheap when all
    is well: three counts and two collections' metadata. Returns articles placed or
    dropped."""
    collection, bands = _collection(store), _bands(store)
    if any((c.metadata or {}).get(_SCHEME_KEY) != SCHEME for c in (collection, bands)):
        reset(store)
        collection, bands = _collection(store), _bands(store)
    fixed = 0
    if pending:
        fixed += _replace(store, collection, bands, list(pending))
    articles = store._articles.count()
    lean = collection.count()
    if lean != articles or bands.count() > lean:
        indexed = set(store.all_ids(store._articles))
        placed = set(store.all_ids(collection))
        odd = placed ^ indexed
        odd |= set(store.all_ids(bands)) - placed
        fixed += _replace(store, collection, bands, sorted(odd))
    return fixed


def _replace(store: ChromaStore, collection: Any, bands: Any, article_ids: list[str]) -> int:
    """Place these articles again from their stored bodies; drop those with no row."""
    rows: dict[str, tuple[str, int]] = {}
    step = min(store._batch_size(), _IN_LIMIT)
    for start in range(0, len(article_ids), step):
        got = store._articles.get(
            ids=article_ids[start : start + step], include=["documents", "metadatas"]
        )
        for aid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            rows[aid] = (doc or "", schema.published_int(str((meta or {}).get("published_at", ""))))
    gone = [aid for aid in article_ids if aid not in rows]
    if gone:
        _regroup(store, collection, bands, (), gone)
    placed = [(aid, body, day) for aid, (body, day) in rows.items()]
    for start in range(0, len(placed), 1000):
        new = [_Node.new(aid, body, day) for aid, body, day in placed[start : start + 1000]]
        _regroup(store, collection, bands, new, ())
        store.keep_alive()  # a large index takes minutes: the lease on a server must hold
    return len(article_ids)


# -- reads -----------------------------------------------------------------------------------


def story_of(store: ChromaStore, article_ids: Sequence[str]) -> dict[str, str]:
    """The story id of each of these articles (those not grouped yet are left out)."""
    nodes = _get(_collection(store), store, list(dict.fromkeys(article_ids)))
    return {aid: n.story_id for aid, n in nodes.items() if n.story_id}


def members(store: ChromaStore, story_ids: Iterable[str]) -> dict[str, list[str]]:
    """The article ids of each story, the original first, then by date (signatures are
    not decoded: a story of hundreds of copies is listed on every answer citing it)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for got in _story_rows(_collection(store), story_ids):
        for aid, meta in zip(got["ids"], got["metadatas"], strict=True):
            meta = meta or {}
            key = _order(int(meta.get("published_int", 0)), aid)
            out.setdefault(str(meta.get("story_id", "")), []).append(key)
    return {s: [aid for _, aid in sorted(ns)] for s, ns in out.items()}


def grouped(store: ChromaStore, *, min_copies: int = 1) -> dict[str, list[str]]:
    """Every story of at least `min_copies` copies, by id: its article ids, original first."""
    collection = _collection(store)
    if min_copies > 1:
        where = {"$and": [{"original": True}, {"size": {"$gte": min_copies}}]}
        originals = collection.get(where=where, include=[])["ids"]
        story_ids = [story_id_for(aid) for aid in originals]
        return members(store, story_ids)
    stories: dict[str, list[_Node]] = {}
    step = store._batch_size()
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=step, offset=offset)
        if not got["ids"]:
            break
        for aid, meta in zip(got["ids"], got["metadatas"], strict=True):
            node = _Node.stored(aid, meta, keys=False)
            stories.setdefault(node.story_id, []).append(node)
        offset += len(got["ids"])
    return {s: [n.article_id for n in sorted(ns, key=_Node.order)] for s, ns in stories.items()}


def count(store: ChromaStore) -> int:
    """How many stories the index holds (one original each)."""
    return len(_collection(store).get(where={"original": True}, include=[])["ids"])

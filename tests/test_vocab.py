"""The keyword index's vocabulary: ids stay put through folding and snapshots, lookups check
the bytes (a hash collision never gives a wrong id), numpy and Python hash alike."""

from __future__ import annotations

import random

import numpy as np

from index import vocab as vocab_module
from index.vocab import Vocab, hash_packed, hash_token, pack


def words(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzéü0123456789"
    return list(
        dict.fromkeys("".join(rnd.choices(letters, k=rnd.randint(1, 14))) for _ in range(n))
    )


def test_numpy_and_python_hash_alike():
    tokens = list(dict.fromkeys([*words(3000), "a", "ü", "x" * 300, "naïve", "東京"]))
    buffer, ends = pack(tokens)
    hashed = hash_packed(buffer, ends)
    assert [int(h) for h in hashed] == [hash_token(t.encode("utf-8")) for t in tokens]
    assert len(set(hashed.tolist())) == len(tokens)


def test_ids_survive_folding_and_a_snapshot(monkeypatch):
    monkeypatch.setattr(vocab_module, "_FOLD", 500)  # fold often
    tokens = words(4000)
    vocab = Vocab()
    ids: dict[str, int] = {}
    for start in range(0, len(tokens), 300):
        batch = tokens[start : start + 300]
        got = vocab.add([*batch, *batch[:10], *tokens[:5]])  # repeats get their old id
        ids.update({t: got[t] for t in batch})
    assert list(ids.values()) == list(range(len(tokens)))  # dense, in order of first sight
    assert len(vocab) == len(tokens)
    assert all(vocab[t] == i for t, i in ids.items())
    assert vocab.get("never-seen") == -1 and "never-seen" not in vocab

    for n in (len(tokens), 1234):  # a snapshot of all, or of the first n
        buffer, ends = vocab.packed(n)
        hashes, slots = vocab.sorted_hashes(n)
        for again in (Vocab(buffer, ends), Vocab.from_sorted(buffer, ends, hashes, slots)):
            assert len(again) == n
            assert all(again.get(t) == ids[t] for t in tokens[:n])
            assert again.get(tokens[-1]) == (-1 if n < len(tokens) else ids[tokens[-1]])
            assert again.add(["brand-new"])["brand-new"] == n


def test_a_hash_collision_costs_a_comparison_not_a_wrong_id(monkeypatch):
    """Every token hashed alike: lookups still find each one by its bytes."""
    monkeypatch.setattr(vocab_module, "hash_packed", lambda b, e: np.zeros(len(e), np.uint64))
    monkeypatch.setattr(vocab_module, "hash_token", lambda data: 0)
    tokens = words(200, seed=2)
    vocab = Vocab(*pack(tokens))
    assert [vocab.get(t) for t in tokens] == list(range(len(tokens)))
    assert vocab.add([tokens[50], "other"]) == {tokens[50]: 50, "other": len(tokens)}

"""The embedder: unit vectors, and a half-precision copy for batches whose vectors agree
with fp32 ones (so indexes built either way stay interchangeable)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from index import Embedder
from index.errors import ConfigError

TEXTS = [
    f"Report {i}: GEM and Ascend Elements expand battery recycling in region {i}, "
    f"with {i * 7} thousand tonnes of capacity planned by {2026 + i % 5}."
    for i in range(24)
]


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_batches_match_fp32_and_are_unit_length(precision):
    reference = Embedder(precision="fp32").encode(TEXTS)
    embedder = Embedder(precision=precision)
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * reference, axis=1)
    assert cosines.min() > 0.999, cosines.min()
    # Different texts still get different vectors: the copy is a real encoder.
    assert np.sum(vectors[0] * vectors[1]) < 0.999


def test_bf16_batches_use_a_half_precision_copy_and_queries_stay_fp32():
    embedder = Embedder(precision="bf16")
    batch_model = embedder.model_for(len(TEXTS))
    assert next(batch_model.parameters()).dtype == torch.bfloat16
    assert next(embedder.model_for(1).parameters()).dtype == torch.float32
    assert embedder.model_for(1) is embedder.model
    # The shared fp32 model is untouched by the copy.
    assert next(embedder.model.parameters()).dtype == torch.float32
    query = embedder.encode([TEXTS[0]])
    assert np.allclose(query, Embedder(precision="fp32").encode([TEXTS[0]]), atol=1e-6)


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="auto, fp32, bf16 or fp16"):
        Embedder(precision="int4")

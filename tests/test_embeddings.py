"""The embedder: unit vectors, and a half-precision copy for batches whose vectors agree
with fp32 ones (so indexes built either way stay interchangeable)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from index import Embedder, embeddings
from index.embeddings import DEFAULT_EMBEDDING_MODEL, _encode_by_length, model_location
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


def _varied_texts() -> list[str]:
    """Texts from a few words to past the model's 256 word pieces, in no length order."""
    lengths = [3, 180, 40, 400, 12, 90, 260, 7, 150, 60, 33, 220]
    return [
        " ".join(f"word{(i * 31 + j) % 97} battery recycling" for j in range(n // 3 + 1))
        for i, n in enumerate(lengths)
    ]


def _sentence_transformer():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_location(DEFAULT_EMBEDDING_MODEL), device="cpu")


def test_length_sorted_batches_keep_the_input_order_and_match_sentence_transformers():
    texts = _varied_texts()
    model = Embedder(precision="fp32").model
    expected = _sentence_transformer().encode(
        texts, convert_to_tensor=True, normalize_embeddings=True
    )
    # Budgets from one text per batch to everything in one batch, so batches of every size
    # and their reassembly into input order are exercised.
    for max_tokens in (1, 300, 1000, 100_000):
        got = _encode_by_length(model, texts, max_texts=5, max_tokens=max_tokens)
        got = torch.nn.functional.normalize(got, dim=1)
        cosines = (got * expected).sum(dim=1)
        assert cosines.min() > 0.99999, (max_tokens, cosines)


def test_texts_beyond_one_window_come_back_in_order(monkeypatch):
    """Long inputs are tokenized and sorted a window at a time; the windows join in order."""
    texts = _varied_texts()
    model = Embedder(precision="fp32").model
    whole = _encode_by_length(model, texts, max_texts=4, max_tokens=2000)
    monkeypatch.setattr(embeddings, "_WINDOW", 5)
    windowed = _encode_by_length(model, texts, max_texts=4, max_tokens=2000)
    assert windowed.shape == whole.shape
    assert torch.allclose(windowed, whole, atol=1e-5)


def test_a_model_without_an_attention_mask_goes_through_plain_encode():
    """A static-embedding model's inputs are flat ids and offsets, with nothing to sort by."""
    import tokenizers
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.models import StaticEmbedding

    tokenizer = Embedder(precision="fp32").model.tokenizer
    static = StaticEmbedding(
        tokenizers.Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()), embedding_dim=16
    )
    model = SentenceTransformer(modules=[static], device="cpu")
    texts = _varied_texts()
    got = _encode_by_length(model, texts, max_texts=4, max_tokens=300)
    assert torch.allclose(got, model.encode(texts, convert_to_tensor=True), atol=1e-6)
    assert got.shape == (len(texts), 16)


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_is_trimmed_on_the_side_the_tokenizer_pads(side):
    """One text per batch: every batch is trimmed to exactly its text's word pieces, so
    trimming the wrong side would cut real word pieces off the shorter texts."""
    import copy

    texts = _varied_texts()
    model = copy.deepcopy(Embedder(precision="fp32").model)
    model.tokenizer.padding_side = side
    alone = torch.stack(
        [model.encode([t], convert_to_tensor=True, normalize_embeddings=True)[0] for t in texts]
    )
    got = _encode_by_length(model, texts, max_texts=1, max_tokens=1)
    cosines = (torch.nn.functional.normalize(got, dim=1) * alone).sum(dim=1)
    assert cosines.min() > 0.99999, cosines


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="auto, fp32, bf16 or fp16"):
        Embedder(precision="int4")


def test_the_default_model_runs_without_importing_sentence_transformers():
    """Importing sentence-transformers, or transformers' BERT, costs seconds a CLI question
    does not have."""
    import subprocess
    import sys

    code = (
        "import sys; from index import Embedder; v = Embedder().encode(['GEM and Ascend']); "
        "assert v.shape == (1, 384); assert 'sentence_transformers' not in sys.modules; "
        "assert 'transformers' not in sys.modules, 'transformers imported'; "
        "print(type(Embedder().model).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MeanPoolingEncoder"


def test_a_model_of_another_shape_goes_through_sentence_transformers(tmp_path):
    """CLS pooling is not mean pooling: such a folder loads as a SentenceTransformer and its
    vectors are its own."""
    import json
    import shutil

    from sentence_transformers import SentenceTransformer

    from index.encoder import plain_layout

    folder = tmp_path / "cls-model"
    shutil.copytree(model_location(DEFAULT_EMBEDDING_MODEL), folder)
    assert plain_layout(folder) is not None
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config |= {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    pooling.write_text(json.dumps(config))
    assert plain_layout(folder) is None
    embedder = Embedder(str(folder), precision="fp32")
    assert isinstance(embedder.model, SentenceTransformer)
    texts = TEXTS[:3]
    expected = SentenceTransformer(str(folder), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert np.allclose(embedder.encode(texts), expected, atol=1e-5)
    assert np.sum(embedder.encode(texts)[0] * Embedder(precision="fp32").encode(texts)[0]) < 0.99


_UNUSUAL = [
    "GEM and Ascend Elements partner on battery recycling.",
    "  Leading and trailing   spaces  ",
    "Accents and scripts: Zürich, São Paulo, Kraków, 東京, Москва, 😀 — “quoted”",
    "x",
    "A long one: " + "battery recycling capacity grows " * 120,
    "",
]


def _transformers_vectors(folder, texts: list[str]) -> tuple[dict, torch.Tensor]:
    """Word pieces and mean-pooled unit vectors as transformers' own BERT gives them."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    features = dict(
        tokenizer(
            [t.strip() for t in texts],
            padding=True,
            truncation="longest_first",
            max_length=256,
            return_tensors="pt",
        )
    )
    with torch.inference_mode():
        tokens = model(**features).last_hidden_state
    mask = features["attention_mask"].unsqueeze(-1).float()
    vectors = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1), dim=1)
    return features, vectors


def test_the_plain_bert_encoder_gives_transformers_word_pieces_and_vectors():
    """The page of torch that runs the default model is BERT as transformers runs it: the
    same word pieces (special tokens, padding, the 256 cut) and the same vectors."""
    model = Embedder(precision="fp32").model
    assert model._plain
    features, expected = _transformers_vectors(model_location(DEFAULT_EMBEDDING_MODEL), _UNUSUAL)
    got_features = model.tokenize(_UNUSUAL)
    assert set(got_features) == set(features)
    for key, value in features.items():
        assert torch.equal(got_features[key], value), key
    assert features["input_ids"].shape[1] == 256  # the long text was cut
    with torch.inference_mode():
        got = model(got_features)["sentence_embedding"]
    assert torch.allclose(got, expected, atol=1e-6), (got - expected).abs().max()


def test_a_bert_folder_whose_tokenizer_files_disagree_goes_through_transformers(tmp_path):
    """tokenizer_config.json says not to lower-case while tokenizer.json does: transformers
    rebuilds the normaliser from the config, so the folder loads through transformers and
    its vectors are transformers' own."""
    import json
    import shutil

    from index.encoder import MeanPoolingEncoder, plain_layout

    folder = tmp_path / "cased"
    shutil.copytree(model_location(DEFAULT_EMBEDDING_MODEL), folder)
    settings_file = folder / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps(settings | {"do_lower_case": False}))
    layout = plain_layout(folder)
    assert layout is not None
    encoder = MeanPoolingEncoder(folder, device="cpu", layout=layout)
    assert not encoder._plain
    texts = ["GEM and Ascend Elements", "gem and ascend elements"]
    _, expected = _transformers_vectors(folder, texts)
    with torch.inference_mode():
        got = encoder(encoder.tokenize(texts))["sentence_embedding"]
    assert torch.allclose(got, expected, atol=1e-6)
    assert float(got[0] @ got[1]) < 0.9999  # cased now: the two differ


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        ({"truncation_side": "left"}, False),  # transformers cuts the start off: its path
        ({"padding_side": "left"}, False),
        ({"pad_token": {"content": "[PAD]", "lstrip": False, "rstrip": False}}, True),
    ],
)
def test_tokenizer_settings_the_plain_path_does_not_follow_go_through_transformers(
    tmp_path, change, plain
):
    import json
    import shutil

    from index.encoder import MeanPoolingEncoder, plain_layout

    folder = tmp_path / "model"
    shutil.copytree(model_location(DEFAULT_EMBEDDING_MODEL), folder)
    settings_file = folder / "tokenizer_config.json"
    settings_file.write_text(json.dumps(json.loads(settings_file.read_text()) | change))
    layout = plain_layout(folder)
    assert layout is not None
    encoder = MeanPoolingEncoder(folder, device="cpu", layout=layout)
    assert encoder._plain is plain
    if plain:  # the same word pieces and vectors as the default model's
        texts = _UNUSUAL[:3]
        default = Embedder(precision="fp32").model
        with torch.inference_mode():
            got = encoder(encoder.tokenize(texts))["sentence_embedding"]
            expected = default(default.tokenize(texts))["sentence_embedding"]
        assert torch.equal(got, expected)

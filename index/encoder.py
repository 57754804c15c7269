"""Sentence-transformers models of the common shape (a transformer, mean pooling, optional
normalisation), run without sentence-transformers, and BERT ones without transformers.

Importing sentence-transformers pulls in scikit-learn, SciPy and pandas for training and
evaluation code an index never runs, and was most of a CLI question's start-up (bench/cli.py
measures it). A model whose folder describes exactly that shape (modules.json,
1_Pooling/config.json, sentence_bert_config.json) loads here without them and gives the
same vectors; any other model goes through sentence-transformers.

Importing transformers' BERT takes seconds more (its modelling code imports torch's
distributed and compiler packages), so a plain BERT encoder (the default model is one) runs
on `_Bert` below: the same layers in a page of torch, its weights read from
model.safetensors, its word pieces from tokenizer.json by the tokenizers library (the Rust
tokenizer transformers' fast tokenizers wrap). Any other transformer, or a BERT folder with
anything unusual, loads through transformers' AutoModel.

Imported only from `embeddings._load_model`, so torch loads when a model does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["MeanPoolingEncoder", "plain_layout", "quiet_transformers"]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def quiet_transformers() -> None:
    """No "Loading weights" progress bar from transformers on every start."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def plain_layout(folder: str | Path) -> dict[str, Any] | None:
    """The settings of a model folder that is a transformer + mean pooling (+ normalise),
    with no prompts and nothing else; None for any other model (or not a folder)."""
    root = Path(folder)
    modules = _read(root / "modules.json")
    if not isinstance(modules, list) or not 2 <= len(modules) <= 3:
        return None
    kinds = [m.get("type") for m in modules if isinstance(m, dict)]
    if kinds[:2] != [_TRANSFORMER, _POOLING] or kinds[2:] not in ([], [_NORMALIZE]):
        return None
    if modules[0].get("path", "") not in ("", "."):
        return None
    pooling = _read(root / str(modules[1].get("path", "")) / "config.json")
    if not isinstance(pooling, dict) or pooling.get("pooling_mode_mean_tokens") is not True:
        return None
    others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    if others != ["pooling_mode_mean_tokens"] or pooling.get("include_prompt") is False:
        return None
    extra = _read(root / "config_sentence_transformers.json") or {}
    if not isinstance(extra, dict) or extra.get("prompts") or extra.get("default_prompt_name"):
        return None
    bert = _read(root / "sentence_bert_config.json") or {}
    if not isinstance(bert, dict):
        return None
    return {
        "max_seq_length": int(bert.get("max_seq_length") or 512),
        "do_lower_case": bool(bert.get("do_lower_case")),
        "normalize": len(kinds) == 3,
    }


class _Unsupported(Exception):
    """The folder is not a plain BERT encoder `_Bert` runs exactly as transformers would."""


class _SelfAttention(torch.nn.Module):
    def __init__(self, size: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = torch.nn.Linear(size, size)
        self.key = torch.nn.Linear(size, size)
        self.value = torch.nn.Linear(size, size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, size = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, size // self.heads).transpose(1, 2)

        context = torch.nn.functional.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask
        )
        return context.transpose(1, 2).reshape(batch, length, size)


class _DenseNorm(torch.nn.Module):
    """A projection added to the residual, then layer norm (BERT's two output blocks)."""

    def __init__(self, size_in: int, size: int, eps: float) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(size_in, size)
        self.LayerNorm = torch.nn.LayerNorm(size, eps=eps)  # named as in the weights

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(torch.nn.Module):
    def __init__(self, size: int, heads: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(size, heads)
        self.output = _DenseNorm(size, size, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class _Intermediate(torch.nn.Module):
    def __init__(self, size: int, inner: int) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(size, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(self.dense(x))


class _Layer(torch.nn.Module):
    def __init__(self, size: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.attention = _Attention(size, heads, eps)
        self.intermediate = _Intermediate(size, inner)
        self.output = _DenseNorm(inner, size, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class _Embeddings(torch.nn.Module):
    def __init__(self, vocab: int, size: int, positions: int, types: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(vocab, size)
        self.position_embeddings = torch.nn.Embedding(positions, size)
        self.token_type_embeddings = torch.nn.Embedding(types, size)
        self.LayerNorm = torch.nn.LayerNorm(size, eps=eps)  # named as in the weights

    def forward(self, ids: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = (
            self.word_embeddings(ids)
            + self.token_type_embeddings(types)
            + self.position_embeddings(positions)[None]
        )
        return self.LayerNorm(x)


class _Encoder(torch.nn.Module):
    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__()
        self.layer = torch.nn.ModuleList(layers)


class _Bert(torch.nn.Module):
    """BERT's encoder (absolute positions, GELU, post-layer-norm), inference only: the
    modules are named as in BERT checkpoints, so their weights load by name."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        size, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.hidden_size = size
        self.embeddings = _Embeddings(
            int(config["vocab_size"]),
            size,
            int(config["max_position_embeddings"]),
            int(config.get("type_vocab_size", 2)),
            eps,
        )
        self.encoder = _Encoder(
            [
                _Layer(size, heads, int(config["intermediate_size"]), eps)
                for _ in range(int(config["num_hidden_layers"]))
            ]
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The last layer's token vectors."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        mask = attention_mask.bool()[:, None, None, :]  # True: attend to that word piece
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x


class _WordPieces:
    """tokenizer.json run by the tokenizers library: special tokens added, each batch padded
    to its longest text (on `padding_side`), cut at `max_length` word pieces."""

    def __init__(self, path: Path, *, max_length: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(path))
        self.max_length = max_length
        pad_id = self.backend_tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise _Unsupported(f"no {pad_token} in {path}")
        self.pad_id, self.pad_token = pad_id, pad_token
        self.padding_side = "right"

    @property
    def padding_side(self) -> str:
        return self._side

    @padding_side.setter
    def padding_side(self, side: str) -> None:
        self._side = side
        self.backend_tokenizer.enable_truncation(self.max_length, strategy="longest_first")
        self.backend_tokenizer.enable_padding(
            direction=side, pad_id=self.pad_id, pad_type_id=0, pad_token=self.pad_token
        )

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        done = self.backend_tokenizer.encode_batch(texts)
        return {
            "input_ids": torch.tensor([e.ids for e in done], dtype=torch.long),
            "token_type_ids": torch.tensor([e.type_ids for e in done], dtype=torch.long),
            "attention_mask": torch.tensor([e.attention_mask for e in done], dtype=torch.long),
        }


def _plain_bert(folder: Path, max_length: int) -> tuple[_WordPieces, _Bert]:
    """The folder's tokenizer and encoder without transformers, when it is a plain BERT
    whose tokenizer.json is the whole tokenizer; else _Unsupported."""
    config = _read(folder / "config.json")
    settings = _read(folder / "tokenizer_config.json") or {}
    spec = _read(folder / "tokenizer.json")
    weights = folder / "model.safetensors"
    if not isinstance(config, dict) or not isinstance(settings, dict) or not isinstance(spec, dict):
        raise _Unsupported("no config.json, tokenizer_config.json or tokenizer.json")
    if (
        config.get("model_type") != "bert"
        or config.get("hidden_act") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
        or config.get("is_decoder")
        or not weights.is_file()
    ):
        raise _Unsupported("not a plain BERT encoder with model.safetensors")
    # transformers rebuilds a BERT tokenizer's normaliser from tokenizer_config.json when
    # the two disagree; run tokenizer.json alone only when they agree.
    # Padded or cut on the left, a text's word pieces and positions differ: run those
    # through transformers, which reads the sides from these files.
    sides = (
        settings.get("padding_side", "right"),
        settings.get("truncation_side", "right"),
        str((spec.get("padding") or {}).get("direction", "Right")).lower(),
        str((spec.get("truncation") or {}).get("direction", "Right")).lower(),
    )
    normalizer = spec.get("normalizer") or {}
    if (
        any(side != "right" for side in sides)
        or settings.get("tokenizer_class") not in ("BertTokenizer", "BertTokenizerFast")
        or normalizer.get("type") != "BertNormalizer"
        or normalizer.get("lowercase") != settings.get("do_lower_case", True)
        or normalizer.get("strip_accents") != settings.get("strip_accents")
        or normalizer.get("handle_chinese_chars") != settings.get("tokenize_chinese_chars", True)
    ):
        raise _Unsupported("tokenizer.json and tokenizer_config.json differ")
    from safetensors.torch import load_file

    model = _Bert(config)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(weights)).items()}
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in state or state[k].shape != wanted[k].shape]
    if missing:
        raise _Unsupported(f"weights missing or of another shape: {missing[:3]}")
    model.load_state_dict({k: state[k].float() for k in wanted})
    pad = settings.get("pad_token") or "[PAD]"
    if isinstance(pad, dict):  # saved as an AddedToken
        pad = pad.get("content", "[PAD]")
    # sentence-transformers cuts at the smaller of the two: past its positions BERT has none.
    max_length = min(max_length, int(config["max_position_embeddings"]))
    return _WordPieces(folder / "tokenizer.json", max_length=max_length, pad_token=str(pad)), model


class MeanPoolingEncoder(torch.nn.Module):
    """A transformer whose token vectors are mean-pooled over the attention mask: the
    interface of a SentenceTransformer that the embedder uses (`tokenize`, a forward pass
    giving `sentence_embedding`, `encode`, `device`, `tokenizer`)."""

    def __init__(self, folder: str | Path, *, device: str, layout: dict[str, Any]) -> None:
        super().__init__()
        self.max_seq_length = int(layout["max_seq_length"])
        self.do_lower_case = bool(layout["do_lower_case"])
        self.normalize = bool(layout["normalize"])
        tokenizer: Any
        model: Any
        try:
            tokenizer, model = _plain_bert(Path(folder), self.max_seq_length)
            hidden, plain = model.hidden_size, True
        except _Unsupported:
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
            model = AutoModel.from_pretrained(str(folder))
            hidden, plain = int(model.config.hidden_size), False
        self.tokenizer, self.auto_model = tokenizer, model
        self.hidden_size, self._plain = hidden, plain
        self.auto_model.eval()
        self.to(device)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the vectors."""
        return self.hidden_size

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Word-piece ids and attention mask, padded, cut at the model's window."""
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        if self._plain:
            return self.tokenizer([t.strip() for t in texts])
        return dict(
            self.tokenizer(
                [t.strip() for t in texts],
                padding=True,
                truncation="longest_first",
                max_length=self.max_seq_length,
                return_tensors="pt",
            )
        )

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Sentence vectors for a tokenized batch (mean of the unmasked token vectors)."""
        inputs = {
            k: v
            for k, v in features.items()
            if k in ("input_ids", "attention_mask", "token_type_ids")
        }
        if self._plain:
            tokens = self.auto_model(**inputs)
        else:
            tokens = self.auto_model(**inputs, return_dict=True).last_hidden_state
        mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        summed = (tokens * mask).sum(dim=1)
        vectors = summed / mask.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return {"sentence_embedding": vectors, "token_embeddings": tokens}

    def encode(
        self,
        texts: list[str],
        *,
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_tensor: bool = False,
        **_: Any,
    ) -> Any:
        """Vectors for `texts` in order, `batch_size` at a time (as SentenceTransformer's)."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                features = self.tokenize(texts[start : start + batch_size])
                features = {k: v.to(self.device) for k, v in features.items()}
                out.append(self(features)["sentence_embedding"].float())
        vectors = (
            torch.cat(out) if out else torch.zeros((0, self.get_sentence_embedding_dimension()))
        )
        if normalize_embeddings:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors if convert_to_tensor else vectors.cpu().numpy()

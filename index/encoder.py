"""Sentence-transformers models of the common shape (a transformer, mean pooling, optional
normalisation), run on transformers alone.

Importing sentence-transformers pulls in scikit-learn, SciPy and pandas for training and
evaluation code an index never runs, and was most of a CLI question's start-up (bench/cli.py
measures it). A model whose folder describes exactly that shape (modules.json,
1_Pooling/config.json, sentence_bert_config.json) loads here without them and gives the
same vectors; any other model goes through sentence-transformers.

Imported only from `embeddings._load_model`, so torch loads when a model does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["MeanPoolingEncoder", "plain_layout"]

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


class MeanPoolingEncoder(torch.nn.Module):
    """A transformer whose token vectors are mean-pooled over the attention mask: the
    interface of a SentenceTransformer that the embedder uses (`tokenize`, a forward pass
    giving `sentence_embedding`, `encode`, `device`, `tokenizer`)."""

    def __init__(self, folder: str | Path, *, device: str, layout: dict[str, Any]) -> None:
        from transformers import AutoModel, AutoTokenizer

        super().__init__()
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.auto_model = AutoModel.from_pretrained(str(folder))
        self.max_seq_length = int(layout["max_seq_length"])
        self.do_lower_case = bool(layout["do_lower_case"])
        self.normalize = bool(layout["normalize"])
        self.auto_model.eval()
        self.to(device)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the vectors."""
        return int(self.auto_model.config.hidden_size)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Word-piece ids and attention mask, padded, cut at the model's window."""
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
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

"""An optional cross-encoder re-ranker (sentence-transformers), named by model or folder."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .embeddings import resolve_device
from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CrossEncoderReranker"]


@lru_cache(maxsize=2)
def _load(model: str, device: str) -> Any:
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(model, device=resolve_device(device))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot load re-ranker {model!r} ({e}); set ASSISTANT_RERANKER to a local "
            "cross-encoder folder, or leave it unset to rank without one"
        ) from e


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a cross-encoder; higher is more relevant."""

    def __init__(self, model: str, *, device: str = "auto", batch_size: int = 32) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size

    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage."""
        import numpy as np

        if not passages:
            return np.zeros(0, dtype=np.float32)
        model = _load(self.model_name, self.device)
        return np.asarray(
            model.predict(
                [(query, p) for p in passages],
                batch_size=self.batch_size,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        ).reshape(len(passages))

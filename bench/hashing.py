"""HashingEmbedder: a TEST DOUBLE that embeds text by hashing its words (no model, instant).

Vectors are L2-normalised bags of hashed words, so texts sharing words are near each other and
search results mean something; index tests use it where the model's vectors are beside the
point (segments, merges, change detection), and `bench/ingest.py --incremental` to measure
index work apart from embedding. It lives here, not under tests/, so the benchmarks can use
it without importing tests (tests/index/hashing.py re-exports it).
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic word-hashing vectors of `dim` dimensions."""

    max_tokens = 256

    def __init__(self, dim: int = 64, name: str = "hashing-test") -> None:
        self.dim = dim
        self.name = name  # what the manifest records as the embedder
        self.passages = 0  # texts embedded, for tests that count

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Words plus two specials, as a word-piece model counts at least."""
        return [len(_WORD.findall(t)) + 2 for t in texts]

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)  # (n, dim)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """(n, dim) float32."""
        self.passages += len(texts)
        return self._embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32."""
        return self._embed([text])[0]

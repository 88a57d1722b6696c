"""The ONNX Runtime int8 embedding backend: close to torch, named apart, torch when unavailable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.embedding
from index import SentenceTransformerEmbedder
from index.backends import BackendUnavailableError, check_backend

TEXTS = [
    "Alibaba will invest $15 billion in overseas research hubs.",
    "Caffeine taken late in the day delays the onset of sleep. " * 12,
    "short",
]


def test_onnx_int8_vectors_stay_close_to_torch(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    fast = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=tmp_path)
    assert fast.backend == "onnx-int8"
    assert fast.name == f"{embedder.name}@onnx-int8"  # an index of the other runtime mismatches
    assert len(list(tmp_path.rglob("model-int8.onnx"))) == 1  # exported once, cached
    vectors = fast.embed_passages(TEXTS)  # (3, dim), padded batch of mixed lengths
    reference = embedder.embed_passages(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.97
    query = fast.embed_query(TEXTS[2])
    assert float(query @ reference[2]) > 0.97


def test_missing_runtime_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(backend: str) -> None:
        raise BackendUnavailableError(f"backend {backend!r} needs onnxruntime")

    monkeypatch.setattr(index.embedding, "check_backend", unavailable)
    embedder = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert not list(tmp_path.iterdir())


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        check_backend("tensorrt")

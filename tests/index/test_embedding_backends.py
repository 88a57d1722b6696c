"""Embedding backends: onnx-int8 is the default, close to torch, named apart; torch as fallback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

import newsrag.index.embedding
from newsrag.index import EmbedderMismatchError, SentenceTransformerEmbedder, open_index
from newsrag.index.backends import (
    DEFAULT_BACKEND,
    RECIPES,
    BackendUnavailableError,
    backend_label,
    check_backend,
    current_exports,
    weights_digest,
)
from newsrag.index.embedding import bundled_model_path

TEXTS = [
    "Alibaba will invest $15 billion in overseas research hubs.",
    "Caffeine taken late in the day delays the onset of sleep. " * 12,
    "short",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The plain torch fp32 model, the reference the faster runtimes are checked against."""
    return SentenceTransformerEmbedder(backend="torch")


def test_the_default_is_onnx_int8_and_says_so(embedder: SentenceTransformerEmbedder) -> None:
    assert DEFAULT_BACKEND == "onnx-int8"
    version = RECIPES["onnx-int8"]
    assert version >= 3  # r2 embeds one text per run, r3 exports eager attention
    assert (embedder.backend, embedder.name) == (
        "onnx-int8",
        f"all-MiniLM-L6-v2@onnx-int8-r{version}",
    )
    assert (backend_label("torch"), backend_label("onnx")) == ("torch", f"onnx-r{RECIPES['onnx']}")


def test_default_vectors_stay_close_to_torch(
    embedder: SentenceTransformerEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    assert torch_embedder.name == "all-MiniLM-L6-v2"  # an index of the other runtime mismatches
    vectors = embedder.embed_passages(TEXTS)  # (3, dim), padded batch of mixed lengths
    reference = torch_embedder.embed_passages(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.97
    query = embedder.embed_query(TEXTS[2])
    assert query.shape == (embedder.dim,) and float(query @ reference[2]) > 0.97


def test_a_passage_vector_does_not_depend_on_its_batch(
    embedder: SentenceTransformerEmbedder,
) -> None:
    texts = [*TEXTS, TEXTS[1] * 3]  # mixed lengths: runs side by side, out of order
    batched = embedder.embed_passages(texts)  # (4, dim)
    for text, row in zip(texts, batched, strict=True):
        np.testing.assert_array_equal(row, embedder.embed_passages([text])[0])
    np.testing.assert_array_equal(embedder.embed_query(TEXTS[0]), batched[0])


def test_first_use_exports_once_into_the_cache(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    folder = tmp_path / weights_digest(bundled_model_path())
    folder.mkdir()
    version = RECIPES["onnx-int8"]
    stale = ["model.onnx", "model-int8.onnx", f"model-onnx-int8-r{version - 1}.onnx"]
    for name in stale:  # what older recipes cached: never to be opened again
        (folder / name).write_bytes(b"not a model")
    fast = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert fast.backend == "onnx-int8"
    model = folder / f"model-onnx-int8-r{version}.onnx"
    stamp = model.stat().st_mtime_ns
    again = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert again.backend == "onnx-int8" and model.stat().st_mtime_ns == stamp  # reused
    assert not list(tmp_path.rglob(".model*"))  # no half-written temporaries left behind
    assert not any((folder / name).exists() for name in stale)  # older recipes' files pruned
    assert sorted(p.name for p in folder.iterdir()) == sorted(current_exports())
    ops = {node.op_type for node in onnx.load(model).graph.node}
    assert "DynamicQuantizeLinear" in ops and "IsNaN" not in ops  # eager, not SDPA, attention
    attention = torch_embedder._model[0].model.config._attn_implementation
    assert fast._model[0].model.config._attn_implementation == attention  # restored for torch


def test_an_index_of_an_older_recipe_is_refused_with_the_way_out(
    writable_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    for manifest in writable_index_dir.glob("gen-*/manifest.json"):
        fields = json.loads(manifest.read_text())
        fields["embedder"] = "all-MiniLM-L6-v2@onnx-int8"  # named before recipe versions
        manifest.write_text(json.dumps(fields))
    with pytest.raises(EmbedderMismatchError) as info:
        open_index(writable_index_dir, embedder)
    message = str(info.value)
    assert "'all-MiniLM-L6-v2@onnx-int8' (dim 384)" in message and embedder.name in message
    assert "rag ingest PATH --rebuild" in message


def test_missing_runtime_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(backend: str) -> None:
        raise BackendUnavailableError(f"backend {backend!r} needs onnxruntime")

    monkeypatch.setattr(newsrag.index.embedding, "check_backend", unavailable)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.embedding"):
        embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert "unavailable; using torch" in caplog.text
    assert not list(tmp_path.iterdir())
    assert embedder.embed_query("short").shape == (embedder.dim,)


def test_failed_export_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> Path:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(newsrag.index.embedding, "model_file", broken)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.embedding"):
        embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert "failed to load; using torch" in caplog.text
    assert [r.__dict__["reason"] for r in caplog.records] == ["RuntimeError('exporter exploded')"]


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        check_backend("tensorrt")

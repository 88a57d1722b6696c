"""Embedding backends: onnx-int8 is the default, close to torch, named apart; torch as fallback."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import newsrag.index.embedding
from newsrag.index import (
    EmbedderMismatchError,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    create_embedder,
    open_index,
)
from newsrag.index.backends import (
    DEFAULT_BACKEND,
    RECIPES,
    BackendUnavailableError,
    backend_label,
    check_backend,
    current_exports,
    export_onnx,
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
    embedder = create_embedder(backend="torch")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


def test_the_default_is_onnx_int8_and_says_so(embedder: OnnxEmbedder) -> None:
    assert DEFAULT_BACKEND == "onnx-int8"
    version = RECIPES["onnx-int8"]
    assert version >= 3  # r2 embeds one text per run, r3 exports eager attention
    assert (embedder.backend, embedder.name) == (
        "onnx-int8",
        f"all-MiniLM-L6-v2@onnx-int8-r{version}",
    )
    assert (backend_label("torch"), backend_label("onnx")) == ("torch", f"onnx-r{RECIPES['onnx']}")


def test_default_vectors_stay_close_to_torch(
    embedder: OnnxEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    assert torch_embedder.name == "all-MiniLM-L6-v2"  # an index of the other runtime mismatches
    vectors = embedder.embed_passages(TEXTS)  # (3, dim), padded batch of mixed lengths
    reference = torch_embedder.embed_passages(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.97
    query = embedder.embed_query(TEXTS[2])
    assert query.shape == (embedder.dim,) and float(query @ reference[2]) > 0.97


def test_a_passage_vector_does_not_depend_on_its_batch(embedder: OnnxEmbedder) -> None:
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
    stale = ["model.onnx", "model-int8.onnx"]  # names from before recipes: never opened again
    # Other recipes' exports (another worktree's, an older install's), newest first.
    others = [f"model-onnx-int8-r{version + 1}.onnx", f"model-onnx-int8-r{version - 1}.onnx"]
    oldest = f"model-onnx-int8-r{version - 2}.onnx"
    for age, name in enumerate([*stale, *others, oldest]):
        (folder / name).write_bytes(b"not a model")
        os.utime(folder / name, ns=(10**18 - age * 10**9,) * 2)
    said: list[str] = []
    fast = create_embedder(cache_dir=tmp_path, progress=said.append)
    assert fast.backend == "onnx-int8"
    assert [line.split(" ")[0] for line in said] == ["exporting", "quantising", "embedder"]
    assert str(folder) in said[0] and said[2].startswith("embedder ready for onnx-int8 in ")
    model = folder / f"model-onnx-int8-r{version}.onnx"
    stamp = model.stat().st_mtime_ns
    said.clear()
    again = create_embedder(cache_dir=tmp_path, progress=said.append)
    assert again.backend == "onnx-int8" and model.stat().st_mtime_ns == stamp  # reused
    assert said == []  # nothing to do, nothing said
    np.testing.assert_array_equal(fast.embed_passages(TEXTS), again.embed_passages(TEXTS))
    assert not list(tmp_path.rglob(".model*"))  # no half-written temporaries left behind
    # Pre-recipe files and the oldest other recipe pruned; the two newest others kept.
    assert not any((folder / name).exists() for name in [*stale, oldest])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*current_exports(), *others])
    ops = {node.op_type for node in onnx.load(model).graph.node}
    assert "DynamicQuantizeLinear" in ops and "IsNaN" not in ops  # eager, not SDPA, attention


def test_a_failed_export_leaves_torch_as_it_was(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The model that exported is the fallback when the export fails: it must run as before,
    # not with the eager attention the export switches to.
    import torch

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    config = torch_embedder.model[0].model.config
    before = config._attn_implementation
    monkeypatch.setattr(torch.onnx, "export", explode)
    with pytest.raises(RuntimeError, match="exploded"):
        export_onnx(torch_embedder.model, tmp_path / "model.onnx")
    assert config._attn_implementation == before


def test_a_failed_export_falls_back_to_the_model_it_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loads: list[object] = []
    real_init = SentenceTransformerEmbedder.__init__

    def counting_init(self: SentenceTransformerEmbedder, *args: object, **kwargs: object) -> None:
        loads.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    def failing_export(model: object, target: Path) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "__init__", counting_init)
    monkeypatch.setattr(newsrag.index.embedding, "export_onnx", failing_export)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.embedding"):
        embedder = create_embedder(cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert loads == [embedder]  # loaded once, for the export, and kept
    assert "failed to load; using torch" in caplog.text
    assert embedder.embed_query("short").shape == (embedder.dim,)


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
        embedder = create_embedder(cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert "unavailable; using torch" in caplog.text
    assert not list(tmp_path.iterdir())
    assert embedder.embed_query("short").shape == (embedder.dim,)


def test_failed_export_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(newsrag.index.embedding, "model_file", broken)
    with caplog.at_level(logging.WARNING, logger="newsrag.index.embedding"):
        embedder = create_embedder(cache_dir=tmp_path)
    assert (embedder.backend, embedder.name) == ("torch", "all-MiniLM-L6-v2")
    assert "failed to load; using torch" in caplog.text
    assert [r.__dict__["reason"] for r in caplog.records] == ["RuntimeError('exporter exploded')"]


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        check_backend("tensorrt")

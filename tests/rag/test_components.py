"""rag.components: the embedder and the live index built from Settings, and torch_threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsrag.index import IndexNotFoundError, IndexStore, OnnxEmbedder
from newsrag.index.backends import BACKENDS
from newsrag.rag.components import load_embedder, load_store, torch_threads
from newsrag.rag.settings import Settings


def test_an_unknown_backend_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError) as info:
        load_embedder(Settings(embed_backend="tensorflow"))
    message = str(info.value)
    assert message.startswith("RAG_EMBED_BACKEND must be one of ")
    assert all(name in message for name in BACKENDS) and "'tensorflow'" in message


def test_the_default_embedder_is_the_bundled_model_on_onnx_int8(
    embedder: OnnxEmbedder,
) -> None:
    loaded = load_embedder(Settings(), threads=1, progress=lambda line: None)
    assert isinstance(loaded, OnnxEmbedder)
    assert (loaded.name, loaded.dim) == (embedder.name, embedder.dim)
    text = "The central bank raised rates."
    np.testing.assert_allclose(loaded.embed_query(text), embedder.embed_query(text), atol=1e-6)


def test_load_store_opens_the_live_generation_of_index_dir(
    corpus_index_dir: Path, corpus_store: IndexStore, embedder: OnnxEmbedder
) -> None:
    store = load_store(Settings(index_dir=corpus_index_dir), embedder)
    assert [c.id for c in store.chunks] == [c.id for c in corpus_store.chunks]
    assert store.path == corpus_store.path


def test_load_store_of_a_missing_index_is_a_typed_error(
    tmp_path: Path, embedder: OnnxEmbedder
) -> None:
    with pytest.raises(IndexNotFoundError):
        load_store(Settings(index_dir=tmp_path / "none"), embedder)


def test_torch_threads_sets_the_count_and_restores_it() -> None:
    import torch

    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    with torch_threads(wanted):
        assert torch.get_num_threads() == wanted
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(wanted):
        raise RuntimeError("a failing embed")
    assert torch.get_num_threads() == before
    with torch_threads(0):
        assert torch.get_num_threads() == before

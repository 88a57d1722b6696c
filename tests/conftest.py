"""Shared fixtures: the real MiniLM embedder and an index of the shipped corpus, built once."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no spinning threads
# `rag ask`/`rag chat` run by tests keep their vectors apart from the user's ~/.cache.
os.environ["RAG_VECTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="newsrag-test-vectors-")
# Ray clusters of the tests (tests/index/test_distributed.py) listen on 127.0.0.1 only; Ray
# reads this when first imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from newsrag.index import (
    IndexStore,
    OnnxEmbedder,
    create_embedder,
    ingest,
    open_index,
)
from newsrag.index.word_table import open_word_table
from tests.processes import RagProcesses

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder() -> OnnxEmbedder:
    """The bundled all-MiniLM-L6-v2 on the default backend (onnx-int8), loaded once per session.

    The default, like `rag ingest` and `rag serve`, so indexes the CLI builds open with it.
    Tests annotated with SentenceTransformerEmbedder get this one too: the same protocol.
    """
    embedder = create_embedder()
    assert isinstance(embedder, OnnxEmbedder), "the default backend fell back to torch"
    # Its word table (index.word_table) too, once, before the CLI and servers tests start
    # would each build it on a new machine.
    assert open_word_table(embedder) is not None
    return embedder


@pytest.fixture
def fresh_home(tmp_path: Path) -> Path:
    """An empty HOME for a subprocess that still finds the exported model and its word table.

    Without it such a process exports the model again (20-40 s) and embeds the word table
    (index.word_table, 25-40 s): what a first run on a new machine does, not what a test checks.
    """
    from newsrag.index.backends import default_cache_dir

    home = tmp_path / "home"
    (home / ".cache" / "newsrag").mkdir(parents=True)
    (home / ".cache" / "newsrag" / "onnx").symlink_to(default_cache_dir(), target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: OnnxEmbedder) -> Path:
    """An index of the shipped corpus; tests must not modify it (copy it first)."""
    index_dir = tmp_path_factory.mktemp("corpus-index") / "index"
    ingest([CORPUS], index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def corpus_store(corpus_index_dir: Path, embedder: OnnxEmbedder) -> IndexStore:
    """The loaded shipped-corpus index (read-only)."""
    return open_index(corpus_index_dir, embedder)


@pytest.fixture
def writable_index_dir(corpus_index_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the shipped-corpus index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(corpus_index_dir, target)
    yield target


@pytest.fixture(scope="session")
def rag_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagProcesses]:
    """A fork server for `rag` child processes (tests/processes.py), started once per session."""
    processes = RagProcesses(tmp_path_factory.mktemp("rag-processes"))
    yield processes
    processes.close()

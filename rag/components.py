"""Build the heavy objects (embedder, index) from Settings; called by entry points only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.index import Embedder, IndexStore, OnnxEmbedder, SentenceTransformerEmbedder
    from newsrag.rag.settings import Settings


def load_embedder(
    settings: Settings,
    *,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The configured embedder (bundled MiniLM by default), loaded offline.

    `threads`: ONNX Runtime intra-op threads (None: one per CPU). `progress` hears what the
    one-time ONNX export does (the entry points print it to stderr).
    """
    from newsrag.index.backends import BACKENDS
    from newsrag.index.embedding import create_embedder

    backend = settings.embed_backend
    if backend not in BACKENDS:
        raise ValueError(f"RAG_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return create_embedder(
        settings.embed_model, backend=backend, threads=threads, progress=progress
    )


def load_store(settings: Settings, embedder: Embedder) -> IndexStore:
    """The live index generation under settings.index_dir."""
    from newsrag.index.store import open_index

    return open_index(settings.index_dir, embedder)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with `n` intra-op CPU threads (0: leave the count), restoring it after."""
    if not n:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

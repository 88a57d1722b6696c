"""Build the heavy objects (embedder, index) from Settings; called by entry points only."""

from __future__ import annotations

from index import IndexStore, SentenceTransformerEmbedder, open_index
from index.backends import BACKENDS
from rag.settings import Settings


def load_embedder(settings: Settings, *, threads: int | None = None) -> SentenceTransformerEmbedder:
    """The configured embedder (bundled MiniLM by default), loaded offline.

    `threads`: ONNX Runtime intra-op threads (None: one per CPU).
    """
    backend = settings.embed_backend
    if backend not in BACKENDS:
        raise ValueError(f"RAG_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return SentenceTransformerEmbedder(settings.embed_model, backend=backend, threads=threads)


def load_store(settings: Settings, embedder: SentenceTransformerEmbedder) -> IndexStore:
    """The live index generation under settings.index_dir."""
    return open_index(settings.index_dir, embedder)

"""Build the heavy objects (embedder, index) from Settings; called by entry points only."""

from __future__ import annotations

from index import IndexStore, SentenceTransformerEmbedder, open_index
from index.backends import BACKENDS
from rag.settings import Settings


def load_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The configured embedder (bundled MiniLM by default), loaded offline."""
    backend = settings.embed_backend
    if backend not in BACKENDS:
        raise ValueError(f"RAG_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return SentenceTransformerEmbedder(settings.embed_model, backend=backend)


def load_store(settings: Settings, embedder: SentenceTransformerEmbedder) -> IndexStore:
    """The live index generation under settings.index_dir."""
    return open_index(settings.index_dir, embedder)

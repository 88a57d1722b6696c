"""Index layer: load, clean, chunk, embed and store news articles (FAISS + BM25).

The public names load on first use (PEP 562): `rag --help` and the CLI's plugin registration
import this package, and FAISS, bm25s/scipy and the loaders cost ~0.8 s to import.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from newsrag.index.lazy import lazy_names

if TYPE_CHECKING:
    from newsrag.index.chunking import ChunkingParams, chunk_article, split_sentences
    from newsrag.index.cleaning import clean_text
    from newsrag.index.dense import FAISS_KINDS, FaissStore
    from newsrag.index.embedding import (
        BUNDLED_MODEL,
        Embedder,
        SentenceTransformerEmbedder,
        create_embedder,
    )
    from newsrag.index.errors import (
        ArticleLoadError,
        CorruptIndexError,
        EmbedderMismatchError,
        IndexNotFoundError,
        IndexStoreError,
    )
    from newsrag.index.ingest import IngestOptions, IngestReport, delete_articles, ingest
    from newsrag.index.loaders import FieldMap, LoadFailure, load_paths
    from newsrag.index.onnx_embedder import OnnxEmbedder
    from newsrag.index.records import Article, Chunk, Hit
    from newsrag.index.sparse import Bm25Store
    from newsrag.index.store import IndexStore, open_index

_HOMES = {
    "chunking": ["ChunkingParams", "chunk_article", "split_sentences"],
    "cleaning": ["clean_text"],
    "dense": ["FAISS_KINDS", "FaissStore"],
    "embedding": ["BUNDLED_MODEL", "Embedder", "SentenceTransformerEmbedder", "create_embedder"],
    "errors": [
        "ArticleLoadError",
        "CorruptIndexError",
        "EmbedderMismatchError",
        "IndexNotFoundError",
        "IndexStoreError",
    ],
    "ingest": ["IngestOptions", "IngestReport", "delete_articles", "ingest"],
    "loaders": ["FieldMap", "LoadFailure", "load_paths"],
    "onnx_embedder": ["OnnxEmbedder"],
    "records": ["Article", "Chunk", "Hit"],
    "sparse": ["Bm25Store"],
    "store": ["IndexStore", "open_index"],
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "BUNDLED_MODEL",
    "FAISS_KINDS",
    "Article",
    "ArticleLoadError",
    "Bm25Store",
    "Chunk",
    "ChunkingParams",
    "CorruptIndexError",
    "Embedder",
    "EmbedderMismatchError",
    "FaissStore",
    "FieldMap",
    "Hit",
    "IndexNotFoundError",
    "IndexStore",
    "IndexStoreError",
    "IngestOptions",
    "IngestReport",
    "LoadFailure",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "chunk_article",
    "clean_text",
    "create_embedder",
    "delete_articles",
    "ingest",
    "load_paths",
    "open_index",
    "split_sentences",
]


class _Package(types.ModuleType):
    """This package, keeping `ingest` the function when its submodule `ingest` is imported.

    The import system binds each loaded submodule on its package (`setattr`); eager imports
    used to re-bind the function right after, lazy ones cannot, so the binding is caught here.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _HOME_OF.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)

"""Index layer: load, clean, chunk, embed and store news articles (FAISS + BM25)."""

from newsrag.index.chunking import ChunkingParams, chunk_article, split_sentences
from newsrag.index.cleaning import clean_text
from newsrag.index.dense import FAISS_KINDS, FaissStore
from newsrag.index.embedding import BUNDLED_MODEL, Embedder, SentenceTransformerEmbedder
from newsrag.index.errors import (
    ArticleLoadError,
    CorruptIndexError,
    EmbedderMismatchError,
    IndexNotFoundError,
    IndexStoreError,
)
from newsrag.index.ingest import IngestOptions, IngestReport, delete_articles, ingest
from newsrag.index.loaders import FieldMap, LoadFailure, load_paths
from newsrag.index.records import Article, Chunk, Hit
from newsrag.index.sparse import Bm25Store
from newsrag.index.store import IndexStore, open_index

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
    "SentenceTransformerEmbedder",
    "chunk_article",
    "clean_text",
    "delete_articles",
    "ingest",
    "load_paths",
    "open_index",
    "split_sentences",
]

"""Errors raised by the index layer.

IndexStoreError (RuntimeError)
├── IndexNotFoundError        no index has been built at that directory
├── CorruptIndexError         a file fails its checksum or cannot be parsed
└── EmbedderMismatchError     the index was built with another embedder
ArticleLoadError (ValueError)  one input file could not be read as articles
DistributedIngestError (RuntimeError)  the Ray cluster could not run an ingest
RayUnavailableError (ImportError)  `--ray` without Ray installed (the message says how)
"""

from __future__ import annotations


class IndexStoreError(RuntimeError):
    """Base class for problems with an index directory."""


class IndexNotFoundError(IndexStoreError):
    """No index generation exists at the given directory."""


class CorruptIndexError(IndexStoreError):
    """An index file is missing, truncated or fails its checksum."""


class EmbedderMismatchError(IndexStoreError):
    """The index was built with a different embedder than the one supplied."""

    def __init__(self, index_embedder: str, index_dim: int, given: str, given_dim: int) -> None:
        super().__init__(
            f"index was built with embedder {index_embedder!r} (dim {index_dim}) but "
            f"{given!r} (dim {given_dim}) was given; rebuild the index with "
            "`rag ingest PATH --rebuild`"
        )
        self.index_embedder = index_embedder
        self.given = given


class ArticleLoadError(ValueError):
    """A file could not be turned into articles; the message says why."""


class DistributedIngestError(RuntimeError):
    """Workers of a Ray cluster did not start, disagree with the driver, or stopped answering."""


class RayUnavailableError(ImportError):
    """Ray is not installed; the message says how to install it."""

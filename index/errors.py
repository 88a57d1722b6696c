"""Errors raised by the index layer.

IndexStoreError (RuntimeError)
├── IndexNotFoundError        no index has been built at that directory
├── CorruptIndexError         a file fails its checksum or cannot be parsed
├── EmbedderMismatchError     the index was built with another embedder
└── IndexWriteError           a new generation could not be written (full disk, I/O error)
ArticleLoadError (ValueError)  one input file could not be read as articles
FeedError (ValueError)  a feed or a linked page could not be fetched or read (index.feeds)
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


class IndexWriteError(IndexStoreError):
    """Writing a generation failed; the partial files are gone and the live index is unchanged."""

    def __init__(self, index_dir: object, cause: OSError) -> None:
        reason = cause.strerror or str(cause)
        errno = f" (errno {cause.errno})" if cause.errno else ""
        super().__init__(
            f"could not write the index at {index_dir}: {reason}{errno}; the partial "
            "generation was removed and the live index is unchanged"
        )
        self.cause = cause


class ArticleLoadError(ValueError):
    """A file could not be turned into articles; the message says why."""


class FeedError(ValueError):
    """A feed or page could not be fetched or parsed; the message says why, without a trace."""


class DistributedIngestError(RuntimeError):
    """Workers of a Ray cluster did not start, disagree with the driver, or stopped answering."""


class RayUnavailableError(ImportError):
    """Ray is not installed; the message says how to install it."""

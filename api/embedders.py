"""One embedding model shared by queries and ingests: one call at a time, queries first.

HF fast tokenizers are not thread-safe ("Already borrowed"), so calls into the model are
serialised. An ingest embeds a batch per turn and yields to any waiting query, so questions
keep being answered promptly while a large upload is embedded.

Queries that queue at the gate together are embedded in one model call (group commit: no
timer, the batch is whatever arrived while the previous call ran), when the model has a
batch query method and batching leaves the vectors unchanged, so a ranking never depends
on other traffic. Measured here (MiniLM, one thread): torch 14.2 ms a query alone, 6.7 ms
in a batch of 8; onnx-int8 3.3 ms either way (it runs one text at a time, since its
activations are quantised per run), so for int8 a batch only saves the gate hand-offs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from newsrag.api.batching import QueryBatcher
from newsrag.index import Embedder

T = TypeVar("T")
# Texts of different lengths: padding is what could make a batch differ from single calls.
_PROBES = ("price", "Who leads the research academy?", "Copper and grain through the port.")


@runtime_checkable
class QueryBatchEmbedder(Protocol):
    """An embedder that can embed several queries in one call."""

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, row i equal to embed_query(texts[i])."""
        ...


def batches_exactly(embedder: Embedder) -> bool:
    """Whether `embed_queries` of a batch gives each query's own vector (atol 1e-5)."""
    if not isinstance(embedder, QueryBatchEmbedder):
        return False
    single = np.stack([embedder.embed_query(t) for t in _PROBES])  # (3, dim)
    return bool(np.allclose(embedder.embed_queries(list(_PROBES)), single, atol=1e-5))


class EmbedGate:
    """Mutual exclusion over the model where waiting queries go before bulk batches."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0

    def run(self, call: Callable[[], T], *, priority: bool) -> T:
        """Run `call` alone on the model; bulk calls wait while any query is waiting."""
        with self._cond:
            self._queries_waiting += priority
            try:
                while self._busy or (not priority and self._queries_waiting):
                    self._cond.wait()
            finally:
                self._queries_waiting -= priority
            self._busy = True
        try:
            return call()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class GatedEmbedder:
    """An Embedder whose calls pass through an EmbedGate (queries: priority; ingest: bulk).

    It keeps no vectors: the one vector cache (rag.vectors.CachedEmbedder) wraps it.
    """

    def __init__(
        self,
        inner: Embedder,
        gate: EmbedGate,
        *,
        priority: bool,
        batch: int = 32,
        query_batch: int = 0,
    ) -> None:
        if batch < 1 or query_batch < 0:
            raise ValueError(f"batch must be >= 1 and query_batch >= 0, got {batch}, {query_batch}")
        if query_batch and not isinstance(inner, QueryBatchEmbedder):
            raise ValueError(f"{inner.name!r} has no embed_queries; query_batch must be 0")
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        # The gate changes no vector: where the model's queries are its passages, so are ours.
        self.queries_are_passages = bool(getattr(inner, "queries_are_passages", False))
        self.gate = gate
        self.priority = priority
        self.batch = batch
        self.batcher = QueryBatcher(self._embed_queries, query_batch) if query_batch else None

    def batch_queries_if_exact(self, limit: int = 32) -> bool:
        """Let concurrent queries share a model call, if that leaves their vectors unchanged."""
        exact = self.gate.run(partial(batches_exactly, self.inner), priority=self.priority)
        self.batcher = QueryBatcher(self._embed_queries, limit) if exact else None
        return exact

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text."""
        return self.gate.run(lambda: self.inner.count_tokens(texts), priority=self.priority)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, embedded a batch per turn at the gate."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self.gate.run(
                partial(self.inner.embed_passages, texts[start : start + self.batch]),
                priority=self.priority,
            )
            for start in range(0, len(texts), self.batch)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)  # (n, dim)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32: one query at a time at the gate (or batched, when exact)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed_query(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32; concurrent queries share a model call when that is exact."""
        if self.batcher is None:
            return self.gate.run(partial(self.inner.embed_query, text), priority=self.priority)
        return self.batcher.embed(text)

    def _embed_queries(self, texts: list[str]) -> np.ndarray:
        assert isinstance(self.inner, QueryBatchEmbedder)
        inner = self.inner
        return self.gate.run(partial(inner.embed_queries, texts), priority=self.priority)

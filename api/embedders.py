"""One embedding model shared by queries and ingests: one call at a time, queries first.

HF fast tokenizers are not thread-safe ("Already borrowed"), so calls into the model are
serialised. An ingest embeds a batch per turn and yields to any waiting query, so questions
keep being answered promptly while a large upload is embedded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np

from index import Embedder

T = TypeVar("T")


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
    """An Embedder whose calls pass through an EmbedGate (queries: priority; ingest: bulk)."""

    def __init__(
        self,
        inner: Embedder,
        gate: EmbedGate,
        *,
        priority: bool,
        batch: int = 32,
        cache_size: int = 0,
    ) -> None:
        if batch < 1 or cache_size < 0:
            raise ValueError(f"batch must be >= 1 and cache_size >= 0, got {batch}, {cache_size}")
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        self.gate = gate
        self.priority = priority
        self.batch = batch
        # One question is embedded several times per answer (retrieval, support checks,
        # a stream after an ask); a small LRU of query vectors saves those model calls.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text."""
        return self.gate.run(lambda: self.inner.count_tokens(texts), priority=self.priority)

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """(n, dim) float32, a batch per turn at the gate."""
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(texts), self.batch):
            part = texts[start : start + self.batch]
            parts.append(
                self.gate.run(lambda: self.inner.embed_passages(part), priority=self.priority)
            )
        return np.concatenate(parts)  # (n, dim)

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32; repeated queries come from the LRU cache."""
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached.copy()
        vector = self.gate.run(lambda: self.inner.embed_query(text), priority=self.priority)
        if self.cache_size:
            with self._cache_lock:
                self._cache[text] = vector.copy()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return vector

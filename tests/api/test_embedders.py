"""The embedding gate: one model call at a time, queries before ingest batches, cached vectors."""

from __future__ import annotations

import threading
import time

import numpy as np

from api.embedders import EmbedGate, GatedEmbedder
from index import SentenceTransformerEmbedder


class CountingEmbedder:
    """The real embedder, counting the texts that reach the model."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.passages = 0
        self.queries = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)


def test_cached_vectors_equal_the_model_and_skip_it(embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    gated = GatedEmbedder(counting, EmbedGate(), priority=True, batch=2, cache_size=100)
    texts = ["Alibaba invests.", "Zebras cross rivers.", "Alibaba invests.", "Ports handle grain."]
    first = gated.embed_passages(texts)
    assert first.shape == (4, embedder.dim) and first.dtype == np.float32
    assert counting.passages == 3  # the repeated text was embedded once
    # The model saw the distinct texts in batches of 2 ([A, Z], [P]); int8 activations are
    # quantised per batch, so the reference is the same batches, row for row.
    a_z, p = embedder.embed_passages(texts[:2]), embedder.embed_passages(texts[3:])
    np.testing.assert_allclose(first, np.vstack([a_z, a_z[:1], p]), atol=1e-5)
    again = gated.embed_passages(["Ports handle grain.", "Alibaba invests."])
    assert counting.passages == 3
    np.testing.assert_array_equal(again, first[[3, 0]])
    query = gated.embed_query("who invests?")
    assert np.array_equal(gated.embed_query("who invests?"), query) and counting.queries == 1
    assert gated.embed_passages([]).shape == (0, embedder.dim)


def test_cache_is_bounded(embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    gated = GatedEmbedder(counting, EmbedGate(), priority=True, cache_size=2)
    for text in ["one", "two", "three", "one"]:
        gated.embed_query(text)
    assert counting.queries == 4  # "one" was evicted by "three"


def test_waiting_query_goes_before_the_next_bulk_batch() -> None:
    gate = EmbedGate()
    order: list[str] = []
    release = threading.Event()

    def hold() -> None:
        release.wait(5)
        order.append("bulk-1")

    first = threading.Thread(target=gate.run, args=(hold,), kwargs={"priority": False})
    first.start()
    time.sleep(0.05)
    bulk = threading.Thread(
        target=gate.run, args=(lambda: order.append("bulk-2"),), kwargs={"priority": False}
    )
    bulk.start()
    time.sleep(0.05)
    query = threading.Thread(
        target=gate.run, args=(lambda: order.append("query"),), kwargs={"priority": True}
    )
    query.start()
    deadline = time.monotonic() + 5
    while gate._queries_waiting != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in (first, bulk, query):
        thread.join(timeout=5)
    assert order == ["bulk-1", "query", "bulk-2"]

"""The embedding gate: one model call at a time, queries before ingest batches; the engine's
stack (the one vector cache in front of the gate) skips the model for texts it has seen."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable

import numpy as np

from newsrag.api.embedders import EmbedGate, GatedEmbedder, batches_exactly
from newsrag.index import SentenceTransformerEmbedder
from newsrag.rag.vectors import CachedEmbedder, VectorCache


class CountingEmbedder:
    """The real embedder, counting the texts that reach the model."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.passages = 0
        self.queries = 0
        self.queries_are_passages = False

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)


def test_cached_vectors_equal_the_model_and_skip_it(embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    gated = CachedEmbedder(GatedEmbedder(counting, EmbedGate(), priority=True, batch=2))
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


def test_a_question_embedded_as_query_and_passage_runs_once_through_the_gate(
    embedder: SentenceTransformerEmbedder,
) -> None:
    counting = CountingEmbedder(embedder)
    counting.queries_are_passages = getattr(embedder, "queries_are_passages", False)
    assert counting.queries_are_passages  # the session embedder is onnx-int8
    gated = CachedEmbedder(GatedEmbedder(counting, EmbedGate(), priority=True))
    query = gated.embed_query("who invests?")
    passage = gated.embed_passages(["who invests?"])[0]
    assert counting.queries + counting.passages == 1
    np.testing.assert_array_equal(query, passage)


def test_cache_is_bounded(embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    gated = CachedEmbedder(GatedEmbedder(counting, EmbedGate(), priority=True), VectorCache(2))
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


class FakeQueryEmbedder:
    """Fixed random vectors per text (TEST DOUBLE for the batching logic); records call sizes.

    `exact=False` makes batched vectors differ from single ones, as int8 quantisation does.
    """

    name, dim, max_tokens = "fake", 8, 64

    def __init__(self, *, exact: bool = True, fail: bool = False) -> None:
        self.exact, self.fail = exact, fail
        self.calls: list[int] = []

    @staticmethod
    def vector(text: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        vector = rng.standard_normal(8).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embed_queries(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.calls.append(1)
        return self.vector(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        if self.fail:
            raise RuntimeError("model failed")
        vectors = np.stack([self.vector(t) for t in texts])
        return vectors if self.exact or len(texts) == 1 else vectors[::-1].copy()


def test_batching_is_used_only_when_it_leaves_vectors_unchanged(
    embedder: SentenceTransformerEmbedder,
) -> None:
    assert batches_exactly(FakeQueryEmbedder())
    assert not batches_exactly(FakeQueryEmbedder(exact=False))
    assert not batches_exactly(CountingEmbedder(embedder))  # no embed_queries at all
    gated = GatedEmbedder(FakeQueryEmbedder(exact=False), EmbedGate(), priority=True)
    assert not gated.batch_queries_if_exact() and gated.batcher is None


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` for up to 5 s."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def queries_queued_behind_a_bulk_call(
    gated: GatedEmbedder, texts: list[str]
) -> list[np.ndarray | BaseException]:
    """The first query waits at a busy gate, the rest queue behind it; then all go through."""
    assert gated.batcher is not None
    batcher = gated.batcher
    release = threading.Event()
    bulk = threading.Thread(
        target=gated.gate.run, args=(lambda: release.wait(5),), kwargs={"priority": False}
    )
    bulk.start()
    wait_until(lambda: gated.gate._busy)
    results: list[np.ndarray | BaseException] = [np.zeros(0)] * len(texts)

    def embed(i: int) -> None:
        try:
            results[i] = gated.embed_query(texts[i])
        except RuntimeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=embed, args=(i,)) for i in range(len(texts))]
    threads[0].start()
    wait_until(lambda: gated.gate._queries_waiting == 1)  # the leader, alone in its batch
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: batcher.waiting == len(texts) - 1)
    release.set()
    for thread in [bulk, *threads]:
        thread.join(timeout=5)
    return results


def test_queries_that_wait_together_share_one_model_call() -> None:
    fake = FakeQueryEmbedder()
    gated = GatedEmbedder(fake, EmbedGate(), priority=True)
    assert gated.batch_queries_if_exact(limit=5) and gated.batcher is not None
    fake.calls.clear()
    texts = [f"query {i}" for i in range(9)]
    results = queries_queued_behind_a_bulk_call(gated, texts)
    # The leader's own call, then the 8 that queued meanwhile, at most 5 a call.
    assert fake.calls == [1, 5, 3]
    for text, vector in zip(texts, results, strict=True):
        assert isinstance(vector, np.ndarray)
        np.testing.assert_array_equal(vector, FakeQueryEmbedder.vector(text))
    gated.embed_query("a lone query")
    assert fake.calls == [1, 5, 3, 1]  # and a lone query does not wait for company


def test_a_failed_batch_fails_every_query_in_it() -> None:
    gated = GatedEmbedder(FakeQueryEmbedder(fail=True), EmbedGate(), priority=True, query_batch=4)
    results = queries_queued_behind_a_bulk_call(gated, [f"q{i}" for i in range(5)])
    assert all(isinstance(r, RuntimeError) for r in results)
    assert gated.batcher is not None and gated.batcher.waiting == 0

"""The one vector cache: CachedEmbedder over memory (VectorCache) and disk (DiskVectors)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from newsrag.rag.support import SentenceVectors
from newsrag.rag.vectors import CachedEmbedder, DiskVectors, VectorCache


class CountingEmbedder:
    """A fake embedder (hash-seeded vectors) that records every text it is asked to embed."""

    name = "counting"
    dim = 8
    max_tokens = 256

    def __init__(self) -> None:
        self.seen: list[str] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=self.dim) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


def test_answers_sharing_a_cached_embedder_embed_each_text_once() -> None:
    embedder = CountingEmbedder()
    cached = CachedEmbedder(embedder, VectorCache())
    first = SentenceVectors(cached).embed(["alpha", "beta", "alpha"])
    second = SentenceVectors(cached).embed(["beta", "gamma"])
    assert embedder.seen == ["alpha", "beta", "gamma"]
    np.testing.assert_array_equal(first[1], second[0])
    np.testing.assert_array_equal(first[0], first[2])
    assert first.shape == (3, 8) and len(cached.cache) == 3


def test_queries_and_passages_are_cached_apart() -> None:
    embedder = CountingEmbedder()
    cached = CachedEmbedder(embedder)
    cached.embed_query("alpha")
    cached.embed_passages(["alpha"])
    cached.embed_queries(["alpha", "beta"])
    assert embedder.seen == ["alpha", "alpha", "beta"]
    assert cached.embed_passages([]).shape == (0, 8)


class SharedKindsEmbedder(CountingEmbedder):
    """Its queries are passages, bit for bit (as onnx-int8's one-text runs)."""

    queries_are_passages = True


def test_queries_share_passage_vectors_when_the_embedder_says_they_are_equal() -> None:
    embedder = SharedKindsEmbedder()
    cached = CachedEmbedder(embedder)
    query = cached.embed_query("alpha")  # retrieval's question ...
    passages = cached.embed_passages(["alpha", "beta"])  # ... compared to the sentences
    cached.embed_queries(["beta", "gamma"])
    assert embedder.seen == ["alpha", "beta", "gamma"]
    np.testing.assert_array_equal(query, passages[0])


def test_cached_vectors_equal_the_models() -> None:
    embedder = CountingEmbedder()
    cached = CachedEmbedder(embedder)
    texts = ["one", "two", "three"]
    cached.embed_passages(texts[:2])
    np.testing.assert_array_equal(
        cached.embed_passages(texts), CountingEmbedder().embed_passages(texts)
    )


def test_a_new_process_reads_what_an_earlier_one_wrote_to_disk(tmp_path: Path) -> None:
    first = CountingEmbedder()
    CachedEmbedder(first, disk=DiskVectors(tmp_path, first.name, first.dim)).embed_passages(
        ["alpha", "beta"]
    )
    # Another embedder object and another memory cache, as in a new `rag ask` process.
    second = CountingEmbedder()
    later = CachedEmbedder(second, disk=DiskVectors(tmp_path, second.name, second.dim))
    vectors = later.embed_passages(["beta", "alpha", "gamma"])
    assert second.seen == ["gamma"]
    np.testing.assert_array_equal(
        vectors, CountingEmbedder().embed_passages(["beta", "alpha", "gamma"])
    )
    # Another embedder name or dim is another file: nothing is shared.
    assert DiskVectors(tmp_path, "other", 8).get_many("passage", ["alpha"]) == {}
    assert DiskVectors(tmp_path, "counting", 16).get_many("passage", ["alpha"]) == {}


def test_disk_cache_keeps_the_newest_rows_only(tmp_path: Path) -> None:
    disk = DiskVectors(tmp_path, "counting", 8, max_rows=5)
    embedder = CachedEmbedder(CountingEmbedder(), disk=disk)
    embedder.embed_passages([f"t{i}" for i in range(12)])
    assert len(disk) == 5
    assert set(disk.get_many("passage", [f"t{i}" for i in range(12)])) == {
        f"t{i}" for i in range(7, 12)
    }


def test_an_unusable_cache_file_only_costs_the_cache(tmp_path: Path) -> None:
    path = DiskVectors(tmp_path, "counting", 8).path
    for stale in tmp_path.iterdir():
        stale.unlink()
    path.write_bytes(b"not a database" * 100)  # a corrupted file
    embedder = CountingEmbedder()
    cached = CachedEmbedder(embedder, disk=DiskVectors(tmp_path, "counting", 8))
    assert cached.embed_passages(["alpha"]).shape == (1, 8)  # answered, from the model
    assert cached.disk is not None and not cached.disk.enabled and embedder.seen == ["alpha"]
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert not DiskVectors(blocked / "sub", "counting", 8).enabled  # cannot create the folder


def _write_rows(directory: str, start: int) -> None:
    embedder = CachedEmbedder(CountingEmbedder(), disk=DiskVectors(Path(directory), "counting", 8))
    for i in range(start, start + 60):
        embedder.embed_passages([f"p{i}", f"shared{i % 10}"])


def test_concurrent_processes_share_one_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(str(tmp_path), n * 60)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    disk = DiskVectors(tmp_path, "counting", 8)
    assert len(disk) == 180 + 10  # every row once, shared texts not duplicated
    with sqlite3.connect(disk.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_cache_drops_the_least_recently_used() -> None:
    cache = VectorCache(max_items=2)
    for text in ("a", "b"):
        cache.put(text, np.zeros(2, dtype=np.float32))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", np.zeros(2, dtype=np.float32))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2
    with pytest.raises(ValueError, match="max_items"):
        VectorCache(max_items=0)


def test_cache_is_safe_across_threads() -> None:
    cache = VectorCache(max_items=50)

    def work(offset: int) -> None:
        for i in range(200):
            cache.put(f"t{offset + i % 80}", np.full(2, i, dtype=np.float32))
            cache.get(f"t{offset + (i * 7) % 80}")

    threads = [threading.Thread(target=work, args=(n * 10,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(cache) == 50


class SlowEmbedder(CountingEmbedder):
    """Holds every model call until `release` is set, so a second caller can arrive meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.started.set()
        assert self.release.wait(timeout=30)
        return super().embed_passages(texts)


class MissCountingCache(VectorCache):
    """A VectorCache that counts the lookups that found nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.misses = 0

    def get(self, key: object) -> np.ndarray | None:  # type: ignore[override]
        vector = super().get(key)  # type: ignore[arg-type]
        self.misses += vector is None
        return vector


def test_a_concurrent_second_call_waits_for_the_first_ones_vector() -> None:
    embedder = SlowEmbedder()
    cache = MissCountingCache()
    cached = CachedEmbedder(embedder, cache)
    results: dict[str, np.ndarray] = {}
    first = threading.Thread(target=lambda: results.update(a=cached.embed_query("same text")))
    first.start()
    assert embedder.started.wait(timeout=30)  # the first call is inside the model now
    second = threading.Thread(
        target=lambda: results.update(b=cached.embed_queries(["same text", "other"]))
    )
    second.start()
    for _ in range(3000):  # bounded: until the second call has looked and missed
        if cache.misses >= 3:
            break
        threading.Event().wait(0.01)
    assert cache.misses >= 3  # "same text" twice, "other" once
    embedder.release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert sorted(embedder.seen) == ["other", "same text"]  # "same text" embedded once
    np.testing.assert_array_equal(results["a"], results["b"][0])
    np.testing.assert_array_equal(
        results["b"], CountingEmbedder().embed_queries(["same text", "other"])
    )


class FailingOnceEmbedder(SlowEmbedder):
    """Its first model call fails (after `release`); later calls embed."""

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(timeout=30)
            raise RuntimeError("model failed")
        return CountingEmbedder.embed_passages(self, texts)


def test_a_waiter_embeds_itself_when_the_first_call_fails() -> None:
    embedder = FailingOnceEmbedder()
    cache = MissCountingCache()
    cached = CachedEmbedder(embedder, cache)
    errors: list[BaseException] = []
    results: list[np.ndarray] = []

    def first_call() -> None:
        try:
            cached.embed_query("same text")
        except RuntimeError as exc:
            errors.append(exc)

    first = threading.Thread(target=first_call)
    first.start()
    assert embedder.started.wait(timeout=30)
    second = threading.Thread(target=lambda: results.append(cached.embed_query("same text")))
    second.start()
    for _ in range(3000):
        if cache.misses >= 2:
            break
        threading.Event().wait(0.01)
    embedder.release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert [str(e) for e in errors] == ["model failed"]
    np.testing.assert_array_equal(results[0], CountingEmbedder().embed_query("same text"))
    assert embedder.seen == ["same text"] and not cached._flights

"""VectorCache: vectors shared across answers, bounded, and used before the model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from newsrag.rag.support import SentenceVectors, VectorCache


class CountingEmbedder:
    """A fake embedder (hash-seeded vectors) that records every text it is asked to embed."""

    name = "counting"
    dim = 8
    max_tokens = 256

    def __init__(self) -> None:
        self.seen: list[str] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=self.dim) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


def test_answers_sharing_a_cache_embed_each_text_once() -> None:
    embedder, cache = CountingEmbedder(), VectorCache()
    first = SentenceVectors(embedder, cache).embed(["alpha", "beta", "alpha"])
    second = SentenceVectors(embedder, cache).embed(["beta", "gamma"])
    assert embedder.seen == ["alpha", "beta", "gamma"]
    np.testing.assert_array_equal(first[1], second[0])
    assert first.shape == (3, 8) and len(cache) == 3


def test_without_a_cache_each_answer_embeds_again() -> None:
    embedder = CountingEmbedder()
    SentenceVectors(embedder).embed(["alpha"])
    SentenceVectors(embedder).embed(["alpha"])
    assert embedder.seen == ["alpha", "alpha"]


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

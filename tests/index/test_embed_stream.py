"""EmbedStream: background batches come back in the order the chunks were added."""

from __future__ import annotations

import numpy as np
import pytest

from newsrag.index import Chunk
from newsrag.index.embed_stream import EMBED_BATCH, EmbedStream


class Numbering:
    """A toy embedder whose vector holds the number in its text; can fail on one text."""

    name, dim, max_tokens = "numbering", 2, 256

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.batches: list[int] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Whitespace words plus two specials."""
        return [2 + len(t.split()) for t in texts]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, 2): the text's number and 1."""
        self.batches.append(len(texts))
        if self.fail_on in texts:
            raise RuntimeError("embedder broke")
        return np.array([[float(t.split()[-1]), 1.0] for t in texts], dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """(2,) float32."""
        return np.zeros(self.dim, dtype=np.float32)


def article(n: int, chunks: int) -> list[Chunk]:
    return [Chunk(f"a{n}#{i}", f"a{n}", i, f"chunk {n * 10 + i}", 0, 8, 4) for i in range(chunks)]


def test_vectors_come_back_in_order_across_batches() -> None:
    embedder = Numbering()
    added: list[int] = []
    with EmbedStream(embedder, 0, progress=False, articles=200) as stream:
        for n in range(200):
            chunks = article(n, 1 + n % 3)
            added.extend(n * 10 + i for i in range(len(chunks)))
            stream.add(chunks)
        vectors = stream.vectors()
    assert vectors[:, 0].tolist() == added
    assert len(embedder.batches) > 1 and max(embedder.batches) < EMBED_BATCH + 3
    assert sum(embedder.batches) == len(added)


def test_an_embedder_error_reaches_the_caller() -> None:
    embedder = Numbering(fail_on="chunk 50")
    with (
        pytest.raises(RuntimeError, match="embedder broke"),
        EmbedStream(embedder, 0, progress=False, articles=10) as stream,
    ):
        for n in range(10):
            stream.add(article(n, 1))
        stream.vectors()


def test_nothing_added_gives_no_vectors() -> None:
    with EmbedStream(Numbering(), 0, progress=False, articles=0) as stream:
        assert stream.vectors().shape == (0, 2)

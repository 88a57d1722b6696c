"""Bm25Store: BM25 over the same chunks (bm25s, English stemming and stopwords)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from newsrag.index.chunking import embed_input
from newsrag.index.records import Chunk, Hit

log = logging.getLogger(__name__)
ChunkFilter = Callable[[Chunk], bool]


def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def bm25_document(chunk: Chunk) -> str:
    """Text BM25 indexes for a chunk: title and passage, as the embedder sees them."""
    return embed_input(chunk.title, chunk.text)


class Bm25Store:
    """Sparse retriever over chunk text; an empty store answers every query with nothing."""

    def __init__(self, retriever: bm25s.BM25 | None, chunks: Sequence[Chunk]) -> None:
        self.retriever = retriever
        self.chunks = chunks
        self._stem = _stemmer()
        count = 0 if retriever is None else int(retriever.scores["num_docs"])
        if count != len(chunks):
            raise ValueError(f"BM25 holds {count} documents for {len(chunks)} chunks")

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> Bm25Store:
        """Index the chunks with Lucene-style BM25 (k1=1.2, b=0.75)."""
        if not chunks:
            return cls(None, chunks)
        tokens = bm25s.tokenize(
            [bm25_document(c) for c in chunks],
            stopwords="en",
            stemmer=_stemmer(),
            show_progress=False,
        )
        retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, chunks)

    @classmethod
    def read(cls, directory: Path, chunks: Sequence[Chunk]) -> Bm25Store:
        """Load a store written by `write` (plain JSON + .npy files, no pickle)."""
        if not chunks:
            return cls(None, chunks)
        retriever = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        return cls(retriever, chunks)

    def write(self, directory: Path) -> None:
        """Save the BM25 arrays and vocabulary under `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.retriever is not None:
            self.retriever.save(str(directory), show_progress=False)

    def search(self, query: str, k: int, *, where: ChunkFilter | None = None) -> list[Hit]:
        """Top-k chunks by BM25 score; chunks that share no term with the query are left out."""
        if self.retriever is None or k < 1:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stem, show_progress=False, return_ids=False
        )
        vocab = self.retriever.vocab_dict
        known = [t for t in (tokens[0] if tokens else []) if t in vocab]
        if not known:
            return []
        mask = None
        if where is not None:
            mask = np.array([1.0 if where(c) else 0.0 for c in self.chunks], dtype=np.float32)
            if not mask.any():
                return []
        scores = self.retriever.get_scores(known, weight_mask=mask)  # (n_chunks,)
        k = min(k, len(self.chunks))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits: list[Hit] = []
        for idx in top:
            score = float(scores[idx])
            if score <= 0:
                break
            hits.append(Hit(self.chunks[idx], score, len(hits) + 1, {"bm25": score}))
        return hits

"""Whether a passage supports a claim: its facts (numbers, names) and its meaning (embeddings)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from newsrag.index import Chunk, Embedder, split_sentences
from newsrag.rag.facts import content_stems, entities_supported, numbers_supported

# all-MiniLM-L6-v2 cosine above which a claim restates a passage sentence; paraphrases of
# one fact score ~0.6-0.9, different facts about the same company ~0.3-0.5.
MEANING_THRESHOLD = 0.65
# Or: this share of the claim's content terms appears in one passage sentence.
COVERAGE_THRESHOLD = 0.75


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a passage, with offsets into the article text."""

    text: str
    chunk: Chunk
    start: int  # article offsets
    end: int


def passage_sentences(chunk: Chunk) -> list[Sentence]:
    """The sentences of a chunk, each with article-level offsets."""
    return [
        Sentence(chunk.text[s:e], chunk, chunk.start + s, chunk.start + e)
        for s, e in split_sentences(chunk.text)
    ]


class VectorCache:
    """Vectors kept across answers (words and sentences recur), least recently used out.

    Keyed by text, or by any hashable key that names what was embedded.
    """

    def __init__(self, max_items: int = 20_000) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached vector of `key`, or None."""
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: Hashable, vector: np.ndarray) -> None:
        """Keep `vector` for `key`, dropping the least recently used beyond max_items."""
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class SentenceVectors:
    """Embeds texts once per answer (a memo shared by the answerer and the verifier)."""

    def __init__(self, embedder: Embedder, cache: VectorCache | None = None) -> None:
        self.embedder = embedder
        self.cache = cache  # shared across answers when given
        self._memo: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) L2-normalised vectors."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing and self.cache is not None:
            for text in missing:
                cached = self.cache.get(text)
                if cached is not None:
                    self._memo[text] = cached
            missing = [t for t in missing if t not in self._memo]
        if missing:
            for text, vector in zip(missing, self.embedder.embed_passages(missing), strict=True):
                self._memo[text] = vector
                if self.cache is not None:
                    self.cache.put(text, vector)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def similarity(self, text: str, others: list[str]) -> np.ndarray:
        """(len(others),) cosines between `text` and each of `others`."""
        if not others:
            return np.zeros(0, dtype=np.float32)
        vectors = self.embed([text, *others])
        return vectors[1:] @ vectors[0]


@dataclass(frozen=True, slots=True)
class SupportCheck:
    """Outcome of checking one claim against some passages."""

    supported: bool
    facts_ok: bool  # every number and name of the claim is in the passages
    meaning: float  # best cosine between the claim and a passage sentence
    coverage: float  # best share of the claim's content terms inside one passage sentence


def evidence_text(chunk: Chunk) -> str:
    """What a claim may draw facts from: the passage and its provenance."""
    return " ".join(p for p in (chunk.title, chunk.source, chunk.published_at, chunk.text) if p)


def check_support(
    claim: str,
    chunks: list[Chunk],
    vectors: SentenceVectors,
    *,
    threshold: float = MEANING_THRESHOLD,
) -> SupportCheck:
    """Facts of `claim` must occur in `chunks`; its meaning must match one of their sentences."""
    if not chunks or not claim.strip():
        return SupportCheck(False, False, 0.0, 0.0)
    evidence = " ".join(evidence_text(c) for c in chunks)
    facts_ok = numbers_supported(claim, evidence) and entities_supported(claim, evidence)
    sentences = [s.text for c in chunks for s in passage_sentences(c)] or [c.text for c in chunks]
    meaning = float(vectors.similarity(claim, sentences).max())
    wanted = content_stems(claim)
    coverage = max(
        (len(wanted & content_stems(s)) / len(wanted) for s in sentences if wanted), default=0.0
    )
    close = meaning >= threshold or coverage >= COVERAGE_THRESHOLD
    return SupportCheck(facts_ok and close, facts_ok, meaning, coverage)

"""Whether a passage supports a claim: its facts (numbers, names) and its meaning (embeddings)."""

from __future__ import annotations

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


class SentenceVectors:
    """Embeddings and cosines of texts, through one embedder (a CachedEmbedder in the pipeline).

    It keeps nothing itself: the one vector cache is `rag.vectors.CachedEmbedder`.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) L2-normalised vectors, each distinct text embedded once."""
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        vectors = self.embedder.embed_passages(unique)  # (len(unique), dim)
        if len(unique) == len(texts):
            return vectors
        row = {text: i for i, text in enumerate(unique)}
        return vectors[[row[t] for t in texts]]

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

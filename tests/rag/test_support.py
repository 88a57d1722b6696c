"""rag.support: passage sentences with article offsets, SentenceVectors, and check_support.

Invented text and the word-hashing TEST DOUBLE embedder (tests/index/hashing.py): a claim that
repeats a passage sentence word for word has cosine 1 with it, a claim sharing no word has 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from newsrag.index import Chunk
from newsrag.rag.support import (
    COVERAGE_THRESHOLD,
    MEANING_THRESHOLD,
    SentenceVectors,
    check_support,
    evidence_text,
    passage_sentences,
)
from tests.index.hashing import HashingEmbedder

ARTICLE = (
    "Harbour notes. Lumo Freight opened a depot in Tarvik in 2021. "
    "The depot employs 340 people. It cost $12 million to build."
)
PASSAGE_START = ARTICLE.index("Lumo")


def chunk(text: str = ARTICLE[PASSAGE_START:], start: int = PASSAGE_START, **meta: str) -> Chunk:
    return Chunk(
        id="lumo#1",
        doc_id="lumo",
        ordinal=1,
        text=text,
        start=start,
        end=start + len(text),
        n_tokens=len(text.split()) + 2,
        title=meta.get("title", "Lumo Freight expands"),
        source=meta.get("source"),
        published_at=meta.get("published_at"),
    )


class RecordingEmbedder(HashingEmbedder):
    """The hashing double, recording every batch it embeds."""

    def __init__(self) -> None:
        super().__init__(dim=32)
        self.batches: list[list[str]] = []

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed_passages(texts)


def test_passage_sentences_carry_article_offsets() -> None:
    sentences = passage_sentences(chunk())
    assert [s.text for s in sentences] == [
        "Lumo Freight opened a depot in Tarvik in 2021.",
        "The depot employs 340 people.",
        "It cost $12 million to build.",
    ]
    for sentence in sentences:
        assert ARTICLE[sentence.start : sentence.end] == sentence.text
        assert sentence.chunk.id == "lumo#1"


def test_sentence_vectors_embed_each_distinct_text_once_in_order() -> None:
    embedder = RecordingEmbedder()
    vectors = SentenceVectors(embedder).embed(["b a", "c", "b a"])
    assert embedder.batches == [["b a", "c"]]
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[1], embedder.embed_query("c"))


def test_sentence_vectors_of_nothing_ask_the_embedder_nothing() -> None:
    embedder = RecordingEmbedder()
    vectors = SentenceVectors(embedder)
    assert vectors.embed([]).shape == (0, 32)
    assert vectors.similarity("alone", []).shape == (0,)
    assert embedder.batches == []


def test_similarity_is_the_cosine_to_each_other_text() -> None:
    vectors = SentenceVectors(RecordingEmbedder())
    cosines = vectors.similarity("depot in Tarvik", ["depot in Tarvik", "quiet pier", "Tarvik"])
    assert cosines.shape == (3,)
    assert cosines[0] == pytest.approx(1.0, abs=1e-6)
    assert cosines[1] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < cosines[2] < 1.0


def test_evidence_is_passage_and_provenance_without_empty_parts() -> None:
    dated = chunk(source="Harbour Post", published_at="2021-05-02")
    assert evidence_text(dated) == f"Lumo Freight expands Harbour Post 2021-05-02 {dated.text}"
    assert evidence_text(chunk(title="")) == chunk().text


def test_a_claim_restating_a_sentence_is_supported() -> None:
    check = check_support(
        "The depot employs 340 people.", [chunk()], SentenceVectors(RecordingEmbedder())
    )
    assert check.supported and check.facts_ok
    assert check.meaning == pytest.approx(1.0, abs=1e-6) and check.coverage == 1.0


def test_a_claim_with_a_number_no_passage_holds_is_not_supported() -> None:
    check = check_support(
        "The depot employs 410 people.", [chunk()], SentenceVectors(RecordingEmbedder())
    )
    assert not check.supported and not check.facts_ok
    assert check.meaning > MEANING_THRESHOLD  # close in meaning: the facts decide


def test_a_claim_naming_someone_else_is_not_supported() -> None:
    check = check_support(
        "Orsa Shipping opened a depot in Tarvik in 2021.",
        [chunk()],
        SentenceVectors(RecordingEmbedder()),
    )
    assert not check.facts_ok and not check.supported


def test_facts_from_the_provenance_count() -> None:
    claim = "Harbour Post reported the depot employs 340 people."
    vectors = SentenceVectors(RecordingEmbedder())
    assert check_support(claim, [chunk(source="Harbour Post")], vectors).facts_ok
    assert not check_support(claim, [chunk()], vectors).facts_ok


def test_true_facts_in_other_words_fail_on_meaning_and_coverage() -> None:
    check = check_support(
        "Lumo Freight spent 2021 hiring 340 drivers.", [chunk()], SentenceVectors(HashingEmbedder())
    )
    assert check.facts_ok and not check.supported
    assert check.meaning < MEANING_THRESHOLD and check.coverage < COVERAGE_THRESHOLD


def test_the_threshold_decides_when_coverage_falls_short() -> None:
    claim = "Lumo Freight opened a large new depot near the harbour of Tarvik."
    vectors = SentenceVectors(RecordingEmbedder())
    check = check_support(claim, [chunk()], vectors)
    assert check.facts_ok and check.coverage < COVERAGE_THRESHOLD and 0 < check.meaning < 1
    below = check_support(claim, [chunk()], vectors, threshold=check.meaning - 0.01)
    above = check_support(claim, [chunk()], vectors, threshold=check.meaning + 0.01)
    assert below.supported and not above.supported


def test_no_passages_or_a_blank_claim_support_nothing() -> None:
    embedder = RecordingEmbedder()
    vectors = SentenceVectors(embedder)
    blank = check_support("  ", [chunk()], vectors)
    for check in (check_support("The depot employs 340 people.", [], vectors), blank):
        assert not check.supported and (check.meaning, check.coverage) == (0.0, 0.0)
    assert embedder.batches == []

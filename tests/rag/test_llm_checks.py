"""rag.llm_checks: a verified LLM sentence must also answer the question, by the extractive gates.

Invented regatta passages (no shipped article), the real MiniLM embedder, verify_citations as
the pipeline runs it before these checks; no LLM is involved.
"""

from __future__ import annotations

import pytest

from newsrag.index import Chunk, Embedder, Hit
from newsrag.rag.citations import verify_citations
from newsrag.rag.extractive.answerer import Extract, ExtractiveAnswerer
from newsrag.rag.llm_checks import ClaimCheck, check_claims, replaced_because
from newsrag.rag.questions import analyse
from newsrag.rag.records import AnswerSentence, Citation
from newsrag.rag.support import SentenceVectors

QUESTION = "Who won the 2017 Harbour Regatta?"
PASSAGES = [
    ("r17", "Harbour Regatta 2017", "Mara Quist won the 2017 Harbour Regatta on Sunday.", "2017"),
    ("r19", "Harbour Regatta 2019", "Ole Brandt won the 2019 Harbour Regatta on Sunday.", "2019"),
]


def hit(doc_id: str, title: str, text: str, year: str, rank: int) -> Hit:
    chunk = Chunk(
        f"{doc_id}#0", doc_id, 0, text, 0, len(text), 20, title, "Harbour Post", f"{year}-06-04"
    )
    return Hit(chunk, 1.0 / rank, rank)


@pytest.fixture(scope="module")
def shown() -> list[Hit]:
    return [hit(*passage, rank) for rank, passage in enumerate(PASSAGES, 1)]


@pytest.fixture(scope="module")
def vectors(embedder: Embedder) -> SentenceVectors:
    return SentenceVectors(embedder)


def claims_of(text: str, shown: list[Hit], vectors: SentenceVectors) -> ClaimCheck:
    """What the pipeline computes for a model reply `text` over the `shown` passages."""
    checked = verify_citations(text, shown, vectors)
    pool = [h.chunk.text for h in shown]
    return check_claims(
        analyse(QUESTION), checked.sentences, shown, pool, vectors, ExtractiveAnswerer()
    )


def test_a_sentence_stating_the_asked_winner_holds(
    shown: list[Hit], vectors: SentenceVectors
) -> None:
    claims = claims_of("Mara Quist won the 2017 Harbour Regatta [1].", shown, vectors)
    assert claims.holds and len(claims.claims) == len(claims.answering) == 1
    assert claims.short_answer(analyse(QUESTION)) == "Mara Quist"


def test_a_verified_sentence_about_another_year_does_not_hold(
    shown: list[Hit], vectors: SentenceVectors
) -> None:
    claims = claims_of("Ole Brandt won the 2019 Harbour Regatta [2].", shown, vectors)
    assert len(claims.claims) == 1  # stated by its passage: verification let it through
    assert not claims.holds and claims.answering == ()


def test_without_a_supported_cited_sentence_nothing_is_scored(
    shown: list[Hit], vectors: SentenceVectors
) -> None:
    unsupported = (AnswerSentence("Mara Quist won.", (1,), False),)
    uncited = (AnswerSentence("Mara Quist won.", (), True),)
    for sentences in (unsupported, uncited, ()):
        claims = check_claims(
            analyse(QUESTION), sentences, shown, [], vectors, ExtractiveAnswerer()
        )
        assert claims == ClaimCheck((), ()) and not claims.holds


def test_the_answer_must_give_the_best_supported_value(
    shown: list[Hit], vectors: SentenceVectors
) -> None:
    asked = analyse(QUESTION)
    claims = claims_of("Mara Quist won the 2017 Harbour Regatta [1].", shown, vectors)
    best = max(c.score for c in claims.answering)
    assert claims.agrees(asked, "Mara Quist", best)
    assert claims.agrees(asked, "mara quist", best)  # compared by words, not case
    assert not claims.agrees(asked, "Lena Holm", best)
    assert claims.agrees(asked, "Lena Holm", None)  # the extractive answer refused: no vote
    assert claims.agrees(asked, None, best)  # no value: its score is close to the best one
    assert not claims.agrees(asked, None, 10 * best)


def citation(marker: int, doc_id: str) -> Citation:
    return Citation(marker, f"{doc_id}#0", doc_id, "t", None, None, "text", 0, 4)


def extract(*, conflict: bool, cited: tuple[str, ...], value: str | None) -> Extract:
    citations = tuple(citation(i, d) for i, d in enumerate(cited, 1))
    return Extract("x", (AnswerSentence("x", (1,), True),), citations, conflict, value)


def test_why_the_extractive_answer_replaces_the_llm_one(
    shown: list[Hit], vectors: SentenceVectors
) -> None:
    asked = analyse(QUESTION)
    good = claims_of("Mara Quist won the 2017 Harbour Regatta [1].", shown, vectors)
    best = max(c.score for c in good.answering)
    one_side = (citation(1, "r17"),)
    both = (citation(1, "r17"), citation(2, "twin"))
    agreed = extract(conflict=False, cited=("r17",), value="Mara Quist")
    assert replaced_because(asked, good, one_side, agreed, best) is None
    other = extract(conflict=False, cited=("r17",), value="Lena Holm")
    assert replaced_because(asked, good, one_side, other, best) == "not the best-supported answer"
    conflict = extract(conflict=True, cited=("r17", "twin"), value=None)
    assert replaced_because(asked, good, one_side, conflict, best) == "gives one side of a conflict"
    assert replaced_because(asked, good, both, conflict, best) is None
    failing = ClaimCheck((), ())
    assert replaced_because(asked, failing, one_side, agreed, best) == (
        "fails the question's constraints"
    )

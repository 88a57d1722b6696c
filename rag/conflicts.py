"""Conflicts: strong answers from different articles that give different values for one slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsrag.rag.questions import Question
from newsrag.rag.support import SentenceVectors

if TYPE_CHECKING:
    from newsrag.rag.extractive import Candidate

# Slots where two values mean disagreement (two dates or two places may both be true).
CONFLICT_TYPES = frozenset({"person", "amount", "count"})
# How close the rival must score, and how alike the two sentences must be (same fact).
MIN_RELATIVE_SCORE = 0.7
MIN_SAME_FACT = 0.7
MAX_RIVALS = 4


def values_agree(kind: str, a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences share a value; names agree when one contains the other."""
    if kind == "person":
        return any(
            x.casefold() in y.casefold() or y.casefold() in x.casefold() for x in a for y in b
        )
    return bool(a & b)


def find_conflict(
    question: Question, passing: list[Candidate], vectors: SentenceVectors
) -> Candidate | None:
    """A candidate from another article that answers the same slot with a different value."""
    if question.answer_type not in CONFLICT_TYPES or not passing:
        return None
    best = passing[0]
    for rival in passing[1 : 1 + MAX_RIVALS]:
        if rival.score < MIN_RELATIVE_SCORE * best.score:
            break
        if rival.doc_id == best.doc_id or values_agree(
            question.answer_type, best.values, rival.values
        ):
            continue
        if float(vectors.similarity(best.text, [rival.text])[0]) >= MIN_SAME_FACT:
            return rival
    return None

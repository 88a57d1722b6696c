"""Conflicts: strong answers from different articles that give different values for one slot."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from newsrag.rag.constraints import TimeAsked, passage_year, years_in
from newsrag.rag.facts import date_spans
from newsrag.rag.questions import Question
from newsrag.rag.support import SentenceVectors

if TYPE_CHECKING:
    from newsrag.rag.extractive.answerer import Candidate

# Slots where two values mean disagreement (two dates or two places may both be true).
CONFLICT_TYPES = frozenset({"person", "amount", "count"})
# How close the rival must score, and how alike the two sentences must be (same fact).
MIN_RELATIVE_SCORE = 0.7
MIN_SAME_FACT = 0.7
MAX_RIVALS = 4


def values_agree(kind: str, a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences share a value; names agree when one contains the other, or when
    they are the same words in another order ("Liu Mara", "Mara Liu")."""
    if kind == "person":
        return any(same_name(x, y) for x in a for y in b)
    return bool(a & b)


def same_name(x: str, y: str) -> bool:
    """Whether two names name one person: one contains the other, the same words in another
    order ("Liu Mara", "Mara Liu"), or with a middle name or initial ("Doug Bowser", "Doug
    Spencer Bowser")."""
    a, b = x.casefold(), y.casefold()
    if a in b or b in a:
        return True
    wa, wb = a.replace(".", "").split(), b.replace(".", "").split()
    if set(wa) == set(wb):
        return True
    short, long = sorted((wa, wb), key=len)
    return len(short) >= 2 and short[0] == long[0] and short[-1] == long[-1]


# Two sentences that are the same text but for the value (a copy with the fact changed):
# word-set Jaccard, the values' own words left out.
MIN_TWIN = 0.6
_WORD = re.compile(r"\w+")


def twin_sentences(a: str, b: str, value_a: str, value_b: str) -> bool:
    """Whether two sentences say the same thing with a different value (word Jaccard)."""
    drop = set(_WORD.findall(f"{value_a} {value_b}".casefold()))
    wa = set(_WORD.findall(a.casefold())) - drop
    wb = set(_WORD.findall(b.casefold())) - drop
    union = wa | wb
    return bool(union) and len(wa & wb) / len(union) >= MIN_TWIN


def redated(time: TimeAsked, cand: Candidate) -> bool:
    """Whether a sentence contradicts the asked year only through the date it gives.

    "Jan 23, 2018 ... X will be released on April 2, 2011": its passage is dated in the asked
    year and the sentence names no other year beside its date, so it is a claim about the
    asked event's date (a copy with the date changed is a disagreement, not another year).
    """
    if cand.time != "contradict" or not time.years:
        return False
    if passage_year(cand.sentence.chunk) not in time.years:
        return False
    text = cand.text
    for span in date_spans(text):
        text = text.replace(span.text, " ")
    return not years_in(text)


def find_twin_conflict(
    best: Candidate,
    passing: list[Candidate],
    values: dict[int, tuple[str, str]],
    kind: str = "",
) -> Candidate | None:
    """A passing candidate of another article, the best one's text with another value.

    `values`: id(candidate) -> (value key, value text); `kind`: the answer type. Any type:
    two copies of one sentence that disagree on the value asked are a conflict, even where
    two different dates or places could both be true; two forms of one person's name are not.
    """
    mine = values.get(id(best))
    if mine is None:
        return None
    agreeing = [c for c in passing if values.get(id(c), ("", ""))[0] == mine[0]]
    for rival in passing:
        other = values.get(id(rival))
        if other is None or other[0] == mine[0]:
            continue
        if kind == "person" and same_name(other[1], mine[1]):
            continue  # "Doug Bowser" and "Doug Spencer Bowser": one person
        for cand in agreeing:  # any sentence stating the best value may have a changed copy
            text = values[id(cand)][1]
            if rival.doc_id != cand.doc_id and twin_sentences(
                cand.text, rival.text, text, other[1]
            ):
                return rival
    return None


def find_conflict(
    question: Question,
    passing: list[Candidate],
    vectors: SentenceVectors,
    best: Candidate | None = None,
) -> Candidate | None:
    """A candidate from another article that answers the same slot with a different value."""
    if question.answer_type not in CONFLICT_TYPES or not passing:
        return None
    best = best or passing[0]
    for rival in [c for c in passing if c is not best][:MAX_RIVALS]:
        if rival.score < MIN_RELATIVE_SCORE * best.score:
            break
        if rival.doc_id == best.doc_id or values_agree(
            question.answer_type, best.values, rival.values
        ):
            continue
        if float(vectors.similarity(best.text, [rival.text])[0]) >= MIN_SAME_FACT:
            return rival
    return None

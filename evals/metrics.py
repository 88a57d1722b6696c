"""Metrics of DESIGN.md over scored questions: retrieval, answers, citations, refusals, latency.

Matching rule (DESIGN.md): normalise = casefold, collapse whitespace, drop punctuation except
inside numbers, drop a leading `$`. Dropped punctuation becomes a word break, and "contains"
means a whole-word match on the normalised text, so "100" is not found inside "1000" and
"Jack Ma" is found in "Jack Ma-led". Citation markers like `[2]` are not answer text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from newsrag.evals.goldset import QUESTION_TYPES, GoldQuestion
from newsrag.rag.records import Answer

_MARKERS = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
GATE_K = 5  # the k of the per-question retrieval check and of hit@5 in thresholds.toml
MRR_K = 10


def normalise(text: str) -> str:
    """Casefold, drop a leading `$` and punctuation (not inside numbers), collapse spaces."""
    text = text.casefold().strip()
    text = text.removeprefix("$")
    kept = [
        ch
        if ch.isalnum()
        or ch.isspace()
        or (0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit())
        else " "
        for i, ch in enumerate(text)
    ]
    return " ".join("".join(kept).split())


def contains(text: str, phrase: str) -> bool:
    """Whether normalised `phrase` occurs in normalised `text` as whole words."""
    needle = normalise(phrase)
    return bool(needle) and f" {needle} " in f" {normalise(text)} "


def strip_markers(text: str) -> str:
    """Answer text without its citation markers (`[1]`, `[2, 3]`)."""
    return _MARKERS.sub(" ", text)


@dataclass(frozen=True, slots=True)
class QuestionScore:
    """What one answer earned on one gold question; aggregates are computed from these."""

    id: str
    type: str
    answerable: bool  # gold: the corpus holds the answer
    refused: bool  # the answerer said answerable: false
    answer_correct: bool | None  # answer text holds an alias; None for unanswerable questions
    evidence_ranks: tuple[
        int | None, ...
    ]  # per quote: 1-based rank of the first passage holding it
    citation_holds: tuple[bool, ...]  # per citation: its passage holds an evidence quote
    evidence_cited: tuple[bool, ...]  # per quote: held by at least one cited passage
    latency_ms: float
    conflict_flagged: bool = False
    degraded: bool = False

    def hit(self, k: int) -> bool:
        """At least one evidence quote sits in a top-k passage."""
        return any(r is not None and r <= k for r in self.evidence_ranks)

    def reciprocal_rank(self, k: int = MRR_K) -> float:
        """1/rank of the first passage (within k) holding an evidence quote, else 0."""
        ranks = [r for r in self.evidence_ranks if r is not None and r <= k]
        return 1.0 / min(ranks) if ranks else 0.0

    def checks(self) -> dict[str, bool]:
        """Per-question pass/fail checks; a question passes when all hold."""
        if not self.answerable:
            return {"refusal": self.refused}
        return {
            "answer": bool(self.answer_correct),
            "not_refused": not self.refused,
            "cited_evidence": any(self.citation_holds),
        }

    @property
    def passed(self) -> bool:
        """Whether every check of this question holds."""
        return all(self.checks().values())


def score_question(
    gold: GoldQuestion,
    answer: Answer,
    passage_texts: Sequence[str],
    cited_texts: Sequence[str],
) -> QuestionScore:
    """Score one answer given the shown passages (rank order) and one text per citation."""
    ranks = tuple(
        next((i for i, text in enumerate(passage_texts, 1) if contains(text, quote)), None)
        for quote in gold.evidence
    )
    correct = (
        any(contains(strip_markers(answer.answer), alias) for alias in gold.answers)
        if gold.answerable
        else None
    )
    return QuestionScore(
        id=gold.id,
        type=gold.type,
        answerable=gold.answerable,
        refused=not answer.answerable,
        answer_correct=correct,
        evidence_ranks=ranks if gold.answerable else (),
        citation_holds=tuple(any(contains(t, q) for q in gold.evidence) for t in cited_texts),
        evidence_cited=tuple(any(contains(t, q) for t in cited_texts) for q in gold.evidence),
        latency_ms=float(answer.timings_ms.get("total", 0.0)),
        conflict_flagged=answer.conflict,
        degraded=answer.degraded,
    )


def _share(values: Iterable[bool | float]) -> float | None:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else None


def summarise(
    scores: Sequence[QuestionScore], ks: Iterable[int] = (1, 3, 5)
) -> dict[str, float | None]:
    """Every metric of DESIGN.md over `scores`; None where no question qualifies."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    quote_ranks = [r for s in answerable for r in s.evidence_ranks]
    values: dict[str, float | None] = {}
    for k in sorted(set(ks)):
        values[f"hit@{k}"] = _share(s.hit(k) for s in answerable)
    for k in sorted(set(ks) - {1, 3}):
        values[f"evidence_recall@{k}"] = _share(r is not None and r <= k for r in quote_ranks)
    values[f"mrr@{MRR_K}"] = _share(s.reciprocal_rank() for s in answerable)
    values["answer_accuracy"] = _share(bool(s.answer_correct) for s in answerable)
    values["citation_precision"] = _share(h for s in answerable for h in s.citation_holds)
    values["citation_recall"] = _share(c for s in answerable for c in s.evidence_cited)
    values["refusal_accuracy"] = _share(s.refused for s in unanswerable)
    values["false_refusal_rate"] = _share(s.refused for s in answerable)
    values["conflict_flagged"] = _share(s.conflict_flagged for s in scores if s.type == "conflict")
    values["degraded_rate"] = _share(s.degraded for s in scores)
    latencies = [s.latency_ms for s in scores]
    values["latency_p50_ms"] = _percentile(latencies, 50)
    values["latency_p95_ms"] = _percentile(latencies, 95)
    return values


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else None


def summarise_by_type(
    scores: Sequence[QuestionScore], ks: Iterable[int] = (1, 3, 5)
) -> dict[str, dict[str, float | None]]:
    """`summarise` per question type present in `scores`, in the documented type order."""
    ks = tuple(ks)
    present = [t for t in QUESTION_TYPES if any(s.type == t for s in scores)]
    return {t: summarise([s for s in scores if s.type == t], ks) for t in present}

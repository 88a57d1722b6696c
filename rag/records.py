"""Records owned by the answer layer: citations and answers (the Answer JSON contract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Mode = Literal["llm", "extractive"]
RefusalReason = Literal["no_relevant_passages", "not_supported", "llm_refused", "near_miss"]


@dataclass(frozen=True, slots=True)
class Citation:
    """A passage an answer cites, with its marker and whether it supports its sentences."""

    marker: int
    chunk_id: str
    doc_id: str
    title: str
    source: str | None
    published_at: str | None
    text: str
    start: int
    end: int
    supported: bool = True


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    """One sentence of an answer, the markers it carries and whether its citations hold."""

    text: str
    markers: tuple[int, ...]
    supported: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What `rag ask --json`, `POST /v1/ask` and the eval runner see."""

    question: str
    answer: str
    answerable: bool
    refusal_reason: RefusalReason | None
    mode: Mode
    degraded: bool
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float]
    sentences: tuple[AnswerSentence, ...] = ()  # all sentences, unsupported ones included
    dropped_markers: int = 0  # unknown markers removed from the model's text
    conflict: bool = False  # retrieved sources disagree about what was asked
    standalone_question: str | None = None  # the rewritten follow-up, when it differs
    passages: tuple[str, ...] = field(default=(), repr=False)  # chunk ids the answerer saw
    short_answer: str | None = None  # the value asked (a name, a date, an amount); None refusing
    # The smallest distance of a gating score to its threshold among the decisions that made
    # this answer (or refusal): how far the vectors could move before the outcome flips.
    margin: float | None = None

    def to_dict(self) -> dict[str, object]:
        """The Answer JSON contract (plus the documented extra fields)."""
        return asdict(self)

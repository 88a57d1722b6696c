"""Records owned by the answer layer: requests, filters, citations, answers, stream events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Literal

from newsrag.index import Chunk

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
    url: str | None = None  # the article's own address, when it has one


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


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Optional restrictions: source (case-insensitive) and an inclusive published date range."""

    source: str | None = None
    since: str | None = None  # YYYY-MM-DD
    until: str | None = None  # YYYY-MM-DD

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since {self.since} is after until {self.until}")

    @property
    def active(self) -> bool:
        """Whether any restriction is set."""
        return bool(self.source or self.since or self.until)

    def matches(self, chunk: Chunk) -> bool:
        """Whether a chunk passes; chunks of unknown date fail any date restriction."""
        if self.source and (chunk.source or "").casefold() != self.source.strip().casefold():
            return False
        if self.since or self.until:
            day = (chunk.published_at or "")[:10]
            if len(day) != 10:
                return False
            if (self.since and day < self.since) or (self.until and day > self.until):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """One question to the answer pipeline, from any caller (CLI, chat, HTTP, evals)."""

    question: str
    history: tuple[dict[str, str], ...] = ()  # earlier turns, for follow-up rewriting
    k: int | None = None  # passages to retrieve; None: the pipeline's default
    filters: SearchFilters | None = None
    no_llm: bool = False  # answer extractively even when an LLM is configured

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """A streamed piece of an answer: a text delta, or the final verified Answer."""

    kind: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None

"""Request and response models of the HTTP API (pydantic at the edge, apart from rag records)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Hard ceilings of the schema; the configured limits (Settings.max_question_chars,
# Settings.max_conversation_messages) are checked in the routes and are usually lower.
MAX_TEXT_CHARS = 100_000
MAX_MESSAGES = 1_000
MAX_K = 50
_DAY = r"^\d{4}-\d{2}-\d{2}$"


class HistoryMessage(BaseModel):
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT_CHARS)


class Filters(BaseModel):
    """Optional restrictions shared by ask and search."""

    source: str | None = Field(None, max_length=200, description="Only this source.")
    since: str | None = Field(
        None, pattern=_DAY, examples=["2021-06-01"], description="Published on or after."
    )
    until: str | None = Field(
        None, pattern=_DAY, examples=["2021-06-30"], description="Published on or before."
    )

    @field_validator("since", "until")
    @classmethod
    def _iso_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None


class AskRequest(Filters):
    """A question, with retrieval options."""

    question: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to retrieve.")
    no_llm: bool = Field(False, description="Answer extractively even when an LLM is set.")
    history: list[HistoryMessage] = Field(default_factory=list, max_length=MAX_MESSAGES)


class SearchRequest(Filters):
    """A search query."""

    query: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to return.")


class CitationOut(BaseModel):
    """A cited passage; start/end index into the article's cleaned text."""

    marker: int
    chunk_id: str
    doc_id: str
    title: str
    source: str | None
    published_at: str | None
    text: str
    start: int
    end: int
    supported: bool
    url: str | None = Field(None, description="The article's own address, when it has one.")


class SentenceOut(BaseModel):
    """One sentence of an answer with its markers."""

    text: str
    markers: list[int]
    supported: bool


class AnswerOut(BaseModel):
    """The Answer JSON contract."""

    question: str
    answer: str
    answerable: bool
    refusal_reason: (
        Literal["no_relevant_passages", "not_supported", "llm_refused", "near_miss"] | None
    )
    short_answer: str | None = None
    mode: Literal["llm", "extractive"]
    degraded: bool
    citations: list[CitationOut]
    timings_ms: dict[str, float]
    sentences: list[SentenceOut] = []
    dropped_markers: int = 0
    conflict: bool = False
    standalone_question: str | None = None
    passages: list[str] = []


class SearchResult(BaseModel):
    """One ranked passage with provenance."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    source: str | None
    published_at: str | None
    url: str | None
    text: str
    start: int
    end: int
    scores: dict[str, float] = {}


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    results: list[SearchResult]


class DocumentSummary(BaseModel):
    """One article of the index."""

    id: str
    title: str
    source: str | None
    published_at: str | None
    url: str | None
    author: str | None
    category: str | None
    n_chunks: int


class DocumentList(BaseModel):
    """Every article of the live generation."""

    documents: list[DocumentSummary]


class DocumentOut(BaseModel):
    """One article with its cleaned text (citation offsets point into it)."""

    id: str
    title: str
    source: str | None
    published_at: str | None
    url: str | None
    author: str | None = None
    category: str | None = None
    text: str


class UploadResult(BaseModel):
    """What happened to one uploaded file."""

    filename: str
    status: Literal["added", "updated", "unchanged", "failed"]
    doc_ids: list[str]
    error: str | None


class IngestSummary(BaseModel):
    """What the upload's ingest did in all (the per-file detail is in `results`)."""

    added: int
    updated: int
    unchanged: int
    failed: int
    chunks_embedded: int
    total_chunks: int
    seconds: float


class UploadResponse(BaseModel):
    """Per-file results and the generation now live (None when there is no index)."""

    results: list[UploadResult]
    generation: str | None
    ingest: IngestSummary | None = None


class DeleteResponse(BaseModel):
    """The removed article and the generation now live."""

    deleted: str
    generation: str


class ErrorBody(BaseModel):
    """The inside of the OpenAI error envelope."""

    message: str
    type: str
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI-style error envelope used by every /v1 error."""

    model_config = ConfigDict(json_schema_extra={"example": {"error": {"message": "..."}}})

    error: ErrorBody


class HealthStatus(BaseModel):
    """Liveness or readiness, with what was checked."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}

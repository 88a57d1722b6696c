"""Between the wire and the engine: request checks and record-to-response mapping."""

from __future__ import annotations

from collections.abc import Sequence

from newsrag.api.engine import Query
from newsrag.api.errors import ApiError
from newsrag.api.schemas import AnswerOut, AskRequest, Filters, HistoryMessage, SearchResult
from newsrag.index import Hit
from newsrag.rag.records import Answer
from newsrag.rag.retrieval import SearchFilters
from newsrag.rag.settings import Settings


def filters_of(body: Filters) -> SearchFilters | None:
    """SearchFilters from a request (None when nothing is restricted); 422 when inconsistent."""
    if not (body.source or body.since or body.until):
        return None
    try:
        return SearchFilters(source=body.source, since=body.since, until=body.until)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


def check_question(text: str, settings: Settings, field: str = "question") -> str:
    """The stripped question; 422 when empty or over the configured length (before any LLM call)."""
    question = text.strip()
    if not question:
        raise ApiError(422, f"{field} is empty", code="empty_question")
    if len(question) > settings.max_question_chars:
        raise ApiError(
            422,
            f"{field} is {len(question)} characters; the limit is {settings.max_question_chars}",
            code="question_too_long",
        )
    return question


def check_history(
    history: Sequence[HistoryMessage], settings: Settings
) -> tuple[dict[str, str], ...]:
    """History as plain messages; 422 when the conversation is too long."""
    if len(history) + 1 > settings.max_conversation_messages:
        raise ApiError(
            422,
            f"conversation has {len(history) + 1} messages; "
            f"the limit is {settings.max_conversation_messages}",
            code="conversation_too_long",
        )
    budget = settings.max_question_chars * settings.max_conversation_messages
    if sum(len(m.content) for m in history) > budget:
        raise ApiError(
            422, f"conversation is longer than {budget} characters", code="conversation_too_long"
        )
    return tuple({"role": m.role, "content": m.content} for m in history)


def query_of(body: AskRequest, settings: Settings) -> Query:
    """An engine Query from an ask request, every limit checked."""
    return Query(
        question=check_question(body.question, settings),
        k=body.k or settings.k,
        filters=filters_of(body),
        history=check_history(body.history, settings),
        no_llm=body.no_llm,
    )


def answer_out(answer: Answer) -> AnswerOut:
    """The Answer JSON contract of an Answer record."""
    return AnswerOut.model_validate(answer.to_dict())


def result_of(hit: Hit) -> SearchResult:
    """A search result with provenance from a Hit."""
    chunk = hit.chunk
    return SearchResult(
        rank=hit.rank,
        score=hit.score,
        chunk_id=chunk.id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        source=chunk.source,
        published_at=chunk.published_at,
        url=chunk.url,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        scores=dict(hit.scores),
    )

"""Between the wire and the engine: request checks and record-to-response mapping."""

from __future__ import annotations

from collections.abc import Sequence

from newsrag.api.errors import ApiError
from newsrag.api.schemas import AnswerOut, AskRequest, Filters, SearchResult
from newsrag.index import Hit
from newsrag.rag.records import Answer, AnswerRequest, SearchFilters
from newsrag.rag.retrieval import hit_to_dict
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


def check_conversation(
    messages: int, history: Sequence[dict[str, str]], settings: Settings
) -> tuple[dict[str, str], ...]:
    """The history as a tuple; 422 when the conversation (`messages` in all) is too long."""
    if messages > settings.max_conversation_messages:
        raise ApiError(
            422,
            f"conversation has {messages} messages; "
            f"the limit is {settings.max_conversation_messages}",
            code="conversation_too_long",
        )
    budget = settings.max_question_chars * settings.max_conversation_messages
    if sum(len(m["content"]) for m in history) > budget:
        raise ApiError(
            422, f"conversation is longer than {budget} characters", code="conversation_too_long"
        )
    return tuple(history)


def query_of(body: AskRequest, settings: Settings) -> AnswerRequest:
    """The pipeline's request from an ask request, every limit checked."""
    history = [{"role": m.role, "content": m.content} for m in body.history]
    return AnswerRequest(
        question=check_question(body.question, settings),
        history=check_conversation(len(history) + 1, history, settings),
        k=body.k or settings.k,
        filters=filters_of(body),
        no_llm=body.no_llm,
    )


def answer_out(answer: Answer) -> AnswerOut:
    """The Answer JSON contract of an Answer record."""
    return AnswerOut.model_validate(answer.to_dict())


def result_of(hit: Hit) -> SearchResult:
    """A search result with provenance from a Hit (the fields `rag search --json` prints)."""
    return SearchResult.model_validate(hit_to_dict(hit))

"""POST /v1/ask (Answer JSON) and POST /v1/ask/stream (Server-Sent Events)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from newsrag.api.deps import Authorized, EngineDep, SettingsDep
from newsrag.api.mapping import answer_out, query_of
from newsrag.api.schemas import AnswerOut, AskRequest, ErrorResponse
from newsrag.api.streaming import answer_events

router = APIRouter(
    prefix="/v1",
    tags=["ask"],
    dependencies=[Authorized],
    responses={
        401: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "event: token {text}*, then event: citations {citations, sentences}, "
        "then event: final <Answer JSON>.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.post("/ask", response_model=AnswerOut)
async def ask(body: AskRequest, engine: EngineDep, settings: SettingsDep) -> AnswerOut:
    """A cited answer; extractive (marked degraded) when the LLM fails."""
    query = query_of(body, settings)
    engine.require()
    answer = await run_in_threadpool(engine.ask, query)
    return answer_out(answer)


@router.post("/ask/stream", response_class=EventSourceResponse, responses=_SSE_DOC)
async def ask_stream(
    body: AskRequest, engine: EngineDep, settings: SettingsDep
) -> EventSourceResponse:
    """The same answer as Server-Sent Events: tokens as they come, citations, then final."""
    query = query_of(body, settings)
    events = engine.stream(query)
    return EventSourceResponse(answer_events(events), sep="\n", ping=15)

"""Bridging the answer layer's blocking iterators onto the event loop, and SSE framing."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from sse_starlette import ServerSentEvent
from starlette.concurrency import iterate_in_threadpool

from newsrag.api.errors import error_body
from newsrag.api.mapping import answer_out
from newsrag.rag.errors import RagError
from newsrag.rag.records import AnswerEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
SEP = "\n"


async def bridge(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Iterate a blocking iterator in worker threads; close it however the consumer stops."""
    try:
        async for item in iterate_in_threadpool(iterator):
            yield item
    finally:
        # A client that went away stops the stream here: close the generator so an open
        # upstream LLM stream is released now rather than at garbage collection.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def sse(event: str, payload: object) -> ServerSentEvent:
    """One named event with a JSON payload."""
    return ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event=event, sep=SEP)


async def answer_events(events: Iterator[AnswerEvent]) -> AsyncIterator[ServerSentEvent]:
    """token* then citations then final; an unexpected failure ends with an error event."""
    try:
        async for event in bridge(events):
            if event.kind == "token" and event.text:
                yield sse("token", {"text": event.text})
            elif event.answer is not None:
                answer = answer_out(event.answer).model_dump(mode="json")
                yield sse(
                    "citations",
                    {"citations": answer["citations"], "sentences": answer["sentences"]},
                )
                yield sse("final", answer)
    except (RagError, ValueError, RuntimeError) as exc:
        log.error("answer stream failed", exc_info=exc)
        yield sse("error", error_body(500, "the answer could not be completed", "internal_error"))

"""OpenAI-compatible GET /v1/models and POST /v1/chat/completions, citations kept.

The last user message is the question and earlier user/assistant messages are the history
that drives follow-up rewriting. The answer text keeps its [n] markers and, by default, ends
with a Sources block (api.sources) so that clients which keep only the text still say what [1]
is; the message's `annotations` give each marker's span. `citations` (and `rag`, the rest of the
Answer contract) sit beside `choices`, and in the last stream chunk.

Model names: GET /v1/models lists MODEL_IDS (`newsrag-extractive` answers without the LLM); any
other name is OpenAI's 404 `model_not_found` unless RAG_ACCEPT_ANY_MODEL is set.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from newsrag.api.deps import Authorized, EngineDep, SettingsDep
from newsrag.api.errors import ApiError, error_body
from newsrag.api.mapping import answer_out, check_conversation, check_question, filters_of
from newsrag.api.openai_schemas import (
    EXTRACTIVE_MODEL_ID,
    MODEL_IDS,
    AnswerMeta,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    Usage,
)
from newsrag.api.schemas import ErrorResponse
from newsrag.api.sources import marker_annotations, sources_block, strip_sources_block
from newsrag.api.streaming import SEP, bridge
from newsrag.rag.errors import RagError
from newsrag.rag.prompts import count_tokens
from newsrag.rag.records import Answer, AnswerEvent, AnswerRequest
from newsrag.rag.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1",
    tags=["openai"],
    dependencies=[Authorized],
    responses={
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
_STARTED = int(time.time())
CUT_NOTE = "\n\n(The model's answer was cut off; answer from the sources:)\n"


DocumentUrl = Callable[[str], str]


@router.get("/models", response_model=ModelList)
async def list_models() -> ModelList:
    """The models this endpoint serves: cited answers over the index (LLM when configured,
    else extractive), and the same answered extractively."""
    return ModelList(data=[ModelCard(id=name, created=_STARTED) for name in MODEL_IDS])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, engine: EngineDep, settings: SettingsDep
) -> ChatCompletion | EventSourceResponse:
    """A cited answer to the last user message, as a completion or a stream of chunks."""
    extractive = check_model(body.model, settings)
    query = query_of_chat(body, settings, extractive=extractive)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    with_block = settings.chat_sources_block if body.sources_block is None else body.sources_block
    document_url = document_url_of(request)
    if body.stream:
        chunks = completion_chunks(
            engine.stream(query), completion_id, body.model, with_block, document_url
        )
        return EventSourceResponse(chunks, sep=SEP, ping=15)
    engine.require()
    answer = await run_in_threadpool(engine.ask, query)
    block = sources_block(answer.citations) if with_block else ""
    content = answer.answer + block
    annotations = marker_annotations(content, answer.citations, document_url, len(answer.answer))
    return ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=body.model,
        choices=[Choice(message=AssistantMessage(content=content, annotations=annotations))],
        usage=usage_of(body, content),
        citations=answer_out(answer).citations,
        rag=meta_of(answer, with_text=bool(block)),
    )


def check_model(name: str, settings: Settings) -> bool:
    """Whether the named model answers extractively; 404 model_not_found for an unknown name."""
    if name in MODEL_IDS:
        return name == EXTRACTIVE_MODEL_ID
    if settings.accept_any_model:
        return False
    raise ApiError(
        404,
        f"The model `{name}` does not exist; this service serves {', '.join(MODEL_IDS)} "
        "(GET /v1/models lists them; RAG_ACCEPT_ANY_MODEL=true accepts any name)",
        code="model_not_found",
        kind="invalid_request_error",
    )


def document_url_of(request: Request) -> DocumentUrl:
    """doc_id -> this service's URL of the cleaned article (for annotations without a url)."""
    base = str(request.base_url).rstrip("/")
    return lambda doc_id: f"{base}/v1/documents/{quote(doc_id, safe='')}"


def usage_of(body: ChatCompletionRequest, content: str) -> Usage:
    """Token counts (cl100k_base) of the conversation sent and the message returned."""
    prompt = sum(count_tokens(m.text()) for m in body.messages)
    completion = count_tokens(content)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def query_of_chat(
    body: ChatCompletionRequest, settings: Settings, *, extractive: bool = False
) -> AnswerRequest:
    """The pipeline's request from a conversation; 422 unless it ends with a user question.

    Earlier assistant messages lose the Sources block this service appended to them, so the
    follow-up rewriting reads the answers, not the source lists.
    """
    check_conversation(len(body.messages), [], settings)
    *earlier, last = body.messages
    if last.role != "user":
        raise ApiError(422, "the last message must come from the user", code="no_question")
    history = [
        {
            "role": m.role,
            "content": strip_sources_block(m.text()) if m.role == "assistant" else m.text(),
        }
        for m in earlier
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return AnswerRequest(
        question=check_question(last.text(), settings, field="last user message"),
        history=check_conversation(len(body.messages), history, settings),
        k=body.k or settings.k,
        filters=filters_of(body),
        no_llm=body.no_llm or extractive,
    )


def meta_of(answer: Answer, *, with_text: bool = False) -> AnswerMeta:
    """The Answer fields an OpenAI response has no place for."""
    return AnswerMeta(
        answerable=answer.answerable,
        refusal_reason=answer.refusal_reason,
        mode=answer.mode,
        degraded=answer.degraded,
        standalone_question=answer.standalone_question,
        answer=answer.answer if with_text else None,
    )


def tail_text(streamed: str, answer: Answer) -> str:
    """What to send after the streamed deltas so the client's text ends as the answer's."""
    if answer.answer.startswith(streamed):
        return answer.answer[len(streamed) :]
    if answer.degraded:
        return CUT_NOTE + answer.answer
    return ""  # verification trimmed the text; `rag.answer` in the last chunk holds it


def chunk_json(chunk: ChatCompletionChunk) -> dict[str, object]:
    """A chunk as OpenAI sends it: absent rather than null extension fields and delta keys."""
    data = chunk.model_dump(mode="json")
    for key in ("citations", "rag"):
        if data[key] is None:
            del data[key]
    for choice in data["choices"]:
        choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
    return data


async def completion_chunks(
    events: Iterator[AnswerEvent],
    completion_id: str,
    model: str,
    with_block: bool,
    document_url: DocumentUrl,
) -> AsyncIterator[ServerSentEvent]:
    """chat.completion.chunk events: role, one content delta per token event, the Sources block
    as the last content delta, then finish with citations and annotations; [DONE]."""
    created = int(time.time())

    def chunk(delta: Delta, answer: Answer | None = None) -> ServerSentEvent:
        payload = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if answer else None)],
            citations=answer_out(answer).citations if answer else None,
            rag=meta_of(answer, with_text=True) if answer else None,
        )
        return ServerSentEvent(data=json.dumps(chunk_json(payload), ensure_ascii=False), sep=SEP)

    yield chunk(Delta(role="assistant", content=""))
    streamed = ""
    try:
        async for event in bridge(events):
            if event.kind == "token" and event.text:
                streamed += event.text
                yield chunk(Delta(content=event.text))
            elif event.answer is not None:
                answer = event.answer
                tail = tail_text(streamed, answer)
                if tail:
                    streamed += tail
                    yield chunk(Delta(content=tail))
                block = sources_block(answer.citations) if with_block else ""
                if block:
                    yield chunk(Delta(content=block))
                marks = marker_annotations(streamed, answer.citations, document_url, len(streamed))
                yield chunk(Delta(annotations=marks or None), answer)
    except (RagError, ValueError, RuntimeError) as exc:
        log.error("chat completion stream failed", exc_info=exc)
        error = error_body(500, "the answer could not be completed", "internal_error")
        yield ServerSentEvent(data=json.dumps(error), sep=SEP)
    yield ServerSentEvent(data="[DONE]", sep=SEP)

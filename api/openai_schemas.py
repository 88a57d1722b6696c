"""Models of the OpenAI-compatible endpoints (/v1/models, /v1/chat/completions)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from newsrag.api.schemas import MAX_K, MAX_MESSAGES, MAX_TEXT_CHARS, CitationOut, Filters

MODEL_ID = "newsrag"
EXTRACTIVE_MODEL_ID = "newsrag-extractive"  # the same service, answering without the LLM
MODEL_IDS = (MODEL_ID, EXTRACTIVE_MODEL_ID)


class ContentPart(BaseModel):
    """A part of a multi-part message; only text parts are read."""

    type: str = Field(max_length=64)
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS)


class ChatMessage(BaseModel):
    """One message of a conversation, as OpenAI clients send it."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatCompletionRequest(Filters):
    """OpenAI chat completion request; sampling options are accepted and ignored."""

    model: str = Field(MODEL_ID, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to retrieve (extension).")
    no_llm: bool = Field(False, description="Answer extractively (extension).")
    sources_block: bool | None = Field(
        None,
        description="End the message content with a Sources block (extension; default: the"
        " server's RAG_CHAT_SOURCES_BLOCK).",
    )


class UrlCitation(BaseModel):
    """Where a marker sits in the message and what it cites (OpenAI's url_citation shape)."""

    start_index: int = Field(description="content[start_index:end_index] is the marker.")
    end_index: int
    title: str
    url: str = Field(description="The article's url, else this service's /v1/documents/{id}.")
    marker: int = Field(description="The marker's number (extension).")
    chunk_id: str = Field(description="The cited passage (extension).")


class Annotation(BaseModel):
    """An OpenAI message annotation."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class AssistantMessage(BaseModel):
    """The answer, [n] markers kept, then (by default) a Sources block."""

    role: Literal["assistant"] = "assistant"
    content: str
    annotations: list[Annotation] = []


class Choice(BaseModel):
    """The single choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Token counts (cl100k_base)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnswerMeta(BaseModel):
    """What the Answer contract says beyond the text (extension)."""

    answerable: bool
    refusal_reason: str | None
    mode: Literal["llm", "extractive"]
    degraded: bool
    standalone_question: str | None = None
    answer: str | None = Field(
        None,
        description="The verified answer text without the Sources block (in a stream: in the"
        " last chunk, to replace the deltas).",
    )


class ChatCompletion(BaseModel):
    """OpenAI chat completion, with the cited passages beside the choices."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    citations: list[CitationOut]
    rag: AnswerMeta


class Delta(BaseModel):
    """A piece of a streamed message."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[Annotation] | None = None


class ChunkChoice(BaseModel):
    """The single choice of a stream chunk."""

    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed chunk; the last carries finish_reason, citations and the answer's meta."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None
    rag: AnswerMeta | None = None


class ModelCard(BaseModel):
    """One model the endpoint serves."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "newsrag"


class ModelList(BaseModel):
    """GET /v1/models."""

    object: Literal["list"] = "list"
    data: list[ModelCard]

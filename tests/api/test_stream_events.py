"""Each token event of the answer layer leaves as its own SSE event (/v1/ask/stream) and its
own content delta (/v1/chat/completions): the routes never merge or split them. The answer
layer is replaced by a stub that yields several token events (the extractive path sends one
per sentence), so this holds whatever the pipeline streams."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from newsrag.rag.records import Answer, AnswerEvent, AnswerRequest, AnswerSentence, Citation
from tests.api.conftest import LiveServer
from tests.api.test_ask import sse_events

SENTENCES = ("Kites fly in August [1]. ", "The beach is in Brighton [1]. ", "Tickets are free [2].")


def stub_answer(question: str) -> Answer:
    """A verified answer whose text is the streamed sentences."""
    citations = tuple(
        Citation(n, f"d{n}#0", f"d{n}", f"Title {n}", "Wire", "2024-05-02", "passage", 0, 7)
        for n in (1, 2)
    )
    sentences = tuple(AnswerSentence(s.strip(), (1 if "[1]" in s else 2,), True) for s in SENTENCES)
    return Answer(
        question=question,
        answer="".join(SENTENCES),
        answerable=True,
        refusal_reason=None,
        mode="extractive",
        degraded=False,
        citations=citations,
        timings_ms={"total": 1.0},
        sentences=sentences,
    )


def stub_stream(request: AnswerRequest) -> Iterator[AnswerEvent]:
    """Token events, one per sentence, then the final answer."""
    for sentence in SENTENCES:
        yield AnswerEvent("token", sentence)
    yield AnswerEvent("answer", answer=stub_answer(request.question))


@pytest.fixture
def stubbed(corpus_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monkeypatch.setattr(corpus_server.engine, "stream", stub_stream)
    return corpus_server


def test_ask_stream_forwards_each_token_event(stubbed: LiveServer) -> None:
    with stubbed.client.stream("POST", "/v1/ask/stream", json={"question": "When?"}) as response:
        response.read()
        events = sse_events(response)
    tokens = [data["text"] for kind, data in events if kind == "token"]
    assert tokens == list(SENTENCES)
    assert [kind for kind, _ in events][-2:] == ["citations", "final"]


def test_chat_completion_stream_forwards_each_token_event(stubbed: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{stubbed.url}/v1", api_key="unused", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="newsrag", messages=[{"role": "user", "content": "When?"}], stream=True
        )
    )
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert contents[: len(SENTENCES)] == list(SENTENCES)
    assert contents[len(SENTENCES) :] == [
        "\n\nSources:\n- [1] Title 1 — Wire, 2024-05-02\n- [2] Title 2 — Wire, 2024-05-02"
    ]
    assert chunks[-1].choices[0].finish_reason == "stop"

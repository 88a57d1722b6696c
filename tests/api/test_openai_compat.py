"""The official `openai` client against /v1/models and /v1/chat/completions on a real uvicorn:
answers keep their [n] markers and the citations ride beside the choices."""

from __future__ import annotations

import re
from pathlib import Path

import openai
import pytest

from tests.api.conftest import LiveServer, ServerFactory, llm_settings
from tests.api.test_ask import QUESTION, cite_fact
from tests.rag.llm_double import LLMDouble, cut, reply

MARKER = re.compile(r"\[(\d+)\]")


def client_for(server: LiveServer, api_key: str = "unused") -> openai.OpenAI:
    """The official client pointed at the service."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, timeout=30)


def assert_markers_cited(text: str, citations: list[dict[str, object]]) -> None:
    markers = {int(m) for m in MARKER.findall(text)}
    assert markers, text
    assert markers <= {int(str(c["marker"])) for c in citations}
    assert any("15 billion" in str(c["text"]) for c in citations)


def test_models_lists_the_service(corpus_server: LiveServer) -> None:
    models = client_for(corpus_server).models.list()
    assert [m.id for m in models.data] == ["newsrag"]


def test_completion_keeps_markers_and_citations(corpus_server: LiveServer) -> None:
    completion = client_for(corpus_server).chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}]
    )
    text = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    assert_markers_cited(text, extra["citations"])
    assert extra["rag"]["mode"] == "extractive" and extra["rag"]["answerable"] is True
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_stream_deltas_then_citations_in_the_last_chunk(corpus_server: LiveServer) -> None:
    stream = client_for(corpus_server).chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    extra = last.model_extra or {}
    assert_markers_cited(text, extra["citations"])
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_llm_stream_and_follow_up_history(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    def script(request: dict[str, object]) -> str:
        prompt = "\n".join(m["content"] for m in request["messages"])  # type: ignore[attr-defined]
        if "<passage" in prompt:
            return cite_fact(request)
        return QUESTION  # the rewrite of the follow-up into a standalone question

    llm_double.script(reply(script))
    server = start_server(llm_settings(corpus_index_dir, llm_double))
    client = client_for(server)
    stream = client.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    content = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content) >= 2  # tokens arrive as the model writes them
    text = "".join(content)
    assert "$15 billion" in text
    assert_markers_cited(text, (chunks[-1].model_extra or {})["citations"])

    followup = client.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Tell me about Alibaba's research plans."},
            {"role": "assistant", "content": "Alibaba is building research hubs [1]."},
            {"role": "user", "content": "And how much money will it put in?"},
        ],
    )
    # The earlier turns reached the rewriting step, and the answer is about the rewritten question.
    assert any("research plans" in llm_double.prompt_text(i) for i in range(llm_double.calls))
    extra = followup.model_extra or {}
    assert_markers_cited(followup.choices[0].message.content or "", extra["citations"])


def test_cut_stream_ends_with_a_cited_degraded_answer(
    start_server: ServerFactory, corpus_index_dir: Path, llm_double: LLMDouble
) -> None:
    llm_double.script(cut("Alibaba will invest fifteen billion dollars in new hubs [1].", 3))
    server = start_server(llm_settings(corpus_index_dir, llm_double))
    chunks = list(
        client_for(server).chat.completions.create(
            model="newsrag", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    extra = chunks[-1].model_extra or {}
    assert extra["rag"]["degraded"] is True
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.endswith(extra["rag"]["answer"])  # the extractive answer follows the cut text
    assert_markers_cited(extra["rag"]["answer"], extra["citations"])


def test_client_sees_api_errors(start_server: ServerFactory, corpus_index_dir: Path) -> None:
    from tests.api.conftest import api_settings

    server = start_server(api_settings(corpus_index_dir, api_key="k1"))
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(server, api_key="wrong").models.list()
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.UnprocessableEntityError):
        client_for(server, api_key="k1").chat.completions.create(
            model="newsrag", messages=[{"role": "assistant", "content": "no question"}]
        )

"""OpenAIChatModel against the scripted server (test double): retries, timeouts, streams."""

from __future__ import annotations

import time

import pytest

from newsrag.rag.errors import DeadlineExceeded, LLMError, LLMTimeoutError
from newsrag.rag.llm import PLACEHOLDER_API_KEY, OpenAIChatModel, chat_model_from_settings
from newsrag.rag.settings import Settings
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble, cut, empty, hang, malformed, reply, status

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_complete_returns_text_and_sends_the_request(
    llm_double: LLMDouble, make_model: ModelFactory
) -> None:
    llm_double.script(reply("Hello [1]."))
    model = make_model(temperature=0.2)
    assert model.complete(MESSAGES) == "Hello [1]."
    assert model.calls == llm_double.calls == 1
    sent = llm_double.requests[0]
    assert sent["messages"] == MESSAGES
    assert sent["model"] == "double"
    assert sent["temperature"] == 0.2
    assert not sent.get("stream")
    assert llm_double.headers[0]["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_api_key_is_sent_as_bearer(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    make_model(api_key="sk-test").complete(MESSAGES)
    assert llm_double.headers[0]["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("code", [500, 502, 503])
def test_5xx_is_retried_then_fails(
    llm_double: LLMDouble, make_model: ModelFactory, code: int
) -> None:
    llm_double.script(status(code))
    model = make_model(max_retries=2)
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES)
    assert info.value.status == code
    assert model.calls == llm_double.calls == 3  # 1 + max_retries


def test_5xx_then_success_recovers(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(status(500), reply("fine [1]."))
    model = make_model(max_retries=2)
    assert model.complete(MESSAGES) == "fine [1]."
    assert model.calls == 2


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_other_4xx_is_not_retried(
    llm_double: LLMDouble, make_model: ModelFactory, code: int
) -> None:
    llm_double.script(status(code))
    model = make_model(max_retries=3)
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES)
    assert info.value.status == code
    assert model.calls == llm_double.calls == 1


def test_429_honours_retry_after(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(status(429, retry_after="0.4"), reply("ok [1]."))
    model = make_model(max_retries=2, backoff_s=0.0)
    started = time.monotonic()
    assert model.complete(MESSAGES) == "ok [1]."
    assert time.monotonic() - started >= 0.4
    assert model.calls == 2


def test_429_retry_after_is_capped(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(status(429, retry_after="3600"), reply("ok [1]."))
    model = make_model(max_retries=1, max_retry_after_s=0.2, deadline_s=5.0)
    started = time.monotonic()
    assert model.complete(MESSAGES) == "ok [1]."
    assert time.monotonic() - started < 2.0


def test_429_exhausts_retries(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(status(429, retry_after_ms="10"))
    model = make_model(max_retries=1)
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES)
    assert info.value.status == 429
    assert model.calls == 2


@pytest.mark.parametrize("step", [malformed(), empty(), reply("   ")])
def test_malformed_or_empty_reply_is_an_error_without_retry(
    llm_double: LLMDouble, make_model: ModelFactory, step: object
) -> None:
    llm_double.script(step)  # type: ignore[arg-type]
    model = make_model(max_retries=2)
    with pytest.raises(LLMError):
        model.complete(MESSAGES)
    assert model.calls == 1


def test_hang_times_out_and_is_retried(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(hang(10))
    model = make_model(timeout_s=0.3, max_retries=1, deadline_s=5.0)
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        model.complete(MESSAGES)
    assert model.calls == 2
    assert time.monotonic() - started < 2.0


def test_deadline_bounds_all_retries(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(hang(10))
    model = make_model(timeout_s=0.4, max_retries=10, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES)
    elapsed = time.monotonic() - started
    assert isinstance(info.value, DeadlineExceeded | LLMTimeoutError)
    assert elapsed < 1.8
    assert 2 <= model.calls <= 4


def test_connection_refused_is_retried() -> None:
    with LLMDouble() as double:
        url = double.base_url  # a port that is closed once the double stops
    model = OpenAIChatModel(
        base_url=url,
        model="m",
        api_key=None,
        timeout_s=0.5,
        max_retries=2,
        deadline_s=5,
        backoff_s=0.01,
    )
    with pytest.raises(LLMError, match="unreachable"):
        model.complete(MESSAGES)
    assert model.calls == 3


def test_stream_yields_deltas(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(reply("Alibaba will invest $15 billion [1]."))
    model = make_model()
    deltas = list(model.stream(MESSAGES))
    assert len(deltas) > 1
    assert "".join(deltas) == "Alibaba will invest $15 billion [1]."
    assert llm_double.requests[0]["stream"] is True
    assert model.calls == 1


def test_stream_cut_midway_raises_after_partial_text(
    llm_double: LLMDouble, make_model: ModelFactory
) -> None:
    llm_double.script(cut("one two three four five", chunks_before_cut=2))
    model = make_model(max_retries=2)
    received: list[str] = []
    with pytest.raises(LLMError):
        for delta in model.stream(MESSAGES):
            received.append(delta)
    assert "".join(received) == "one two"
    assert model.calls == 1  # text was already shown: no silent retry


def test_stream_retries_before_the_first_delta(
    llm_double: LLMDouble, make_model: ModelFactory
) -> None:
    llm_double.script(status(503), reply("after retry [1]."))
    model = make_model(max_retries=1)
    assert "".join(model.stream(MESSAGES)) == "after retry [1]."
    assert model.calls == 2


def test_stream_4xx_fails_at_once(llm_double: LLMDouble, make_model: ModelFactory) -> None:
    llm_double.script(status(400))
    model = make_model(max_retries=3)
    with pytest.raises(LLMError):
        list(model.stream(MESSAGES))
    assert model.calls == 1


def test_constructor_checks_arguments() -> None:
    with pytest.raises(ValueError):
        OpenAIChatModel(
            base_url="", model="m", api_key=None, timeout_s=1, max_retries=0, deadline_s=1
        )
    with pytest.raises(ValueError):
        OpenAIChatModel(
            base_url="http://x", model="m", api_key=None, timeout_s=0, max_retries=0, deadline_s=1
        )


def test_chat_model_from_settings(llm_double: LLMDouble) -> None:
    assert chat_model_from_settings(Settings(llm_base_url=None)) is None
    settings = Settings(
        llm_base_url=llm_double.base_url,
        llm_model="double-7b",
        llm_api_key="sk-from-settings",  # type: ignore[arg-type]
        llm_timeout_s=1.5,
        llm_max_retries=4,
    )
    model = chat_model_from_settings(settings)
    assert isinstance(model, OpenAIChatModel)
    assert (model.name, model.timeout_s, model.max_retries) == ("double-7b", 1.5, 4)
    assert model.complete(MESSAGES) == "OK [1]."
    assert llm_double.headers[0]["authorization"] == "Bearer sk-from-settings"

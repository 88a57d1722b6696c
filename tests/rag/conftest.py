"""Answer-layer fixtures: the scripted LLM server (a test double), its clients, a bare env."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from newsrag.rag.llm import OpenAIChatModel
from tests.rag.llm_double import LLMDouble

ModelFactory = Callable[..., OpenAIChatModel]


@pytest.fixture
def llm_double() -> Iterator[LLMDouble]:
    """A started scripted OpenAI-compatible server on loopback (TEST DOUBLE, not an LLM)."""
    with LLMDouble() as double:
        yield double


@pytest.fixture
def make_model(llm_double: LLMDouble) -> ModelFactory:
    """Build an OpenAIChatModel pointed at the double, with short timeouts for fast tests."""

    def build(**overrides: object) -> OpenAIChatModel:
        options: dict[str, object] = {
            "base_url": llm_double.base_url,
            "model": "double",
            "api_key": None,
            "timeout_s": 0.5,
            "max_retries": 2,
            "deadline_s": 5.0,
            "backoff_s": 0.01,
            "max_retry_after_s": 1.0,
        }
        options.update(overrides)
        return OpenAIChatModel(**options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without RAG_* or OPENAI_API_KEY (the test session sets some), to set."""
    for name in list(os.environ):
        if name.startswith("RAG_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    return monkeypatch

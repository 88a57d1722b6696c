"""Fixtures for the HTTP service: a real uvicorn on 127.0.0.1 (random port) in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from newsrag.api.app import create_app
from newsrag.api.engine import Engine
from newsrag.index import SentenceTransformerEmbedder
from newsrag.rag.components import torch_threads
from newsrag.rag.settings import Settings
from tests.rag.llm_double import LLMDouble

STARTUP_TIMEOUT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    """A running app: its base URL, the app object, and a client bound to it."""

    url: str
    app: FastAPI
    client: httpx.Client

    @property
    def engine(self) -> Engine:
        """The app's engine (exists once the lifespan ran)."""
        engine: Engine = self.app.state.engine
        return engine


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` under uvicorn on a free loopback port; yields the base URL; bounded start/stop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", ws="none", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


ServerFactory = Callable[..., LiveServer]


def api_settings(index_dir: Path, **overrides: object) -> Settings:
    """Settings for a test server: no environment, no rate limit unless asked."""
    values: dict[str, object] = {
        "index_dir": index_dir,
        "rate_limit_per_minute": 0,
        "llm_base_url": None,
        "api_key": None,
    }
    values.update(overrides)
    return Settings.model_validate(values)  # validated as given: the environment is not read


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Every test here runs the model with one intra-op thread, as `rag serve` does."""
    with torch_threads(1):
        yield


@pytest.fixture
def start_server(embedder: SentenceTransformerEmbedder) -> Iterator[ServerFactory]:
    """Start servers with given settings (the shared embedder); all stop at teardown."""
    with ExitStack() as stack:

        def start(settings: Settings) -> LiveServer:
            app = create_app(settings, embedder=embedder)
            url = stack.enter_context(serve(app))
            client = stack.enter_context(httpx.Client(base_url=url, timeout=30.0))
            return LiveServer(url, app, client)

        yield start


@pytest.fixture(scope="module")
def corpus_server(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[LiveServer]:
    """A read-only extractive server over the shipped corpus, shared by a module."""
    app = create_app(api_settings(corpus_index_dir), embedder=embedder)
    with (
        torch_threads(1),
        serve(app) as url,
        httpx.Client(base_url=url, timeout=30.0) as client,
    ):
        yield LiveServer(url, app, client)


@pytest.fixture
def llm_double() -> Iterator[LLMDouble]:
    """The scripted OpenAI-compatible server (TEST DOUBLE, not an LLM)."""
    with LLMDouble() as double:
        yield double


def llm_settings(index_dir: Path, double: LLMDouble, **overrides: object) -> Settings:
    """Settings pointing the service at the double, with short timeouts."""
    values: dict[str, object] = {
        "llm_base_url": double.base_url,
        "llm_model": "double",
        "llm_timeout_s": 1.0,
        "llm_max_retries": 1,
        "llm_deadline_s": 3.0,
    }
    values.update(overrides)
    return api_settings(index_dir, **values)


@dataclass
class LLMServer:
    """A server wired to a scripted double, shared by a module (script the double per test)."""

    server: LiveServer
    double: LLMDouble
    settings: Settings


@pytest.fixture(scope="module")
def llm_server(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[LLMServer]:
    """One LLM-backed server per module, its caches warm across tests."""
    with LLMDouble() as double, torch_threads(1):
        settings = llm_settings(corpus_index_dir, double)
        app = create_app(settings, embedder=embedder)
        with serve(app) as url, httpx.Client(base_url=url, timeout=30.0) as client:
            yield LLMServer(LiveServer(url, app, client), double, settings)

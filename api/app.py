"""create_app(settings) -> FastAPI: routers, middleware, error envelope, and a lifespan that
loads the embedder, the index and the LLM client once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from newsrag.api import ask, completions, docs, documents, health, search
from newsrag.api.engine import Engine
from newsrag.api.errors import install_error_handlers
from newsrag.api.health import LLMProbe
from newsrag.api.limits import BodyLimitMiddleware, RateLimitMiddleware, TokenBuckets
from newsrag.api.metrics import MeteredChatModel, Metrics, MetricsMiddleware
from newsrag.api.watch import ServiceWatch
from newsrag.api.web import router as web_router
from newsrag.index import Embedder
from newsrag.index.word_table import open_word_table
from newsrag.rag.components import load_embedder
from newsrag.rag.llm import chat_model_from_settings
from newsrag.rag.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Cited question answering over news articles: hybrid retrieval, answers whose every sentence
carries [n] markers to checked passages, honest refusals.

- Errors on /v1 use the OpenAI envelope `{"error": {"message", "type", "code"}}`.
- With `RAG_API_KEY` set, /v1/* and /metrics need `Authorization: Bearer <key>` (401 with
  `WWW-Authenticate`); so do /openapi.json, /docs and /redoc (in a browser: the key as the
  Basic password) unless `RAG_DOCS_PUBLIC=true`; /healthz, /readyz and the web page at / stay
  open.
- Per-client rate limit `RAG_RATE_LIMIT_PER_MINUTE` on /v1/* (429 with `Retry-After`; 0 = off),
  request bodies up to `RAG_MAX_BODY_BYTES` (413), questions up to `RAG_MAX_QUESTION_CHARS`
  and conversations up to `RAG_MAX_CONVERSATION_MESSAGES` (422, checked before any LLM call).
- /v1/chat/completions speaks the OpenAI protocol; `citations` and `rag` sit beside `choices`
  (and in the last stream chunk).
"""


async def watch_index(engine: Engine, interval_s: float) -> None:
    """Every `interval_s`, make live a generation another process published (Engine.refresh)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_in_threadpool(engine.refresh)
        except Exception:  # the watcher must outlive one bad load; the live index stays
            log.exception("index refresh failed")


@asynccontextmanager
async def lifespan(
    app: FastAPI,
    *,
    settings: Settings,
    embedder: Embedder | None,
    metrics: Metrics,
    index_poll_s: float,
    watch: Sequence[Path] = (),
) -> AsyncIterator[None]:
    """Load the embedder (unless given), the LLM client and the index once, then serve."""
    loaded: Embedder = (
        embedder if embedder is not None else await run_in_threadpool(load_embedder, settings)
    )
    model = chat_model_from_settings(settings)
    metered = MeteredChatModel(model, metrics) if model is not None else None
    words = await run_in_threadpool(
        lambda: open_word_table(loaded, progress=lambda message: log.info(message))
    )
    engine = Engine(settings, loaded, metered, metrics, words=words)
    await run_in_threadpool(engine.load)
    app.state.engine = engine
    log.info("service ready", extra={"llm": model.name if model else "extractive"})
    watcher = asyncio.create_task(watch_index(engine, index_poll_s)) if index_poll_s else None
    folders = ServiceWatch(engine, watch, settings.watch_options()) if watch else None
    if folders is not None:
        folders.start()
    app.state.folder_watch = folders
    try:
        yield
    finally:
        if folders is not None:
            await run_in_threadpool(folders.stop)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def create_app(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    index_poll_s: float = 1.0,
    watch: Sequence[Path] = (),
) -> FastAPI:
    """The HTTP service; heavy objects load in the lifespan (pass `embedder` to share one).

    Every `index_poll_s` seconds (0: never) the app checks whether another process published
    a new index generation and, if so, swaps it in while requests keep being answered.
    `watch`: folders whose new, changed and removed files are applied as they happen
    (`rag serve --watch`, api.watch).
    """
    metrics = Metrics()
    state = partial(
        lifespan,
        settings=settings,
        embedder=embedder,
        metrics=metrics,
        index_poll_s=index_poll_s,
        watch=tuple(watch),
    )
    app = FastAPI(
        title="newsrag",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=state,
        docs_url=None,  # api.docs serves the pages offline, behind the key when one is set
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.probe = LLMProbe(settings.llm_base_url)
    install_error_handlers(app)
    for module in (ask, search, documents, completions, health):
        app.include_router(module.router)
    app.include_router(web_router)
    app.include_router(docs.router)
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(
            RateLimitMiddleware, buckets=TokenBuckets(settings.rate_limit_per_minute)
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app

"""Prometheus metrics of one app (own registry, no globals) and the middleware that feeds them."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsrag.index import IndexStore
from newsrag.index.generations import generation_number
from newsrag.rag.errors import DeadlineExceeded, LLMError, LLMTimeoutError
from newsrag.rag.llm import ChatModel
from newsrag.rag.records import Answer

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every collector the service exports, registered on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "rag_http_requests", "HTTP requests.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency (streams: until the last byte).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retrieval = Histogram(
            "rag_retrieval_seconds",
            "Retrieval time per answer.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.generation = Histogram(
            "rag_generation_seconds",
            "Answer generation time (LLM or extractive).",
            ["mode"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter("rag_answers", "Answers given.", ["mode", "answerable"], registry=r)
        self.degraded = Counter(
            "rag_degraded_answers", "Extractive answers given because the LLM failed.", registry=r
        )
        self.upstream_failures = Counter(
            "rag_upstream_failures", "Failed LLM calls (after retries).", ["kind"], registry=r
        )
        self.ingests = Counter("rag_ingests", "Uploads and deletes.", ["outcome"], registry=r)
        self.ingest_running = Gauge(
            "rag_ingest_running", "Uploads being ingested right now.", registry=r
        )
        self.ingest_articles = Gauge(
            "rag_ingest_articles",
            "Articles of the running uploads: to embed (total) and embedded so far (done).",
            ["state"],
            registry=r,
        )
        self.documents = Gauge("rag_index_documents", "Articles in the live index.", registry=r)
        self.chunks = Gauge("rag_index_chunks", "Chunks in the live index.", registry=r)
        self.size = Gauge("rag_index_size_bytes", "Bytes on disk of the live index.", registry=r)
        self.index_generation = Gauge(
            "rag_index_generation", "Number of the live index generation (gen-N).", registry=r
        )
        self.index_swaps = Counter(
            "rag_index_swaps",
            "Live generation replaced: after an upload/delete here, or a publish by another "
            "process (e.g. `rag ingest`) noticed through CURRENT.",
            ["cause"],
            registry=r,
        )

    def observe_answer(self, answer: Answer) -> None:
        """Record an answer's timings, mode and whether it was degraded."""
        timings = answer.timings_ms
        if "retrieve" in timings:
            self.retrieval.observe(timings["retrieve"] / 1000)
        if "generate" in timings:
            self.generation.labels(answer.mode).observe(timings["generate"] / 1000)
        self.answers.labels(answer.mode, str(answer.answerable).lower()).inc()
        if answer.degraded:
            self.degraded.inc()

    def observe_index(self, store: IndexStore | None) -> None:
        """Set the index gauges from the live generation."""
        self.documents.set(len(store.articles) if store else 0)
        self.chunks.set(len(store.chunks) if store else 0)
        self.size.set(store.size_bytes() if store else 0)
        self.index_generation.set(_generation_of(store))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def _generation_of(store: IndexStore | None) -> int:
    try:
        return generation_number(store.path) if store and store.path else 0
    except ValueError:  # a store not read from a generation directory
        return 0


def failure_kind(error: LLMError) -> str:
    """A small, bounded label for an upstream failure."""
    if isinstance(error, DeadlineExceeded):
        return "deadline"
    if isinstance(error, LLMTimeoutError):
        return "timeout"
    if error.status == 429:
        return "http_429"
    if error.status is not None:
        return "http_5xx" if error.status >= 500 else "http_4xx"
    return "error"  # malformed reply, cut stream, unreachable


class MeteredChatModel:
    """A ChatModel that counts upstream failures before passing them on."""

    def __init__(self, model: ChatModel, metrics: Metrics) -> None:
        self.inner = model
        self.name = model.name
        self._metrics = metrics

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The inner model's reply; failures are counted and re-raised."""
        try:
            return self.inner.complete(messages)
        except LLMError as exc:
            self._metrics.upstream_failures.labels(failure_kind(exc)).inc()
            raise

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """The inner model's deltas; failures (also mid-stream) are counted and re-raised."""
        try:
            yield from self.inner.stream(messages)
        except LLMError as exc:
            self._metrics.upstream_failures.labels(failure_kind(exc)).inc()
            raise


class MetricsMiddleware:
    """Counts requests and their latency per route template (not per raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)

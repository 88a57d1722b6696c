"""The engine behind the API: the live index generation, swapped atomically after each ingest.

Readers take `engine.live` once per request and use that Generation to the end, so an answer
never mixes two generations; writers (upload, delete) are serialised, build the new
generation on disk, load it, and only then swap it in under a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.embedders import EmbedGate, GatedEmbedder
from api.errors import ApiError
from api.metrics import Metrics
from index import (
    ChunkingParams,
    Embedder,
    Hit,
    IndexNotFoundError,
    IndexStore,
    IngestOptions,
    IngestReport,
    delete_articles,
    ingest,
    open_index,
)
from rag.answering import AnswerEvent, answer_question, stream_answer
from rag.llm import ChatModel
from rag.records import Answer
from rag.retrieval import HybridRetriever, SearchFilters
from rag.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Generation:
    """One loaded index generation and the retriever over it; replaced whole, never mutated."""

    store: IndexStore
    retriever: HybridRetriever

    @property
    def name(self) -> str | None:
        """The generation directory name, e.g. gen-000003."""
        return self.store.path.name if self.store.path else None


@dataclass(frozen=True, slots=True)
class Query:
    """What an ask carries into the answer layer."""

    question: str
    k: int
    filters: SearchFilters | None = None
    history: tuple[dict[str, str], ...] = ()
    no_llm: bool = False


class Engine:
    """Holds the embedder, the model and the live generation; all methods are blocking."""

    def __init__(
        self, settings: Settings, embedder: Embedder, model: ChatModel | None, metrics: Metrics
    ) -> None:
        self.settings = settings
        gate = EmbedGate()
        self.embedder = GatedEmbedder(embedder, gate, priority=True, cache_size=20_000)  # answers
        self._bulk_embedder = GatedEmbedder(embedder, gate, priority=False)  # ingests
        self.model = model
        self.metrics = metrics
        self._live: Generation | None = None
        self._swap = threading.Lock()
        self._writer = threading.Lock()  # uploads and deletes, one at a time

    @property
    def live(self) -> Generation | None:
        """The generation questions are answered from now (None before any index exists)."""
        return self._live

    def require(self) -> Generation:
        """The live generation, or a 503 when there is no index yet."""
        live = self._live
        if live is None:
            raise ApiError(
                503,
                "no index loaded; upload documents or run `rag ingest`",
                code="index_not_loaded",
            )
        return live

    def load(self) -> None:
        """Load the current generation from disk, if there is one, and make it live."""
        try:
            store = open_index(self.settings.index_dir, self.embedder)
        except IndexNotFoundError:
            log.warning("no index yet", extra={"index_dir": str(self.settings.index_dir)})
            return
        self._make_live(store)

    def search(self, query: str, k: int, filters: SearchFilters | None) -> list[Hit]:
        """Ranked passages from the live generation."""
        return self.require().retriever.search(query, k, filters=filters)

    def ask(self, query: Query) -> Answer:
        """A cited answer (degraded to extractive when the LLM fails)."""
        answer = answer_question(query.question, **self._answer_options(query))
        self.metrics.observe_answer(answer)
        return answer

    def stream(self, query: Query) -> Iterator[AnswerEvent]:
        """Token events as the model writes, then one final answer event (lazy; 503 up front)."""
        events = stream_answer(query.question, **self._answer_options(query))
        return self._observed(events)

    def _answer_options(self, query: Query) -> dict[str, Any]:
        # One place maps a request to the answer flow, for both the JSON and the stream route.
        return {
            "retriever": self.require().retriever,
            "embedder": self.embedder,
            "model": None if query.no_llm else self.model,
            "k": query.k,
            "filters": query.filters,
            "history": list(query.history) or None,
            "max_context_tokens": self.settings.llm_max_context_tokens,
        }

    def _observed(self, events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
        try:
            for event in events:
                if event.answer is not None:
                    self.metrics.observe_answer(event.answer)
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def ingest(self, paths: list[Path]) -> IngestReport:
        """Upsert articles from files into a new generation and make it live."""
        with self._writer:
            options = self._ingest_options()
            report = ingest(paths, self.settings.index_dir, self._bulk_embedder, options)
            if report.changed or self._live is None:
                self._reload()
            return report

    def delete(self, doc_id: str) -> IngestReport:
        """Remove one article (KeyError when unknown) and make the new generation live."""
        with self._writer:
            live = self.require()
            if doc_id not in live.store.articles:
                raise KeyError(doc_id)
            report = delete_articles([doc_id], self.settings.index_dir, self._bulk_embedder)
            self._reload()
            return report

    def _ingest_options(self) -> IngestOptions:
        # Keep the live index's chunking so an upload never re-chunks the whole corpus.
        live = self._live
        if live is not None:
            manifest = live.store.manifest
            return IngestOptions(
                params=ChunkingParams(**manifest.chunking), faiss_kind=manifest.faiss_kind
            )
        params = ChunkingParams(max_tokens=self.embedder.max_tokens)
        return IngestOptions(params=params, faiss_kind=self.settings.faiss_kind)

    def _reload(self) -> None:
        try:
            store = open_index(self.settings.index_dir, self.embedder)
        except IndexNotFoundError:
            return
        self._make_live(store)

    def _make_live(self, store: IndexStore) -> None:
        generation = Generation(store, HybridRetriever(store))
        with self._swap:
            self._live = generation
        self.metrics.observe_index(store)
        log.info("index live", extra={"generation": generation.name, "chunks": len(store.chunks)})

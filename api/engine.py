"""The engine behind the API: the live index generation, swapped atomically after each ingest.

Readers take `engine.live` once per request and use that Generation to the end, so an answer
never mixes two generations; writers (upload, delete) are serialised, build the new
generation on disk, load it, and only then swap it in under a lock.

Another process (`rag ingest` into the same directory) publishes by switching the CURRENT
pointer; `refresh()` (called about once a second by the app) notices that with one stat,
loads the new generation off the request path and swaps it in the same way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from newsrag.api.embedders import EmbedGate, GatedEmbedder
from newsrag.api.errors import ApiError
from newsrag.api.metrics import Metrics
from newsrag.index import (
    ChunkingParams,
    Embedder,
    Hit,
    IndexNotFoundError,
    IndexStore,
    IndexStoreError,
    IngestOptions,
    IngestReport,
    delete_articles,
    open_index,
)
from newsrag.index.generations import CURRENT, current_generation, generation_number
from newsrag.index.ingest import ingest_loaded
from newsrag.index.loaders import LoadLimits, LoadResult
from newsrag.index.word_table import WordTable
from newsrag.rag.llm import ChatModel
from newsrag.rag.pipeline import AnswerPipeline, pipeline_over
from newsrag.rag.records import Answer, AnswerEvent, AnswerRequest
from newsrag.rag.settings import Settings
from newsrag.rag.vectors import CachedEmbedder, VectorCache

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Generation:
    """One loaded index generation and the answer pipeline over it; replaced whole."""

    store: IndexStore
    pipeline: AnswerPipeline

    @property
    def name(self) -> str | None:
        """The generation directory name, e.g. gen-000003."""
        return self.store.path.name if self.store.path else None


class Engine:
    """Holds the embedder, the model and the live generation; all methods are blocking."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        model: ChatModel | None,
        metrics: Metrics,
        *,
        words: WordTable | None = None,
    ) -> None:
        self.settings = settings
        gate = EmbedGate()
        self._gated = GatedEmbedder(embedder, gate, priority=True)  # answers
        # Answers embed the question and every sentence of the retrieved passages; the corpus
        # repeats, so the one vector cache (rag.vectors) sits in front of the gate; a text
        # another answer is embedding at the gate is waited for, not embedded twice.
        self.embedder = CachedEmbedder(self._gated, VectorCache(20_000), words=words)
        self._bulk_embedder = GatedEmbedder(embedder, gate, priority=False)  # ingests
        self.model = model
        self.metrics = metrics
        self._live: Generation | None = None
        self._swap = threading.Lock()
        self._writer = threading.Lock()  # loads of a new generation, one at a time
        self._seen: tuple[int, int] | None = None  # CURRENT's (inode, mtime) last acted on

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
        batching = self._gated.batch_queries_if_exact()
        log.info("query embedding", extra={"batched": batching, "embedder": self.embedder.name})
        self._seen = self._pointer()
        try:
            store = open_index(self.settings.index_dir, self.embedder)
        except IndexNotFoundError:
            log.warning("no index yet", extra={"index_dir": str(self.settings.index_dir)})
            return
        self._make_live(store)

    def refresh(self) -> bool:
        """Make live a generation another process published; False when nothing changed.

        One stat when CURRENT is unchanged. A generation that cannot be used (another
        embedder, corrupt) keeps the live one until CURRENT changes again; a file vanishing
        mid-read (a concurrent ingest collecting old generations) is retried next time.
        """
        pointer = self._pointer()
        if pointer == self._seen or not self._writer.acquire(blocking=False):
            return False  # unchanged, or an upload/delete is loading its generation
        try:
            current = current_generation(self.settings.index_dir)
            live = self._live
            if current is None or (live is not None and live.name == current.name):
                self._seen = pointer
                return False
            try:
                store = open_index(self.settings.index_dir, self.embedder)
            except IndexStoreError as exc:
                self._seen = pointer
                log.error("new index generation not loaded", extra={"error": str(exc)})
                return False
            except OSError as exc:
                log.warning("index changed while loading; retrying", extra={"error": str(exc)})
                return False
            self._seen = pointer
            self._make_live(store)
            self.metrics.index_swaps.labels("external").inc()
            return True
        finally:
            self._writer.release()

    def _pointer(self) -> tuple[int, int] | None:
        # A publish renames a new file over CURRENT: a new inode (and mtime) each time.
        try:
            stat = os.stat(self.settings.index_dir / CURRENT)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def search(self, request: AnswerRequest) -> list[Hit]:
        """Ranked passages from the live generation."""
        return self.require().pipeline.search(request)

    def ask(self, request: AnswerRequest) -> Answer:
        """A cited answer (degraded to extractive when the LLM fails)."""
        answer = self.require().pipeline.answer(request)
        self.metrics.observe_answer(answer)
        return answer

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Token events as the model writes, then one final answer event (lazy; 503 up front)."""
        return self._observed(self.require().pipeline.stream(request))

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

    def ingest(self, loaded: LoadResult) -> IngestReport:
        """Upsert articles loaded (parsed) already into a new generation and make it live.

        The files are cut and embedded before the index's writer lock is taken
        (index.ingest), so concurrent uploads and deletes wait for each other's commit only,
        never for another upload's embedding. Progress goes to /metrics meanwhile.
        """
        progress = _IngestProgress(self.metrics)
        options = replace(self._ingest_options(), on_progress=progress)
        self.metrics.ingest_running.inc()
        try:
            report = ingest_loaded(loaded, self.settings.index_dir, self._bulk_embedder, options)
        finally:
            self.metrics.ingest_running.dec()
            progress.close()
        if report.changed or self._live is None:
            self._reload()
            self.metrics.index_swaps.labels("api").inc()
        return report

    def delete(self, doc_id: str) -> IngestReport:
        """Remove one article (KeyError when unknown) and make the new generation live."""
        live = self.require()
        if doc_id not in live.store.articles:
            raise KeyError(doc_id)
        report = delete_articles([doc_id], self.settings.index_dir, self._bulk_embedder)
        self._reload()
        self.metrics.index_swaps.labels("api").inc()
        return report

    @property
    def bulk_embedder(self) -> Embedder:
        """The model for writers (ingest priority at the gate: answers go first)."""
        return self._bulk_embedder

    def ingest_options(self) -> IngestOptions:
        """Options of an ingest into the live index (its chunking kept; folder watch)."""
        return self._ingest_options()

    @property
    def limits(self) -> LoadLimits:
        """What one uploaded file may cost (RAG_MAX_ARTICLE_BYTES, RAG_MAX_TITLE_CHARS)."""
        return self.settings.load_limits()

    def _ingest_options(self) -> IngestOptions:
        # Keep the live index's chunking so an upload never re-chunks the whole corpus.
        live = self._live
        if live is not None:
            manifest = live.store.manifest
            return IngestOptions(
                params=ChunkingParams(**manifest.chunking),
                faiss_kind=manifest.faiss_kind,
                limits=self.limits,
            )
        params = ChunkingParams(max_tokens=self.embedder.max_tokens)
        return IngestOptions(params=params, faiss_kind=self.settings.faiss_kind, limits=self.limits)

    def _reload(self) -> None:
        with self._writer:  # one load at a time; refresh() skips while one runs
            try:
                store = open_index(self.settings.index_dir, self.embedder)
            except IndexNotFoundError:
                return
            self._seen = self._pointer()
            self._make_live(store)

    def _make_live(self, store: IndexStore) -> None:
        generation = Generation(store, pipeline_over(store, self.settings, model=self.model))
        with self._swap:
            live = self._live
            if live is not None and _number(live) > _number(generation):
                return  # a later generation is live already (two uploads finished at once)
            self._live = generation
        self.metrics.observe_index(store)
        log.info("index live", extra={"generation": generation.name, "chunks": len(store.chunks)})


def _number(generation: Generation) -> int:
    name = generation.name
    return generation_number(Path(name)) if name else 0


class _IngestProgress:
    """Adds one ingest's progress to the /metrics gauges (uploads may run side by side)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.total = 0
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != "embedding":
            return
        with self._lock:
            gauge = self.metrics.ingest_articles
            gauge.labels("total").inc(total - self.total)
            gauge.labels("done").inc(done - self.done)
            self.total, self.done = total, done

    def close(self) -> None:
        """Take this ingest's counts back out of the gauges."""
        self("embedding", 0, 0)

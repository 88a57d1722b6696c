"""`rag serve --watch PATH` (issue 17): a folder watch inside the service.

One thread runs index.watch over the folders with the engine's ingest-priority model (answers
keep their priority at the embedding gate); after each batch that published a generation the
engine swaps it in at once (its one-second CURRENT poll is the fallback). The index's writer
lock keeps it one writer at a time with uploads, deletes and outside `rag ingest` runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from newsrag.api.engine import Engine
from newsrag.index.errors import IndexStoreError
from newsrag.index.watch import FolderSync, WatchBatch, WatchOptions, watch_folders

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0  # a batch in flight finishes first (its commit is atomic either way)


class ServiceWatch:
    """The folder-watch thread of one app; `start` in the lifespan, `stop` at shutdown."""

    def __init__(self, engine: Engine, paths: Sequence[Path], options: WatchOptions) -> None:
        self.engine = engine
        self.paths = list(paths)
        self.options = options
        self.stop_event = threading.Event()
        self.ready = threading.Event()  # set once the first sync is done and events are seen
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="rag-watch", daemon=True)

    def start(self) -> None:
        """Start watching (the first sync of the folders runs in the thread, not at start-up)."""
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the watch thread is alive."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop after the batch in flight (bounded wait)."""
        self.stop_event.set()
        self._thread.join(timeout=STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("folder watch still busy at shutdown; leaving it to the exit")

    def _run(self) -> None:
        engine = self.engine
        try:
            sync = FolderSync(
                self.paths,
                engine.settings.index_dir,
                engine.bulk_embedder,
                engine.ingest_options(),
                self.options,
            )
            watch_folders(sync, self.stop_event, self._on_batch, ready=self.ready.set)
        except (IndexStoreError, ValueError, OSError) as exc:
            log.error("folder watch stopped", extra={"error": str(exc)})

    def _on_batch(self, batch: WatchBatch) -> None:
        self.batches += 1
        report = batch.report
        if batch.changed or (batch.initial and self.engine.live is None):
            self.engine.refresh()
        log.info(
            "watch batch",
            extra={
                "added": len(report.added),
                "updated": len(report.updated),
                "removed": len(report.removed),
                "failed": len(report.failed),
                "waiting": len(batch.waiting),
                "generation": report.generation,
            },
        )
        for failure in report.failed:
            log.warning("watched file not ingested: %s: %s", failure.path, failure.reason)

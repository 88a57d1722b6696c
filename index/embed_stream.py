"""EmbedStream: chunks are embedded on a background thread while the next articles are cut."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from newsrag.index.chunking import embed_input, short_title
from newsrag.index.embedding import Embedder
from newsrag.index.records import Chunk

# Below this many articles to embed, a progress bar is noise rather than feedback.
PROGRESS_MIN_ARTICLES = 100
# Chunks handed to the embedder at a time: large enough to keep its workers busy, small
# enough that chunking the next batch overlaps with embedding this one.
EMBED_BATCH = 256


class EmbedStream:
    """Embeds fresh chunks EMBED_BATCH at a time on a background thread, in order.

    The embedder's runtime releases the GIL, so the next articles are cut
    while the previous ones embed: chunking no longer adds to the wall time.
    """

    def __init__(
        self,
        embedder: Embedder,
        max_title_tokens: int,
        *,
        progress: bool,
        articles: int,
        on_articles: Callable[[int], None] | None = None,
    ) -> None:
        self.embedder = embedder
        self.max_title_tokens = max_title_tokens
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="embed")
        self._jobs: list[Future[np.ndarray]] = []
        self._pending: list[str] = []
        self._articles = 0  # articles in _pending
        self._titles: dict[str, str] = {}  # article title -> its short form, cut once
        self._bar = _progress_bar(articles) if progress else None
        self._on_articles = on_articles  # called with the articles embedded so far
        self._done = 0
        self._done_lock = threading.Lock()

    def __enter__(self) -> EmbedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._bar is not None:
            self._bar.close()

    def add(self, chunks: list[Chunk]) -> None:
        """Queue one article's chunks; a full batch starts embedding."""
        for chunk in chunks:
            if chunk.title not in self._titles:
                self._titles[chunk.title] = short_title(
                    chunk.title, self.max_title_tokens, self.embedder.count_tokens
                )
            self._pending.append(embed_input(self._titles[chunk.title], chunk.text))
        self._articles += 1
        if len(self._pending) >= EMBED_BATCH:
            self._submit()

    def vectors(self) -> np.ndarray:
        """(n, dim) vectors of every chunk added, in the order added."""
        self._submit()
        parts = [job.result() for job in self._jobs]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)

    def _submit(self) -> None:
        if not self._pending:
            return
        job = self._pool.submit(self.embedder.embed_passages, self._pending)
        if self._bar is not None:
            job.add_done_callback(functools.partial(_advance, self._bar, self._articles))
        if self._on_articles is not None:
            job.add_done_callback(functools.partial(self._report, self._articles))
        self._jobs.append(job)
        self._pending, self._articles = [], 0

    def _report(self, articles: int, _job: Future[np.ndarray]) -> None:
        with self._done_lock:
            self._done += articles
            done = self._done
        if self._on_articles is not None:
            self._on_articles(done)


def _advance(bar: Any, articles: int, _job: Future[np.ndarray]) -> None:
    """Move the bar on by a finished batch's articles."""
    bar.update(articles)


def _progress_bar(articles: int) -> Any:
    """A bar (tqdm) over the articles being embedded, on runs long enough to need one."""
    if articles < PROGRESS_MIN_ARTICLES:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=articles, desc="Embedding", unit="article")

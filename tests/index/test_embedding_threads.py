"""Word-piece counts stay exact while another thread embeds (ingest does both at once)."""

from __future__ import annotations

import threading
import time

from newsrag.index import SentenceTransformerEmbedder


def test_counting_is_never_truncated_while_another_thread_embeds(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # A fast tokenizer holds its truncation setting as state: embedding switches it on,
    # counting off. Shared between threads, counts came back cut at 256 (179 of 2,211 here).
    long = " ".join(f"w{i}" for i in range(300))
    expected = embedder.count_tokens([long])[0]
    assert expected > embedder.max_tokens
    stop = threading.Event()

    def embed_short_texts() -> None:
        while not stop.is_set():
            embedder.embed_passages(["a short query"])

    worker = threading.Thread(target=embed_short_texts)
    worker.start()
    counts: list[int] = []
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and len(counts) < 5000:
            counts.append(embedder.count_tokens([long])[0])
    finally:
        stop.set()
        worker.join(timeout=10)
    assert len(counts) > 100 and set(counts) == {expected}

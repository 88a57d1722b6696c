"""Smoke test of bench/watch.py on the shipped corpus: one drop, found, figures printed."""

from __future__ import annotations

from bench import watch as bench_watch
from newsrag.index import SentenceTransformerEmbedder


def test_watch_bench_times_a_drop_and_finds_it(embedder: SentenceTransformerEmbedder) -> None:
    args = bench_watch.parse_args(["--drops", "1", "--write-pause-ms", "50", "--bound-s", "30"])
    figures = bench_watch.run(args, embedder)
    assert figures["not_found"] == 0 and figures["base_articles"] == 3
    latency, embed = figures["latency_p50_s"], figures["embed_p50_s"]
    assert isinstance(latency, float) and isinstance(embed, float)
    assert 0 < embed < latency  # the drop waited for its write to settle, then was embedded
    assert figures["latency_minus_embed_p50_s"] == round(latency - embed, 3) or latency > 0

"""Extractive answer latency per eval set in a fresh process: wall and CPU ms, model runs.

    .venv/bin/python bench/answer_latency.py --datasets ../shared/datasets --sets all

Answers each set's gold questions as `rag eval --sets` does (the set's eval index under
--index-root, built by an earlier `rag eval`; the memory vector cache only, no disk cache),
and prints per set the wall-time p50/p95 per answer, the median CPU time per answer (the
fairer figure on a shared machine: wall time includes waiting for other processes), the load
average, and how many texts the embedding model ran per answer (each one text runs through the
model: what embedding fewer texts saves). Single words come from the model's word table
(index.word_table, built on first use) unless --no-word-table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import run_script, script_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    from newsrag.evals.suite import default_datasets_dir

    parser = script_parser(__doc__ or "")
    parser.add_argument("--datasets", type=Path, default=default_datasets_dir())
    parser.add_argument("--sets", default="all", help="all, or names (news, rgb-answer, ...)")
    parser.add_argument("--index-root", type=Path, default=Path(".rag/eval-index"))
    parser.add_argument(
        "--no-word-table",
        action="store_true",
        help="single words go to the model (the A side of the word table's A/B)",
    )
    return parser.parse_args(argv)


class _CountingModel:
    """Counts the texts reaching the model (each is one run for onnx-int8)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts = 0
        self.calls = 0
        original = inner.embed_passages

        def counted(texts: list[str]) -> np.ndarray:
            self.texts += len(texts)
            self.calls += 1
            return original(texts)

        inner.embed_passages = counted  # embed_query goes through it too


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Answer every question of each set; figures per set."""
    from newsrag.evals.goldset import load_gold
    from newsrag.evals.suite import gate_sets
    from newsrag.index import open_index
    from newsrag.rag.components import load_embedder
    from newsrag.rag.pipeline import cached, pipeline_over
    from newsrag.rag.records import AnswerRequest
    from newsrag.rag.settings import Settings
    from newsrag.rag.vectors import CachedEmbedder, VectorCache

    names = None if args.sets == "all" else [s.strip() for s in args.sets.split(",")]
    sets, skipped = gate_sets(args.datasets, "extractive", names=names)
    settings = Settings()
    figures: dict[str, Any] = {"skipped": skipped}
    for item in sets:
        index_dir = args.index_root / item.name
        if not index_dir.is_dir():
            figures[item.name] = f"no index at {index_dir}: run `rag eval --sets` first"
            continue
        inner = load_embedder(settings)  # a fresh model and memory cache per set: cold
        counter = _CountingModel(inner)
        if args.no_word_table:
            store = open_index(index_dir, CachedEmbedder(inner, VectorCache()))
        else:
            store = open_index(index_dir, cached(inner))  # with the model's word table
        pipeline = pipeline_over(store, settings, model=None)
        walls, cpus = [], []
        load = os.getloadavg()[0]
        for gold in load_gold(item.gold):
            wall, cpu = time.perf_counter(), time.process_time()
            pipeline.answer(AnswerRequest(gold.question))
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        figures[item.name] = {
            "questions": len(walls),
            "wall_p50_ms": round(float(np.percentile(walls, 50)), 1),
            "wall_p95_ms": round(float(np.percentile(walls, 95)), 1),
            "cpu_p50_ms": round(float(np.percentile(cpus, 50)), 1),
            "model_texts_per_answer": round(counter.texts / len(walls), 1),
            "model_calls_per_answer": round(counter.calls / len(walls), 1),
            "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
        }
    return figures


if __name__ == "__main__":
    run_script(parse_args, run)

"""Ingest throughput: articles/s, chunks/s, tokens/s and peak RSS for a folder or BEIR corpus.jsonl.

    .venv/bin/python bench/ingest.py ../shared/datasets/beir-scifact [--backend B] [--limit N]

The index goes to a temporary directory (or --index-dir) and the run starts from nothing, so
every article is embedded; the model load is timed apart from the ingest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import corpus_input, emit, head_jsonl, load_note, peak_rss_mb, stopwatch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="corpus folder, file, or BEIR dataset folder")
    parser.add_argument("--backend", default=None, help="embedding backend (default: project's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--faiss", default="flat", help="FAISS kind: flat, hnsw, ivf-sq8, ivf-pq")
    parser.add_argument("--limit", type=int, default=0, help="only the first N records (.jsonl)")
    parser.add_argument("--index-dir", type=Path, default=None, help="keep the index here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, embedder: object | None = None) -> dict[str, object]:
    """Ingest `args.path` from scratch and return the throughput figures."""
    from newsrag.index import IngestOptions, create_embedder, ingest

    before = load_note()
    with stopwatch() as load_s:
        if embedder is None:
            kwargs = {"backend": args.backend} if args.backend else {}
            embedder = create_embedder(batch_size=args.batch_size, **kwargs)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        source = corpus_input(args.path)
        if args.limit and source.suffix == ".jsonl":
            source = head_jsonl(source, args.limit, Path(tmp) / "input")
        index_dir = args.index_dir or Path(tmp) / "index"
        options = IngestOptions(faiss_kind=args.faiss, rebuild=True)
        with stopwatch() as ingest_s:
            report = ingest([source], index_dir, embedder, options)  # type: ignore[arg-type]
    seconds = ingest_s[0]
    articles = len(report.added) + len(report.updated)
    return {
        "corpus": str(args.path),
        "embedder": getattr(embedder, "name", "?"),
        "backend": getattr(embedder, "backend", "?"),
        "articles": articles,
        "failed": len(report.failed),
        "chunks": report.chunks_embedded,
        "tokens": report.tokens_embedded,
        "model_load_s": round(load_s[0], 2),
        "ingest_s": round(seconds, 2),
        "articles_per_s": round(articles / seconds, 1),
        "chunks_per_s": round(report.chunks_embedded / seconds, 1),
        "tokens_per_s": round(report.tokens_embedded / seconds),
        "peak_rss_mb": round(peak_rss_mb()),
        "load_before": before,
        "load_after": load_note(),
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    emit(run(args), as_json=args.json)


if __name__ == "__main__":
    main()

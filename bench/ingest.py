"""Ingest throughput: articles/s, chunks/s, tokens/s and peak RSS for a folder or BEIR corpus.jsonl.

    .venv/bin/python bench/ingest.py ../shared/datasets/beir-scifact [--backend B] [--limit N]
    .venv/bin/python bench/ingest.py ../shared/datasets/beir-scifact --ray --limit 1000

The index goes to a temporary directory (or --index-dir) and the run starts from nothing, so
every article is embedded; the model load is timed apart from the ingest. With --ray the same
input is also ingested on a local Ray instance (index.distributed) with 1 and then 2 workers,
after the local run, in one process: docs/s and word pieces per CPU-second (driver plus every
Ray process) for each, Ray 2 workers against local, and the scaling efficiency
(2-worker docs/s over twice the 1-worker docs/s). Worker start-up (model loads) is timed apart.

    .venv/bin/python bench/ingest.py --incremental [--articles 100000] [--scifact DIR]

--incremental measures segments (issue 17): with a word-hashing test embedder (so index work
is measured apart from embedding) on N synthetic articles, one file each, and then with the
real embedder on the first 3,000 SciFact abstracts (skipped with a message when the dataset is
absent): the time to add 10 articles (their files given, as a watcher or an upload does, and
through a scan of the whole folder) against a full rewrite of the same index in the same run
(`compact`, which writes what every ingest wrote before segments, minus re-reading the
files), the re-ingest of the unchanged folder (also "cold": with the manifest read again, as a
fresh `rag ingest` process reads it), and hybrid search p50 over 10 segments against
the compacted single segment (same queries, after one untimed pass, in alternating order;
results must be identical). Medians of --repeat runs. --search-only builds the index and
measures the search only (the real-embedder build is most of the run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    corpus_input,
    emit,
    head_jsonl,
    load_note,
    peak_rss_mb,
    script_parser,
    stopwatch,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument(
        "path", type=Path, nargs="?", help="corpus folder, file, or BEIR dataset folder"
    )
    parser.add_argument("--backend", default=None, help="embedding backend (default: project's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--faiss", default="flat", help="FAISS kind: flat, hnsw, ivf-sq8, ivf-pq")
    parser.add_argument("--limit", type=int, default=0, help="only the first N records (.jsonl)")
    parser.add_argument("--index-dir", type=Path, default=None, help="keep the index here")
    parser.add_argument("--ray", action="store_true", help="also on Ray, 1 and 2 workers")
    parser.add_argument("--incremental", action="store_true", help="segments: add, re-ingest")
    parser.add_argument("--articles", type=int, default=100_000, help="synthetic articles")
    parser.add_argument(
        "--scifact",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "beir-scifact",
        help="BEIR SciFact folder for the real-embedder case",
    )
    parser.add_argument(
        "--cases", default="hash,scifact", help="which of hash,scifact to run (--incremental)"
    )
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="--incremental: build, then only the 10-segment vs 1-segment search p50",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--queries", type=int, default=60, help="search queries per store")
    args = parser.parse_args(argv)
    if args.path is None and not args.incremental:
        parser.error("a corpus path is needed (or --incremental)")
    return args


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


def run_ray(args: argparse.Namespace) -> dict[str, object]:
    """Local ingest, then Ray with 1 and 2 workers, of the same input; figures and ratios."""
    from newsrag.index import IngestOptions, SentenceTransformerEmbedder, ingest
    from newsrag.index.distributed import RayOptions, RayWorkers, ingest_on_ray, require_ray

    kwargs = {"backend": args.backend} if args.backend else {}
    embedder = SentenceTransformerEmbedder(**kwargs)
    ray = require_ray(local=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-ray-") as tmp:
        source = corpus_input(args.path)
        if args.limit and source.suffix == ".jsonl":
            source = head_jsonl(source, args.limit, Path(tmp) / "input")
        options = IngestOptions(faiss_kind=args.faiss, rebuild=True)
        with _cpu_clock() as cpu, stopwatch() as wall:
            report = ingest([source], Path(tmp) / "local", embedder, options)
        rows.append(_row("local", report, wall[0], cpu[0], 0.0))
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
        try:
            for workers in (1, 2):
                ray_options = RayOptions(workers=workers, **kwargs)
                begun = time.perf_counter()
                with RayWorkers(ray_options) as pool:
                    started = round(time.perf_counter() - begun, 2)
                    with _cpu_clock() as cpu, stopwatch() as wall:
                        target = Path(tmp) / f"ray{workers}"
                        report = ingest_on_ray([source], target, embedder, options, workers=pool)
                    rows.append(_row(f"ray-{workers}", report, wall[0], cpu[0], started))
        finally:
            ray.shutdown()
    by = {str(r["run"]): r for r in rows}
    docs = {k: float(v["docs_per_s"]) for k, v in by.items()}  # type: ignore[arg-type]
    return {
        "corpus": str(args.path),
        "embedder": embedder.name,
        "runs": rows,
        "ray2_vs_local_docs_per_s": round(docs["ray-2"] / docs["local"], 3),
        "scaling_efficiency_1_to_2": round(docs["ray-2"] / (2 * docs["ray-1"]), 3),
        "load": load_note(),
    }


@contextmanager
def _cpu_clock() -> Iterator[list[float]]:
    """CPU seconds (user + system) of this process and all its children, Ray's included."""
    import psutil

    def times() -> dict[int, float]:
        found = {}
        for proc in [psutil.Process(), *psutil.Process().children(recursive=True)]:
            with suppress(psutil.Error):
                t = proc.cpu_times()
                found[proc.pid] = t.user + t.system
        return found

    box, before = [0.0], times()
    try:
        yield box
    finally:
        box[0] = sum(v - before.get(pid, 0.0) for pid, v in times().items())


def _row(run_name: str, report: object, wall: float, cpu: float, start_s: float) -> dict:
    """One run's figures."""
    docs = len(report.added) + len(report.updated)  # type: ignore[attr-defined]
    tokens = report.tokens_embedded  # type: ignore[attr-defined]
    return {
        "run": run_name,
        "docs": docs,
        "chunks": report.chunks_embedded,  # type: ignore[attr-defined]
        "ingest_s": round(wall, 2),
        "docs_per_s": round(docs / wall, 2),
        "tokens_per_cpu_s": round(tokens / cpu) if cpu else 0,
        "cpu_s": round(cpu, 1),
        "workers_start_s": start_s,
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    if args.incremental:
        from bench.ingest_segments import run_incremental

        emit(run_incremental(args), as_json=args.json)
        return
    if not args.ray:
        emit(run(args), as_json=args.json)
        return
    figures = run_ray(args)
    if args.json:
        emit(figures, as_json=True)
        return
    rows = figures.pop("runs")
    print(f"{'run':<7} {'docs':>6} {'ingest_s':>9} {'docs/s':>7} {'wp/cpu-s':>9} {'start_s':>8}")
    for r in rows:  # type: ignore[attr-defined]
        print(
            f"{r['run']:<7} {r['docs']:>6} {r['ingest_s']:>9} {r['docs_per_s']:>7} "
            f"{r['tokens_per_cpu_s']:>9} {r['workers_start_s']:>8}"
        )
    emit(figures, as_json=False)


if __name__ == "__main__":
    main()

"""Retrieval quality on a BEIR dataset: nDCG@10, recall@100 and MRR@10 per retrieval mode.

    .venv/bin/python bench/beir.py ../shared/datasets/beir-scifact [--backend B]
    .venv/bin/python bench/beir.py $D --backends torch,onnx-int8 --vector-cache /tmp/v

The corpus is ingested with the project's own ingest (one article per document) into
--index-dir (default bench/out/beir-<dataset>-<embedder>; an unchanged corpus is not
re-embedded), each test query goes through the project's HybridRetriever, and passage hits
are aggregated to documents by their best passage (max score per document) over a pool of
--pool passages, so chunking cannot hide a document that one of its passages matches.
--backends runs several embedders over the same passages in one run (an index each, under
--index-root) and prints each one's figures and every metric's difference from the first.
--vector-cache keeps passage vectors in a sqlite file per embedder as each batch is embedded,
so a run killed mid-ingest loses at most one batch and a rerun embeds only what is missing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BeirData,
    head_jsonl,
    iter_jsonl,
    load_beir,
    load_note,
    mean,
    mrr_at,
    ndcg_at,
    peak_rss_mb,
    recall_at,
    run_script,
    script_parser,
    stopwatch,
)

ROOT = Path(__file__).resolve().parents[1]
# Published nDCG@10 on SciFact (see the dataset's SOURCE.md).
REFERENCES = {
    "dense": "all-MiniLM-L6-v2 0.645 (MTEB)",
    "bm25": "BM25 0.665 (BEIR) / 0.687 (bm25s, MTEB)",
    "hybrid": "target >= 0.727 (issue 12)",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("dataset", type=Path, help="BEIR folder: corpus.jsonl, queries, qrels/")
    parser.add_argument("--backend", default=None, help="embedding backend (default: project's)")
    parser.add_argument(
        "--backends", default="", help="comma-separated backends compared in one run (first: peer)"
    )
    parser.add_argument("--index-dir", type=Path, default=None, help="index (one backend)")
    parser.add_argument(
        "--index-root", type=Path, default=None, help="parent of the indexes (default bench/out)"
    )
    parser.add_argument(
        "--vector-cache", type=Path, default=None, help="keep passage vectors here (sqlite)"
    )
    parser.add_argument(
        "--modes", default="dense,bm25,hybrid", help="any of dense, bm25, hybrid, hybrid-plain"
    )
    parser.add_argument("--pool", type=int, default=300, help="passages retrieved per query")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents")
    parser.add_argument(
        "--subset", type=int, default=0, help="only the judged documents plus N random others"
    )
    parser.add_argument("--split", default="test")
    parser.add_argument("--target-tokens", type=int, default=0, help="chunk size (0: default)")
    parser.add_argument("--overlap-tokens", type=int, default=-1, help="overlap (-1: default)")
    return parser.parse_args(argv)


def judged_subset(data: BeirData, others: int, target_dir: Path) -> Path:
    """A smaller corpus for quick A/B runs: every judged document plus `others` seeded picks."""
    judged = {doc for rel in data.qrels.values() for doc in rel}
    rows = list(iter_jsonl(data.corpus))
    rest = [i for i, r in enumerate(rows) if r["_id"] not in judged]
    judged_rows = {i for i, r in enumerate(rows) if r["_id"] in judged}
    keep = judged_rows | set(random.Random(0).sample(rest, min(others, len(rest))))
    target = target_dir / "corpus.jsonl"
    with target.open("w", encoding="utf-8") as handle:
        for i in sorted(keep):
            handle.write(json.dumps(rows[i]) + "\n")
    return target


def chunking_params(args: argparse.Namespace) -> object:
    """The project's chunking defaults, with --target-tokens / --overlap-tokens applied."""
    from newsrag.index import ChunkingParams

    changes: dict[str, int] = {}
    if args.target_tokens:
        changes["target_tokens"] = args.target_tokens
    if args.overlap_tokens >= 0:
        changes["overlap_tokens"] = args.overlap_tokens
    return ChunkingParams(**changes)


def rank_documents(hits: list, k: int) -> list[str]:
    """Document ids ordered by their best passage (hits come best first)."""
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))[:k]


def evaluate(store: object, data: object, mode: str, pool: int) -> dict[str, float]:
    """Mean nDCG@10, recall@100 and MRR@10 of one retrieval mode over the queries."""
    from newsrag.rag.retrieval import CONSTRAINT_WEIGHT, HybridRetriever

    # collapse=False: dropping overlapping windows is what max-per-document aggregation does
    # anyway, and its pairwise checks over hundreds of passages would dominate the timing.
    # "hybrid-plain": hybrid without the time/series-pick promotion (rag.retrieval), to
    # show what the constraints change.
    plain = mode.endswith("-plain")
    retriever = HybridRetriever(
        store,  # type: ignore[arg-type]
        mode=mode.removesuffix("-plain"),  # type: ignore[arg-type]
        collapse=False,
        constraint_weight=0.0 if plain else CONSTRAINT_WEIGHT,
    )
    ndcg, recall, mrr = [], [], []
    with stopwatch() as seconds:
        for qid, text in data.queries.items():  # type: ignore[attr-defined]
            relevant = data.qrels[qid]  # type: ignore[attr-defined]
            ranked = rank_documents(retriever.search(text, pool), 100)
            ndcg.append(ndcg_at(ranked, relevant, 10))
            recall.append(recall_at(ranked, relevant, 100))
            mrr.append(mrr_at(ranked, relevant, 10))
    n = max(len(ndcg), 1)
    return {
        "ndcg@10": round(mean(ndcg), 4),
        "recall@100": round(mean(recall), 4),
        "mrr@10": round(mean(mrr), 4),
        "ms_per_query": round(1000 * seconds[0] / n, 1),
    }


@contextmanager
def _single_thread_queries() -> Iterator[None]:
    """One torch thread for one-query batches: on a busy 2-core box two threads wait on each
    other (measured 55 ms vs 1.1 s per query); bulk ingest keeps both threads, so the count is
    restored afterwards (the next backend of --backends ingests with all of them)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def make_embedder(backend: str | None, vector_cache: Path | None) -> object:
    """The project's embedder on `backend`, behind a per-batch sqlite vector cache if asked."""
    from newsrag.index import create_embedder

    embedder = create_embedder(**({"backend": backend} if backend else {}))
    if vector_cache is None:
        return embedder
    from newsrag.rag.vectors import CachedEmbedder, DiskVectors, VectorCache

    # Large enough for any BEIR corpus run here (SciFact: 14,773 passages per embedder).
    disk = DiskVectors(vector_cache, embedder.name, embedder.dim, max_rows=10_000_000)
    return CachedEmbedder(embedder, VectorCache(1), disk)


def run(args: argparse.Namespace, embedder: object | None = None) -> dict[str, object]:
    """Ingest (or reuse) each backend's index, evaluate each mode, return figures."""
    from newsrag.index.backends import BACKENDS

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in [*backends, args.backend or BACKENDS[0]] if b not in BACKENDS]
    if unknown:  # before any ingest: a typo must not cost a torch run first
        raise SystemExit(f"unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
    if embedder is not None or len(backends) < 2:
        if embedder is None:
            embedder = make_embedder(backends[0] if backends else args.backend, args.vector_cache)
        return run_one(args, embedder)
    if args.index_dir is not None:
        raise SystemExit("--index-dir names one index; with --backends use --index-root")
    per_backend: dict[str, dict[str, object]] = {}
    for backend in backends:
        figures = run_one(args, make_embedder(backend, args.vector_cache))
        per_backend[str(figures["embedder"])] = figures
        print(f"{backend}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    names = list(per_backend)
    peer = per_backend[names[0]]
    difference: dict[str, dict[str, float]] = {}
    for name in names[1:]:
        for mode in args.modes.split(","):
            ours, theirs = per_backend[name][mode], peer[mode]
            assert isinstance(ours, dict) and isinstance(theirs, dict)
            difference[f"{name} - {names[0]} ({mode})"] = {
                metric: round(float(ours[metric]) - float(theirs[metric]), 4)
                for metric in ("ndcg@10", "recall@100", "mrr@10")
            }
    same_passages = len({int(str(f["chunks"])) for f in per_backend.values()}) == 1
    return {
        "backends": per_backend,
        "difference": difference,
        "same_passages": same_passages,
        "load": load_note(),
    }


def run_one(args: argparse.Namespace, embedder: object) -> dict[str, object]:
    """Ingest (or reuse) one embedder's index, evaluate each mode, return figures."""
    from newsrag.index import IngestOptions, ingest, open_index

    data = load_beir(args.dataset, args.split)
    name = getattr(embedder, "name", "embedder").replace("/", "_").replace("@", "-")
    scope = f"-subset{args.subset}" if args.subset else f"-head{args.limit}" if args.limit else ""
    if args.target_tokens or args.overlap_tokens >= 0:
        scope += f"-t{args.target_tokens}-o{args.overlap_tokens}"
    root = args.index_root or ROOT / "bench" / "out"
    index_dir = args.index_dir or root / f"beir-{args.dataset.name}{scope}-{name}"
    with tempfile.TemporaryDirectory(prefix="bench-beir-") as tmp:
        corpus = data.corpus
        if args.limit:
            corpus = head_jsonl(corpus, args.limit, Path(tmp))
        elif args.subset:
            corpus = judged_subset(data, args.subset, Path(tmp))
        cpu = time.process_time()
        with stopwatch() as ingest_s:
            # prune: the index dir holds exactly this corpus
            options = IngestOptions(params=chunking_params(args), prune=True, progress=True)
            report = ingest([corpus], index_dir, embedder, options)  # type: ignore[arg-type]
        ingest_cpu_s = max(time.process_time() - cpu, 1e-9)
    store = open_index(index_dir, embedder)  # type: ignore[arg-type]
    figures: dict[str, object] = {
        "dataset": args.dataset.name,
        "queries": len(data.queries),
        "documents": len(store.articles),
        "failed_documents": len(report.failed),
        "chunks": len(store.chunks),
        "chunking": store.manifest.chunking,
        "embedder": getattr(embedder, "name", "?"),
        "ingest_s": round(ingest_s[0], 1),
        "chunks_embedded": report.chunks_embedded,
        "tokens_embedded": report.tokens_embedded,
        "tokens_per_s": round(report.tokens_embedded / max(ingest_s[0], 1e-9)),
        "tokens_per_cpu_s": round(report.tokens_embedded / ingest_cpu_s),
    }
    with _single_thread_queries():
        for mode in args.modes.split(","):
            result = evaluate(store, data, mode, args.pool)
            figures[mode] = {**result, "published": REFERENCES.get(mode, "")}
    figures["peak_rss_mb"] = round(peak_rss_mb())
    figures["load"] = load_note()
    return figures


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    run_script(parse_args, run, argv)


if __name__ == "__main__":
    main()

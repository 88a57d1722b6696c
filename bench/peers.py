"""Ours vs LlamaIndex on the same machine, model and corpus, in one run, with ratios.

    .venv/bin/python bench/peers.py ../shared/datasets/beir-scifact [--subset 1000]

The peer is LlamaIndex's default pipeline (VectorStoreIndex + HuggingFaceEmbedding on the
bundled all-MiniLM-L6-v2 path), installed by this script into .venv-peers (gitignored; torch
pinned first so no CUDA wheels come in), never a dependency of the project. Each side runs
in its own subprocess, one after the other, and prints JSON: ingest wall time, docs/s, peak
RSS, single-query latency p50/p95 (embed + search, top 10) and nDCG@10 on the test queries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.index import Embedder

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    emit,
    load_beir,
    load_note,
    mean,
    ndcg_at,
    peak_rss_mb,
    percentile,
    script_parser,
    stopwatch,
)

ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = ROOT / ".venv-peers"
PEER_PACKAGES = ["llama-index-core", "llama-index-embeddings-huggingface"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("dataset", type=Path, nargs="?", help="BEIR folder")
    parser.add_argument("--subset", type=int, default=0, help="judged docs + N others (0: all)")
    parser.add_argument("--pool", type=int, default=100, help="passages pooled for nDCG")
    parser.add_argument(
        "--peer-whole-documents",
        action="store_true",
        help="split the peer's documents by word pieces so it embeds all of them, as ours does "
        "(its default cuts each input at 256 word pieces): a same-work comparison",
    )
    parser.add_argument("--side", choices=("ours",), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def ensure_peer_venv() -> float:
    """Create .venv-peers with LlamaIndex once; returns install seconds (0 when present)."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import llama_index.embeddings.huggingface"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return 0.0
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # the CPU wheel; unpinned pulls CUDA
    subprocess.run([*pip, *PEER_PACKAGES], check=True)
    return time.perf_counter() - start


def ours(spec: dict, embedder: Embedder | None = None) -> dict[str, object]:
    """Our side: project ingest into a fresh index, HybridRetriever defaults for queries.

    `embedder`: the one to ingest and query with (default: the configured one, loaded here).
    """
    from newsrag.index import IngestOptions, ingest, open_index
    from newsrag.rag.components import load_embedder
    from newsrag.rag.retrieval import HybridRetriever
    from newsrag.rag.settings import Settings

    if embedder is None:
        embedder = load_embedder(Settings())
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        cpu = time.process_time()
        with stopwatch() as ingest_s:
            report = ingest([Path(spec["corpus"])], Path(tmp) / "index", embedder, IngestOptions())
            store = open_index(Path(tmp) / "index", embedder)
        ingest_cpu_s = max(time.process_time() - cpu, 1e-6)
        load_after = os.getloadavg()[0]
        retriever = HybridRetriever(store)
        deep = HybridRetriever(store, collapse=False)
        latencies, ndcg = [], []
        for qid, text in spec["queries"].items():
            start = time.perf_counter()
            retriever.search(text, 10)
            latencies.append(1000 * (time.perf_counter() - start))
            hits = deep.search(text, spec["pool"])
            ranked = list(dict.fromkeys(h.chunk.doc_id for h in hits))
            ndcg.append(ndcg_at(ranked, spec["qrels"][qid]))
    docs = len(report.added) + len(report.updated)
    return {
        "system": f"ours (hybrid, {embedder.name})",
        "documents": docs,
        "ingest_s": round(ingest_s[0], 1),
        "docs_per_s": round(docs / ingest_s[0], 1),
        "ingest_cpu_s": round(ingest_cpu_s, 1),  # all threads: fairer on a shared machine
        "docs_per_cpu_s": round(docs / ingest_cpu_s, 2),
        "tokens_embedded": report.tokens_embedded,
        "tokens_per_cpu_s": round(report.tokens_embedded / ingest_cpu_s),
        "load_1min": f"{load_before:.2f} -> {load_after:.2f}",
        "peak_rss_mb": round(peak_rss_mb()),
        "query_p50_ms": round(percentile(latencies, 50), 1),
        "query_p95_ms": round(percentile(latencies, 95), 1),
        "ndcg@10": round(mean(ndcg), 4),
    }


def side(command: list[str]) -> dict[str, object]:
    """Run one side in a subprocess and parse the JSON object it prints last."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{command[1]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def compare(args: argparse.Namespace) -> dict[str, object]:
    """Both sides on the same corpus; ratios are ours relative to the peer."""
    from bench.beir import judged_subset
    from newsrag.index.embedding import bundled_model_path

    install_s = ensure_peer_venv()
    data = load_beir(args.dataset)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        corpus = judged_subset(data, args.subset, Path(tmp)) if args.subset else data.corpus
        spec = {
            "corpus": str(corpus),
            "queries": data.queries,
            "qrels": data.qrels,
            "pool": args.pool,
            "model_path": str(bundled_model_path()),
            "whole_documents": args.peer_whole_documents,
        }
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        mine = side(
            [sys.executable, str(Path(__file__)), "--side", "ours", "--spec", str(spec_path)]
        )
        peer_python = str(PEER_VENV / "bin" / "python")
        peer = side([peer_python, str(ROOT / "bench" / "peer_llamaindex.py"), str(spec_path)])
    return {
        "corpus": f"{args.dataset.name}" + (f" (judged + {args.subset})" if args.subset else ""),
        "peer_install_s": round(install_s, 1),
        "ours": mine,
        "peer": peer,
        "ingest_throughput_x": round(float(mine["docs_per_s"]) / float(peer["docs_per_s"]), 2),
        "ingest_cpu_x": round(float(mine["docs_per_cpu_s"]) / float(peer["docs_per_cpu_s"]), 2),
        "tokens_per_cpu_s_x": round(
            float(mine["tokens_per_cpu_s"]) / float(peer["tokens_per_cpu_s"]), 2
        ),
        "query_p50_ratio": round(float(mine["query_p50_ms"]) / float(peer["query_p50_ms"]), 3),
        "ndcg_delta": round(float(mine["ndcg@10"]) - float(peer["ndcg@10"]), 4),
        "load": load_note(),
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point (also the `--side ours` subprocess)."""
    args = parse_args(argv)
    if args.side == "ours":
        print(json.dumps(ours(json.loads(args.spec.read_text(encoding="utf-8")))))
        return
    if args.dataset is None:
        raise SystemExit("give the BEIR dataset folder")
    emit(compare(args), as_json=args.json)


if __name__ == "__main__":
    main()

"""Embedding speed per backend: tokens/s (wall and per CPU-second) and cosine to torch fp32.

    .venv/bin/python bench/embed.py ../shared/datasets/beir-scifact --docs 150

Chunks the first --docs articles with the project's chunker, then embeds the same passages
with each backend (torch fp32, ONNX Runtime fp32 and int8 - int8 runs one text at a time,
see index.backends - and OpenVINO fp32 when installed), plus torch over batches in arrival
order instead of sorted by length. Each row names its embedder (recipe version included).
CPU-seconds are the fairer figure on a shared machine: wall time includes waiting for other
processes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.common import corpus_input, head_jsonl, load_note, run_script, script_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("path", type=Path, help="corpus folder/file or BEIR dataset folder")
    parser.add_argument("--docs", type=int, default=150, help="articles to chunk and embed")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,openvino")
    parser.add_argument("--cache-dir", type=Path, default=None, help="exported models")
    return parser.parse_args(argv)


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def passages(path: Path, docs: int, count: object, tmp: Path) -> list[str]:
    """Embedded inputs (short title + passage) of the first `docs` articles' chunks."""
    from newsrag.index import ChunkingParams, chunk_article, load_paths
    from newsrag.index.chunking import embed_input

    source = corpus_input(path)
    if source.suffix == ".jsonl":
        source = head_jsonl(source, docs, tmp)
    articles = load_paths([source]).articles[:docs]
    chunks = [c for a in articles for c in chunk_article(a, ChunkingParams(), count)]  # type: ignore[arg-type]
    return [embed_input(c.title, c.text) for c in chunks]


def timed(embed: object, texts: list[str]) -> tuple[np.ndarray, float, float]:
    """Vectors, wall seconds and CPU seconds of one embedding pass."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    vectors = embed(texts)  # type: ignore[operator]
    return vectors, time.perf_counter() - wall, cpu_seconds() - cpu


def run(args: argparse.Namespace) -> dict[str, object]:
    """Embed the same passages with every backend and compare."""
    import tempfile

    from newsrag.index import SentenceTransformerEmbedder, create_embedder
    from newsrag.index.backends import BackendUnavailableError, check_backend

    torch_embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        texts = passages(args.path, args.docs, torch_embedder.count_tokens, Path(tmp))
    tokens = sum(torch_embedder.count_tokens(texts))
    reference, rows = None, {}
    for backend in args.backends.split(","):
        try:
            check_backend(backend)
        except BackendUnavailableError as exc:
            rows[backend] = {"skipped": str(exc)}
            continue
        embedder = create_embedder(backend=backend, cache_dir=args.cache_dir)
        embedder.embed_passages(texts[:8])  # warm up
        vectors, wall, cpu = timed(embedder.embed_passages, texts)
        reference = vectors if reference is None else reference
        rows[backend] = {"embedder": embedder.name} | _row(vectors, reference, tokens, wall, cpu)
        if backend == "torch":
            vectors, wall, cpu = timed(lambda t: _unsorted(torch_embedder, t), texts)
            rows["torch (arrival order)"] = _row(vectors, reference, tokens, wall, cpu)
    return {"passages": len(texts), "tokens": tokens, "backends": rows, "load": load_note()}


def _unsorted(embedder: object, texts: list[str]) -> np.ndarray:
    """Torch over batches in arrival order (sentence-transformers sorts within one call)."""
    size = getattr(embedder, "batch_size", 64)
    parts = [embedder.embed_passages(texts[i : i + size]) for i in range(0, len(texts), size)]  # type: ignore[attr-defined]
    return np.concatenate(parts)


def _row(vectors: np.ndarray, reference: np.ndarray, tokens: int, wall: float, cpu: float) -> dict:
    cosine = (vectors * reference).sum(axis=1)  # (n,)
    return {
        "tokens_per_s": round(tokens / wall),
        "tokens_per_cpu_s": round(tokens / cpu),
        "cosine_min": round(float(cosine.min()), 4),
        "cosine_mean": round(float(cosine.mean()), 5),
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    run_script(parse_args, run, argv)


if __name__ == "__main__":
    main()

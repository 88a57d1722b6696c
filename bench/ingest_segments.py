"""`bench/ingest.py --incremental`: what an update costs with segments (issue 17).

See bench/ingest.py for the command line. Two cases: a word-hashing test embedder on N
synthetic articles (index work apart from embedding) and the real embedder on SciFact.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import iter_jsonl, load_note, peak_rss_mb
from bench.hashing import HashingEmbedder

TARGETS = {"add_10_s": 1.0, "add_vs_rewrite": 50.0, "reingest_s": 3.0, "search_ratio": 1.3}


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent embedding passages."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim  # type: ignore[attr-defined]
        self.max_tokens = inner.max_tokens  # type: ignore[attr-defined]
        self.seconds = 0.0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)  # type: ignore[attr-defined,no-any-return]

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed_passages(texts)  # type: ignore[attr-defined,no-any-return]
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)  # type: ignore[attr-defined,no-any-return]


def _vocabulary(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(n)]


def _write_synthetic(folder: Path, start: int, count: int, vocab: list[str]) -> list[Path]:
    """`count` articles of ~80 Zipf-distributed invented words, one markdown file each."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = [1 / (r + 1) for r in range(len(vocab))]
    paths = []
    for i in range(start, start + count):
        rng = random.Random(i)
        words = rng.choices(vocab, weights, k=80)
        path = folder / f"s{i:07d}.md"
        title = " ".join(words[:5])
        path.write_text(f'---\ntitle: "{title}"\n---\n{" ".join(words)}.\n', "utf-8")
        paths.append(path)
    return paths


def _write_scifact(source: Path, folder: Path, start: int, count: int) -> list[Path]:
    """SciFact abstracts start..start+count-1, one JSON-lines file of 10 per file."""
    folder.mkdir(parents=True, exist_ok=True)
    import json

    rows = []
    for i, row in enumerate(iter_jsonl(source)):
        if i >= start + count:
            break
        if i >= start:
            rows.append({"id": str(row["_id"]), "title": row.get("title"), "text": row["text"]})
    paths = []
    for k in range(0, len(rows), 10):
        path = folder / f"part-{start + k:06d}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows[k : k + 10]), "utf-8")
        paths.append(path)
    return paths


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _case(
    label: str,
    embedder: TimedEmbedder,
    corpus: Path,
    add: Callable[[int], list[Path]],
    queries: list[str],
    args: argparse.Namespace,
) -> dict[str, object]:
    from newsrag.index import ingest
    from newsrag.index.ingest import compact
    from newsrag.index.store import forget_parsed_manifests

    figures: dict[str, object] = {}
    index_dir = corpus.parent / "index"
    started = time.perf_counter()
    first = ingest([corpus], index_dir, embedder)  # type: ignore[arg-type]
    figures[f"{label}_articles"] = len(first.added)
    figures[f"{label}_chunks"] = first.total_chunks
    figures[f"{label}_build_s"] = round(time.perf_counter() - started, 1)

    if getattr(args, "search_only", False):
        _search(label, embedder, index_dir, add, queries, figures, args.repeat)
        return figures
    reingest, reingest_cpu, cold_cpu = [], [], []
    for _ in range(args.repeat):
        cpu = time.process_time()
        report = ingest([corpus], index_dir, embedder)  # type: ignore[arg-type]
        reingest_cpu.append(time.process_time() - cpu)
        assert not report.changed, "an unchanged folder changed the index"
        reingest.append(report.seconds)
        forget_parsed_manifests()  # as a fresh `rag ingest` process: the tables are read
        cpu = time.process_time()
        ingest([corpus], index_dir, embedder)  # type: ignore[arg-type]
        cold_cpu.append(time.process_time() - cpu)
    adds_files, adds_scan, rewrites, embeds = [], [], [], []
    adds_cpu: list[float] = []
    adds_scan_cpu: list[float] = []
    rewrites_cpu: list[float] = []
    for r in range(args.repeat):
        new = add(r)
        embedder.seconds = 0.0
        cpu = time.process_time()
        report = ingest(new, index_dir, embedder)  # type: ignore[arg-type]
        adds_cpu.append(time.process_time() - cpu)
        assert len(report.added) == 10, report.added
        adds_files.append(report.seconds - embedder.seconds)
        embeds.append(embedder.seconds)
        cpu = time.process_time()
        rewrites.append(compact(index_dir, embedder).seconds)  # type: ignore[arg-type]
        rewrites_cpu.append(time.process_time() - cpu)
        new = add(100 + r)
        embedder.seconds = 0.0
        cpu = time.process_time()
        report = ingest([corpus], index_dir, embedder)  # type: ignore[arg-type]
        adds_scan_cpu.append(time.process_time() - cpu)
        assert len(report.added) == 10, report.added
        adds_scan.append(report.seconds - embedder.seconds)
    figures[f"{label}_reingest_unchanged_s"] = _median(reingest)
    figures[f"{label}_reingest_unchanged_cpu_s"] = _median(reingest_cpu)
    figures[f"{label}_reingest_unchanged_cold_cpu_s"] = _median(cold_cpu)
    figures[f"{label}_add10_files_cpu_s"] = _median(adds_cpu)
    figures[f"{label}_full_rewrite_cpu_s"] = _median(rewrites_cpu)
    figures[f"{label}_rewrite_vs_add10_cpu"] = round(_median(rewrites_cpu) / _median(adds_cpu), 1)
    figures[f"{label}_add10_files_s"] = _median(adds_files)
    figures[f"{label}_add10_scan_s"] = _median(adds_scan)
    figures[f"{label}_add10_scan_cpu_s"] = _median(adds_scan_cpu)
    figures[f"{label}_add10_embed_s"] = _median(embeds)
    figures[f"{label}_full_rewrite_s"] = _median(rewrites)
    figures[f"{label}_rewrite_vs_add10_files"] = round(_median(rewrites) / _median(adds_files), 1)
    figures[f"{label}_rewrite_vs_add10_scan"] = round(_median(rewrites) / _median(adds_scan), 1)
    _search(label, embedder, index_dir, add, queries, figures, args.repeat)
    return figures


def _search(
    label: str,
    embedder: TimedEmbedder,
    index_dir: Path,
    add: Callable[[int], list[Path]],
    queries: list[str],
    figures: dict[str, object],
    repeat: int,
) -> None:
    """Hybrid search p50 over 10 segments against the compacted single segment: after one
    untimed pass, `repeat` passes over the queries, the two stores in alternating order."""
    from newsrag.index import IngestOptions, ingest, open_index
    from newsrag.index.ingest import compact
    from newsrag.rag.retrieval import HybridRetriever

    compact(index_dir, embedder)  # type: ignore[arg-type]
    no_tiers = IngestOptions(merge_factor=0)  # nine small segments beside the big one
    for r in range(9):
        ingest(add(200 + r), index_dir, embedder, no_tiers)  # type: ignore[arg-type]
    started = time.perf_counter()
    many = open_index(index_dir, embedder)  # type: ignore[arg-type]
    figures[f"{label}_open_s_10_segments"] = round(time.perf_counter() - started, 2)
    figures[f"{label}_segments"] = len(many.manifest.segments)
    rebuilt_dir = index_dir.parent / "compacted"  # compact gives what a rebuild gives (tests)
    shutil.copytree(index_dir, rebuilt_dir)
    compact(rebuilt_dir, embedder)  # type: ignore[arg-type]
    started = time.perf_counter()
    rebuilt = open_index(rebuilt_dir, embedder)  # type: ignore[arg-type]
    figures[f"{label}_open_s_1_segment"] = round(time.perf_counter() - started, 2)
    retrievers = {"many": HybridRetriever(many), "one": HybridRetriever(rebuilt)}
    first = {}
    for name, retriever in retrievers.items():  # one-off work of a fresh store
        t = time.perf_counter()
        retriever.search(queries[0], 10)
        first[name] = round((time.perf_counter() - t) * 1000, 1)
    figures[f"{label}_first_query_ms_10_segments"] = first["many"]
    figures[f"{label}_first_query_ms_1_segment"] = first["one"]
    same = 0
    for query in queries:  # untimed: fills the retriever's per-passage caches, which both
        # stores share (whichever ran first would pay for them)
        found = [
            [(h.chunk.id, round(h.score, 6)) for h in r.search(query, 10)]
            for r in retrievers.values()
        ]
        same += found[0] == found[1]
    times: dict[str, list[float]] = {"many": [], "one": []}
    for r in range(repeat):
        for q, query in enumerate(queries):
            order = ["many", "one"] if (q + r) % 2 == 0 else ["one", "many"]  # alternated
            for name in order:
                t = time.perf_counter()
                retrievers[name].search(query, 10)
                times[name].append(time.perf_counter() - t)
    p50_many = statistics.median(times["many"]) * 1000
    p50_one = statistics.median(times["one"]) * 1000
    figures[f"{label}_search_p50_ms_10_segments"] = round(p50_many, 2)
    figures[f"{label}_search_p50_ms_1_segment"] = round(p50_one, 2)
    figures[f"{label}_search_ratio"] = round(p50_many / p50_one, 3)
    figures[f"{label}_identical_results"] = f"{same}/{len(queries)}"


def run_incremental(args: argparse.Namespace) -> dict[str, object]:
    """Both cases; figures with ratios against the full rewrite in the same run."""
    figures: dict[str, object] = {"load_before": load_note()}
    cases = set(args.cases.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        if "hash" not in cases:
            return _scifact(args, figures)
        vocab = _vocabulary(20_000)
        corpus = Path(tmp) / "hash" / "corpus"
        print(f"writing {args.articles} synthetic articles...", flush=True)
        _write_synthetic(corpus, 0, args.articles, vocab)
        counter = iter(range(10**9))
        extra = Path(tmp) / "hash" / "corpus"

        def add_synthetic(_: int) -> list[Path]:
            batch = next(counter)
            return _write_synthetic(extra, args.articles + 10 * batch, 10, vocab)

        rng = random.Random(3)
        queries = [" ".join(rng.choices(vocab[:3000], k=4)) for _ in range(args.queries)]
        embedder = TimedEmbedder(HashingEmbedder(384, "hashing-bench"))
        figures.update(_case("hash", embedder, corpus, add_synthetic, queries, args))
    return _scifact(args, figures) if "scifact" in cases else _finish(figures)


def _scifact(args: argparse.Namespace, figures: dict[str, object]) -> dict[str, object]:
    source = args.scifact / "corpus.jsonl"
    if not source.is_file():
        figures["scifact"] = f"skipped: no {source}"
    else:
        from newsrag.index import create_embedder

        embedder = TimedEmbedder(create_embedder())
        with tempfile.TemporaryDirectory(prefix="bench-segments-scifact-") as tmp:
            corpus = Path(tmp) / "corpus"
            _write_scifact(source, corpus, 0, 3000)
            offset = iter(range(10**6))

            def add_scifact(_: int) -> list[Path]:
                return _write_scifact(source, corpus, 3000 + 10 * next(offset), 10)

            queries = []
            for i, row in enumerate(iter_jsonl(args.scifact / "queries.jsonl")):
                if i >= args.queries:
                    break
                queries.append(str(row["text"]))
            figures.update(_case("scifact", embedder, corpus, add_scifact, queries, args))
    return _finish(figures)


def _finish(figures: dict[str, object]) -> dict[str, object]:
    figures["targets"] = (
        "add 10 <= 1 s and >= 50x less than the rewrite; unchanged re-ingest <= 3 s; "
        "search 10 segments <= 1.3x one"
    )
    figures["peak_rss_mb"] = round(peak_rss_mb())
    figures["load_after"] = load_note()
    return figures

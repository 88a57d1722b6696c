"""Shared helpers of the benchmarks: corpus paths, BEIR files, memory and load figures, metrics."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Benchmarks run offline with the tokenizer's own threads off (they fight ours on 2 cores); set
# when a script imports this module, before any model library loads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def script_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's options: described by the first line of `doc`, with --json."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_script(
    parse_args: Callable[[list[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace], dict[str, Any]],
    argv: list[str] | None = None,
) -> None:
    """A benchmark's entry point: parse the options, run, print the figures (text or JSON)."""
    args = parse_args(argv)
    emit(run(args), as_json=args.json)


@dataclass(frozen=True, slots=True)
class BeirData:
    """A BEIR dataset's test split: corpus file, test queries and binary qrels."""

    corpus: Path
    queries: dict[str, str]  # query id -> text, test queries only
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def corpus_input(path: Path) -> Path:
    """What to ingest: a BEIR folder's corpus.jsonl, or the file/folder itself."""
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return path / "corpus.jsonl"
    if not path.exists():
        raise SystemExit(f"no such corpus: {path}")
    return path


def head_jsonl(source: Path, n: int, target_dir: Path) -> Path:
    """Write the first `n` records of a JSONL file to `target_dir` (a temp dir) for small runs."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= n:
                break
            dst.write(line)
    return target


def load_beir(directory: Path, split: str = "test") -> BeirData:
    """Read corpus path, queries and qrels of one split (qrels lines may end in CRLF)."""
    qrels: dict[str, dict[str, int]] = {}
    lines = (directory / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:  # header: query-id, corpus-id, score
        parts = line.strip("\r\n").split("\t")
        if len(parts) == 3 and int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries: dict[str, str] = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["_id"] in qrels:
                queries[record["_id"]] = record["text"]
    return BeirData(directory / "corpus.jsonl", queries, qrels)


def iter_jsonl(path: Path) -> Iterator[dict[str, object]]:
    """Records of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_note() -> str:
    """The machine's 1-minute load average and core count, to judge shared-CPU noise."""
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} (1/5 min) on {os.cpu_count()} cores"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Yields a one-element list that holds the elapsed seconds once the block ends."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR/pytrec_eval form: gain = rel / log2(rank + 1))."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 100) -> float:
    """Share of relevant documents in the top k."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """1/rank of the first relevant document in the top k, else 0."""
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0 for nothing."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def emit(figures: dict[str, object], *, as_json: bool) -> None:
    """Print figures as one JSON object or as aligned `name: value` lines."""
    if as_json:
        print(json.dumps(figures, indent=1))
        return
    width = max((len(k) for k in figures), default=0)
    for key, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    sys.stdout.flush()

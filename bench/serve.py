"""HTTP throughput and latency of the service: /v1/search and extractive /v1/ask at 1, 8 and 32
concurrent clients, on loopback, bounded by time and request count.

    .venv/bin/python -m bench.serve                      # spawns `rag serve` on a free port
    .venv/bin/python -m bench.serve --embed-backend torch # the same with the torch backend
    .venv/bin/python -m bench.serve --url http://127.0.0.1:8000   # an already running server

The server runs in its own process (`rag serve`, rate limit off, no LLM, so /v1/ask is
extractive); the clients are keep-alive raw asyncio connections in this process
(bench/http_load.py: about ten times cheaper than httpx, since client and server share the
CPU). Queries are distinct word windows of the corpus, so the server's query-vector cache
does not flatter the figures. Prints one table row per (endpoint, clients): requests, errors,
requests/s, p50 and p95 latency, and CPU-ms per request of the server and of this client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from bench.http_load import closed_loop

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How much is Alibaba investing to expand its overseas research hubs?",
    "How many research centres will the DAMO Academy establish?",
    "How many researchers is Alibaba hiring?",
    "Who is Alibaba's chief technology officer?",
    "Where will Alibaba open a development center?",
    "Which countries will host the new research centres?",
    "What will the researchers work on?",
    "Why is Alibaba building research hubs?",
    "What did Jeff Zhang say about the DAMO Academy?",
    "Which fields does the Alibaba academy focus on?",
    "What is Alibaba competing with global leaders in?",
    "When was the DAMO Academy announced?",
]


@dataclass(frozen=True, slots=True)
class Cell:
    """Figures of one (endpoint, concurrency) run."""

    endpoint: str
    clients: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms: float  # server process CPU time per request (nan when not measured)
    client_cpu_ms: float  # this (load generator) process's CPU time per request
    load: float  # 1-minute load average when the cell ended (other jobs share the machine)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def corpus_queries(corpus: Path, limit: int = 20_000) -> list[str]:
    """Distinct keyword queries: word windows (5-12 words) of the corpus articles."""
    queries: list[str] = []
    for path in sorted(corpus.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            text = text.split("\n---", 2)[-1]
        words = text.split()
        for length in range(5, 13):
            queries.extend(" ".join(words[i : i + length]) for i in range(0, len(words) - length))
    unique = list(dict.fromkeys(queries))
    rng = random.Random(0)
    rng.shuffle(unique)
    return unique[:limit]


def body_for(endpoint: str, n: int, queries: list[str]) -> dict[str, object]:
    """The n-th request body for an endpoint (queries rotate; distinct unless the list is short)."""
    question = queries[n % len(queries)]
    if endpoint == "/v1/search":
        return {"query": question, "k": 8}
    return {"question": question, "no_llm": True}


async def run_cell(
    url: str,
    endpoint: str,
    clients: int,
    seconds: float,
    max_requests: int,
    queries: list[str],
    server: psutil.Process | None = None,
    offset: int = 0,
) -> Cell:
    """`clients` workers send requests back to back until time or the request cap runs out.

    Request n asks queries[(offset + n) % len(queries)].
    """
    cpu_before = cpu_seconds(server)
    run = await closed_loop(
        url,
        endpoint,
        lambda n: body_for(endpoint, offset + n, queries),
        clients,
        seconds,
        max_requests,
    )
    done, elapsed = len(run.latencies), run.seconds
    cpu_ms = (cpu_seconds(server) - cpu_before) * 1000 / done if done else math.nan
    return Cell(
        endpoint=endpoint,
        clients=clients,
        requests=done,
        errors=run.errors,
        seconds=round(elapsed, 2),
        rps=round(done / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(percentile(run.latencies, 50) * 1000, 1),
        p95_ms=round(percentile(run.latencies, 95) * 1000, 1),
        server_cpu_ms=round(cpu_ms, 1),
        client_cpu_ms=round(run.cpu_seconds * 1000 / done, 2) if done else math.nan,
        load=round(os.getloadavg()[0], 2),
    )


def cpu_seconds(process: psutil.Process | None) -> float:
    """User + system CPU seconds of the server process so far (nan when unknown)."""
    if process is None:
        return math.nan
    times = process.cpu_times()
    return float(times.user + times.system)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def spawned_server(
    index_dir: Path | None, backend: str | None, timeout_s: float = 180.0
) -> Iterator[tuple[str, psutil.Process]]:
    """`rag serve` on a free loopback port over `index_dir` (default: a fresh index of corpus/)."""
    rag = str(Path(sys.executable).parent / "rag")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        **({"RAG_EMBED_BACKEND": backend} if backend else {}),
        "RAG_RATE_LIMIT_PER_MINUTE": "0",
        "RAG_LLM_BASE_URL": "",
        "RAG_API_KEY": "",
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        if index_dir is None:
            index_dir = Path(tmp) / "index"
            subprocess.run(
                [rag, "ingest", str(ROOT / "corpus"), "--index-dir", str(index_dir), "--json"],
                check=True,
                capture_output=True,
                timeout=timeout_s,
                env=env,
            )
        port = free_port()
        command = [rag, "serve", "--port", str(port), "--index-dir", str(index_dir)]
        command += ["--log-level", "warning"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process, timeout_s)
            yield url, psutil.Process(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll /readyz until 200; fail if the server exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"rag serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("rag serve did not become ready")


async def run_all(
    url: str, args: argparse.Namespace, server: psutil.Process | None = None
) -> list[Cell]:
    """Warm up, then every endpoint at every concurrency."""
    queries = QUESTIONS if args.repeat_questions else corpus_queries(ROOT / "corpus")
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for endpoint in args.endpoints:
            for n in range(args.warmup):
                body = body_for(endpoint, n, QUESTIONS)
                (await client.post(endpoint, json=body)).raise_for_status()
    cells = []
    offset = 0  # each cell asks queries no earlier cell asked (until the list runs out)
    for endpoint in args.endpoints:
        for clients in args.clients:
            cell = await run_cell(
                url, endpoint, clients, args.seconds, args.max_requests, queries, server, offset
            )
            cells.append(cell)
            offset += cell.requests
    if offset > len(queries) and not args.repeat_questions:
        print(
            f"warning: {offset} requests reused some of the {len(queries)} distinct queries",
            file=sys.stderr,
        )
    return cells


def print_table(cells: list[Cell]) -> None:
    """Fixed-width table of the figures."""
    header = f"{'endpoint':<12} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} "
    header += f"{'p50 ms':>8} {'p95 ms':>8} {'server cpu':>10} {'client cpu':>10} {'load':>5}"
    print(header)
    print("-" * len(header))
    for c in cells:
        print(
            f"{c.endpoint:<12} {c.clients:>7} {c.requests:>8} {c.errors:>6} {c.rps:>8.1f} "
            f"{c.p50_ms:>8.1f} {c.p95_ms:>8.1f} {c.server_cpu_ms:>10.1f} {c.client_cpu_ms:>10.2f}"
            f" {c.load:>5.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, start (or reach) the server, run the cells, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Benchmark this running server instead of spawning one.")
    parser.add_argument("--index-dir", type=Path, help="Index for the spawned server.")
    parser.add_argument(
        "--embed-backend",
        help="RAG_EMBED_BACKEND of the spawned server: onnx-int8, onnx, openvino, torch "
        "(default: the environment's, else the settings default).",
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--endpoints", nargs="+", default=["/v1/search", "/v1/ask"])
    parser.add_argument("--seconds", type=float, default=8.0, help="Time per cell.")
    parser.add_argument("--max-requests", type=int, default=5000, help="Cap per cell.")
    parser.add_argument("--warmup", type=int, default=5, help="Requests per endpoint first.")
    parser.add_argument(
        "--repeat-questions",
        action="store_true",
        help="Rotate 12 fixed questions (measures the query-vector cache) instead of "
        "distinct corpus word windows.",
    )
    parser.add_argument("--json", dest="as_json", action="store_true", help="Print JSON.")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    if args.url:
        cells = asyncio.run(run_all(args.url, args))
    else:
        if shutil.which("rag", path=str(Path(sys.executable).parent)) is None:
            raise SystemExit("the `rag` console script is not installed in this environment")
        with spawned_server(args.index_dir, args.embed_backend) as (url, server):
            cells = asyncio.run(run_all(url, args, server))
    if args.as_json:
        print(json.dumps([asdict(c) for c in cells], indent=2))
        return
    print_table(cells)
    print(f"\nload average before the run: {load:.2f} on {os.cpu_count()} cores")
    print(
        "server/client cpu: CPU-ms per request of the server process and of this load "
        "generator; on an otherwise idle machine one core serves about 1000 / (server cpu) "
        "requests a second."
    )


if __name__ == "__main__":
    main()

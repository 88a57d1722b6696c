"""Folder watch latency (issue 17): from a file dropped into a watched folder to searchable.

    .venv/bin/python bench/watch.py                                  # over the shipped corpus
    .venv/bin/python bench/watch.py ../shared/datasets/beir-scifact --limit 3000 --drops 10

A base index is built from PATH (not watched), then `rag watch`'s machinery (index.watch,
default debounce and settle) watches an empty folder in a thread of this process. Files are
dropped one at a time (each a new article of about 150 words, written in two halves with a
pause, as a slow writer would); the time to searchable ends when the generation holding the
article is published (CURRENT switched: what `rag serve` swaps in, at once with --watch). The
article's embedding time is measured apart, on the same model, and taken off: the target is
latency minus embedding <= 5 s. After each drop a hybrid search for the article's title must
rank it first. Prints the median and p95 of each figure and the machine's load.

    .venv/bin/python bench/watch.py --serve [PATH] [--drops 10]

--serve measures `rag serve --watch` end to end: the console script serves the base index on
a free port of 127.0.0.1 and watches the empty folder; the time to searchable ends when
POST /v1/search for the dropped article's title (polled every --poll-ms) ranks it first, so
it includes the batch, the commit and the service's swap to the new generation. A first drop
(not timed) shows the watch is up. The embedding is timed apart with one thread, as the
service embeds (`rag serve --threads 1`).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import corpus_input, emit, head_jsonl, load_note, percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 5.0
WORDS = [
    "council",
    "harbour",
    "market",
    "river",
    "bridge",
    "station",
    "school",
    "library",
    "museum",
    "garden",
    "festival",
    "tram",
    "ferry",
    "budget",
    "report",
    "survey",
    "season",
    "visitors",
    "residents",
    "workers",
    "officials",
    "plan",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", type=Path, nargs="?", default=ROOT / "corpus", help="base corpus (not watched)"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N records (.jsonl)")
    parser.add_argument("--drops", type=int, default=10, help="files dropped, one at a time")
    parser.add_argument("--write-pause-ms", type=int, default=200, help="pause mid-write")
    parser.add_argument("--bound-s", type=float, default=60.0, help="give up on a drop after")
    parser.add_argument(
        "--index-dir", type=Path, default=None, help="keep the base index here (reused next run)"
    )
    parser.add_argument(
        "--serve", action="store_true", help="through `rag serve --watch` and its HTTP API"
    )
    parser.add_argument("--poll-ms", type=int, default=50, help="--serve: search poll interval")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def article(i: int, run: str = "") -> tuple[str, str]:
    """A made-up article (title, Markdown) of about 150 words, unique by its number and run."""
    title = f"Bench report{run} {i}: {WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} update"
    sentences = [
        f"The {WORDS[(i + j) % len(WORDS)]} of district {i} reported item {i * 31 + j}"
        f" to the {WORDS[(i * 3 + j) % len(WORDS)]} committee on day {j}."
        for j in range(12)
    ]
    body = " ".join(sentences)
    return (
        title,
        f'---\nid: bench-drop{run}-{i}\ntitle: "{title}"\nsource: Bench Wire\n---\n{body}\n',
    )


def run(args: argparse.Namespace, embedder: object | None = None) -> dict[str, object]:
    """Build the base index, watch an empty folder, drop files, and time each one."""
    from newsrag.index import IngestOptions, create_embedder, ingest, open_index
    from newsrag.index.ingest import prepare_articles
    from newsrag.index.loaders import FieldMap, load_one
    from newsrag.index.watch import FolderSync, WatchBatch, WatchOptions, watch_folders
    from newsrag.rag.retrieval import HybridRetriever

    model = embedder or create_embedder()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        work = Path(tmp)
        source = corpus_input(args.path)
        if args.limit and source.suffix == ".jsonl":
            source = head_jsonl(source, args.limit, work / "head")
        index_dir, inbox = args.index_dir or work / "index", work / "inbox"
        run_tag = f"-{time.time_ns() % 10**9}" if args.index_dir else ""  # new ids each run
        inbox.mkdir()
        started = time.perf_counter()
        base = ingest([source], index_dir, model)  # type: ignore[arg-type]
        base_s = time.perf_counter() - started
        options = IngestOptions()
        sync = FolderSync([inbox], index_dir, model, options, WatchOptions())  # type: ignore[arg-type]
        published: queue.Queue[tuple[float, WatchBatch]] = queue.Queue()
        ready, stop = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=watch_folders,
            args=(sync, stop, lambda b: published.put((time.perf_counter(), b))),
            kwargs={"ready": ready.set},
        )
        thread.start()
        latencies, embeds, net, misses = [], [], [], 0
        try:
            if not ready.wait(args.bound_s):
                raise SystemExit("the watch did not start")
            published.get(timeout=args.bound_s)  # the first sync of the empty folder
            for i in range(args.drops):
                title, text = article(i, run_tag)
                doc_id = f"bench-drop{run_tag}-{i}"
                path = inbox / f"drop-{i}.md"
                dropped = time.perf_counter()
                half = len(text) // 2
                with path.open("w", encoding="utf-8") as handle:  # a writer that takes a while
                    handle.write(text[:half])
                    handle.flush()
                    time.sleep(args.write_pause_ms / 1000)
                    handle.write(text[half:])
                when = _published(published, doc_id, args.bound_s)
                if when is None:
                    misses += 1
                    continue
                latency = when - dropped
                loaded = load_one(path, FieldMap()).articles
                with_embed = time.perf_counter()
                prepare_articles(loaded, model, options)  # type: ignore[arg-type]
                embed = time.perf_counter() - with_embed
                hits = HybridRetriever(open_index(index_dir, model)).search(title, 3)  # type: ignore[arg-type]
                if not hits or hits[0].chunk.doc_id != doc_id:
                    misses += 1
                latencies.append(latency)
                embeds.append(embed)
                net.append(latency - embed)
        finally:
            stop.set()
            thread.join(timeout=30)
    return {
        "base_articles": len(base.added),
        "base_chunks": base.total_chunks,
        "base_ingest_s": round(base_s, 2),
        "drops": args.drops,
        "not_found": misses,
        **_latency_figures(latencies, embeds, net, misses),
        "write_pause_s": args.write_pause_ms / 1000,
        "load": load_note(),
    }


def run_serve(args: argparse.Namespace) -> dict[str, object]:
    """Build the base index, start `rag serve --watch` on it, drop files, time each one
    until the service's search ranks it first."""
    import httpx

    from newsrag.index import IngestOptions, create_embedder, ingest
    from newsrag.index.ingest import prepare_articles
    from newsrag.index.loaders import FieldMap, load_one

    model = create_embedder(threads=1)  # as `rag serve` embeds (--threads 1)
    with tempfile.TemporaryDirectory(prefix="bench-watch-serve-") as tmp:
        work = Path(tmp)
        source = corpus_input(args.path)
        if args.limit and source.suffix == ".jsonl":
            source = head_jsonl(source, args.limit, work / "head")
        index_dir, inbox = args.index_dir or work / "index", work / "inbox"
        run_tag = f"-{time.time_ns() % 10**9}" if args.index_dir else ""
        inbox.mkdir()
        started = time.perf_counter()
        base = ingest([source], index_dir, model)  # type: ignore[arg-type]
        base_s = time.perf_counter() - started
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_API_KEY": "", "RAG_LLM_BASE_URL": ""}
        rag = Path(sys.executable).parent / "rag"
        command = [str(rag), "serve", "--port", str(port), "--index-dir", str(index_dir)]
        command += ["--watch", str(inbox), "--log-level", "warning"]
        log_path = work / "serve.log"
        latencies, embeds, net, misses = [], [], [], 0
        missed: list[str] = []
        with log_path.open("w") as log, httpx.Client(base_url=url, timeout=30) as client:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work
            )
            try:
                startup_s = _wait_ready(client, process, args.bound_s, log_path)
                # words of its own, so it never outranks a timed drop for that drop's title
                warm_title = f"Watch warm-up{run_tag} signal"
                warm_text = (
                    f'---\nid: bench-warm{run_tag}\ntitle: "{warm_title}"\nsource: Bench Wire\n'
                    "---\nThis note only shows that the folder watch is running.\n"
                )
                (inbox / "warm-up.md").write_text(warm_text, encoding="utf-8")
                if _found(client, warm_title, f"bench-warm{run_tag}", args) is None:
                    raise SystemExit(f"the watch did not pick up a file; see {log_path}")
                for i in range(args.drops):
                    title, text = article(i, run_tag)
                    doc_id = f"bench-drop{run_tag}-{i}"
                    path = inbox / f"drop-{i}.md"
                    dropped = time.perf_counter()
                    half = len(text) // 2
                    with path.open("w", encoding="utf-8") as handle:
                        handle.write(text[:half])
                        handle.flush()
                        time.sleep(args.write_pause_ms / 1000)
                        handle.write(text[half:])
                    when = _found(client, title, doc_id, args)
                    if when is None:
                        misses += 1
                        top = client.post("/v1/search", json={"query": title, "k": 3}).json()
                        ranked = [r["doc_id"] for r in top.get("results", [])]
                        missed.append(f"{doc_id} (search ranks {ranked})")
                        continue
                    loaded = load_one(path, FieldMap()).articles
                    with_embed = time.perf_counter()
                    prepare_articles(loaded, model, IngestOptions())  # type: ignore[arg-type]
                    embed = time.perf_counter() - with_embed
                    latencies.append(when - dropped)
                    embeds.append(embed)
                    net.append(when - dropped - embed)
            finally:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
    return {
        "mode": "rag serve --watch, POST /v1/search",
        "base_articles": len(base.added),
        "base_chunks": base.total_chunks,
        "base_ingest_s": round(base_s, 2),
        "serve_ready_s": round(startup_s, 2),
        "drops": args.drops,
        "not_found": misses,
        "missed": missed,
        **_latency_figures(latencies, embeds, net, misses),
        "write_pause_s": args.write_pause_ms / 1000,
        "poll_s": args.poll_ms / 1000,
        "load": load_note(),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(client: object, process: subprocess.Popen, bound_s: float, log: Path) -> float:  # type: ignore[type-arg]
    """Seconds until GET /readyz answers 200 (SystemExit past `bound_s` or if it exits)."""
    import httpx

    assert isinstance(client, httpx.Client)
    started = time.perf_counter()
    while time.perf_counter() - started < bound_s:
        if process.poll() is not None:
            raise SystemExit(f"rag serve exited ({process.returncode}); see {log}")
        try:
            if client.get("/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"rag serve was not ready within {bound_s} s; see {log}")


def _found(client: object, title: str, doc_id: str, args: argparse.Namespace) -> float | None:
    """When POST /v1/search for `title` first ranks `doc_id` first (None past the bound)."""
    import httpx

    assert isinstance(client, httpx.Client)
    deadline = time.perf_counter() + args.bound_s
    while time.perf_counter() < deadline:
        response = client.post("/v1/search", json={"query": title, "k": 3})
        now = time.perf_counter()
        results = response.json().get("results") if response.status_code == 200 else None
        if results and results[0]["doc_id"] == doc_id:
            return now
        time.sleep(args.poll_ms / 1000)
    return None


def _published(published: queue.Queue, doc_id: str, bound_s: float) -> float | None:  # type: ignore[type-arg]
    """When the batch that added `doc_id` was published (None past the bound)."""
    deadline = time.perf_counter() + bound_s
    while (left := deadline - time.perf_counter()) > 0:
        try:
            when, batch = published.get(timeout=left)
        except queue.Empty:
            return None
        if doc_id in batch.report.added:
            return float(when)
    return None


def _latency_figures(
    latencies: list[float], embeds: list[float], net: list[float], misses: int
) -> dict[str, object]:
    """The drop-to-searchable figures both modes print, against the target."""
    return {
        "latency_p50_s": round(percentile(latencies, 50), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "embed_p50_s": round(percentile(embeds, 50), 3),
        "latency_minus_embed_p50_s": round(percentile(net, 50), 3),
        "latency_minus_embed_max_s": round(max(net, default=0.0), 3),
        "target_s": TARGET_S,
        "meets_target": bool(net) and max(net) <= TARGET_S and not misses,
    }


def main() -> None:
    """Entry point."""
    args = parse_args()
    emit(run_serve(args) if args.serve else run(args), as_json=args.json)


if __name__ == "__main__":
    main()

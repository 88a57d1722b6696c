"""Dense index at scale: build time, vector memory, search p50/p99 and recall@10 vs exact search.

    .venv/bin/python bench/scale.py --n 1000000 --vectors-from bench/out/<an index>/
    .venv/bin/python bench/scale.py --n 100000 --kinds flat,ivf-sq8
    .venv/bin/python bench/scale.py --n 5000000 --on-disk /tmp/scale-5m --vectors-from IDX

--on-disk DIR builds a memory-mapped IVF instead (FAISS OnDiskInvertedLists, the lists in
DIR/lists.ivfdata): the vectors are made --chunk at a time and never held together, each
chunk is added to a shard written to DIR, the shards are merged into the on-disk lists, and
the index is searched as a server would open it (IO_FLAG_ONDISK_SAME_DIR: only the coarse
centroids in RAM, lists paged in by the OS). Exact top-10 is kept per chunk the same way.
Served memory is split into what the process owns (anonymous: centroids, search buffers) and
the list pages it has mapped (file-backed page cache, which the kernel can drop); the first
pass (--cold-nprobe) runs after the lists file is evicted from the page cache
(posix_fadvise DONTNEED on that file only), so it reads the lists from disk.

Real embeddings come from an existing index's vectors.npy (--vectors-from: a generation or an
index dir) or, without one, from embedding --sample passages of --corpus. The rest are
synthetic but realistic: each is a real vector mixed with another real vector plus Gaussian
noise, renormalised, so the set keeps the clustered, anisotropic shape of real embeddings
(uniform random vectors would make every index look better than it is). Queries are held-out
real vectors, perturbed the same way, and are not in the index. Each FAISS kind is built with
the project's `index.dense.build_faiss`, one at a time, so peak memory stays near 2x the vectors.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit, load_note, peak_rss_mb, percentile, script_parser

# Search knobs tried on top of each kind's build defaults: (kind, attribute, value).
SWEEP = {"hnsw": ("efSearch", (64, 128, 256)), "ivf": ("nprobe", (32, 64, 128, 256))}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the index")
    parser.add_argument("--kinds", default="flat,hnsw,ivf-sq8,ivf-pq")
    parser.add_argument("--vectors-from", type=Path, default=None, help="index with vectors.npy")
    parser.add_argument("--corpus", type=Path, default=None, help="texts to embed otherwise")
    parser.add_argument("--sample", type=int, default=2000, help="passages to embed (--corpus)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.35, help="noise norm of synthetic rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS OpenMP threads (1: a server's view)"
    )
    parser.add_argument("--on-disk", type=Path, default=None, help="memory-mapped IVF in DIR")
    parser.add_argument("--disk-codes", default="sq8", help="on-disk list codes: sq8 or pq48")
    parser.add_argument("--nlist", type=int, default=4096, help="IVF lists (--on-disk)")
    parser.add_argument("--train", type=int, default=100_000, help="IVF training vectors")
    parser.add_argument("--chunk", type=int, default=500_000, help="vectors made at a time")
    parser.add_argument(
        "--nprobes", default="16,32,64,128", help="IVF lists searched per query (--on-disk)"
    )
    parser.add_argument(
        "--cold-nprobe", type=int, default=16, help="nprobe of the cold first pass (0: none)"
    )
    parser.add_argument(
        "--build-threads",
        type=int,
        default=0,
        help="FAISS threads while training and adding (--on-disk; 0: same as --threads)",
    )
    return parser.parse_args(argv)


def real_vectors(args: argparse.Namespace) -> np.ndarray:
    """(m, dim) float32 real embeddings: from an index on disk, or embedded now."""
    if args.vectors_from is not None:
        found = sorted(args.vectors_from.rglob("vectors.npy"))
        if not found:
            raise SystemExit(f"no vectors.npy under {args.vectors_from}")
        return np.load(found[-1]).astype(np.float32)
    if args.corpus is None:
        raise SystemExit("give --vectors-from INDEX_DIR or --corpus PATH")
    from bench.common import corpus_input, iter_jsonl
    from newsrag.index import create_embedder

    texts: list[str] = []
    for record in iter_jsonl(corpus_input(args.corpus)):
        texts.append(f"{record.get('title', '')}\n{record.get('text', '')}")
        if len(texts) >= args.sample:
            break
    return create_embedder().embed_passages(texts)


def synthesise(real: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(n, dim) unit vectors: real rows first, then mixtures of two real rows plus noise."""
    dim = real.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    take = min(n, len(real))
    out[:take] = real[:take]
    for start in range(take, n, 100_000):
        stop = min(n, start + 100_000)
        a = real[rng.integers(0, len(real), stop - start)]
        b = real[rng.integers(0, len(real), stop - start)]
        mix = rng.uniform(0.0, 0.35, (stop - start, 1)).astype(np.float32)
        jitter = rng.standard_normal((stop - start, dim), dtype=np.float32) * (noise / dim**0.5)
        out[start:stop] = (1 - mix) * a + mix * b + jitter
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def synthesise_blocks(
    real: np.ndarray, n: int, noise: float, rng: np.random.Generator, size: int
) -> Iterator[np.ndarray]:
    """n rows like `synthesise` (real rows first, then mixtures), `size` rows at a time."""
    for start in range(0, n, size):
        count = min(n, start + size) - start
        yield (
            synthesise(real, count, noise, rng)
            if start == 0
            else _mixtures(real, count, noise, rng)
        )


def _mixtures(real: np.ndarray, count: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(count, dim) unit vectors, each a mixture of two real rows plus noise."""
    dim = real.shape[1]
    a = real[rng.integers(0, len(real), count)]
    b = real[rng.integers(0, len(real), count)]
    mix = rng.uniform(0.0, 0.35, (count, 1)).astype(np.float32)
    jitter = rng.standard_normal((count, dim), dtype=np.float32) * (noise / dim**0.5)
    out = (1 - mix) * a + mix * b + jitter
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(q, k) ids of the exact inner-product top-k (batched BLAS, not timed)."""
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, k)[1]


def measure(index: object, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Single-query latency p50/p95/p99 (ms) and mean recall@10 against `truth`."""
    latencies, found = [], []
    for i, q in enumerate(queries):
        start = time.perf_counter()
        ids = index.search(q.reshape(1, -1), 10)[1][0]  # type: ignore[attr-defined]
        latencies.append(1000 * (time.perf_counter() - start))
        found.append(len(set(ids.tolist()) & set(truth[i].tolist())) / 10)
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "recall@10": round(float(np.mean(found)), 4),
    }


def bench_kind(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> list:
    """Build one kind, then measure its default and a sweep of its search knob."""
    import faiss

    from newsrag.index.dense import build_faiss

    start = time.perf_counter()
    index = build_faiss(vectors, kind)
    build_s = time.perf_counter() - start
    memory_mb = len(faiss.serialize_index(index)) / 2**20
    rows = []
    knob, values = SWEEP.get(kind.split("-")[0], ("", ()))
    target = index.hnsw if kind == "hnsw" else index
    default = getattr(target, knob, None) if knob else None
    for value in [default, *[v for v in values if v != default]]:
        if knob and value is not None:
            setattr(target, knob, value)
        row = {"kind": kind, "param": f"{knob}={value}" if knob else "-"}
        row |= {"build_s": round(build_s, 1), "index_mb": round(memory_mb)}
        rows.append(row | measure(index, queries, truth) | {"default": value == default})
    del index
    return rows


def run(args: argparse.Namespace) -> dict[str, object]:
    """Build every kind over n vectors and return the figures."""
    import faiss

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    real = real_vectors(args)
    rng.shuffle(real)
    held, base = real[: args.queries], real[args.queries :]
    vectors = synthesise(base, args.n, args.noise, rng)  # (n, dim)
    queries = synthesise(held, len(held), 0.0, rng)  # exact real vectors, normalised
    queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * 0.01
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    start = time.perf_counter()
    truth = exact_top(vectors, queries, 10)
    truth_s = time.perf_counter() - start
    rows: list[dict[str, object]] = []
    for kind in args.kinds.split(","):
        rows.extend(bench_kind(kind, vectors, queries, truth))
    return {
        "n": args.n,
        "dim": vectors.shape[1],
        "real_vectors": len(base),
        "raw_vectors_mb": round(vectors.nbytes / 2**20),
        "ground_truth_s": round(truth_s, 1),
        "results": rows,
        "peak_rss_mb": round(peak_rss_mb()),
        "load": load_note(),
    }


def _queries(held: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(q, dim) held-out real vectors, slightly perturbed, normalised: not in the index."""
    queries = synthesise(held, len(held), 0.0, rng)
    queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * 0.01
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def _empty_ivf(args: argparse.Namespace, dim: int) -> object:
    """An untrained inner-product IVF with --disk-codes codes."""
    import faiss

    quantizer = faiss.IndexFlatIP(dim)
    if args.disk_codes == "sq8":
        sq8 = faiss.ScalarQuantizer.QT_8bit
        return faiss.IndexIVFScalarQuantizer(
            quantizer, dim, args.nlist, sq8, faiss.METRIC_INNER_PRODUCT
        )
    m = int(args.disk_codes.removeprefix("pq"))
    return faiss.IndexIVFPQ(quantizer, dim, args.nlist, m, 8, faiss.METRIC_INNER_PRODUCT)


def _resident() -> dict[str, int]:
    """This process's resident bytes: anonymous (its own) and file-backed (mapped pages)."""
    fields = {"RssAnon:": "anon", "RssFile:": "file"}
    out = {"anon": 0, "file": 0}
    for line in Path("/proc/self/status").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in fields:
            out[fields[parts[0]]] = int(parts[1]) * 1024  # kB
    return out


def _disk_read_bytes() -> int:
    """Bytes this process has had read from the block device (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def _evict(path: Path) -> None:
    """Drop one file's pages from the OS page cache (Linux), so the next reads go to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run_on_disk(args: argparse.Namespace) -> dict[str, object]:
    """Build a memory-mapped IVF of n vectors chunk by chunk, then measure it as served."""
    import faiss
    import psutil

    faiss.omp_set_num_threads(args.build_threads or args.threads)
    rng = np.random.default_rng(args.seed)
    real = real_vectors(args)
    rng.shuffle(real)
    held, base = real[: args.queries], real[args.queries :]
    queries = _queries(held, rng)
    folder: Path = args.on_disk
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    index = _empty_ivf(args, real.shape[1])
    train = next(
        synthesise_blocks(base, args.train, args.noise, np.random.default_rng(1), args.train)
    )
    index.train(train)  # type: ignore[attr-defined]
    trained = folder / "trained.index"
    faiss.write_index(index, str(trained))
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)  # exact top-10 so far
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    shards, truth_s = [], 0.0
    train_s = time.perf_counter() - started
    print(f"trained IVF{args.nlist} on {len(train):,} vectors, {train_s:.0f} s", file=sys.stderr)
    del train
    for i, block in enumerate(synthesise_blocks(base, args.n, args.noise, rng, args.chunk)):
        first = i * args.chunk
        shard = faiss.read_index(str(trained))
        shard.add_with_ids(block, np.arange(first, first + len(block), dtype=np.int64))
        shards.append(folder / f"shard-{i:04d}.index")
        faiss.write_index(shard, str(shards[-1]))
        del shard
        clock = time.perf_counter()
        scores = queries @ block.T  # (q, block)
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        merged = np.concatenate([best, np.take_along_axis(scores, top, 1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + first], axis=1)
        keep = np.argsort(-merged, axis=1)[:, :10]
        best, best_ids = (
            np.take_along_axis(merged, keep, 1),
            np.take_along_axis(merged_ids, keep, 1),
        )
        truth_s += time.perf_counter() - clock
        done = first + len(block)
        elapsed = time.perf_counter() - started
        print(f"added {done:,}/{args.n:,} vectors, {elapsed:.0f} s", file=sys.stderr, flush=True)
    opened = [faiss.read_index(str(p), faiss.IO_FLAG_MMAP) for p in shards]
    lists = faiss.OnDiskInvertedLists(index.nlist, index.code_size, str(folder / "lists.ivfdata"))  # type: ignore[attr-defined]
    pointers = faiss.InvertedListsPtrVector()
    for shard in opened:
        pointers.push_back(shard.invlists)
    index.ntotal = lists.merge_from_multiple(pointers.data(), pointers.size())  # type: ignore[attr-defined]
    index.replace_invlists(lists)  # type: ignore[attr-defined]
    faiss.write_index(index, str(folder / "populated.index"))
    del index, opened, pointers, lists
    for path in [*shards, trained]:
        path.unlink()
    build_s = time.perf_counter() - started - truth_s
    print(f"built in {build_s:.0f} s (+{truth_s:.0f} s exact search)", file=sys.stderr)
    faiss.omp_set_num_threads(args.threads)  # searches are measured as a server runs them
    _evict(folder / "lists.ivfdata")
    rss_before, own_before = psutil.Process().memory_info().rss, _resident()
    served = faiss.read_index(str(folder / "populated.index"), faiss.IO_FLAG_ONDISK_SAME_DIR)
    rss_loaded, own_loaded = psutil.Process().memory_info().rss, _resident()
    rows = []
    if args.cold_nprobe:
        served.nprobe = args.cold_nprobe
        read_before = _disk_read_bytes()
        cold = measure(served, queries, best_ids)
        cold["disk_read_mb"] = round((_disk_read_bytes() - read_before) / 2**20, 1)
        rows.append({"param": f"nprobe={args.cold_nprobe} (cold)"} | cold)
    for nprobe in (int(v) for v in args.nprobes.split(",")):
        served.nprobe = nprobe
        rows.append({"param": f"nprobe={nprobe}"} | measure(served, queries, best_ids))
    rss_after, own_after = psutil.Process().memory_info().rss, _resident()
    disk = sum(p.stat().st_size for p in folder.glob("*") if p.is_file())
    return {
        "n": args.n,
        "dim": int(real.shape[1]),
        "index": f"IVF{args.nlist},{args.disk_codes} on disk (OnDiskInvertedLists, mmap)",
        "build_threads": args.build_threads or args.threads,
        "search_threads": args.threads,
        "train_vectors": args.train,
        "train_s": round(train_s, 1),
        "build_s": round(build_s, 1),
        "ground_truth_s": round(truth_s, 1),
        "disk_mb": round(disk / 2**20),
        "disk_bytes_per_vector": round(disk / args.n, 1),
        "rss_opened_mb": round((rss_loaded - rss_before) / 2**20),
        "rss_after_queries_mb": round((rss_after - rss_before) / 2**20),
        "ram_bytes_per_vector_after_queries": round((rss_after - rss_before) / args.n, 2),
        "anon_opened_mb": round((own_loaded["anon"] - own_before["anon"]) / 2**20, 1),
        "anon_after_queries_mb": round((own_after["anon"] - own_before["anon"]) / 2**20, 1),
        "anon_bytes_per_vector": round((own_after["anon"] - own_before["anon"]) / args.n, 2),
        "mapped_lists_after_queries_mb": round((own_after["file"] - own_before["file"]) / 2**20),
        "raw_float32_mb": round(args.n * real.shape[1] * 4 / 2**20),
        "results": rows,
        "peak_rss_mb": round(peak_rss_mb()),
        "load": load_note(),
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point: a table of kinds, or JSON."""
    args = parse_args(argv)
    if args.on_disk is not None:
        figures = run_on_disk(args)
        rows = figures.pop("results")
        emit(figures, as_json=args.json)
        for r in rows:  # type: ignore[attr-defined]
            print(
                f"{r['param']:<12} p50_ms {r['p50_ms']:>7} p95_ms {r['p95_ms']:>7} "
                f"p99_ms {r['p99_ms']:>7} "
                f"recall@10 {r['recall@10']}"
                + (f" disk_read_mb {r['disk_read_mb']}" if "disk_read_mb" in r else "")
            )
        return
    figures = run(args)
    if args.json:
        emit(figures, as_json=True)
        return
    rows = figures.pop("results")
    emit(figures, as_json=False)
    print(
        f"{'kind':<8} {'param':<13} {'build_s':>8} {'index_mb':>9} {'p50_ms':>7} "
        f"{'p99_ms':>7} {'recall@10':>9}"
    )
    for r in rows:  # type: ignore[attr-defined]
        print(
            f"{r['kind']:<8} {r['param']:<13} {r['build_s']:>8} {r['index_mb']:>9} "
            f"{r['p50_ms']:>7} {r['p99_ms']:>7} {r['recall@10']:>9}{' *' if r['default'] else ''}"
        )


if __name__ == "__main__":
    main()

"""Ingest on a Ray cluster: workers load, clean, cut and embed; the driver commits (issue 18).

Ray Core actors, one per `RayOptions.cpus_per_worker` CPUs, each load the embedder once. Files
go out to them in batches and are loaded and cleaned there; the driver joins the results in
file order (`loaders.merge_loaded`: the duplicate rule of a local ingest), decides under the
writer lock what is fresh (`ingest.ingest_loaded`), and the fresh articles go out again in
batches to be cut and embedded by `ingest.prepare_articles`, the code a local ingest runs. The
driver writes one generation with the usual commit protocol. Workers read the files by path:
on a cluster of several machines, PATH must be on storage every node mounts at the same place.

A worker that dies is restarted by Ray and its batches run again (`max_restarts`,
`max_task_retries`); results are kept per batch, so a batch that ran twice counts once, and a
worker whose restarts are spent hands its batches to the others.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsrag.index.backends import DEFAULT_BACKEND, available_cpus
from newsrag.index.chunking import ChunkingParams
from newsrag.index.embed_stream import PROGRESS_MIN_ARTICLES
from newsrag.index.embedding import Embedder, create_embedder
from newsrag.index.errors import DistributedIngestError, RayUnavailableError
from newsrag.index.ingest import (
    IngestOptions,
    IngestReport,
    PreparedArticle,
    check_chunking,
    ingest_loaded,
    prepare_articles,
)
from newsrag.index.loaders import FieldMap, LoadResult, iter_files, load_one, merge_loaded
from newsrag.index.records import Article

log = logging.getLogger(__name__)

RAY_HINT = 'Ray is not installed; install the extra with: pip install "newsrag[ray]"'
# Batches queued per worker: one running and one waiting, so no worker idles on the driver.
IN_FLIGHT = 2
# Every worker process runs with these: one CPU per worker needs no tokenizer thread pool, and
# idle OpenMP threads sleep rather than spin (see the Makefile), and never a hub.
WORKER_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_WAIT_POLICY": "PASSIVE",
    "HF_HUB_OFFLINE": "1",
}
# 0: a Ray instance of one machine binds 127.0.0.1 only (read by Ray at import).
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
OnBatch = Callable[[str, int, int], None]  # (stage "load" | "prepare", batches done, of)


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how wide an ingest on Ray runs."""

    address: str | None = None  # a running cluster, "HOST:PORT" or "auto"; None: start one here
    workers: int | None = None  # None: as many as the cluster's CPUs hold
    cpus_per_worker: int = 1  # CPUs each worker reserves, and its ONNX Runtime threads
    model: str | None = None  # what each worker loads (index.embedding.create_embedder's model)
    backend: str = DEFAULT_BACKEND
    files_per_batch: int = 16
    articles_per_batch: int = 32
    object_store_mb: int = 256  # object store of a local instance (results are small)
    start_timeout_s: float = 300.0  # for every worker to load its model
    stall_timeout_s: float = 600.0  # longest wait for any batch to finish
    max_restarts: int = 3  # per worker; its batches then go to the others

    def __post_init__(self) -> None:
        counts = {
            "workers": 1 if self.workers is None else self.workers,
            "cpus_per_worker": self.cpus_per_worker,
            "files_per_batch": self.files_per_batch,
            "articles_per_batch": self.articles_per_batch,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")


def require_ray(*, local: bool = False) -> Any:
    """The `ray` module, or RayUnavailableError saying how to install it.

    `local`: Ray will start an instance on this machine only; it then listens on 127.0.0.1
    alone (Ray's single-machine mode, the default on macOS and Windows), not on the machine's
    network address. Ray reads this when first imported, so it is set before that.
    """
    if local and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(RAY_HINT) from exc
    return ray


class RayWorkers:
    """Embedding workers on a Ray cluster; a context manager that starts and stops them."""

    def __init__(self, options: RayOptions | None = None, *, on_batch: OnBatch | None = None):
        self.options = options or RayOptions()
        self.on_batch = on_batch
        self.embedder_name = ""
        self.pids: list[int] = []  # of each worker's process, as it started
        self.batches_done: list[int] = []  # per worker
        self._ray: Any = None
        self._actors: list[Any] = []
        self._started_ray = False  # this object called ray.init, so it shuts Ray down

    def __enter__(self) -> RayWorkers:
        self._ray = require_ray(local=self.options.address is None)
        if not self._ray.is_initialized():
            self._connect()
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def describe(self) -> list[tuple[str, int]]:
        """(embedder name, process id) of each worker now: a restarted one has a new pid."""
        return list(self._ray.get([a.describe.remote() for a in self._actors]))

    def load(self, files: Sequence[Path], fields: FieldMap) -> LoadResult:
        """Load and clean files on the workers, joined in file order as a local ingest does."""
        k = self.options.files_per_batch
        batches = [[str(p) for p in files[i : i + k]] for i in range(0, len(files), k)]
        results = self._run("load", [(b, fields) for b in batches])
        return merge_loaded(r for batch in results for r in batch)

    def prepare(
        self, articles: list[Article], *, params: ChunkingParams, progress: bool = False
    ) -> list[PreparedArticle]:
        """Cut and embed articles on the workers, in the order given."""
        k = self.options.articles_per_batch
        batches = [articles[i : i + k] for i in range(0, len(articles), k)]
        bar = _progress_bar(len(articles)) if progress else None
        try:
            results = self._run("prepare", [(b, params) for b in batches], bar)
        finally:
            if bar is not None:
                bar.close()
        return [p for batch in results for p in batch]

    def _connect(self) -> None:
        opts, ray = self.options, self._ray
        if opts.address is None:
            workers = opts.workers or max(1, available_cpus() // opts.cpus_per_worker)
            ray.init(
                address="local",  # a new instance, never one found through RAY_ADDRESS
                num_cpus=workers * opts.cpus_per_worker,
                object_store_memory=opts.object_store_mb * 2**20,
                include_dashboard=False,
                logging_level=logging.ERROR,  # not the token-auth notice of every local start
            )
        else:
            try:
                ray.init(address=opts.address, logging_level=logging.WARNING)
            except (ConnectionError, ValueError) as exc:
                raise DistributedIngestError(
                    f"cannot reach the Ray cluster at {opts.address}: {exc}"
                ) from exc
        self._started_ray = True

    def _start(self) -> None:
        opts, ray = self.options, self._ray
        cpus = int(ray.cluster_resources().get("CPU", 0))
        count = opts.workers or cpus // opts.cpus_per_worker
        if count < 1:
            raise DistributedIngestError(
                f"the Ray cluster has {cpus} CPUs; a worker needs {opts.cpus_per_worker}"
            )
        actor = ray.remote(_Worker).options(
            num_cpus=opts.cpus_per_worker,
            max_restarts=opts.max_restarts,
            max_task_retries=opts.max_restarts,
            scheduling_strategy="SPREAD",  # one model per machine before two on one
            runtime_env={"env_vars": WORKER_ENV},
        )
        self._actors = [
            actor.remote(opts.model, opts.backend, opts.cpus_per_worker) for _ in range(count)
        ]
        try:
            described = ray.get(
                [a.describe.remote() for a in self._actors], timeout=opts.start_timeout_s
            )
        except ray.exceptions.GetTimeoutError as exc:
            raise DistributedIngestError(
                f"{count} Ray workers of {opts.cpus_per_worker} CPU(s) did not all start in "
                f"{opts.start_timeout_s:.0f} s; the cluster has {cpus} CPUs"
            ) from exc
        except ray.exceptions.RayError as exc:
            raise DistributedIngestError(f"a Ray worker failed to start: {exc}") from exc
        names = sorted({name for name, _ in described})
        if len(names) != 1:
            raise DistributedIngestError(f"the Ray workers embed with different models: {names}")
        self.embedder_name = names[0]
        self.pids = [pid for _, pid in described]
        self.batches_done = [0] * count
        log.info("ray workers ready", extra={"workers": count, "embedder": names[0]})

    def _run(self, method: str, payloads: list[tuple[Any, ...]], bar: Any = None) -> list[Any]:
        """Results of `method(*payload)` per payload, in order, spread over live workers."""
        ray, results = self._ray, [None] * len(payloads)
        queue, alive = deque(range(len(payloads))), set(range(len(self._actors)))
        running: dict[Any, tuple[int, int]] = {}  # result ref -> (payload, worker)
        tries, finished = [0] * len(payloads), 0
        while finished < len(payloads):
            for w in sorted(alive):
                while queue and sum(1 for _, x in running.values() if x == w) < IN_FLIGHT:
                    i = queue.popleft()
                    tries[i] += 1
                    running[getattr(self._actors[w], method).remote(*payloads[i])] = (i, w)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=self.options.stall_timeout_s)
            if not ready:
                raise DistributedIngestError(
                    f"no Ray worker finished a {method} batch in "
                    f"{self.options.stall_timeout_s:.0f} s ({finished}/{len(payloads)} done)"
                )
            i, w = running.pop(ready[0])
            try:
                results[i] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # our code raised: as a local run would
                raise exc.cause if isinstance(exc.cause, Exception) else exc from None
            except ray.exceptions.RayError as exc:  # the worker or its result is gone
                self._lost(w, i, exc, alive, tries[i])
                queue.appendleft(i)
                continue
            finished += 1
            self.batches_done[w] += 1
            if bar is not None:
                bar.update(len(payloads[i][0]))
            if self.on_batch is not None:
                self.on_batch(method, finished, len(payloads))
        return results

    def _lost(self, worker: int, batch: int, exc: Exception, alive: set[int], tries: int) -> None:
        """Note a batch lost with its worker; raise when nothing is left to run it."""
        if isinstance(exc, self._ray.exceptions.RayActorError):
            alive.discard(worker)  # Ray's restarts are spent: it is not coming back
        log.warning(
            "a Ray worker was lost; its batch runs again",
            extra={"worker": worker, "batch": batch, "reason": type(exc).__name__},
        )
        if not alive or tries > len(self._actors) + self.options.max_restarts:
            raise DistributedIngestError(f"Ray workers kept failing on a batch: {exc}") from exc


class _Worker:
    """A Ray actor: loads the embedder once, then loads files and prepares articles."""

    def __init__(self, model: str | None, backend: str, threads: int) -> None:
        if backend == "torch":
            import torch

            torch.set_num_threads(threads)  # torch's threads are process-wide
        # The factory the CLI uses: the same embedder (and name) as the driver's.
        self.embedder = create_embedder(model, backend=backend, threads=threads)

    def describe(self) -> tuple[str, int]:
        """The embedder's name (the index records it) and this process's id."""
        return self.embedder.name, os.getpid()

    def load(self, paths: list[str], fields: FieldMap) -> list[LoadResult]:
        """Each file's articles, failures or skip."""
        return [load_one(Path(p), fields) for p in paths]

    def prepare(self, articles: list[Article], params: ChunkingParams) -> list[PreparedArticle]:
        """Chunks and vectors of each article, by the code a local ingest runs."""
        return list(
            prepare_articles(articles, self.embedder, IngestOptions(params=params)).values()
        )


def ingest_on_ray(
    paths: Iterable[Path],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions | None = None,
    ray_options: RayOptions | None = None,
    *,
    workers: RayWorkers | None = None,
) -> IngestReport:
    """`rag ingest --ray`: load, clean, cut and embed on Ray workers; commit here, as locally.

    `workers`: workers started already (kept running for the next call); None starts them
    from `ray_options` and stops them after.
    """
    options = options or IngestOptions()
    check_chunking(options.params, embedder)
    started = time.perf_counter()
    files = list(iter_files(paths))
    with contextlib.ExitStack() as stack:
        pool = workers or stack.enter_context(RayWorkers(ray_options))
        if pool.embedder_name != embedder.name:
            raise DistributedIngestError(
                f"the Ray workers embed with {pool.embedder_name!r} but this machine with "
                f"{embedder.name!r}; install the same newsrag and runtimes on every node"
            )
        loaded = pool.load(files, options.fields)
        prepare = functools.partial(pool.prepare, params=options.params, progress=options.progress)
        report = ingest_loaded(loaded, index_dir, embedder, options, prepare=prepare)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _progress_bar(articles: int) -> Any:
    """A bar (tqdm) over the articles being embedded, on runs long enough to need one."""
    if articles < PROGRESS_MIN_ARTICLES:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=articles, desc="Embedding on Ray", unit="article")

"""Faster CPU runtimes for the embedder's transformer: ONNX Runtime (fp32 or int8) and OpenVINO.

sentence-transformers' own `backend="onnx"|"openvino"` needs `optimum`, whose current releases
pin an older `transformers` (optimum-onnx) or pull a newer torch with CUDA (optimum-intel). So
the model is exported here with `torch.onnx` from the local model path (never a hub), cached
by weight checksum, optionally quantised with onnxruntime's dynamic int8 quantisation, and run
with mean pooling + L2 normalisation exactly as the sentence-transformers pipeline does.
torch is needed for the export only: index.onnx_embedder runs the cached file without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino")
# The fastest backend whose SciFact nDCG@10 stays within 0.005 of torch fp32 (issue 7,
# README "Performance"): r2 ran 2.3x torch's tokens/s (2.2x per CPU-second) here, r3 13 %
# more tokens per CPU-second than r2; dense nDCG@10 0.0024 below torch, hybrid 0.0007 above.
DEFAULT_BACKEND = "onnx-int8"
# Recipe version of each exported backend: bump it whenever the export or quantisation
# procedure changes the vectors. It is part of the cached file's name (a stale export is never
# reused) and of the embedder name (an index built by an older recipe is an
# EmbedderMismatchError, not silently mixed vectors). openvino compiles the onnx export, so
# the two move together. History: onnx-int8 r2 = one text per run; r3 (onnx, openvino r2) =
# eager-attention export and no SkipLayerNormalization fusion (export_onnx, load_runner); r4 =
# 7-bit weights, so the int8 products are the same on every CPU (_quantize, issue 12).
RECIPES = {"onnx": 2, "onnx-int8": 4, "openvino": 2}
# ONNX Runtime's AVX2 (and AVX-512BW) int8 kernel adds each pair of u8 x s8 products into a
# saturating int16 (vpmaddubsw); AVX-512 VNNI and AMX add exactly. Weights within +-64 keep
# every pair within int16 for any activations, 2 * 255 * 64 = 32640 <= 32767, so all CPUs
# compute the exact products (README "Results do not depend on the CPU").
SAFE_INT8_WEIGHT = 64
# ONNX Runtime's fused SkipLayerNormalization kernel is slower on this CPU than the Add and
# LayerNormalization it replaces (7 % vs 3 % of an int8 run, one thread): left unfused.
_UNFUSED = ["SkipLayerNormFusion"]
# Dynamic int8 quantises each MatMul input with one scale for the whole tensor, i.e. the whole
# batch (padding included): batched, a passage's vector moved with its neighbours (cosine
# down to 0.984 against itself embedded alone). One text per run keeps vectors a function of
# the text, and costs no CPU time (padding is gone): 4.0-4.3k vs 3.4-3.7k tokens/CPU-s here.
BATCH_DEPENDENT = frozenset({"onnx-int8"})
Runner = Callable[[dict[str, np.ndarray]], np.ndarray]  # inputs -> (batch, seq, hidden)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DIGESTS = "digests.json"  # in the cache folder: model folder -> weights digest, by file stamps


class BackendUnavailableError(ImportError):
    """The runtime a backend needs is not installed (callers fall back to torch)."""


def check_backend(backend: str) -> None:
    """Raise ValueError for an unknown backend, BackendUnavailableError for a missing runtime."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; choose one of {BACKENDS}")
    # Looked up, not imported: `onnx` (protobuf) is only needed to quantise, once.
    needs = {
        "onnx": ["onnxruntime"],
        "onnx-int8": ["onnxruntime", "onnx"],
        "openvino": ["openvino"],
    }
    for module in needs.get(backend, []):
        if importlib.util.find_spec(module) is None:
            raise BackendUnavailableError(f"backend {backend!r} needs {module}")


def backend_label(backend: str) -> str:
    """The backend as an embedder name suffix: `onnx-int8-r4`; torch (nothing exported) as is."""
    return f"{backend}-r{RECIPES[backend]}" if backend in RECIPES else backend


def default_cache_dir() -> Path:
    """Where exported models are kept: ~/.cache/newsrag/onnx."""
    return Path.home() / ".cache" / "newsrag" / "onnx"


def weights_digest(model_dir: Path) -> str:
    """Short sha256 over the model's weight and config files, keying the export cache."""
    digest = hashlib.sha256()
    for path in _digested(model_dir):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _digested(model_dir: Path) -> list[Path]:
    """The files `weights_digest` covers: weights and configs at the top of the model folder."""
    return [
        path
        for path in sorted(model_dir.glob("*"))
        if path.is_file() and path.suffix in (".safetensors", ".bin", ".json")
    ]


Progress = Callable[[str], None]  # one line of news for the user (the entry point shows it)


def model_file(
    model_dir: Path,
    backend: str,
    cache_dir: Path,
    *,
    export: Callable[[Path], None],
    progress: Progress | None = None,
) -> Path:
    """The ONNX file for `backend`, exported (by `export`) and quantised once into `cache_dir`.

    `export(path)` writes the fp32 model (it loads torch: called only when nothing is cached);
    `progress` hears what the one-time work is doing, it runs for 20-40 s here.
    """
    folder = cache_dir / cached_digest(model_dir, cache_dir)
    fp32, int8 = (folder / name for name in current_exports())
    wanted = int8 if backend == "onnx-int8" else fp32
    if wanted.exists():
        return wanted
    say = progress or (lambda message: None)
    started = time.perf_counter()
    if not fp32.exists():
        say(f"exporting the embedder to ONNX for {backend} (first use only; cached in {folder})")
        _atomic(fp32, export)
        _prune_stale(folder)
    if backend == "onnx-int8" and not int8.exists():
        say("quantising the exported embedder to int8")
        _atomic(int8, lambda tmp: _quantize(fp32, tmp))
        _prune_stale(folder)
    say(f"embedder ready for {backend} in {time.perf_counter() - started:.1f} s")
    return wanted


def cached_digest(model_dir: Path, cache_dir: Path) -> str:
    """`weights_digest`, remembered in `cache_dir` by each file's size and mtime.

    Hashing the weights (90 MB for MiniLM) cost 0.1 s of every process that embeds.
    """
    memo = cache_dir / DIGESTS
    key = str(model_dir.resolve())
    stamp = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in _digested(model_dir)]
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    entry = known.get(key) if isinstance(known, dict) else None
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return str(entry["digest"])
    digest = weights_digest(model_dir)
    known = known if isinstance(known, dict) else {}
    known[key] = {"stamp": stamp, "digest": digest}

    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(known), encoding="utf-8")

    try:
        _atomic(memo, write)
    except OSError as exc:  # a read-only cache still works, only slower
        log.warning("cannot remember the weights digest", extra={"reason": str(exc)})
    return digest


def current_exports() -> tuple[str, str]:
    """File names of this version's fp32 export (openvino compiles it too) and int8 model."""
    return f"model-r{RECIPES['onnx']}.onnx", f"model-{backend_label('onnx-int8')}.onnx"


# Exports of other recipes kept beside the current ones (60-90 MB each): worktrees or installs
# on another recipe share this cache, and deleting theirs made each re-export (20-40 s) in turn.
KEEP_OTHER_RECIPES = 2
_RECIPE_FILE = re.compile(r"model-(?:[a-z0-9-]+-)?r\d+\.onnx")


def _prune_stale(folder: Path) -> None:
    """Delete pre-recipe exports, other recipes' beyond the KEEP_OTHER_RECIPES newest.

    Word tables (index.word_table) of exports no longer there go too.
    """
    keep = set(current_exports())
    others = [p for p in folder.glob("model*.onnx") if p.name not in keep]
    named = [p for p in others if _RECIPE_FILE.fullmatch(p.name)]
    named.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for path in [p for p in others if p not in named] + named[KEEP_OTHER_RECIPES:]:
        path.unlink(missing_ok=True)
        log.info("removed an export of another recipe", extra={"path": str(path)})
    for table in folder.glob("model*-words.npy"):  # index.word_table's, of a removed export
        if not table.with_name(table.name.removesuffix("-words.npy") + ".onnx").exists():
            table.unlink(missing_ok=True)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_runner(path: Path, backend: str, threads: int | None = None) -> Runner:
    """A callable running the exported transformer with ONNX Runtime or OpenVINO."""
    if backend == "openvino":
        import openvino as ov

        compiled = ov.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
        return lambda feeds: np.asarray(compiled(feeds)[0])
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # An explicit count: left at 0, ORT also pins each thread to a core, and a pinned thread
    # waits whenever another process holds its core (this box: 2 cores, shared).
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    # Idle workers sleep instead of spinning: on a shared or busy CPU spinning steals the
    # cycles the other thread needs (torch's 2-thread query latency went 55 ms -> 1.1 s here).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=_UNFUSED
    )
    return lambda feeds: np.asarray(session.run(None, feeds)[0])


def encode(
    runner: Runner,
    ids: list[list[int]],
    batch_size: int,
    *,
    workers: int = 1,
    pool: Executor | None = None,
) -> np.ndarray:
    """Mean-pooled, L2-normalised (n, hidden) float32 from token ids; batches sorted by length.

    With `workers` > 1, batches run concurrently (the runtimes release the GIL), each on a
    single-threaded runner: no per-operator barriers between threads, so on 2 cores 2 x 1
    threads embedded 8.5-9k tokens/s against 6.1-6.7k for one 2-thread run at a time. They run
    on `pool` when given (a caller's long-lived threads: starting threads per call cost 1-2 ms
    of a 1.4 ms one-word run here), else on threads started for this call; a single batch
    runs on the calling thread. Where a batch runs never changes its vectors.
    """
    order = np.argsort([-len(x) for x in ids], kind="stable")  # longest first: least padding
    batches = [order[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    out = np.zeros((len(ids), 0), dtype=np.float32)  # (n, h) once the width is known

    def fill(results: Iterable[np.ndarray]) -> None:
        nonlocal out
        for batch, pooled in zip(batches, results, strict=True):
            if out.shape[1] == 0:
                out = np.zeros((len(ids), pooled.shape[1]), dtype=np.float32)
            out[batch] = pooled

    def run(batch: np.ndarray) -> np.ndarray:
        return _embed_batch(runner, ids, batch)

    if workers <= 1 or len(batches) <= 1:
        fill(map(run, batches))
    elif pool is not None:
        fill(pool.map(run, batches))
    else:
        with ThreadPoolExecutor(min(workers, len(batches))) as own:
            fill(own.map(run, batches))
    return out if len(ids) else np.zeros((0, 0), dtype=np.float32)


def _embed_batch(runner: Runner, ids: list[list[int]], batch: np.ndarray) -> np.ndarray:
    """(b, h) mean-pooled, L2-normalised vectors of the texts at positions `batch`."""
    width = max(len(ids[i]) for i in batch)
    input_ids = np.zeros((len(batch), width), dtype=np.int64)  # (b, t), [PAD] = 0
    mask = np.zeros_like(input_ids)
    for row, i in enumerate(batch):
        input_ids[row, : len(ids[i])] = ids[i]
        mask[row, : len(ids[i])] = 1
    feeds = dict(zip(_INPUTS, (input_ids, mask, np.zeros_like(input_ids)), strict=True))
    hidden = runner(feeds)  # (b, t, h)
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)  # (b, h)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled.astype(np.float32, copy=False)


def export_onnx(st_model: Any, target: Path) -> None:
    """Write the transformer of a loaded sentence-transformers model to `target` as ONNX (fp32)."""
    import torch

    hf_model = st_model[0].model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]

    sample = torch.ones((2, 8), dtype=torch.int64)
    mask = sample.clone()
    mask[1, 5:] = 0  # a padded row, so tracing keeps the attention mask in the graph
    axes = {0: "batch", 1: "sequence"}
    # Eager attention exports as plain MatMul/Softmax; SDPA's mask handling adds Where/IsNaN
    # nodes costing ~6 % of an int8 run. Restored after, for torch if this backend fails.
    attention = hf_model.config._attn_implementation
    hf_model.set_attn_implementation("eager")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches
            torch.onnx.export(
                _Hidden(),
                (sample, mask, torch.zeros_like(sample)),
                str(target),
                dynamo=False,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={name: axes for name in (*_INPUTS, "last_hidden_state")},
                opset_version=17,
            )
    finally:
        hf_model.set_attn_implementation(attention)


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Weights int8 per output channel, activations quantised on the fly; only MatMul, so
    # embeddings, LayerNorm and softmax stay float (cosine to fp32 >= 0.98 on SciFact).
    # reduce_range: 7-bit weights (-64..64), which no CPU's int8 kernel can saturate (r4; r3's
    # full-range weights saturated on AVX2: cosine down to 0.967 against a VNNI CPU's vectors).
    root = logging.getLogger()
    advice = _DropMessage("pre-processing before quantization")  # a root-logger tip, not news
    root.addFilter(advice)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(advice)
    check_no_saturation(target)


def check_no_saturation(path: Path) -> None:
    """Raise ValueError unless every int8 weight of the model lies within +-SAFE_INT8_WEIGHT."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or node.input[1] not in weights:
            continue
        largest = int(np.abs(numpy_helper.to_array(weights[node.input[1]]).astype(np.int16)).max())
        if largest > SAFE_INT8_WEIGHT:
            raise ValueError(
                f"{path.name}: {node.name} has int8 weights up to {largest}; above "
                f"{SAFE_INT8_WEIGHT} AVX2 and VNNI CPUs compute different products"
            )


class _DropMessage(logging.Filter):
    """Drops log records whose message contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for the unwanted message."""
        return self.text not in record.getMessage()


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        log.info("writing to the embedder cache", extra={"target": str(target)})
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)

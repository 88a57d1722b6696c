"""The int8 embedder's integer arithmetic per x86 instruction set, emulated (issue 12).

ONNX Runtime's MLAS computes each MatMulInteger (u8 activations x s8 weights) with a kernel
chosen at run time by CPU. Its AVX2 kernel (`QgemmU8S8KernelAvx2.S`, also the AVX-512BW one)
packs 4 consecutive k of a weight column into a dword, and `vpmaddubsw` adds the two products
of each pair (k = 2j, 2j+1) into a SATURATED int16 before `vpmaddwd` widens the pairs to int32.
AVX-512 VNNI (`vpdpbusds`) and AMX add all four products into int32 exactly (the int32
saturation of `vpdpbusds` is out of reach: |sum| <= 1536 * 255 * 127 < 2**31). So a pair whose
products sum past 32767 gives a different integer on AVX2 than on VNNI.

This module holds
- a numpy reference of that arithmetic (`integer_matmul`, both semantics; tested against ONNX
  Runtime's own integer outputs on this machine),
- graph rewrites to run the same model in ONNX Runtime with VNNI's integers on an AVX2 machine
  (`exact_integer_graph`: each weight split into two halves whose pair sums cannot saturate,
  summed in int32) and with float ops perturbed by a few ulps (`perturbed_float_graph`), the
  stand-in for the float kernels that differ between instruction sets,
- `capture_integer_products`: every MatMulInteger's inputs and int32 output from ORT.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INT16_MAX = 32767
INT16_MIN = -32768
U8_MAX = 255
# Weights within +-64 keep every pair sum within int16 whatever the activations:
# 2 * 255 * 64 = 32640 <= 32767 (what `reduce_range` 7-bit weights give).
SAFE_WEIGHT = INT16_MAX // (2 * U8_MAX)

Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


def integer_matmul(
    a: np.ndarray,
    b: np.ndarray,
    a_zero: np.ndarray | int | None = None,
    b_zero: np.ndarray | int | None = None,
    *,
    pair_saturating: bool = False,
) -> np.ndarray:
    """MatMulInteger: (..., K) u8 x (K, N) s8 -> (..., N) int64, exact or AVX2 pair-saturating.

    MLAS multiplies the raw bytes and removes the zero points afterwards with row and column
    sums (exact int32), so saturation depends on the raw u8 values, not on `a - a_zero`.
    """
    lead, k_dim = a.shape[:-1], a.shape[-1]
    rows = a.reshape(-1, k_dim).astype(np.int64)  # (M, K)
    weights = b.astype(np.int64)  # (K, N)
    # float64 products are exact here (|sum| < 2**53) and use BLAS; int64 matmul is slow.
    raw = np.rint(rows.astype(np.float64) @ weights.astype(np.float64)).astype(np.int64)
    if pair_saturating:
        raw += _saturation_correction(rows, weights)
    za = 0 if a_zero is None else int(np.asarray(a_zero).reshape(-1)[0])
    zb = np.zeros(weights.shape[1], np.int64) if b_zero is None else np.asarray(b_zero, np.int64)
    zb = np.broadcast_to(zb.reshape(-1), (weights.shape[1],))
    out = (
        raw
        - rows.sum(axis=1, keepdims=True) * zb[None, :]
        - za * weights.sum(axis=0, keepdims=True)
        + k_dim * za * zb[None, :]
    )
    return out.reshape(*lead, weights.shape[1])


def _saturation_correction(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(M, N) int64: sum over pairs of saturate16(pair) - pair, only where a pair can saturate."""
    k_dim, n_dim = weights.shape
    if k_dim % 2:  # MLAS pads K with zero bytes
        weights = np.vstack([weights, np.zeros((1, n_dim), np.int64)])
        rows = np.hstack([rows, np.zeros((rows.shape[0], 1), np.int64)])
    even, odd = weights[0::2], weights[1::2]  # (J, N)
    pairs, cols = np.nonzero(_pair_reach(even, odd) > INT16_MAX)
    correction = np.zeros((rows.shape[0], n_dim), np.int64)
    if len(pairs) == 0:
        return correction
    sums = rows[:, 2 * pairs] * even[pairs, cols] + rows[:, 2 * pairs + 1] * odd[pairs, cols]
    delta = np.clip(sums, INT16_MIN, INT16_MAX) - sums  # (M, candidates)
    for col in np.unique(cols):
        correction[:, col] = delta[:, cols == col].sum(axis=1)
    return correction


def _pair_reach(even: np.ndarray, odd: np.ndarray) -> np.ndarray:
    """Largest |a * w + a' * w'| over u8 a, a' per weight pair: 255 x the larger of the sums of
    the pair's positive and of its negative weights."""
    up = np.maximum(even, 0) + np.maximum(odd, 0)
    down = np.maximum(-even, 0) + np.maximum(-odd, 0)
    return U8_MAX * np.maximum(up, down)


def max_pair_sum(weights: np.ndarray) -> int:
    """Largest |u8 x w + u8 x w'| any activations can give on a weight pair (k = 2j, 2j+1)."""
    w = weights.astype(np.int64)
    if w.shape[0] % 2:
        w = np.vstack([w, np.zeros((1, w.shape[1]), np.int64)])
    return int(_pair_reach(w[0::2], w[1::2]).max()) if w.size else 0


@dataclass(frozen=True, slots=True)
class IntegerProduct:
    """One MatMulInteger as ONNX Runtime ran it: its inputs and its int32 output."""

    node: str
    a: np.ndarray  # (..., K) uint8 activations
    a_zero: np.ndarray
    b: np.ndarray  # (K, N) int8 weights
    b_zero: np.ndarray
    c: np.ndarray  # (..., N) int32


def _onnx() -> Any:
    import onnx

    return onnx


def integer_nodes(model: Any) -> list[Any]:
    """The model's MatMulInteger nodes."""
    return [n for n in model.graph.node if n.op_type == "MatMulInteger"]


def initializers(model: Any) -> dict[str, np.ndarray]:
    """Initializer name -> array."""
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def capture_integer_products(model: Any, feeds: dict[str, np.ndarray]) -> list[IntegerProduct]:
    """Run `model` unfused in ORT and return every MatMulInteger's inputs and int32 output."""
    from onnx import helper

    onnx = _onnx()
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    weights = initializers(model)
    wanted: list[str] = []
    for node in integer_nodes(model):
        for name in (node.input[0], node.input[2], node.output[0]):
            if name not in weights and name not in wanted:
                wanted.append(name)
    for name in wanted:
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    run = session(probe, optimize=False, all_outputs=True)
    values = run(feeds)
    out = []
    for node in integer_nodes(model):
        out.append(
            IntegerProduct(
                node=node.name,
                a=values[node.input[0]],
                a_zero=values[node.input[2]],
                b=weights[node.input[1]],
                b_zero=weights[node.input[3]] if len(node.input) > 3 else np.zeros(1, np.int8),
                c=values[node.output[0]],
            )
        )
    return out


def session(model: Any, *, optimize: bool, threads: int = 1, all_outputs: bool = False) -> Any:
    """An ORT runner for `model` (a ModelProto or path): fused as shipped, or unfused.

    Returns the first output, or with `all_outputs` a dict of every output by name.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # no warnings about rewritten graphs
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    sess = ort.InferenceSession(
        source,
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["SkipLayerNormFusion"],
    )
    names = [o.name for o in sess.get_outputs()]
    if all_outputs:
        return lambda feeds: dict(zip(names, sess.run(None, feeds), strict=True))
    return lambda feeds: np.asarray(sess.run(None, feeds)[0])


def exact_integer_graph(model: Any) -> Any:
    """The model with VNNI's integers on any CPU: each s8 weight w = w1 + w2, |w1|, |w2| <= 64.

    (A - za) @ w == (A - za) @ w1 + (A - za) @ w2 exactly (weights are symmetric, zero point 0),
    and neither half can saturate a pair on AVX2, so the int32 sum is the exact product.
    """
    from onnx import helper, numpy_helper

    onnx = _onnx()
    out = onnx.ModelProto()
    out.CopyFrom(model)
    weights = initializers(out)
    nodes = []
    for node in out.graph.node:
        if node.op_type != "MatMulInteger" or max_pair_sum(weights[node.input[1]]) <= INT16_MAX:
            nodes.append(node)
            continue
        w = weights[node.input[1]].astype(np.int16)
        if len(node.input) > 3 and np.any(weights[node.input[3]] != 0):
            raise ValueError(f"{node.name}: the split needs symmetric weights (zero point 0)")
        low = np.clip(w, -SAFE_WEIGHT, SAFE_WEIGHT)
        parts = []
        for tag, part in (("lo", low), ("hi", w - low)):
            name = f"{node.input[1]}_{tag}"
            out.graph.initializer.append(numpy_helper.from_array(part.astype(np.int8), name))
            inputs = [node.input[0], name, *node.input[2:]]
            parts.append(f"{node.output[0]}_{tag}")
            nodes.append(
                helper.make_node("MatMulInteger", inputs, [parts[-1]], f"{node.name}_{tag}")
            )
        nodes.append(helper.make_node("Add", parts, [node.output[0]], f"{node.name}_sum"))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [i for i in out.graph.initializer if i.name in used]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    return out


# Float ops whose MLAS kernels are chosen per CPU (platform.cpp: on AVX-512F the SGEMM, exp and
# sum-of-exp kernels and, in the fused graph, GELU change; LayerNorm, Add, Mul and the
# quantise/dequantise steps run the same code everywhere, and quantising divides exactly).
_FLOAT_OPS = re.compile(r"^(Softmax|Erf|MatMul)$")


def perturbed_float_graph(model: Any, eps: float) -> Any:
    """The model with the output of every float op that MLAS dispatches per CPU multiplied by
    1 +- eps, the sign a deterministic function of the value.

    A stand-in for float kernels that round differently on another instruction set (softmax's
    sum of exponentials, GELU's erf, float GEMM): eps 1e-7 is about one ulp on every element.
    """
    from onnx import helper, numpy_helper

    onnx = _onnx()
    out = onnx.ModelProto()
    out.CopyFrom(model)
    consts = {
        "_isa_freq": np.array(12345.678, np.float32),
        "_isa_eps": np.array(eps, np.float32),
        "_isa_one": np.array(1.0, np.float32),
    }
    for name, value in consts.items():
        out.graph.initializer.append(numpy_helper.from_array(value, name))
    nodes = []
    for node in out.graph.node:
        nodes.append(node)
        if not _FLOAT_OPS.match(node.op_type):
            continue
        y = node.output[0]
        raw = f"{y}_isa_raw"
        node.output[0] = raw
        steps = [
            ("Mul", [raw, "_isa_freq"], "f"),
            ("Sin", ["f"], "s"),
            ("Sign", ["s"], "g"),
            ("Mul", ["g", "_isa_eps"], "e"),
            ("Add", ["e", "_isa_one"], "r"),
        ]
        prev = {}
        for op, inputs, tag in steps:
            names = [prev.get(i, i) for i in inputs]
            prev[tag] = f"{y}_isa_{tag}"
            nodes.append(helper.make_node(op, names, [prev[tag]], f"{node.name}_isa_{tag}"))
        nodes.append(helper.make_node("Mul", [raw, prev["r"]], [y], f"{node.name}_isa_mul"))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out

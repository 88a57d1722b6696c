"""The int8 embedder gives the same integers on every x86 CPU (issue 12).

ONNX Runtime's AVX2 kernel adds each pair of u8 x s8 products into a saturating int16; VNNI and
AMX add exactly. The numpy reference in bench/isa.py implements both. These tests check that
the reference detects saturation where it occurs, that ORT on this CPU computes exactly what
the reference says for this CPU, and that the shipped recipe's weights cannot saturate a pair
for any input, so ORT's integers equal the exact (VNNI) products here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench import isa
from newsrag.index import Embedder
from newsrag.index.backends import (
    RECIPES,
    check_no_saturation,
    current_exports,
    default_cache_dir,
    weights_digest,
)
from newsrag.index.embedding import bundled_model_path, create_embedder

TEXTS = [
    "Alibaba will invest $15 billion to expand overseas research hubs, its chief said on Monday.",
    "Shares fell 4.5% in Hong Kong after the regulator fined the company a record $2.8 billion "
    "in April; analysts at three banks cut their targets. " * 3,
]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def _one_matmul(weights: np.ndarray) -> onnx.ModelProto:
    """MatMulInteger(a: u8 input, weights: s8 initializer, a_zero 0, w_zero 0), as quantised."""
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, ["m", weights.shape[0]])
    c = helper.make_tensor_value_info("c", TensorProto.INT32, ["m", weights.shape[1]])
    inits = [
        numpy_helper.from_array(weights.astype(np.int8), "w"),
        numpy_helper.from_array(np.array(0, np.uint8), "za"),
        numpy_helper.from_array(np.zeros(weights.shape[1], np.int8), "zw"),
    ]
    node = helper.make_node("MatMulInteger", ["a", "w", "za", "zw"], ["c"])
    graph = helper.make_graph([node], "one", [a], [c], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_reference_detects_saturation_on_inputs_built_to_saturate() -> None:
    a = np.full((4, 8), 255, np.uint8)  # (m, k): the largest activations
    w = np.zeros((8, 5), np.int8)  # (k, n)
    w[:, 0] = 127  # each pair: 2 * 255 * 127 = 64770 > 32767
    w[:, 1] = -128  # each pair: -65280 < -32768
    w[:, 2] = 64  # each pair: 32640, just inside int16
    w[0::2, 3], w[1::2, 3] = 127, -127  # pairs cancel: never saturates
    w[:, 4] = [127, 2, 0, 0, 0, 0, 0, 0]  # one pair at 32895: saturates by 128
    exact = isa.integer_matmul(a, w)
    saturating = isa.integer_matmul(a, w, pair_saturating=True)
    assert exact[0].tolist() == [8 * 255 * 127, -8 * 255 * 128, 8 * 255 * 64, 0, 255 * 129]
    assert saturating[0].tolist() == [4 * 32767, -4 * 32768, 8 * 255 * 64, 0, 32767]
    assert isa.max_pair_sum(w) == 255 * 256 and isa.max_pair_sum(w[:, 2:4]) == 32640
    with_zero = isa.integer_matmul(a, w, 3, None, pair_saturating=True)
    # zero points come off afterwards (MLAS: row and column sums), saturation stays
    np.testing.assert_array_equal(with_zero, saturating - 3 * w.astype(np.int64).sum(axis=0))


def test_ort_on_this_cpu_computes_what_the_reference_says_for_this_cpu() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, size=(64, 48)).astype(np.int8)  # (k, n)
    w[:, :8] = 127  # columns that saturate for large activations
    a = rng.integers(0, 256, size=(6, 64)).astype(np.uint8)  # (m, k)
    a[:2] = 255
    ort = isa.session(_one_matmul(w), optimize=True)({"a": a})
    exact = isa.integer_matmul(a, w)
    saturating = isa.integer_matmul(a, w, pair_saturating=True)
    assert not np.array_equal(exact, saturating)  # the inputs do saturate on AVX2
    vnni = {"avx512_vnni", "avx_vnni", "amx_int8"} & _cpu_flags()
    if vnni:  # exact int32 accumulation
        np.testing.assert_array_equal(ort, exact)
    elif "avx2" in _cpu_flags():  # vpmaddubsw: pairs saturate at int16
        np.testing.assert_array_equal(ort, saturating)
    else:
        assert np.array_equal(ort, exact) or np.array_equal(ort, saturating)


@pytest.fixture(scope="module")
def shipped() -> tuple[Embedder, onnx.ModelProto, Path]:
    """The default embedder and the int8 model file it runs."""
    embedder = create_embedder()
    assert embedder.backend == "onnx-int8"
    path = default_cache_dir() / weights_digest(bundled_model_path()) / current_exports()[1]
    return embedder, onnx.load(str(path)), path


def _feeds(embedder: Embedder, text: str) -> dict[str, np.ndarray]:
    ids = np.asarray(embedder._pieces.ids([text]), dtype=np.int64)  # type: ignore[attr-defined]  # (1, t)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}


def test_no_weight_pair_of_the_shipped_recipe_can_saturate(
    shipped: tuple[Embedder, onnx.ModelProto, Path],
) -> None:
    _, model, path = shipped
    assert RECIPES["onnx-int8"] >= 4  # r4: 7-bit weights (reduce_range)
    nodes = isa.integer_nodes(model)
    weights = isa.initializers(model)
    assert len(nodes) == 36  # 6 layers x (q, k, v, attention out, ffn in, ffn out)
    for node in nodes:  # for ANY u8 activations: 255 * (|w| + |w'|) <= 32640
        assert isa.max_pair_sum(weights[node.input[1]]) <= isa.INT16_MAX, node.name
    check_no_saturation(path)  # what the export checks before it caches the file
    assert isa.exact_integer_graph(model).graph.node == model.graph.node  # nothing to split


def test_ort_integer_products_equal_the_exact_reference(
    shipped: tuple[Embedder, onnx.ModelProto, Path],
) -> None:
    embedder, model, _ = shipped
    for text in TEXTS:
        products = isa.capture_integer_products(model, _feeds(embedder, text))
        assert len(products) == 36
        for p in products:
            args = (p.a, p.b, p.a_zero, p.b_zero)
            exact = isa.integer_matmul(*args)
            np.testing.assert_array_equal(p.c, exact, err_msg=p.node)  # VNNI / AMX integers
            saturating = isa.integer_matmul(*args, pair_saturating=True)
            np.testing.assert_array_equal(p.c, saturating, err_msg=p.node)  # AVX2 integers


def test_float_parts_agree_with_the_reference_within_a_stated_tolerance(
    shipped: tuple[Embedder, onnx.ModelProto, Path],
) -> None:
    """The float steps around the integer products match the reference bit for bit (tolerance
    0): quantising activations (ONNX DynamicQuantizeLinear: scale, zero point, round half to
    even) and dequantising the exact int32 products (one float32 multiply by the scales); and
    the fused graph `rag` runs stays within 1e-5 of this unfused one (its GELU and scaled
    attention kernels round differently: 3.6e-7 measured). LayerNorm, softmax, GELU and the
    float attention products are ORT's own and not re-implemented here: bench/cross_isa.py
    measures what such last-bit differences move."""
    embedder, model, path = shipped
    feeds = _feeds(embedder, TEXTS[1])
    nodes = list(model.graph.node)
    quantisers = [n for n in nodes if n.op_type == "DynamicQuantizeLinear"]
    by_input = {i: n for n in nodes for i in n.input}
    dequantisers = []  # (MatMulInteger, its Cast -> Mul by the scales)
    for node in isa.integer_nodes(model):
        cast = by_input[node.output[0]]
        dequantisers.append((node, by_input[cast.output[0]]))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    wanted = {name for q in quantisers for name in (q.input[0], *q.output)}
    wanted |= {
        name for node, mul in dequantisers for name in (node.output[0], *mul.input, mul.output[0])
    }
    for name in sorted(wanted - set(isa.initializers(model))):
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    values = isa.session(probe, optimize=False, all_outputs=True)(feeds)
    for node in quantisers:
        x = values[node.input[0]]
        y, scale, zero = (values[name] for name in node.output)
        ref_y, ref_scale, ref_zero = _dynamic_quantize(x)
        assert scale == ref_scale and zero == ref_zero, node.name
        np.testing.assert_array_equal(y, ref_y, err_msg=node.name)
    weights = isa.initializers(model)
    for node, mul in dequantisers:
        a, za = values[node.input[0]], values[node.input[2]]
        exact = isa.integer_matmul(a, weights[node.input[1]], za, weights[node.input[3]])
        scales = values[mul.input[1]]
        np.testing.assert_array_equal(
            values[mul.output[0]], exact.astype(np.float32) * scales, err_msg=node.name
        )
    hidden = isa.session(path, optimize=True)(feeds)  # as `rag` runs it
    np.testing.assert_allclose(hidden, isa.session(model, optimize=False)(feeds), rtol=0, atol=1e-5)
    vector = embedder.embed_passages([TEXTS[1]])[0]
    pooled = hidden[0].mean(axis=0)
    np.testing.assert_allclose(vector, pooled / np.linalg.norm(pooled), rtol=0, atol=2e-7)


def _dynamic_quantize(x: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    """ONNX DynamicQuantizeLinear in float32: scale, zero point, round-half-even."""
    high = np.float32(max(0.0, float(x.max())))
    low = np.float32(min(0.0, float(x.min())))
    scale = np.float32((high - low) / np.float32(255))
    zero = np.uint8(np.clip(np.rint(np.float32(0) - low / scale), 0, 255))
    y = np.clip(np.rint(x / scale) + np.float32(zero), 0, 255).astype(np.uint8)
    return y, scale, zero

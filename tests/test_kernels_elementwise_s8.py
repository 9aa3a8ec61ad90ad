"""fn_add_s8, fn_add_s8_table, fn_mul_s8, fn_quantize_f32_s8, fn_dequantize_s8_f32, fn_requantize_s8 and
fn_concat_s8: C == numpy reference (firmnet.reference.elementwise_s8, quantize_s8)
exactly, in every method and requant mode; TFLite Micro's parameter arithmetic on
hand-worked values; and the onnxruntime methods against onnxruntime itself, byte for
byte (a mismatch fails with its count and maximum difference).

onnxruntime paths covered (1.31, CPU, x86-64 with AVX2):
- com.microsoft QLinearAdd and QLinearMul with broadcasting, scalars on either side;
- QDQ DequantizeLinear -> Add / Mul -> QuantizeLinear (fused into QLinearAdd/QLinearMul)
  and -> Sub -> (no QLinear op: float), and Add/Mul with graph optimizations disabled
  (float, method ORT_FLOAT);
- QuantizeLinear float -> int8 (ties to even), DequantizeLinear, and
  DequantizeLinear -> QuantizeLinear as int8 -> int8 requantization;
- com.microsoft QLinearConcat and QDQ Concat (fused into QLinearConcat).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from firmnet.kernels.params_elementwise_s8 import ELTWISE_S8, add_s8_params, add_s8_table_params, mul_s8_params
from firmnet.kernels.params_quantize_s8 import (concat_s8_params, dequantize_s8_f32_params, quantize_f32_s8_params,
                                                requantize_s8_params)
from firmnet.reference.elementwise_s8 import add_s8, mul_s8
from firmnet.reference.fixedpoint import quantize_multiplier
from firmnet.reference.quantize_s8 import concat_s8, dequantize_s8_f32, fma_f32, quantize_f32_s8, requantize_s8
from support.compare import assert_array_equal_first, assert_same_as_ort
from support.oracles import graph_session
from support.s8_cases import MODES, acts

FN_OK, FN_ERR_ARG = 0, 1


# ---------------------------------------------------------------- C calls

def _i8(ffi, x):
    """int8_t * to an int8 array that must be C-contiguous (0-d arrays included)."""
    assert x.dtype == np.int8 and x.flags.c_contiguous
    return ffi.cast("int8_t *", ffi.from_buffer(x))


def run_binary(runtime, kind, a, b, p):
    ffi, lib = runtime.ffi, runtime.lib
    a, b = np.array(a, np.int8, order="C"), np.array(b, np.int8, order="C")
    out = np.full(np.broadcast_shapes(a.shape, b.shape), 99, np.int8)
    fn, struct = (lib.fn_add_s8, "fn_add_s8_params *") if kind == "add" else (lib.fn_mul_s8, "fn_mul_s8_params *")
    status = fn(ffi.new(struct, p), _i8(ffi, a), _i8(ffi, b), _i8(ffi, out))
    return status, out


def struct_of(kind, a, b, kw):
    """The builder's struct for a OP b with the quantities kw (the reference's keywords)."""
    return (add_s8_params if kind == "add" else mul_s8_params)(np.shape(a), np.shape(b), **kw)


def check_binary(runtime, kind, a, b, kw):
    """C with the builder's struct == the reference from the quantities kw."""
    p = struct_of(kind, a, b, kw)
    status, out = run_binary(runtime, kind, a, b, p)
    assert status == FN_OK, f"status {status} for {p}"
    ref = (add_s8 if kind == "add" else mul_s8)(a, b, **kw)
    assert_array_equal_first(out, ref, f"{kind}, method {p['method']}, mode {p['requant_mode']}")
    assert out.min() >= p["act_min"] and out.max() <= p["act_max"]
    return out


# ---------------------------------------------------------------- strategies

@st.composite
def quants(draw, lo=-10, hi=2):
    scale = float(np.float32(2.0 ** draw(st.floats(lo, hi))))
    zp = draw(st.sampled_from([-128, 127, 0, None]))
    return scale, draw(st.integers(-128, 127)) if zp is None else zp


def random_s8(rng, shape, kind):
    if kind == "uniform":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    if kind == "extremes":
        return rng.choice(np.array([-128, 127], np.int8), size=shape)
    return rng.integers(-4, 5, size=shape, dtype=np.int8)


@st.composite
def binary_cases(draw, kind, modes=MODES):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=5))
    a_shape, b_shape = shapes.input_shapes
    a_q, b_q = draw(quants()), draw(quants())
    # y's scale within a factor 2^12 of the result's natural scale: outputs neither all
    # saturated nor all zero, multipliers above and below 1
    if kind == "mul":      # s_a * s_b / s_y from 2^-12 to 2^6
        y_q = (float(np.float32(a_q[0] * b_q[0] * 64 * 2.0 ** draw(st.floats(-12, 6)))), draw(quants())[1])
    else:                  # s_in / s_y from 2^-6 to 2^6
        y_q = (float(np.float32(max(a_q[0], b_q[0]) * 2.0 ** draw(st.floats(-6, 6)))), draw(quants())[1])
    mode = draw(st.sampled_from(modes))
    kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, mode=mode, act=draw(acts(y_q[1])))
    if mode == "ort":
        kw["ort_unfused"] = draw(st.booleans())
    if kind != "mul":
        kw["op"] = kind
    try:
        struct_of("mul" if kind == "mul" else "add", np.zeros(a_shape), np.zeros(b_shape), kw)
    except ValueError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = draw(st.sampled_from(["uniform", "extremes", "small"]))
    return random_s8(rng, a_shape, data), random_s8(rng, b_shape, data), kw


# ---------------------------------------------------------------- C == reference

@settings(max_examples=1000, deadline=None)
@given(binary_cases("add"))
def test_add_s8_matches_reference(runtime, case):
    check_binary(runtime, "add", *case)


@settings(max_examples=800, deadline=None)
@given(binary_cases("sub"))
def test_sub_s8_matches_reference(runtime, case):
    check_binary(runtime, "add", *case)


@settings(max_examples=1000, deadline=None)
@given(binary_cases("mul"))
def test_mul_s8_matches_reference(runtime, case):
    check_binary(runtime, "mul", *case)


def run_add_table(runtime, a, b, p, out=None):
    """fn_add_s8_table with the builder's struct p (its tables kept alive beside the struct)."""
    ffi, lib = runtime.ffi, runtime.lib
    a, b = np.array(a, np.int8, order="C"), np.array(b, np.int8, order="C")
    if out is None:
        out = np.full(np.broadcast_shapes(a.shape, b.shape), 99, np.int8)
    tables = {k: ffi.new("int32_t[256]", [int(v) for v in p[k]]) for k in ("a_table", "b_table")}
    status = lib.fn_add_s8_table(ffi.new("fn_add_s8_table_params *", {**p, **tables}), _i8(ffi, a), _i8(ffi, b),
                                 _i8(ffi, out))
    return status, out


def check_add_table(runtime, op, a, b, kw):
    """fn_add_s8_table with the table builder's struct == the reference add_s8 (which knows no tables)."""
    kw = dict(kw, op=op)
    p = add_s8_table_params(np.shape(a), np.shape(b), kw["a_q"], kw["b_q"], kw["y_q"], op=op, act=kw["act"])
    status, out = run_add_table(runtime, a, b, p)
    assert status == FN_OK
    assert_array_equal_first(out, add_s8(a, b, **kw), f"table {op}")


@st.composite
def table_cases(draw, op):
    """binary_cases in TFLM mode, rows long enough for the four-lane steps (up to 37 elements)."""
    a, b, kw = draw(binary_cases(op, modes=("tflm",)))
    try:
        add_s8_table_params(a.shape, b.shape, kw["a_q"], kw["b_q"], kw["y_q"], op=op, act=kw["act"])
    except ValueError:
        assume(False)
    if draw(st.booleans()):     # stretch a broadcast-free pair into long rows
        n = draw(st.integers(1, 37))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        shape = draw(st.sampled_from([(n,), (2, n), (n, 1)]))
        b_shape = draw(st.sampled_from([shape, (1,), shape[-1:]]))
        a, b = random_s8(rng, shape, "uniform"), random_s8(rng, b_shape, "uniform")
        if draw(st.booleans()):
            a, b = b, a
    return a, b, kw


@settings(max_examples=400, deadline=None)
@given(table_cases("add"))
def test_add_s8_table_matches_reference(runtime, case):
    check_add_table(runtime, "add", *case)


@settings(max_examples=400, deadline=None)
@given(table_cases("sub"))
def test_sub_s8_table_matches_reference(runtime, case):
    check_add_table(runtime, "sub", *case)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), quants(), quants(), quants(), st.integers(0, 2**32 - 1))
def test_mul_s8_long_rows_match_reference(runtime, n, a_q, b_q, y_q, seed):
    """fn_mul_s8's TFLM rows of four lanes (and their tail), contiguous or one scalar operand."""
    rng = np.random.default_rng(seed)
    y_q = (float(np.float32(a_q[0] * b_q[0] * 2.0 ** rng.uniform(-8, 4))), y_q[1])
    kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, mode="tflm", act=(-128, 127))
    try:
        mul_s8_params((n,), (n,), a_q, b_q, y_q)
    except ValueError:
        assume(False)
    for b_shape in ((n,), (1,)):
        check_binary(runtime, "mul", random_s8(rng, (n,), "uniform"), random_s8(rng, b_shape, "uniform"), kw)


def test_add_table_in_place_and_refusals(runtime):
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, size=(3, 13), dtype=np.int8)
    b = rng.integers(-128, 128, size=(3, 13), dtype=np.int8)
    kw = dict(a_q=(0.05, 3), b_q=(0.02, -7), y_q=(0.06, -2), act=(-2, 127))
    p = add_s8_table_params(a.shape, b.shape, **kw)
    want = add_s8(a, b, **kw)
    status, out = run_add_table(runtime, a, b, p, out=a)
    assert status == FN_OK and out is a
    assert_array_equal_first(a, want, "in-place table add")
    for field, value in (("output_shift", 0), ("output_shift", -32), ("output_multiplier", -1), ("act_min", -129),
                         ("output_offset", 128), ("ndim", 0)):
        assert run_add_table(runtime, a, b, dict(p, **{field: value}))[0] == FN_ERR_ARG, field
    with pytest.raises(ValueError, match="TFLM"):
        add_s8_table_params(a.shape, b.shape, **kw, mode="single")


def test_add_in_place(runtime):
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, size=(3, 4, 5), dtype=np.int8)
    b = rng.integers(-128, 128, size=(4, 1), dtype=np.int8)
    for mode in MODES:
        kw = dict(a_q=(0.1, 3), b_q=(0.05, -7), y_q=(0.12, 1), mode=mode)
        p = add_s8_params(a.shape, b.shape, **kw)
        expected = add_s8(a, b, **kw)
        buf = a.copy()
        status = runtime.lib.fn_add_s8(runtime.ffi.new("fn_add_s8_params *", p), _i8(runtime.ffi, buf),
                                       _i8(runtime.ffi, b), _i8(runtime.ffi, buf))
        assert status == FN_OK
        assert_array_equal_first(buf, expected, f"in-place add, mode {mode}")


def test_tflm_parameters_hand_worked():
    """TFLM's CalculateOpDataAdd / CalculateOpDataSub / CalculateOpDataMul on exact values."""
    p = add_s8_params((4,), (4,), (0.5, 1), (0.25, -2), (1.0, 3))
    # twice = 1.0: 0.5 -> (2^30, 0), 0.25 -> (2^30, -1), 1 / 2^20 -> (2^30, -19)
    assert (p["a_multiplier"], p["a_shift"], p["b_multiplier"], p["b_shift"]) == (2**30, 0, 2**30, -1)
    assert (p["output_multiplier"], p["output_shift"], p["left_shift"]) == (2**30, -19, 20)
    assert (p["a_offset"], p["b_offset"], p["output_offset"]) == (-1, 2, 3)
    # a = 5 (real 2.0), b = -6 (real -1.0): y real 1.0 -> 3 + 1 = 4
    assert add_s8(np.array([5], np.int8), np.array([-6], np.int8), a_q=(0.5, 1), b_q=(0.25, -2), y_q=(1.0, 3))[0] == 4
    # SUB: TFLM computes the ratios in float32
    sa, sb, sy = 0.0123, 0.0456, 0.0789
    s = add_s8_params((1,), (1,), (sa, 0), (sb, 0), (sy, 0), op="sub")
    twice = np.float32(2) * np.float32(sb)
    assert (s["a_multiplier"], s["a_shift"]) == quantize_multiplier(float(np.float32(sa) / twice))
    assert (s["output_multiplier"], s["output_shift"]) == quantize_multiplier(
        float(twice / (np.float32(2**20) * np.float32(sy))))
    m = mul_s8_params((1,), (1,), (sa, 0), (sb, 0), (sy, 0))
    assert (m["multiplier"], m["shift"]) == quantize_multiplier(float(np.float32(sa)) * float(np.float32(sb))
                                                                / float(np.float32(sy)))
    with pytest.raises(ValueError, match="TFLite requires this multiplier"):
        add_s8_params((1,), (1,), (1.0, 0), (1.0, 0), (1e-7, 0))


def test_fma_f32_is_correctly_rounded():
    from fractions import Fraction
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, 2000).astype(np.float32)
    b = (rng.random(2000) * 4).astype(np.float32)
    c = (rng.standard_normal(2000) * 100).astype(np.float32)
    got = fma_f32(a, b, c)
    for i in range(0, 2000, 7):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        lo = np.float32(float(exact))            # float64 rounding, then check neighbours
        cands = [np.nextafter(lo, np.float32(-np.inf)), lo, np.nextafter(lo, np.float32(np.inf))]
        best = min(cands, key=lambda v: (abs(Fraction(float(v)) - exact), int(np.float32(v).view(np.int32)) & 1))
        assert got[i] == best, (a[i], b[i], c[i])


# ---------------------------------------------------------------- quantize / dequantize / requantize / concat

@settings(max_examples=400, deadline=None)
@given(st.integers(0, 300), quants(-12, 4), st.sampled_from(MODES), st.integers(0, 2**32 - 1))
def test_quantize_f32_s8_matches_reference(runtime, n, y_q, mode, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * y_q[0] * rng.choice([1, 50, 300])).astype(np.float32)
    x[: n // 4] = np.round(x[: n // 4] / np.float32(y_q[0]) * 2) / 2 * np.float32(y_q[0])   # near ties
    if n > 8:
        x[:5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    p = quantize_f32_s8_params(n, y_q, mode)
    expected = quantize_f32_s8(x, scale=y_q[0], zero_point=y_q[1], mode=mode)
    out = np.full(n, 99, np.int8)
    ffi = runtime.ffi
    status = runtime.lib.fn_quantize_f32_s8(ffi.new("fn_quantize_f32_s8_params *", p),
                                            ffi.cast("float *", ffi.from_buffer(x)), _i8(ffi, out))
    assert status == FN_OK
    assert_array_equal_first(out, expected, f"quantize, mode {mode}")


def test_quantize_rounding_per_mode(runtime):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], np.float32)
    assert list(quantize_f32_s8(x, scale=1.0, zero_point=0, mode="tflm")) == [1, 2, 3, -1, -2, -3]
    assert list(quantize_f32_s8(x, scale=1.0, zero_point=0, mode="ort")) == [0, 2, 2, -0, -2, -2]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 300), quants(-12, 4), st.integers(0, 2**32 - 1))
def test_dequantize_s8_f32_matches_reference(runtime, n, x_q, seed):
    q = np.random.default_rng(seed).integers(-128, 128, size=n, dtype=np.int8)
    p = dequantize_s8_f32_params(n, x_q)
    out = np.full(n, np.nan, np.float32)
    ffi = runtime.ffi
    status = runtime.lib.fn_dequantize_s8_f32(ffi.new("fn_dequantize_s8_f32_params *", p), _i8(ffi, q),
                                              ffi.cast("float *", ffi.from_buffer(out)))
    assert status == FN_OK
    expected = dequantize_s8_f32(q, scale=x_q[0], zero_point=x_q[1])
    assert np.array_equal(out.view(np.int32), expected.view(np.int32))


@settings(max_examples=400, deadline=None)
@given(quants(), quants(), st.sampled_from(MODES), st.booleans())
def test_requantize_s8_matches_reference(runtime, x_q, y_q, mode, same):
    y_q = x_q if same else y_q
    try:
        p = requantize_s8_params(256, x_q, y_q, mode)
    except ValueError:
        assume(False)
    q = np.arange(-128, 128).astype(np.int8)         # every int8 value
    out = np.full(256, 99, np.int8)
    ffi = runtime.ffi
    status = runtime.lib.fn_requantize_s8(ffi.new("fn_requantize_s8_params *", p), _i8(ffi, q), _i8(ffi, out))
    assert status == FN_OK
    assert_array_equal_first(out, requantize_s8(q, x_q=x_q, y_q=y_q, mode=mode),
                             f"requantize, method {p['q']['method']}, mode {mode}")


def run_concat(runtime, xs, p):
    ffi = runtime.ffi
    xs = [np.array(x, np.int8, order="C") for x in xs]
    keep = [ffi.new("int32_t[]", p["in_block_elems"]), ffi.new("fn_requant_s8[]", p["requant"]),
            ffi.new("int8_t *[]", [_i8(ffi, x) if x.size else ffi.NULL for x in xs])]
    params = ffi.new("fn_concat_s8_params *", {"n_inputs": p["n_inputs"], "outer": p["outer"],
                                              "in_block_elems": keep[0], "requant": keep[1]})
    total = sum(x.size for x in xs)
    out = np.full(total, 99, np.int8)
    status = runtime.lib.fn_concat_s8(params, keep[2], _i8(ffi, out))
    return status, out


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.lists(quants(), min_size=1, max_size=4), quants(),
       st.sampled_from(MODES), st.integers(0, 2**32 - 1))
def test_concat_s8_matches_reference(runtime, rank, n_in, x_qs, y_q, mode, seed):
    rng = np.random.default_rng(seed)
    base = list(rng.integers(1, 4, size=rank))
    axis = int(rng.integers(0, rank))
    shapes = []
    for k in range(len(x_qs)):
        s = list(base)
        s[axis] = int(rng.integers(0, 4))
        shapes.append(tuple(s))
    x_qs = [y_q if rng.random() < 0.3 else q for q in x_qs]
    try:
        p = concat_s8_params(shapes, axis, x_qs, y_q, mode)
    except ValueError:
        assume(False)
    xs = [rng.integers(-128, 128, size=s, dtype=np.int8) for s in shapes]
    status, out = run_concat(runtime, xs, p)
    assert status == FN_OK
    assert_array_equal_first(out, concat_s8(xs, axis, x_qs=x_qs, y_q=y_q, mode=mode).ravel(), f"concat, mode {mode}")


def test_invalid_arguments(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    a = np.zeros(4, np.int8)
    base = add_s8_params(a.shape, a.shape, (0.1, 0), (0.1, 0), (0.2, 0))
    for field, value in [("method", 5), ("ndim", 0), ("ndim", 7), ("a_offset", -128), ("act_min", 128),
                         ("requant_mode", 2), ("left_shift", 23), ("a_shift", 1), ("subtract", 2)]:
        assert run_binary(runtime, "add", a, a, dict(base, **{field: value}))[0] == FN_ERR_ARG, field
    ort_add = add_s8_params(a.shape, a.shape, (0.1, 0), (0.1, 0), (0.2, 0), mode="ort")
    assert run_binary(runtime, "add", a, a, dict(ort_add, subtract=1))[0] == FN_ERR_ARG
    ort_sub = add_s8_params(a.shape, a.shape, (0.1, 0), (0.1, 0), (0.2, 0), op="sub", mode="ort")
    assert ort_sub["method"] == ELTWISE_S8["ort_float"]
    assert run_binary(runtime, "add", a, a, dict(ort_sub, output_scale=0.0))[0] == FN_ERR_ARG
    m = mul_s8_params(a.shape, a.shape, (0.1, 0), (0.1, 0), (0.2, 0))
    assert run_binary(runtime, "mul", a, a, dict(m, shift=31))[0] == FN_ERR_ARG
    q = quantize_f32_s8_params(4, (0.1, 0))
    x = np.zeros(4, np.float32)
    status = lib.fn_quantize_f32_s8(ffi.new("fn_quantize_f32_s8_params *", dict(q, scale=float("nan"))),
                                    ffi.cast("float *", ffi.from_buffer(x)), _i8(ffi, a))
    assert status == FN_ERR_ARG
    r = requantize_s8_params(4, (0.1, 0), (0.1, 5))
    assert lib.fn_requantize_s8(ffi.new("fn_requantize_s8_params *", dict(r, q=dict(r["q"], method=0))),
                                _i8(ffi, a), _i8(ffi, a)) == FN_ERR_ARG        # COPY with different zero points
    with pytest.raises(ValueError, match="op must be"):
        add_s8_params((1,), (1,), (0.1, 0), (0.1, 0), (0.1, 0), op="div")
    with pytest.raises(ValueError, match="do not broadcast"):
        add_s8_params((3,), (4,), (0.1, 0), (0.1, 0), (0.1, 0))
    with pytest.raises(ValueError, match="scale"):
        mul_s8_params((1,), (1,), (0.0, 0), (0.1, 0), (0.1, 0))


# ---------------------------------------------------------------- against onnxruntime

import onnxruntime as ort  # noqa: E402  (a test dependency)
from onnx import TensorProto, helper  # noqa: E402


def _scalar_inits(**named):
    out = []
    for name, (scale, zp) in named.items():
        out += [helper.make_tensor(f"{name}s", TensorProto.FLOAT, [], [scale]),
                helper.make_tensor(f"{name}z", TensorProto.INT8, [], [zp])]
    return out


def _int8_inputs(*names):
    return [helper.make_tensor_value_info(n, TensorProto.INT8, None) for n in names]


def ort_binary(op, a, b, a_q, b_q, y_q, qdq=False, optimize=True):
    if qdq:
        nodes = [helper.make_node("DequantizeLinear", ["A", "as", "az"], ["af"]),
                 helper.make_node("DequantizeLinear", ["B", "bs", "bz"], ["bf"]),
                 helper.make_node(op, ["af", "bf"], ["yf"]),
                 helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["Y"])]
    else:
        nodes = [helper.make_node(op, ["A", "as", "az", "B", "bs", "bz", "ys", "yz"], ["Y"], domain="com.microsoft")]
    sess = graph_session(nodes, _int8_inputs("A", "B"), _scalar_inits(a=a_q, b=b_q, y=y_q), optimize=optimize)
    return sess.run(None, {"A": np.ascontiguousarray(a), "B": np.ascontiguousarray(b)})[0]


@st.composite
def ort_binary_cases(draw, kind):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=4, min_side=1, max_side=6))
    a_q, b_q = draw(quants(-8, 0)), draw(quants(-8, 0))
    natural = max(a_q[0], b_q[0]) if kind != "Mul" else a_q[0] * b_q[0] * 64
    y_q = (float(np.float32(natural * 2.0 ** draw(st.floats(-5, 5)))), draw(quants())[1])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a, b = (rng.integers(-128, 128, size=s, dtype=np.int8) for s in shapes.input_shapes)
    return a, b, a_q, b_q, y_q


def _ours_binary(runtime, op, a, b, a_q, b_q, y_q, unfused=False):
    """The C kernel's bytes (== the reference's, checked) and its struct."""
    kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, mode="ort", ort_unfused=unfused)
    kind = "mul" if op == "Mul" else "add"
    if kind == "add":
        kw["op"] = op.lower()
    return check_binary(runtime, kind, a, b, kw), struct_of(kind, a, b, kw)


@settings(max_examples=300, deadline=None)
@given(ort_binary_cases("Add"))
def test_qlinear_add_matches_onnxruntime(runtime, case):
    a, b, a_q, b_q, y_q = case
    ours, p = _ours_binary(runtime, "Add", a, b, a_q, b_q, y_q)
    assert p["method"] == ELTWISE_S8["ort_qlinear"]
    assert_same_as_ort(ours, ort_binary("QLinearAdd", a, b, a_q, b_q, y_q),
                       f"QLinearAdd {a.shape} + {b.shape}, {a_q} {b_q} -> {y_q}")


@settings(max_examples=300, deadline=None)
@given(ort_binary_cases("Mul"))
def test_qlinear_mul_matches_onnxruntime(runtime, case):
    a, b, a_q, b_q, y_q = case
    ours, _ = _ours_binary(runtime, "Mul", a, b, a_q, b_q, y_q)
    assert_same_as_ort(ours, ort_binary("QLinearMul", a, b, a_q, b_q, y_q),
                       f"QLinearMul {a.shape} * {b.shape}, {a_q} {b_q} -> {y_q}")


def test_qlinear_add_every_pair_matches_onnxruntime(runtime):
    """All 65536 (a, b) pairs, as vectors and with either side a scalar: rounding ties
    of the fused multiply-adds included."""
    rng = np.random.default_rng(11)
    grid_a, grid_b = (g.ravel().astype(np.int8) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    for _ in range(8):
        a_q, b_q, y_q = ((float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
                         for _ in range(3))
        ours, _ = _ours_binary(runtime, "Add", grid_a, grid_b, a_q, b_q, y_q)
        assert_same_as_ort(ours, ort_binary("QLinearAdd", grid_a, grid_b, a_q, b_q, y_q),
                           f"QLinearAdd {a_q} {b_q} {y_q}")
        vec = np.arange(-128, 128).astype(np.int8)
        for s in (-128, -1, 0, 77, 127):
            one = np.array([s], np.int8)
            for a, b in ((vec, one), (one, vec), (one, np.array([-s - 1], np.int8))):
                ours, _ = _ours_binary(runtime, "Add", a, b, a_q, b_q, y_q)
                assert_same_as_ort(ours, ort_binary("QLinearAdd", a, b, a_q, b_q, y_q),
                                   f"QLinearAdd {a.shape} + {b.shape} scalar {s}, {a_q} {b_q} {y_q}")


@pytest.mark.parametrize("op,optimize", [("Add", True), ("Mul", True), ("Sub", True), ("Add", False), ("Mul", False)])
def test_qdq_binary_matches_onnxruntime(runtime, op, optimize):
    rng = np.random.default_rng(hash((op, optimize)) % 2**32)
    for _ in range(20):
        shapes = [(2, 3, 4), (3, 1)] if rng.random() < 0.5 else [(1, 4), (5, 1)]
        a, b = (rng.integers(-128, 128, size=s, dtype=np.int8) for s in shapes)
        a_q, b_q = ((float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128))) for _ in range(2))
        natural = max(a_q[0], b_q[0]) if op != "Mul" else a_q[0] * b_q[0] * 64
        y_q = (float(np.float32(natural * 2.0 ** rng.uniform(-4, 4))), int(rng.integers(-128, 128)))
        ours, p = _ours_binary(runtime, op, a, b, a_q, b_q, y_q, unfused=not optimize)
        assert p["method"] == ELTWISE_S8["ort_float" if (op == "Sub" or not optimize) else "ort_qlinear"]
        assert_same_as_ort(ours, ort_binary(op, a, b, a_q, b_q, y_q, qdq=True, optimize=optimize),
                           f"DQ -> {op} -> Q (optimize={optimize}) {a.shape} {b.shape} {a_q} {b_q} {y_q}")


def test_quantize_dequantize_requantize_match_onnxruntime(runtime):
    rng = np.random.default_rng(5)
    ffi, lib = runtime.ffi, runtime.lib
    for _ in range(20):
        x_q = (float(np.float32(2.0 ** rng.uniform(-10, 2))), int(rng.integers(-128, 128)))
        y_q = (float(np.float32(2.0 ** rng.uniform(-10, 2))), int(rng.integers(-128, 128)))
        # QuantizeLinear, with exact ties and out-of-range values
        x = (rng.standard_normal(1000) * 200 * x_q[0]).astype(np.float32)
        x[:300] = (np.round(x[:300] / np.float32(x_q[0]) * 2) / 2 * np.float32(x_q[0])).astype(np.float32)
        sess = graph_session([helper.make_node("QuantizeLinear", ["X", "xs", "xz"], ["Y"])],
                             [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)], _scalar_inits(x=x_q))
        p = quantize_f32_s8_params(x.size, x_q, "ort")
        out = np.zeros(x.size, np.int8)
        assert lib.fn_quantize_f32_s8(ffi.new("fn_quantize_f32_s8_params *", p),
                                      ffi.cast("float *", ffi.from_buffer(x)), _i8(ffi, out)) == FN_OK
        assert_same_as_ort(out, sess.run(None, {"X": x})[0], f"QuantizeLinear {x_q}")
        # DequantizeLinear
        q = np.arange(-128, 128).astype(np.int8)
        node = helper.make_node("DequantizeLinear", ["X", "xs", "xz"], ["Y"])
        graph = helper.make_graph([node], "g", _int8_inputs("X"),
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], _scalar_inits(x=x_q))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        theirs = sess.run(None, {"X": q})[0]
        assert np.array_equal(dequantize_s8_f32(q, scale=x_q[0], zero_point=x_q[1]).view(np.int32),
                              theirs.view(np.int32))
        # DequantizeLinear -> QuantizeLinear (int8 -> int8)
        sess = graph_session([helper.make_node("DequantizeLinear", ["X", "xs", "xz"], ["f"]),
                              helper.make_node("QuantizeLinear", ["f", "ys", "yz"], ["Y"])],
                             _int8_inputs("X"), _scalar_inits(x=x_q, y=y_q))
        p = requantize_s8_params(256, x_q, y_q, "ort")
        out = np.zeros(256, np.int8)
        assert lib.fn_requantize_s8(ffi.new("fn_requantize_s8_params *", p), _i8(ffi, q), _i8(ffi, out)) == FN_OK
        assert_same_as_ort(out, sess.run(None, {"X": q})[0], f"DQ -> Q {x_q} -> {y_q}")


@pytest.mark.parametrize("qdq", [False, True])
def test_concat_matches_onnxruntime(runtime, qdq):
    rng = np.random.default_rng(6 + qdq)
    for _ in range(15):
        n = int(rng.integers(2, 4))
        shapes = [(2, int(rng.integers(1, 4)), 3) for _ in range(n)]
        x_qs = [(float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128))) for _ in range(n)]
        y_q = x_qs[0] if rng.random() < 0.5 else (float(np.float32(2.0 ** rng.uniform(-8, 0))),
                                                  int(rng.integers(-128, 128)))
        xs = [rng.integers(-128, 128, size=s, dtype=np.int8) for s in shapes]
        names = [f"X{k}" for k in range(n)]
        inits = _scalar_inits(y=y_q, **{f"x{k}": q for k, q in enumerate(x_qs)})
        if qdq:
            nodes = [helper.make_node("DequantizeLinear", [nm, f"x{k}s", f"x{k}z"], [f"f{k}"])
                     for k, nm in enumerate(names)]
            nodes += [helper.make_node("Concat", [f"f{k}" for k in range(n)], ["c"], axis=1),
                      helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["Y"])]
        else:
            ins = ["ys", "yz"] + [v for k, nm in enumerate(names) for v in (nm, f"x{k}s", f"x{k}z")]
            nodes = [helper.make_node("QLinearConcat", ins, ["Y"], axis=1, domain="com.microsoft")]
        theirs = graph_session(nodes, _int8_inputs(*names), inits).run(None, dict(zip(names, xs)))[0]
        p = concat_s8_params(shapes, 1, x_qs, y_q, "ort")
        status, out = run_concat(runtime, xs, p)
        assert status == FN_OK
        what = f"{'QDQ Concat' if qdq else 'QLinearConcat'} {x_qs} -> {y_q}"
        assert_same_as_ort(out.reshape(theirs.shape), theirs, what)


# ---------------------------------------------------------------- which kernel the compiler picks

def test_compiler_picks_the_table_kernels_in_tflm_mode(tmp_path):
    """A .tflite model (TFLM mode): ADD/SUB through the operand tables, the activations as lookup
    tables, their tables' bytes in the report (other modes: test_table_add_refuses_...)."""
    requant, add_kernel, act_kernel = "tflm", "fn_add_s8_table", "fn_lut_s8"
    import firmnet
    from support.tflite_models import binary_model, unary_model
    for k, (model, want) in enumerate([(binary_model(3, "ADD"), add_kernel), (binary_model(4, "SUB"), add_kernel),
                                       (unary_model(5, "HARD_SWISH"), act_kernel),
                                       (unary_model(6, "LOGISTIC"), act_kernel),
                                       (unary_model(7, "TANH"), act_kernel)]):
        path = tmp_path / f"m{k}.tflite"
        path.write_bytes(model)
        cm = firmnet.compile(path, tmp_path / f"out{k}", board="host", name=f"m{k}", requant=requant)
        (layer,) = cm.report["layers"]
        assert layer["kernel"] == want, (k, layer["kernel"])
        assert layer["table_bytes"] == {"fn_add_s8_table": 2048, "fn_lut_s8": 256, "fn_add_s8": 0}[want]


def test_table_add_refuses_an_output_shift_of_zero():
    """An output scale so small that TFLM's output multiplier is >= 1/2 (shift 0), or the single
    rounding mode (the table kernel rounds as TFLM), or a mul: fn_add_s8 / fn_mul_s8 run it."""
    from firmnet.ir import OpQuant, QuantParams
    from firmnet.ops import binary
    q = OpQuant((QuantParams((0.5,), (0,)), QuantParams((0.5,), (0,))), QuantParams((1.5 / 2**20,), (0,)), "tflm")
    with pytest.raises(ValueError, match="output shift 0"):
        add_s8_table_params((4,), (4,), (0.5, 0), (0.5, 0), (1.5 / 2**20, 0))
    assert binary._int8_table_params(binary.Attrs(kind="add", act=(-128, 127), quant=q), (4,), (4,)) is None
    normal = OpQuant(q.inputs, QuantParams((0.7,), (0,)), "single")
    assert binary._int8_table_params(binary.Attrs(kind="add", act=(-128, 127), quant=normal), (4,), (4,)) is None
    assert binary._int8_table_params(binary.Attrs(kind="mul", act=(-128, 127), quant=normal), (4,), (4,)) is None

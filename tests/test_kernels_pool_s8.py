"""fn_maxpool2d_s8 and fn_avgpool2d_s8: C == numpy reference (firmnet.reference.pool_s8),
exactly, in every method and requant mode; and the onnxruntime methods against
onnxruntime itself, byte for byte.

What the onnxruntime checks cover (onnxruntime 1.31 CPU, x86-64; every path must match
exactly, a mismatch fails with its count and maximum difference):
- com.microsoft QLinearAveragePool, NCHW and channels_last, with pads, strides, ceil
  mode and count_include_pad (method ORT, count rule KERNEL), including its fallback to
  the global kernel when the window covers the whole input (method ORT_GLOBAL);
- com.microsoft QLinearGlobalAveragePool, NCHW and channels_last (ORT_GLOBAL);
- QDQ graphs DequantizeLinear -> AveragePool / GlobalAveragePool / MaxPool ->
  QuantizeLinear, which onnxruntime fuses (AveragePool, GlobalAveragePool) or runs with
  the DQ/Q pair dropped (MaxPool, equal quantization) or in float (MaxPool, different
  quantization);
- int8 MaxPool (opset 12) with dilations.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_pool_s8 import (COUNT_RULE, POOL_S8, avgpool2d_s8_params, global_avgpool_s8_params,
                                            maxpool2d_s8_params)
from firmnet.reference.pool_s8 import avgpool2d_s8, maxpool2d_s8
from support.compare import assert_array_equal_first, assert_same_as_ort
from support.oracles import graph_session
from support.pool_s8_cases import pool_cases, quants, struct_of
from support.s8_cases import MODES

FN_OK, FN_ERR_ARG = 0, 1


def run_pool(runtime, kind, p, x):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.ascontiguousarray(x, dtype=np.int8)
    out = np.full((p["batch"], p["out_h"], p["out_w"], p["channels"]), 99, np.int8)
    fn = lib.fn_maxpool2d_s8 if kind == "max" else lib.fn_avgpool2d_s8
    status = fn(ffi.new("fn_pool2d_s8_params *", p), ffi.cast("int8_t *", ffi.from_buffer(x)),
                ffi.cast("int8_t *", ffi.from_buffer(out)))
    return status, out


def check(runtime, kind, x, kw):
    """C with the builder's struct == the reference from the quantities kw."""
    p = struct_of(kind, x.shape, kw)
    status, out = run_pool(runtime, kind, p, x)
    assert status == FN_OK, f"status {status} for {p}"
    ref = (maxpool2d_s8 if kind == "max" else avgpool2d_s8)(x, **kw)
    assert_array_equal_first(out, ref, f"{kind} pool, method {p['method']}, mode {p['requant_mode']}")
    assert out.min() >= p["act_min"] and out.max() <= p["act_max"]
    return out


# ---------------------------------------------------------------- C == reference

@settings(max_examples=800, deadline=None)
@given(pool_cases("max"))
def test_maxpool_s8_matches_reference(runtime, case):
    x, kw = case
    check(runtime, "max", x, kw)


@settings(max_examples=1200, deadline=None)
@given(pool_cases("avg"))
def test_avgpool_s8_matches_reference(runtime, case):
    x, kw = case
    check(runtime, "avg", x, kw)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 70), quants(), quants(),
       st.sampled_from(MODES), st.integers(0, 2**32 - 1))
def test_global_avgpool_s8_matches_reference(runtime, h, w, c, x_q, y_q, mode, seed):
    try:
        p = global_avgpool_s8_params((2, h, w, c), x_q=x_q, y_q=y_q, mode=mode)
    except ValueError:
        assume(False)
    assert p == avgpool2d_s8_params((2, h, w, c), kernel=(h, w), x_q=x_q, y_q=y_q, mode=mode)
    x = np.random.default_rng(seed).integers(-128, 128, size=(2, h, w, c), dtype=np.int8)
    out = check(runtime, "avg", x, dict(kernel=(h, w), x_q=x_q, y_q=y_q, mode=mode))
    assert out.shape == (2, 1, 1, c)


def test_methods_chosen_by_the_builders():
    shape = (1, 5, 5, 3)
    same, other = (0.05, -3), (0.1, 7)
    assert avgpool2d_s8_params(shape, kernel=(2, 2), x_q=same)["method"] == POOL_S8["same_quant"]
    assert avgpool2d_s8_params(shape, kernel=(2, 2), x_q=same, y_q=other)["method"] == POOL_S8["requant"]
    p = avgpool2d_s8_params(shape, kernel=(2, 2), pads=(1, 1, 1, 1), count_include_pad=True, x_q=same, mode="ort")
    assert (p["method"], p["count_rule"]) == (POOL_S8["ort"], COUNT_RULE["kernel"])
    p = avgpool2d_s8_params(shape, kernel=(2, 2), pads=(1, 1, 1, 1), count_include_pad=True, x_q=same)
    assert (p["method"], p["count_rule"]) == (POOL_S8["same_quant"], COUNT_RULE["pad_cut"])
    assert avgpool2d_s8_params(shape, kernel=(5, 5), x_q=same, mode="ort")["method"] == POOL_S8["ort_global"]
    assert maxpool2d_s8_params(shape, kernel=(2, 2), x_q=same, mode="ort")["method"] == POOL_S8["same_quant"]
    assert maxpool2d_s8_params(shape, kernel=(2, 2), x_q=same, y_q=other, mode="ort")["method"] == POOL_S8["ort"]
    assert maxpool2d_s8_params(shape, kernel=(2, 2), x_q=same, y_q=other)["method"] == POOL_S8["requant"]


def test_tflite_rounding_and_padding(runtime):
    """Hand-worked TFLite AveragePool values: ties away from zero on the raw sum; padded
    taps counted by count_include_pad hold the zero point."""
    x = np.array([1, 2, -1, -2, 3, 4, -3, -4], np.int8).reshape(1, 1, 8, 1)
    p = avgpool2d_s8_params(x.shape, kernel=(1, 2), strides=(1, 2), x_q=(0.5, 0))
    # (1+2)/2 = 1.5 -> 2, (-1-2)/2 = -1.5 -> -2, 3.5 -> 4, -3.5 -> -4
    assert_array_equal_first(run_pool(runtime, "avg", p, x)[1].ravel(), np.array([2, -2, 4, -4], np.int8))
    x = np.full((1, 1, 2, 1), 10, np.int8)
    kw = dict(kernel=(1, 3), pads=(0, 1, 0, 0), count_include_pad=True, x_q=(0.5, -20))
    # one window [pad, 10, 10]: the pad holds the zero point, (-20 + 10 + 10) / 3 = 0
    out = check(runtime, "avg", x, kw).ravel()
    assert out[0] == 0


def test_requant_average_is_nearly_exact():
    """REQUANT keeps frac_bits fraction bits before its rounded division: the result is
    within 0.5 + 2^-frac_bits LSB of the exact real average (exact rounding: 0.5)."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        x_q = (float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
        y_q = (float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
        x = rng.integers(-128, 128, size=(1, 6, 6, 8), dtype=np.int8)
        kw = dict(kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), x_q=x_q, y_q=y_q)
        p = avgpool2d_s8_params(x.shape, **kw)
        got = avgpool2d_s8(x, **kw).astype(np.float64)
        # the exact real average of the in-bounds taps, in output units
        real = np.zeros(got.shape)
        n = np.zeros(got.shape)
        for ky in range(3):
            for kx in range(3):
                iy = np.arange(3) * 2 - 1 + ky
                ix = np.arange(3) * 2 - 1 + kx
                ok = ((iy >= 0) & (iy < 6))[:, None] & ((ix >= 0) & (ix < 6))[None, :]
                v = x[0][np.clip(iy, 0, 5)][:, np.clip(ix, 0, 5)].astype(np.float64)
                real[0] += np.where(ok[:, :, None], (v - x_q[1]) * x_q[0], 0)
                n[0] += ok[:, :, None]
        exact = np.clip(real / n / y_q[0] + y_q[1], -128, 127)
        worst = np.max(np.abs(got - exact))
        assert worst <= 0.5 + 2.0 ** -p["frac_bits"] + 1e-6, (worst, p["frac_bits"], x_q, y_q)


def test_invalid_arguments(runtime):
    x = np.zeros((1, 4, 4, 2), np.int8)
    base = avgpool2d_s8_params(x.shape, kernel=(2, 2), x_q=(0.1, 0))
    for field, value in [("method", 7), ("count_rule", 3), ("act_min", -129), ("act_max", -129), ("dilation_h", 2),
                         ("input_offset", -128), ("output_offset", 128), ("requant_mode", 3)]:
        assert run_pool(runtime, "avg", dict(base, **{field: value}), x)[0] == FN_ERR_ARG, field
    req = avgpool2d_s8_params(x.shape, kernel=(2, 2), x_q=(0.1, 0), y_q=(0.2, 1))
    assert run_pool(runtime, "avg", dict(req, frac_bits=17), x)[0] == FN_ERR_ARG
    assert run_pool(runtime, "avg", dict(req, requant_mode=2), x)[0] == FN_ERR_ARG
    glob = global_avgpool_s8_params(x.shape, x_q=(0.1, 0), mode="ort")
    assert run_pool(runtime, "max", glob, x)[0] == FN_ERR_ARG     # ORT_GLOBAL is average-only
    assert run_pool(runtime, "avg", dict(glob, pad_top=1, out_h=2), x)[0] == FN_ERR_ARG
    with pytest.raises(ValueError, match="requantization mode"):
        avgpool2d_s8_params(x.shape, kernel=(2, 2), mode="fast")
    with pytest.raises(ValueError, match="zero point"):
        avgpool2d_s8_params(x.shape, kernel=(2, 2), x_q=(0.1, 200))
    with pytest.raises(ValueError, match="activation range"):
        maxpool2d_s8_params(x.shape, kernel=(2, 2), act=(10, 5))
    with pytest.raises(ValueError, match="QLinearGlobalAveragePool refuses"):
        global_avgpool_s8_params(x.shape, x_q=(1.0, 0), y_q=(1e-4, 0), mode="ort")


# ---------------------------------------------------------------- against onnxruntime

from onnx import TensorProto, helper  # noqa: E402


def _q_inits(x_q, y_q):
    return [helper.make_tensor("xs", TensorProto.FLOAT, [], [x_q[0]]),
            helper.make_tensor("xz", TensorProto.INT8, [], [x_q[1]]),
            helper.make_tensor("ys", TensorProto.FLOAT, [], [y_q[0]]),
            helper.make_tensor("yz", TensorProto.INT8, [], [y_q[1]])]


def _io():
    return ([helper.make_tensor_value_info("X", TensorProto.INT8, None)],
            [helper.make_tensor_value_info("Y", TensorProto.INT8, None)])


def ort_pool(op, x_nhwc, x_q, y_q, channels_last=False, qdq=False, **attrs):
    """Run one int8 pooling op in onnxruntime; NHWC in and out."""
    x = x_nhwc if channels_last else x_nhwc.transpose(0, 3, 1, 2)
    inputs, outputs = _io()
    if qdq:
        nodes = [helper.make_node("DequantizeLinear", ["X", "xs", "xz"], ["xf"]),
                 helper.make_node(op, ["xf"], ["yf"], **attrs),
                 helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["Y"])]
    elif op == "MaxPool":
        nodes = [helper.make_node("MaxPool", ["X"], ["Y"], **attrs)]
    else:
        nodes = [helper.make_node(op, ["X", "xs", "xz", "ys", "yz"], ["Y"], domain="com.microsoft",
                                  channels_last=int(channels_last), **attrs)]
    y = graph_session(nodes, inputs, _q_inits(x_q, y_q), outputs).run(None, {"X": np.ascontiguousarray(x)})[0]
    return y if channels_last else y.transpose(0, 2, 3, 1)


@st.composite
def ort_avg_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = kh + draw(st.integers(0, 5)), kw + draw(st.integers(0, 5))
    pads = [draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw)]
    attrs = dict(kernel_shape=[kh, kw], strides=[draw(st.integers(1, 3)), draw(st.integers(1, 3))],
                 pads=pads, count_include_pad=int(draw(st.booleans())), ceil_mode=int(draw(st.booleans())))
    x_q, y_q = draw(quants()), draw(quants())
    assume(1 / 256 < x_q[0] / y_q[0] < 256)
    c = draw(st.integers(1, 20))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-128, 128, size=(2, h, w, c), dtype=np.int8)
    return x, attrs, x_q, y_q, draw(st.booleans())


def _ours_avg(x, attrs, x_q, y_q, out_hw):
    pt, pl, pb, pr = attrs["pads"]
    p = avgpool2d_s8_params(x.shape, kernel=tuple(attrs["kernel_shape"]), strides=tuple(attrs["strides"]),
                            pads=(pt, pl, pb, pr), count_include_pad=bool(attrs["count_include_pad"]),
                            out_size=out_hw, x_q=x_q, y_q=y_q, mode="ort")
    return p


@settings(max_examples=500, deadline=None)
@given(ort_avg_cases())
def test_qlinear_average_pool_matches_onnxruntime(runtime, case):
    x, attrs, x_q, y_q, channels_last = case
    theirs = ort_pool("QLinearAveragePool", x, x_q, y_q, channels_last=channels_last, **attrs)
    try:
        p = _ours_avg(x, attrs, x_q, y_q, theirs.shape[1:3])
    except ValueError:                      # a ceil-mode window made only of padding
        assume(False)
    status, ours = run_pool(runtime, "avg", p, x)
    assert status == FN_OK
    assert_same_as_ort(ours, theirs, f"QLinearAveragePool {attrs} channels_last={channels_last} "
                                     f"method {p['method']}")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 40), quants(), quants(), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_qlinear_global_average_pool_matches_onnxruntime(runtime, h, w, c, x_q, y_q, channels_last, seed):
    try:
        p = global_avgpool_s8_params((2, h, w, c), x_q=x_q, y_q=y_q, mode="ort")
    except ValueError:
        assume(False)
    x = np.random.default_rng(seed).integers(-128, 128, size=(2, h, w, c), dtype=np.int8)
    theirs = ort_pool("QLinearGlobalAveragePool", x, x_q, y_q, channels_last=channels_last)
    status, ours = run_pool(runtime, "avg", p, x)
    assert status == FN_OK
    assert_same_as_ort(ours, theirs, f"QLinearGlobalAveragePool {h}x{w}x{c} channels_last={channels_last}")


@pytest.mark.parametrize("op", ["AveragePool", "GlobalAveragePool", "MaxPool"])
def test_qdq_pooling_matches_onnxruntime(runtime, op):
    rng = np.random.default_rng({"AveragePool": 1, "GlobalAveragePool": 2, "MaxPool": 3}[op])
    for trial in range(25):
        x_q = (float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
        y_q = x_q if trial % 3 == 0 else (float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
        if not 1 / 200 < x_q[0] / y_q[0] < 200:
            continue
        x = rng.integers(-128, 128, size=(1, 7, 6, 5), dtype=np.int8)
        if op == "GlobalAveragePool":
            attrs = {}
            p = global_avgpool_s8_params(x.shape, x_q=x_q, y_q=y_q, mode="ort")
        else:
            attrs = dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1])
            if op == "AveragePool":
                attrs["count_include_pad"] = trial % 2
        theirs = ort_pool(op, x, x_q, y_q, qdq=True, **attrs)
        if op == "AveragePool":
            p = avgpool2d_s8_params(x.shape, kernel=(3, 2), strides=(2, 1), pads=(1, 0, 1, 1),
                                    count_include_pad=bool(trial % 2), x_q=x_q, y_q=y_q, mode="ort")
        elif op == "MaxPool":
            p = maxpool2d_s8_params(x.shape, kernel=(3, 2), strides=(2, 1), pads=(1, 0, 1, 1),
                                    x_q=x_q, y_q=y_q, mode="ort")
        status, ours = run_pool(runtime, "max" if op == "MaxPool" else "avg", p, x)
        assert status == FN_OK
        assert_same_as_ort(ours, theirs, f"DQ -> {op} -> Q, x_q {x_q}, y_q {y_q}, method {p['method']}")


def test_int8_maxpool_with_dilation_matches_onnxruntime(runtime):
    rng = np.random.default_rng(4)
    for trial in range(20):
        x = rng.integers(-128, 128, size=(2, 9, 8, 6), dtype=np.int8)
        kh, kw, dh, dw = (int(v) for v in rng.integers(1, 4, size=4))
        attrs = dict(kernel_shape=[kh, kw], dilations=[dh, dw], strides=[int(rng.integers(1, 3))] * 2,
                     pads=[int(rng.integers(0, kh)), int(rng.integers(0, kw))] * 2)
        theirs = ort_pool("MaxPool", x, (1.0, 0), (1.0, 0), **attrs)
        pt, pl, pb, pr = attrs["pads"]
        p = maxpool2d_s8_params(x.shape, kernel=(kh, kw), dilations=(dh, dw), strides=tuple(attrs["strides"]),
                                pads=(pt, pl, pb, pr), x_q=(0.02, 3), mode="ort")
        status, ours = run_pool(runtime, "max", p, x)
        assert status == FN_OK
        assert_same_as_ort(ours, theirs, f"int8 MaxPool {attrs}")

"""fn_conv2d_s8, fn_depthwise_conv2d_s8 and fn_fc_s8 against the numpy reference
(firmnet.reference.conv_s8 / dense_s8), exactly, in every requantization mode, and the
reference against a literal transcription of TFLite's reference loops. The kernels get
the structs of firmnet.kernels.params_conv_s8, the reference the layer's scales and zero
points (support/s8_kernels.py): a wrong multiplier in a builder fails here. The kernels
against the runtimes they emulate (tflite-micro, onnxruntime): test_kernels_conv_s8_oracles.py.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet import cbuild, resources
from firmnet.reference import fixedpoint as fx
from firmnet.kernels.params_conv_s8 import (MAX_DEPTH, conv2d_s8_params, depthwise_conv2d_s8_params, fc_s8_params,
                                            pack_depthwise_filter, unpack_depthwise_filter)
from firmnet.kernels.params_requant import ARRAY_FIELDS, FIELD
from firmnet.reference.conv_s8 import Requant, conv2d_s8, depthwise_filter_from_onnx, output_stage_s8, wrap32
from support.compare import assert_array_equal_first
from support.ffi import struct_fields
from support.s8_cases import (I32_MAX, I32_MIN, MODES, accumulators, act_ranges, conv_case, conv_geometry, int8_data,
                              make_bias, make_scales, quant_cases, quant_kwargs, random_requant_arrays, zero_points)
from support.s8_kernels import _ptr, c_params, changed, check_conv, check_dw, check_fc, run_conv, run_dw, run_fc


# ---------------------------------------------------------------- conv2d

@settings(max_examples=600, deadline=None)
@given(g=conv_geometry(), q=quant_cases())
def test_conv2d_matches_reference(runtime, g, q):
    check_conv(runtime, *conv_case(g, q))


@settings(max_examples=300, deadline=None)
@given(g=conv_geometry(), q=quant_cases())
def test_conv2d_any_multiplier_and_shift(runtime, g, q):
    """Multipliers 0 / 2^30 / 2^31 - 1, shifts -31 ... 30, ORT scales 0 ... 1e6: every
    branch of the output stage, including the wrap of x << 30 and of + output_offset."""
    x, w, bias, kw = conv_case(g, q)
    rng = np.random.default_rng(q["seed"] + 1)
    n = w.shape[0] if np.size(kw["weight_scales"]) > 1 else 1
    check_conv(runtime, x, w, bias, kw, random_requant_arrays(rng, q["mode"], n))


def test_conv2d_mobilenet_sized_layers(runtime):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 24, 24, 16), dtype=np.int8)
    for w_shape, kw in [((32, 3, 3, 16), dict(strides=(2, 2), pads=(0, 0, 1, 1))),
                        ((16, 3, 3, 1), dict(pads=(1, 1, 1, 1), groups=16)),
                        ((24, 1, 1, 16), {})]:
        w = rng.integers(-127, 128, w_shape, dtype=np.int8)
        bias = rng.integers(-10000, 10000, w_shape[0]).astype(np.int32)
        for mode in MODES:
            out = check_conv(runtime, x, w, bias, dict(
                input_scale=0.02, input_zero_point=-5, weight_scales=rng.uniform(0.002, 0.02, w_shape[0]),
                output_scale=0.05, output_zero_point=-128, act=(-128, 127), mode=mode, **kw))
            assert len(np.unique(out)) > 50, "scales should spread the outputs over int8"


def test_conv2d_padding_is_the_input_zero_point(runtime):
    """x == zp everywhere: every tap, in bounds or padded, contributes 0, so every output
    is the requantized bias (ONNX pads with the zero point; TFLite skips the taps)."""
    x = np.full((1, 4, 5, 3), 37, np.int8)
    w = np.random.default_rng(0).integers(-128, 128, (4, 3, 3, 3), dtype=np.int8)
    bias = np.array([1000, -1000, 0, 77], np.int32)
    out = check_conv(runtime, x, w, bias, dict(pads=(2, 1, 2, 2), input_scale=0.1, input_zero_point=37,
                                               weight_scales=[0.01], output_scale=0.1, output_zero_point=3))
    np.testing.assert_array_equal(out, np.broadcast_to(np.array([13, -7, 3, 4], np.int8), out.shape))


@pytest.mark.parametrize("mode, expected", [
    # acc = 2 * x, effective scale 1/4: x * 0.5 with x = 1, 3, 5, -1, -3, -5
    ("tflm", [1, 2, 3, -1, -2, -3]),     # ties away from zero (the final rounding divide)
    ("single", [1, 2, 3, 0, -1, -2]),    # ties toward +infinity
    ("ort", [0, 2, 2, 0, -2, -2]),       # ties to even
])
def test_fc_rounding_of_ties_hand_computed(runtime, mode, expected):
    x = np.array([[1, 3, 5, -1, -3, -5]], np.int8).T.copy()       # 6 batches of 1 feature
    w = np.array([[2]], np.int8)
    out = check_fc(runtime, x, w, None, dict(input_scale=1.0, input_zero_point=0, weight_scales=[0.25],
                                             output_scale=1.0, output_zero_point=0, mode=mode))
    np.testing.assert_array_equal(out[:, 0], expected)


# ---------------------------------------------------------------- the reference vs TFLite's loops

def tflite_loops_conv(x, w, bias, p, a, depthwise_mult=None):
    """Literal transcription of TFLite's reference_integer_ops::ConvPerChannel (or, with
    depthwise_mult, DepthwiseConvPerChannel on a [KH, KW, C*m] filter): Python ints."""
    n, h, wd, c = x.shape
    oc = w.shape[2] if depthwise_mult else w.shape[0]
    cg = 1 if depthwise_mult else w.shape[3]
    groups = c if depthwise_mult else p["groups"]
    fpg = oc // groups
    rq = p[FIELD]
    out = np.zeros((n, p["out_h"], p["out_w"], oc), np.int64)
    for b in range(n):
        for oy in range(p["out_h"]):
            for ox in range(p["out_w"]):
                for o in range(oc):
                    acc = 0
                    for ky in range(p["kernel_h"]):
                        iy = oy * p["stride_h"] - p["pad_top"] + p["dilation_h"] * ky
                        for kx in range(p["kernel_w"]):
                            ix = ox * p["stride_w"] - p["pad_left"] + p["dilation_w"] * kx
                            if not (0 <= iy < h and 0 <= ix < wd):
                                continue
                            for i in range(cg):
                                ic = o // depthwise_mult if depthwise_mult else i + (o // fpg) * cg
                                wv = w[ky, kx, o] if depthwise_mult else w[o, ky, kx, i]
                                acc += int(wv) * (int(x[b, iy, ix, ic]) + p["input_offset"])
                    if bias is not None:
                        acc = int(wrap32(acc + int(bias[o])))
                    ch = o if rq["per_channel"] else 0
                    mode = {v: k for k, v in fx.REQUANT_MODES.items()}[rq["mode"]]
                    if mode == "ort":
                        lo, hi = rq["act_min"] - rq["output_offset"], rq["act_max"] - rq["output_offset"]
                        r = int(fx.requantize_float(acc, a["scale"][ch], lo, hi)) + rq["output_offset"]
                    else:
                        r = int(wrap32(fx.requantize(acc, mode, int(a["multiplier"][ch]), int(a["shift"][ch]))))
                        r = int(wrap32(r + rq["output_offset"]))
                    out[b, oy, ox, o] = min(max(r, rq["act_min"]), rq["act_max"])
    return out.astype(np.int8)


@settings(max_examples=60, deadline=None)
@given(g=conv_geometry(), q=quant_cases())
def test_reference_conv_is_tflite_conv_per_channel(g, q):
    x, w, bias, kw = conv_case(g, q)
    params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
    assert_array_equal_first(conv2d_s8(x, w, bias, **kw),
                             tflite_loops_conv(x, w, bias, params, arrays), "reference vs TFLite loops")


# ---------------------------------------------------------------- depthwise

def dw_case(g, q):
    rng = np.random.default_rng(q["seed"])
    c, m = g["groups"], g["cout_g"]
    x = int8_data(rng, (g["n"], g["h"], g["w"], c), q["data"], q["zp_in"])
    w = int8_data(rng, (1, g["kh"], g["kw"], c * m), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], c * m)
    w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w_ohwi, bias, q["zp_in"], dict(g, groups=c)), c * m)
    return x, w, bias, dict(**g["geo"], **quant_kwargs(q, s_in, s_w, s_out))


@settings(max_examples=500, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_depthwise_matches_reference(runtime, g, q):
    check_dw(runtime, *dw_case(g, q))


@settings(max_examples=250, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_depthwise_any_multiplier_and_shift(runtime, g, q):
    x, w, bias, kw = dw_case(g, q)
    n = w.shape[3] if np.size(kw["weight_scales"]) > 1 else 1
    arrays = random_requant_arrays(np.random.default_rng(q["seed"] + 1), q["mode"], n)
    check_dw(runtime, x, w, bias, kw, arrays)


@settings(max_examples=60, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_depthwise_kernel_equals_grouped_conv_kernel(runtime, g, q):
    """The two C kernels agree; and the reference is TFLite's DepthwiseConvPerChannel."""
    x, w, bias, kw = dw_case(g, q)
    out = check_dw(runtime, x, w, bias, kw)
    params, arrays = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    c, m = x.shape[3], params["depth_multiplier"]
    w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
    p_conv = {k: v for k, v in params.items() if k != "depth_multiplier"}
    p_conv.update(out_c=c * m, groups=c)
    status, out_conv = run_conv(runtime, p_conv, arrays, x, w_ohwi, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out_conv, out, "fn_conv2d_s8 with groups = in_c")
    assert_array_equal_first(out, tflite_loops_conv(x, w[0], bias, params, arrays, depthwise_mult=m),
                             "depthwise vs TFLite loops")


@pytest.mark.parametrize("kh, kw, c, m", [(3, 3, 1, 1), (2, 3, 3, 3), (1, 1, 8, 1), (3, 2, 5, 2), (4, 4, 7, 1)])
def test_depthwise_filter_packing(kh, kw, c, m):
    w = np.arange(kh * kw * c * m, dtype=np.int64).reshape(1, kh, kw, c * m).astype(np.int8)
    packed = pack_depthwise_filter(w)
    assert packed.shape == (kh * kw * c * m,) and packed.dtype == np.int8
    np.testing.assert_array_equal(unpack_depthwise_filter(packed, kh, kw, c * m), w[0])
    # the header's formula: filter[c0 * kh * kw + (ky * kw + kx) * n + (ch - c0)]
    oc = c * m
    for ch in range(oc):
        c0 = ch - ch % 4
        nb = min(4, oc - c0)
        for ky in range(kh):
            for kx in range(kw):
                assert packed[c0 * kh * kw + (ky * kw + kx) * nb + ch - c0] == w[0, ky, kx, ch]
    onnx_w = w[0].transpose(2, 0, 1)[:, None]                      # [C*m, 1, KH, KW]
    np.testing.assert_array_equal(depthwise_filter_from_onnx(onnx_w), w)


# ---------------------------------------------------------------- fully connected

@st.composite
def fc_cases(draw):
    q = draw(quant_cases())
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 80)), draw(st.integers(1, 13))
    rng = np.random.default_rng(q["seed"])
    x = int8_data(rng, (n, k), q["data"], q["zp_in"])
    w = int8_data(rng, (m, k), "extremes" if q["data"] == "extremes" else "uniform")
    return q, x, w, make_bias(rng, q["bias"], m), rng


@settings(max_examples=500, deadline=None)
@given(case=fc_cases())
def test_fc_matches_reference(runtime, case):
    q, x, w, bias, rng = case
    acc = wrap32((x.astype(np.int64) - q["zp_in"]) @ w.astype(np.int64).T + (0 if bias is None else bias))
    s_in, s_w, s_out = make_scales(rng, q, acc, w.shape[0])
    check_fc(runtime, x, w, bias, quant_kwargs(q, s_in, s_w, s_out))


@settings(max_examples=300, deadline=None)
@given(case=fc_cases())
def test_fc_any_multiplier_and_shift(runtime, case):
    q, x, w, bias, rng = case
    n = w.shape[0] if q["per_channel"] else 1
    check_fc(runtime, x, w, bias, quant_kwargs(q, 0.1, 0.1, 0.1), random_requant_arrays(rng, q["mode"], n),
             per_channel=q["per_channel"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x_val, zp_in, w_val", [(127, -128, -128), (-128, 127, -128), (127, -128, 127)])
def test_fc_accumulator_at_its_bound(runtime, mode, x_val, zp_in, w_val):
    """2^16 products of magnitude 255 * 128 (the largest the kernel accepts), plus biases
    that push the sum past int32: the sum stays exact and the bias wraps as documented."""
    k = MAX_DEPTH
    x = np.full((1, k), x_val, np.int8)
    w = np.full((3, k), w_val, np.int8)
    total = k * (x_val - zp_in) * w_val
    assert abs(total) <= 255 * 128 * 2**16 < 2**31
    bias = np.array([0, I32_MAX if total > 0 else I32_MIN, -total // 2], np.int32)
    check_fc(runtime, x, w, bias, dict(input_scale=1.0, input_zero_point=zp_in, weight_scales=2.0**-28,
                                       output_scale=1.0, output_zero_point=0, mode=mode))


# ---------------------------------------------------------------- the output stage itself

@settings(max_examples=500, deadline=None)
@given(acc=st.one_of(st.integers(I32_MIN, I32_MAX), st.sampled_from([I32_MIN, I32_MAX, 0, -1])),
       mode=st.sampled_from(MODES), m=st.one_of(st.integers(0, I32_MAX), st.sampled_from([0, 2**30, I32_MAX])),
       s=st.integers(-31, 30), scale=st.floats(0, 1e6, width=32), zp=zero_points, data=st.data())
def test_output_stage_matches_reference(runtime, acc, mode, m, s, scale, zp, data):
    act = data.draw(act_ranges(zp))
    expected = int(output_stage_s8(np.array([acc]), Requant(mode, [m], [s], [scale]), zp, act)[0])
    got = runtime.lib.fn_output_stage_s8(acc, fx.REQUANT_MODES[mode], m, s, scale, zp, act[0], act[1])
    assert got == expected


# ---------------------------------------------------------------- parameters and refusals


@pytest.mark.parametrize("mode", MODES)
def test_params_fill_every_struct_field(runtime, mode):
    q = dict(input_scale=0.1, input_zero_point=1, weight_scales=[0.1, 0.2], output_scale=0.3,
             output_zero_point=-1, mode=mode)
    cases = [("fn_conv2d_s8_params", conv2d_s8_params((1, 5, 5, 4), (2, 3, 3, 4), **q)),
             ("fn_depthwise_conv2d_s8_params", depthwise_conv2d_s8_params((1, 5, 5, 1), (1, 3, 3, 2), **q)),
             ("fn_fc_s8_params", fc_s8_params((1, 4), (2, 4), **q))]
    for ctype, (params, arrays) in cases:
        # the general convolution also takes weight zero points (None: symmetric weights)
        own = {"filter_offset"} if ctype == "fn_conv2d_s8_params" else set()
        assert set(params) | own == struct_fields(runtime.ffi, ctype)
        assert set(params[FIELD]) | set(ARRAY_FIELDS) == struct_fields(runtime.ffi, "fn_requant_acc_s8")
        assert set(arrays) == set(ARRAY_FIELDS) | own
        assert arrays.get("filter_offset") is None
        used = ["scale"] if mode == "ort" else ["multiplier", "shift"]
        assert all((arrays[k] is not None) == (k in used) for k in ARRAY_FIELDS)
        assert params[FIELD]["per_channel"] == 1 and params["input_offset"] == -1


BAD_CONV = [
    {"groups": 3}, {"groups": 0}, {"batch": 0}, {"in_c": 0}, {"kernel_h": 0}, {"stride_w": 0},
    {"dilation_h": 0}, {"pad_top": -1}, {"out_w": 0}, {"stride_h": 2**30, "out_h": 4},
    {"input_offset": -128}, {"input_offset": 129}, {"output_offset": 128}, {"output_offset": -129},
    {"act_min": -129}, {"act_max": 128}, {"act_min": 5, "act_max": 4}, {"mode": 3},
    {"mode": -1}, {"per_channel": 2},
]


def conv_fixture(mode="tflm"):
    rng = np.random.default_rng(0)
    x, w = rng.integers(-128, 128, (1, 5, 5, 4), dtype=np.int8), rng.integers(-128, 128, (6, 3, 3, 2), dtype=np.int8)
    params, arrays = conv2d_s8_params(x.shape, w.shape, groups=2, input_scale=0.1, input_zero_point=0,
                                      weight_scales=np.full(6, 0.01), output_scale=0.1, output_zero_point=0,
                                      mode=mode)
    return x, w, params, arrays


@pytest.mark.parametrize("change", BAD_CONV)
def test_conv2d_rejects_bad_arguments(runtime, change):
    x, w, params, arrays = conv_fixture()
    status, out = run_conv(runtime, changed(params, change), arrays, x, w, None, shape=(1, 3, 3, 6))
    assert status == runtime.lib.FN_ERR_ARG
    assert np.all(out == 0x5A), "arguments must be checked before any output is written"


@pytest.mark.parametrize("mode, arrays_change", [
    ("tflm", {"multiplier": None}), ("single", {"shift": None}), ("ort", {"scale": None}),
    ("tflm", {"shift": np.full(6, 31, np.int32)}), ("tflm", {"shift": np.full(6, -32, np.int32)}),
    ("single", {"multiplier": np.full(6, -1, np.int32)}),
    ("ort", {"scale": np.full(6, np.nan, np.float32)}), ("ort", {"scale": np.full(6, -0.5, np.float32)}),
    ("ort", {"scale": np.full(6, np.inf, np.float32)}),
    ("tflm", {"shift": np.array([0, 0, 0, 0, 0, 40], np.int32)}),     # the last channel is checked too
])
def test_conv2d_rejects_bad_requant_arrays(runtime, mode, arrays_change):
    x, w, params, arrays = conv_fixture(mode)
    status, out = run_conv(runtime, params, dict(arrays, **arrays_change), x, w, None)
    assert status == runtime.lib.FN_ERR_ARG
    assert np.all(out == 0x5A)


def test_kernels_reject_null_pointers_and_too_deep_sums(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x, w, params, arrays = conv_fixture()
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    out = np.zeros((1, 3, 3, 6), np.int8)
    i8 = lambda a: _ptr(ffi, "int8_t", a)  # noqa: E731
    assert lib.fn_conv2d_s8(ffi.NULL, i8(x), i8(w), ffi.NULL, i8(out)) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_s8(s, ffi.NULL, i8(w), ffi.NULL, i8(out)) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_s8(s, i8(x), ffi.NULL, ffi.NULL, i8(out)) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_s8(s, i8(x), i8(w), ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_s8(s, i8(x), i8(w), ffi.NULL, i8(out)) == lib.FN_OK
    # depth 2^16 + 1 is refused by the kernels (before they read anything)
    deep = dict(params, in_c=2 * 7282, groups=2, kernel_h=3, kernel_w=3)        # 9 * 7282 = 65538
    assert lib.fn_conv2d_s8(c_params(ffi, "fn_conv2d_s8_params", deep, arrays)[0], i8(x), i8(w),
                            ffi.NULL, i8(out)) == lib.FN_ERR_ARG
    fp, fa = fc_s8_params((1, 4), (6, 4), input_scale=1.0, input_zero_point=0, weight_scales=[1.0],
                          output_scale=1.0, output_zero_point=0)
    status, _ = run_fc(runtime, dict(fp, in_features=MAX_DEPTH + 1), fa, x, w, None, shape=(1, 6))
    assert status == lib.FN_ERR_ARG
    dp, da = depthwise_conv2d_s8_params((1, 5, 5, 2), (1, 3, 3, 4), input_scale=1.0, input_zero_point=0,
                                        weight_scales=[1.0], output_scale=1.0, output_zero_point=0)
    for change in [{"kernel_h": 257, "kernel_w": 256, "in_h": 300, "in_w": 300}, {"depth_multiplier": 0},
                   {"in_c": 2**20, "depth_multiplier": 2**12}, {"input_offset": 200}]:
        status, _ = run_dw(runtime, changed(dp, change), da, x, w, None, shape=(1, 3, 3, 4))
        assert status == lib.FN_ERR_ARG, change
    del keep


@pytest.mark.parametrize("builder, args, kwargs, message", [
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 2)), dict(groups=3), "groups=3 must divide"),
    (conv2d_s8_params, ((1, 300, 300, 8192), (1, 3, 3, 8192)), {}, "exceed 65536"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(input_zero_point=128), "zero point 128"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(output_zero_point=-129), "zero point -129"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(act=(10, 5)), "activation range"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(weight_scales=[0.1, 0.2]), "expected 1 or 6"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(weight_scales=[0.0]), "positive finite"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(mode="fast"), "requantization mode 'fast' unknown"),
    (conv2d_s8_params, ((1, 5, 5, 4), (6, 3, 3, 4)), dict(output_scale=1e-13), "too large for Q31"),
    (depthwise_conv2d_s8_params, ((1, 5, 5, 4), (1, 3, 3, 6)), {}, "multiple of in_c"),
    (depthwise_conv2d_s8_params, ((1, 5, 5, 4), (2, 3, 3, 8)), {}, r"\[1, kh, kw, C\*m\]"),
    (fc_s8_params, ((2, MAX_DEPTH + 1), (3, MAX_DEPTH + 1)), {}, "exceed 65536"),
    (fc_s8_params, ((2, 4), (3, 5)), {}, "expects 5"),
])
def test_params_refuse_what_the_kernels_refuse(builder, args, kwargs, message):
    q = dict(input_scale=0.1, input_zero_point=0, weight_scales=[0.01], output_scale=0.1, output_zero_point=0)
    with pytest.raises(ValueError, match=message):
        builder(*args, **dict(q, **kwargs))


# ---------------------------------------------------------------- no undefined behaviour

SANITIZE_DRIVER = r"""
#include "fn_conv_s8.h"
#include "fn_fc_s8.h"
static uint32_t seed = 12345u;
static uint32_t rnd(void) { seed = seed * 1664525u + 1013904223u; return seed >> 8; }
static int32_t pick(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static int8_t x[2 * 9 * 9 * 12], w[12 * 4 * 4 * 12], out[2 * 16 * 16 * 48];
static int32_t bias[48], mult[48], shift[48], foff[48], out32[2 * 16 * 16 * 48];
static float scale[48];
int main(void) {
    unsigned long sum = 0;
    for (int it = 0; it < 3000; ++it) {
        int32_t mode = pick(0, 2), per_channel = pick(0, 1);
        for (size_t i = 0; i < sizeof x; ++i) x[i] = (int8_t)(rnd() & 1 ? pick(-128, 127) : (rnd() & 1 ? 127 : -128));
        for (size_t i = 0; i < sizeof w; ++i) w[i] = (int8_t)(rnd() & 1 ? pick(-128, 127) : (rnd() & 1 ? 127 : -128));
        for (int i = 0; i < 48; ++i) {
            bias[i] = (int32_t)(rnd() << 8) ^ (int32_t)rnd();
            mult[i] = rnd() & 1 ? INT32_MAX : (int32_t)(rnd() | 0x40000000u) & INT32_MAX;
            shift[i] = rnd() & 1 ? (rnd() & 1 ? 30 : -31) : pick(-31, 30);
            scale[i] = rnd() & 1 ? 1e6f : (float)pick(0, 1000) / 4096.0f;
            foff[i] = rnd() & 1 ? (rnd() & 1 ? 128 : -127) : pick(-127, 128);
        }
        fn_conv2d_s8_params c;
        c.groups = pick(1, 3); c.batch = pick(1, 2); c.in_h = pick(1, 9); c.in_w = pick(1, 9);
        c.in_c = c.groups * pick(1, 4); c.out_c = c.groups * pick(1, 4);
        c.kernel_h = pick(1, 4); c.kernel_w = pick(1, 4); c.stride_h = pick(1, 3); c.stride_w = pick(1, 3);
        c.dilation_h = pick(1, 3); c.dilation_w = pick(1, 3); c.pad_top = pick(0, 3); c.pad_left = pick(0, 3);
        c.out_h = ((c.in_h + c.pad_top + pick(0, 3) - c.dilation_h * (c.kernel_h - 1) - 1) / c.stride_h) + 1;
        c.out_w = ((c.in_w + c.pad_left + pick(0, 3) - c.dilation_w * (c.kernel_w - 1) - 1) / c.stride_w) + 1;
        if (c.out_h < 1) c.out_h = 1;
        if (c.out_w < 1) c.out_w = 1;
        c.input_offset = pick(-127, 128); c.requant.output_offset = pick(-128, 127);
        c.requant.act_min = pick(-128, 127); c.requant.act_max = pick(c.requant.act_min, 127);
        c.requant.mode = mode; c.requant.per_channel = per_channel;
        c.requant.multiplier = mult; c.requant.shift = shift; c.requant.scale = scale;
        c.filter_offset = rnd() & 1 ? foff : NULL;
        if (fn_conv2d_s8(&c, x, w, rnd() & 1 ? bias : NULL, out) != FN_OK) return 2;
        if (fn_conv2d_s8_s32(&c, x, w, rnd() & 1 ? bias : NULL, out32) != FN_OK) return 6;
        fn_depthwise_conv2d_s8_params d;
        d.batch = c.batch; d.in_h = c.in_h; d.in_w = c.in_w; d.in_c = pick(1, 12); d.depth_multiplier = pick(1, 4);
        d.out_h = c.out_h; d.out_w = c.out_w; d.kernel_h = c.kernel_h; d.kernel_w = c.kernel_w;
        d.stride_h = c.stride_h; d.stride_w = c.stride_w; d.dilation_h = c.dilation_h; d.dilation_w = c.dilation_w;
        d.pad_top = c.pad_top; d.pad_left = c.pad_left; d.input_offset = c.input_offset; d.requant = c.requant;
        if (fn_depthwise_conv2d_s8(&d, x, w, rnd() & 1 ? bias : NULL, out) != FN_OK) return 3;
        fn_fc_s8_params f;
        f.batch = pick(1, 4); f.in_features = pick(1, 250); f.out_features = pick(1, 9);
        f.input_offset = c.input_offset; f.requant = c.requant;
        if (fn_fc_s8(&f, x, w, rnd() & 1 ? bias : NULL, out) != FN_OK) return 4;
        for (size_t i = 0; i < sizeof out; ++i) sum += (unsigned char)out[i];
    }
    return sum == 0 ? 5 : 0;
}
"""


def test_kernels_have_no_undefined_behaviour(tmp_path):
    """Random geometry, extreme data, biases, multipliers, shifts and scales under
    ASan + UBSan (-fno-sanitize-recover): any UB or out-of-bounds access fails the run."""
    main = tmp_path / "driver.c"
    main.write_text(SANITIZE_DRIVER)
    src = resources.runtime_dir() / "src"
    exe = tmp_path / "driver"
    cmd = [cbuild.compiler(), "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
           f"-I{resources.runtime_include_dir()}", str(main),
           str(src / "fn_conv2d_s8.c"), str(src / "fn_depthwise_conv2d_s8.c"), str(src / "fn_fc_s8.c"),
           str(src / "fn_finish_channel_s8.c"), "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]

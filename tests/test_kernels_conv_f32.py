"""fn_conv2d_f32 and fn_fc_f32 against the numpy reference (firmnet.reference.conv / .dense).

Tolerance. The C kernel sums in float32, the reference in float64 (then rounds once
to float32), so they are compared with the classical float32 dot-product error
bound, elementwise, never with a blanket relative tolerance:

    |c - ref| <= n * eps32 * (sum_i |x_i * w_i| + |bias|) + n * FLT_MIN

where m is the number of products, n = m + 1 and eps32 = 2**-23 = 2u. Why it holds:
- C: bias + p_1 + ... + p_m, each product rounded once and each addition once, so a
  term is rounded at most m + 1 = n times and (Higham, Accuracy and Stability of
  Numerical Algorithms, sec. 3.1) |c_acc - exact| <= gamma_n * S with
  gamma_n = n*u / (1 - n*u) <= 1.01 * n * u for our n; a fused multiply-add only
  removes roundings. S is the sum of |terms| above.
- reference: float64 summation error <= n * 2**-53 * S (negligible), then one
  rounding to float32: <= u * S.
- the activation clamp is 1-Lipschitz, so it does not increase the difference.
  Total <= (1.01 n + 1.001) u S <= 2 n u S = n * eps32 * S for n >= 2 (for n = 1
  both sides are the bias exactly).
- products or sums below FLT_MIN lose relative accuracy (subnormals, or flushed to
  zero on targets that do so): each of the n roundings then errs by < FLT_MIN in
  absolute terms, hence + n * FLT_MIN.
S is computed by the reference itself on |x|, |w|, |bias| (same padding, groups and
strides), so the bound follows the exact set of terms of every output element.
Clamping is also checked exactly: every output lies in [act_min, act_max].
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_conv_f32 import conv2d_f32_params, fc_f32_params
from firmnet.reference.conv import conv2d_f32
from firmnet.reference.dense import fc_f32
from support.f32_bounds import (INF, NO_CLAMP, act_ranges, assert_clamped, assert_within, f32_sum_bound, fptr,
                                random_f32)
from support.ffi import struct_fields


# ---------------------------------------------------------------- conv2d

def run_conv(runtime, params, x, w, bias, fill=np.nan):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), fill, np.float32)
    status = lib.fn_conv2d_f32(ffi.new("fn_conv2d_f32_params *", params),
                               fptr(ffi, x), fptr(ffi, w), fptr(ffi, bias), fptr(ffi, out))
    return status, out


def check_conv(runtime, x, w, bias, **kw):
    """C == reference within the bound; clamp exact."""
    params = conv2d_f32_params(x.shape, w.shape, **kw)
    status, out = run_conv(runtime, params, x, w, bias)
    assert status == runtime.lib.FN_OK
    ref = conv2d_f32(x, w, bias, **kw)
    kw_abs = dict(kw, act=NO_CLAMP)
    abs_sum = conv2d_f32(np.abs(x), np.abs(w), None if bias is None else np.abs(bias), **kw_abs)
    n_terms = w.shape[1] * w.shape[2] * w.shape[3] + 1
    assert_within(out, ref, f32_sum_bound(n_terms, abs_sum))
    assert_clamped(out, kw.get("act", NO_CLAMP))
    return out


@st.composite
def conv_cases(draw):
    if draw(st.booleans()):                          # depthwise with channel multiplier
        c = draw(st.integers(1, 6))
        groups, cin_g, cout_g = c, 1, draw(st.integers(1, 3))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin_g = draw(st.integers(1, 4))
        cout_g = draw(st.integers(1, 9))             # crosses the kernel's blocks of 4
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    # input at least as large as the padded kernel extent, plus some slack
    h = max(1, dilations[0] * (kh - 1) + 1 - pads[0] - pads[2] + draw(st.integers(0, 6)))
    w = max(1, dilations[1] * (kw - 1) + 1 - pads[1] - pads[3] + draw(st.integers(0, 6)))
    n = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_f32(rng, (n, h, w, groups * cin_g))
    wt = random_f32(rng, (groups * cout_g, kh, kw, cin_g))
    bias = random_f32(rng, (groups * cout_g,)) if draw(st.booleans()) else None
    kwargs = dict(strides=strides, dilations=dilations, pads=pads, groups=groups, act=draw(act_ranges()))
    return x, wt, bias, kwargs


@settings(max_examples=400, deadline=None)
@given(conv_cases())
def test_conv2d_matches_reference(runtime, case):
    x, w, bias, kw = case
    check_conv(runtime, x, w, bias, **kw)


def test_conv2d_mobilenet_sized_layers(runtime):
    """Realistic shapes: 3x3 stride 2 with padding, depthwise 3x3, pointwise 1x1."""
    rng = np.random.default_rng(1)
    x = random_f32(rng, (1, 24, 24, 16))
    check_conv(runtime, x, random_f32(rng, (32, 3, 3, 16), 0.2), random_f32(rng, (32,)),
               strides=(2, 2), pads=(0, 0, 1, 1), act=(0.0, 6.0))
    check_conv(runtime, x, random_f32(rng, (16, 3, 3, 1)), random_f32(rng, (16,)),
               pads=(1, 1, 1, 1), groups=16)
    check_conv(runtime, x, random_f32(rng, (24, 1, 1, 16)), None)


def test_conv2d_hand_computed(runtime):
    """3x3 input 1..9, 2x2 ones filter, pads (1, 1, 0, 0), stride 2, bias 0.5."""
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    w = np.ones((1, 2, 2, 1), np.float32)
    out = check_conv(runtime, x, w, np.array([0.5], np.float32), strides=(2, 2), pads=(1, 1, 0, 0))
    # windows: {1}, {2,3}, {4,7}, {5,6,8,9}
    np.testing.assert_array_equal(out[0, :, :, 0], [[1.5, 5.5], [11.5, 28.5]])


def test_conv2d_window_fully_in_padding_gives_bias(runtime):
    x = np.ones((1, 1, 1, 1), np.float32)
    w = np.ones((2, 1, 1, 1), np.float32)
    bias = np.array([0.25, -3.0], np.float32)
    out = check_conv(runtime, x, w, bias, pads=(1, 1, 1, 1), act=(-2.5, INF))
    np.testing.assert_array_equal(out[0, 1, 1], [1.25, -2.0])
    for corner in [(0, 0), (0, 2), (2, 0), (2, 2), (0, 1), (1, 0)]:
        np.testing.assert_array_equal(out[0][corner], [0.25, -2.5])


def test_conv2d_params_fill_every_struct_field(runtime):
    params = conv2d_f32_params((1, 5, 5, 4), (6, 3, 3, 2), groups=2)
    assert set(params) == struct_fields(runtime.ffi, "fn_conv2d_f32_params")


@pytest.mark.parametrize("change", [
    {"groups": 3},                   # divides neither in_c = 4 nor out_c = 6
    {"groups": 4},                   # divides in_c, not out_c
    {"groups": 0},
    {"batch": 0},
    {"in_c": 0},
    {"kernel_h": 0},
    {"stride_w": 0},
    {"dilation_h": 0},
    {"pad_top": -1},
    {"out_w": 0},
    {"stride_h": 2**30, "out_h": 4},  # coordinates overflow int32
])
def test_conv2d_rejects_bad_arguments(runtime, change):
    rng = np.random.default_rng(0)
    x, w = random_f32(rng, (1, 5, 5, 4)), random_f32(rng, (6, 3, 3, 2))
    params = dict(conv2d_f32_params(x.shape, w.shape, groups=2), **change)
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full((1, 3, 3, 6), 7.0, np.float32)     # the valid call's output size
    status = lib.fn_conv2d_f32(ffi.new("fn_conv2d_f32_params *", params),
                               fptr(ffi, x), fptr(ffi, w), ffi.NULL, fptr(ffi, out))
    assert status == lib.FN_ERR_ARG
    assert np.all(out == 7.0), "arguments must be checked before any output is written"


def test_conv2d_rejects_null_pointers(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x, w = np.ones((1, 2, 2, 1), np.float32), np.ones((1, 1, 1, 1), np.float32)
    p = ffi.new("fn_conv2d_f32_params *", conv2d_f32_params(x.shape, w.shape))
    out = np.zeros((1, 2, 2, 1), np.float32)
    assert lib.fn_conv2d_f32(p, ffi.NULL, fptr(ffi, w), ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_f32(p, fptr(ffi, x), ffi.NULL, ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_f32(p, fptr(ffi, x), fptr(ffi, w), ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_f32(ffi.NULL, fptr(ffi, x), fptr(ffi, w), ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG


@pytest.mark.parametrize("w_shape, kwargs, message", [
    ((6, 3, 3, 1), dict(groups=3), "groups=3 must divide"),
    ((6, 3, 3, 2), dict(groups=1), "expected in_c/groups = 4"),
    ((6, 3, 3, 4), dict(pads=(0, -1, 0, 0)), "pads"),
    ((6, 3, 3, 4), dict(dilations=(3, 1)), "empty output"),
])
def test_conv2d_params_refuse_what_the_kernel_refuses(w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv2d_f32_params((1, 5, 5, 4), w_shape, **kwargs)


def test_conv2d_reference_matches_onnxruntime():
    """The reference's padding/dilation/groups semantics are ONNX Conv's."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    rng = np.random.default_rng(5)
    cases = [((1, 7, 6, 4), (6, 3, 2, 2), dict(strides=(2, 1), dilations=(1, 2), pads=(1, 0, 2, 1), groups=2)),
             ((2, 5, 5, 3), (6, 3, 3, 1), dict(pads=(1, 1, 1, 1), groups=3)),
             ((1, 6, 6, 2), (3, 2, 2, 2), dict(strides=(3, 2), dilations=(2, 2)))]
    for xs, ws, kw in cases:
        x, w, b = random_f32(rng, xs), random_f32(rng, ws), random_f32(rng, (ws[0],))
        pt, pl, pb, pr = kw.get("pads", (0, 0, 0, 0))
        node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=kw.get("groups", 1),
                                strides=list(kw.get("strides", (1, 1))),
                                dilations=list(kw.get("dilations", (1, 1))), pads=[pt, pl, pb, pr])
        graph = helper.make_graph(
            [node], "conv", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in "xwb"],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        y = sess.run(None, {"x": x.transpose(0, 3, 1, 2), "w": w.transpose(0, 3, 1, 2), "b": b})[0]
        ref = conv2d_f32(x, w, b, **kw)
        # float vs float (onnxruntime's own summation order): |a - b| <= 1e-5 + 1e-5 |b|
        assert np.all(np.abs(y.transpose(0, 2, 3, 1) - ref) <= 1e-5 + 1e-5 * np.abs(ref))


# ---------------------------------------------------------------- fully connected

def run_fc(runtime, params, x, w, bias):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full((params["batch"], params["out_features"]), np.nan, np.float32)
    status = lib.fn_fc_f32(ffi.new("fn_fc_f32_params *", params),
                           fptr(ffi, x), fptr(ffi, w), fptr(ffi, bias), fptr(ffi, out))
    return status, out


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3), k=st.integers(1, 70), m=st.integers(1, 13), has_bias=st.booleans(),
       act=act_ranges(), scale=st.sampled_from([1e-3, 1.0, 1e3]), seed=st.integers(0, 2**32 - 1))
def test_fc_matches_reference(runtime, n, k, m, has_bias, act, scale, seed):
    rng = np.random.default_rng(seed)
    x, w = random_f32(rng, (n, k), scale), random_f32(rng, (m, k))
    bias = random_f32(rng, (m,), scale) if has_bias else None
    status, out = run_fc(runtime, fc_f32_params(x.shape, w.shape, act=act), x, w, bias)
    assert status == runtime.lib.FN_OK
    abs_sum = fc_f32(np.abs(x), np.abs(w), None if bias is None else np.abs(bias))
    assert_within(out, fc_f32(x, w, bias, act=act), f32_sum_bound(k + 1, abs_sum))
    assert_clamped(out, act)


def test_fc_hand_computed(runtime):
    x = np.array([[1, 2, 3]], np.float32)
    w = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [-1, -1, -1]], np.float32)
    bias = np.array([0, 0, 0, 0.5, 0], np.float32)
    status, out = run_fc(runtime, fc_f32_params(x.shape, w.shape, act=(-2.0, 6.0)), x, w, bias)
    assert status == runtime.lib.FN_OK
    np.testing.assert_array_equal(out, [[1, 2, 3, 6, -2]])


def test_fc_params_fill_every_struct_field(runtime):
    assert set(fc_f32_params((2, 3), (4, 3))) == struct_fields(runtime.ffi, "fn_fc_f32_params")


@pytest.mark.parametrize("change", [{"batch": 0}, {"in_features": 0}, {"out_features": -1}])
def test_fc_rejects_bad_arguments(runtime, change):
    ffi, lib = runtime.ffi, runtime.lib
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    out = np.full((2, 4), 7.0, np.float32)
    p = ffi.new("fn_fc_f32_params *", dict(fc_f32_params(x.shape, w.shape), **change))
    assert lib.fn_fc_f32(p, fptr(ffi, x), fptr(ffi, w), ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG
    assert np.all(out == 7.0)

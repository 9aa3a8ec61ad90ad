"""fn_conv_transpose2d_f32 (gather form) against the numpy reference (scatter form,
firmnet.reference.conv_transpose), and the reference against onnxruntime's ConvTranspose.

Tolerance: the float32 dot-product bound of tests/test_kernels_conv_f32.py,
|c - ref| <= n * eps32 * S + n * FLT_MIN elementwise, with n = kh * kw * in_c/groups + 1
(an upper bound on the terms of any output element, bias included) and S the sum of
|terms| of that element (the reference run on |x|, |w|, |bias|). The same bound holds
between onnxruntime (float32, its own order) and the reference (float64, rounded once).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_conv_f32 import conv_transpose2d_f32_params, gather_filter
from firmnet.reference.conv_transpose import conv_transpose2d_f32
from support.f32_bounds import (NO_CLAMP, act_ranges, assert_clamped, assert_within, f32_sum_bound, fptr,
                                random_f32)
from support.ffi import struct_fields


def run_ct(runtime, params, x, w_gather, bias, fill=np.nan):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), fill, np.float32)
    status = lib.fn_conv_transpose2d_f32(ffi.new("fn_conv_transpose2d_f32_params *", params), fptr(ffi, x),
                                         fptr(ffi, w_gather), fptr(ffi, bias), fptr(ffi, out))
    return status, out


def bound(x, w, bias, kw):
    abs_sum = conv_transpose2d_f32(np.abs(x), np.abs(w), None if bias is None else np.abs(bias),
                                   **dict(kw, act=NO_CLAMP))
    n_terms = w.shape[2] * w.shape[3] * (x.shape[3] // kw.get("groups", 1)) + 1
    return f32_sum_bound(n_terms, abs_sum)


def check_ct(runtime, x, w, bias, **kw):
    params = conv_transpose2d_f32_params(x.shape, w.shape, **kw)
    status, out = run_ct(runtime, params, x, gather_filter(w, kw.get("groups", 1)), bias)
    assert status == runtime.lib.FN_OK
    assert_within(out, conv_transpose2d_f32(x, w, bias, **kw), bound(x, w, bias, kw))
    assert_clamped(out, kw.get("act", NO_CLAMP))
    return out


@st.composite
def ct_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin_g, cout_g = draw(st.integers(1, 4)), draw(st.integers(1, 9))   # crosses the blocks of 4
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    full = ((h - 1) * strides[0] + (kh - 1) * dilations[0] + 1, (w - 1) * strides[1] + (kw - 1) * dilations[1] + 1)
    # pads of either sign: cropping, and (negative) rows beyond the full result (output_shape > full)
    top, left = draw(st.integers(-2, full[0] - 1)), draw(st.integers(-2, full[1] - 1))
    bottom = draw(st.integers(-3, full[0] - 1 - top))
    right = draw(st.integers(-3, full[1] - 1 - left))
    n = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = random_f32(rng, (n, h, w, groups * cin_g))
    wt = random_f32(rng, (groups * cin_g, cout_g, kh, kw))
    bias = random_f32(rng, (groups * cout_g,)) if draw(st.booleans()) else None
    kwargs = dict(strides=strides, dilations=dilations, pads=(top, left, bottom, right), groups=groups,
                  act=draw(act_ranges()))
    return x, wt, bias, kwargs


@settings(max_examples=300, deadline=None)
@given(ct_cases())
def test_conv_transpose_matches_reference(runtime, case):
    x, w, bias, kw = case
    check_ct(runtime, x, w, bias, **kw)


def test_conv_transpose_hand_computed(runtime):
    """2x2 input, 2x2 ones filter, stride 2: each input pixel becomes a 2x2 block; pads (1, 0, 0, 1)
    crop the first row and the last column; a bias 0.5."""
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 2, 1)
    w = np.ones((1, 1, 2, 2), np.float32)
    out = check_ct(runtime, x, w, np.array([0.5], np.float32), strides=(2, 2), pads=(1, 0, 0, 1))
    np.testing.assert_array_equal(out[0, :, :, 0], [[1.5, 1.5, 2.5], [3.5, 3.5, 4.5], [3.5, 3.5, 4.5]])


def test_conv_transpose_unet_sized_layer(runtime):
    """The usual 2x upsampling layer: kernel 2, stride 2, 16 → 8 channels, and kernel 4 stride 2 pad 1."""
    rng = np.random.default_rng(3)
    x = random_f32(rng, (1, 12, 12, 16))
    check_ct(runtime, x, random_f32(rng, (16, 8, 2, 2), 0.3), random_f32(rng, (8,)), strides=(2, 2))
    check_ct(runtime, x, random_f32(rng, (16, 8, 4, 4), 0.3), None, strides=(2, 2), pads=(1, 1, 1, 1),
             act=(0.0, np.inf))


def test_conv_transpose_params_fill_every_struct_field(runtime):
    params = conv_transpose2d_f32_params((1, 5, 5, 4), (4, 3, 3, 3), groups=2)
    assert set(params) == struct_fields(runtime.ffi, "fn_conv_transpose2d_f32_params")


@pytest.mark.parametrize("change", [
    {"groups": 3},                   # divides neither in_c = 4 nor out_c = 6
    {"groups": 0},
    {"batch": 0},
    {"in_c": 0},
    {"kernel_h": 0},
    {"stride_w": 0},
    {"dilation_h": 0},
    {"out_w": 0},
    {"pad_top": -2**30},             # coordinates could overflow int32
    {"dilation_w": 2**29, "kernel_w": 4},
    {"kernel_h": 33},                # the tap lists hold 32 per axis
])
def test_conv_transpose_rejects_bad_arguments(runtime, change):
    rng = np.random.default_rng(0)
    x, w = random_f32(rng, (1, 5, 5, 4)), random_f32(rng, (4, 3, 3, 3))
    params = dict(conv_transpose2d_f32_params(x.shape, w.shape, groups=2), **change)
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full((1, 7, 7, 6), 7.0, np.float32)     # the valid call's output size
    status = lib.fn_conv_transpose2d_f32(ffi.new("fn_conv_transpose2d_f32_params *", params), fptr(ffi, x),
                                         fptr(ffi, gather_filter(w, 2)), ffi.NULL, fptr(ffi, out))
    assert status == lib.FN_ERR_ARG
    assert np.all(out == 7.0), "arguments must be checked before any output is written"


def test_conv_transpose_rejects_null_pointers(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x, w = np.ones((1, 2, 2, 1), np.float32), np.ones((1, 1, 1, 1), np.float32)
    p = ffi.new("fn_conv_transpose2d_f32_params *", conv_transpose2d_f32_params(x.shape, w.shape))
    out = np.zeros((1, 2, 2, 1), np.float32)
    fn = lib.fn_conv_transpose2d_f32
    assert fn(p, ffi.NULL, fptr(ffi, w), ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG
    assert fn(p, fptr(ffi, x), ffi.NULL, ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG
    assert fn(p, fptr(ffi, x), fptr(ffi, w), ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG
    assert fn(ffi.NULL, fptr(ffi, x), fptr(ffi, w), ffi.NULL, fptr(ffi, out)) == lib.FN_ERR_ARG


@pytest.mark.parametrize("w_shape, kwargs, message", [
    ((4, 3, 3, 3), dict(groups=3), "divisible by groups"),
    ((2, 3, 3, 3), dict(groups=1), "4 channels"),
    ((4, 3, 3, 3), dict(strides=(0, 1)), "strides"),
    ((4, 3, 3, 3), dict(pads=(4, 0, 3, 0)), "empty output"),
    ((4, 3, 33, 3), dict(), "larger than 32"),
])
def test_conv_transpose_params_refuse_what_the_kernel_refuses(w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_transpose2d_f32_params((1, 2, 5, 4), w_shape, **kwargs)


def _ort_conv_transpose(x_nchw, w, b, attrs):
    import onnxruntime as ort
    from onnx import TensorProto, helper
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    graph = helper.make_graph([node], "ct", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in "xwb"],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x_nchw, "w": w, "b": b})[0]


@settings(max_examples=60, deadline=None)
@given(ct_cases(), st.data())
def test_conv_transpose_reference_matches_onnxruntime(case, data):
    """Pads, output_padding (the part of a negative bottom/right pad below the stride), groups and
    dilations mean what onnxruntime's ConvTranspose means."""
    x, w, bias, kw = case
    top, left, bottom, right = kw["pads"]
    # onnxruntime wants pads >= 0 and output_padding < stride (the spec allows < dilation too)
    op_h = data.draw(st.integers(0, kw["strides"][0] - 1))
    op_w = data.draw(st.integers(0, kw["strides"][1] - 1))
    top, left, bottom, right = max(top, 0), max(left, 0), max(bottom, 0), max(right, 0)
    full_h = (x.shape[1] - 1) * kw["strides"][0] + (w.shape[2] - 1) * kw["dilations"][0] + 1
    full_w = (x.shape[2] - 1) * kw["strides"][1] + (w.shape[3] - 1) * kw["dilations"][1] + 1
    if top + bottom - op_h >= full_h or left + right - op_w >= full_w:
        return
    kw = dict(kw, pads=(top, left, bottom - op_h, right - op_w), act=NO_CLAMP)
    b = bias if bias is not None else np.zeros(w.shape[1] * kw["groups"], np.float32)
    attrs = dict(strides=list(kw["strides"]), dilations=list(kw["dilations"]), group=kw["groups"],
                 pads=[top, left, bottom, right], output_padding=[op_h, op_w])
    y = _ort_conv_transpose(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), w, b, attrs).transpose(0, 2, 3, 1)
    ref = conv_transpose2d_f32(x, w, b, **kw)
    assert_within(y, ref, bound(x, w, b, kw), "onnxruntime vs reference")

"""Weights with zero points (ONNX QLinearConv/QLinearMatMul with asymmetric weights,
ConvInteger, MatMulInteger): fn_conv2d_s8 with a filter_offset and fn_conv2d_s8_s32
against the numpy reference, exactly; the reference against a literal
sum of (x - x_zp) * (w - w_zp); and both kernels against onnxruntime, byte for byte.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_conv_s8 import MAX_DEPTH_OFFSET, conv2d_s8_params, conv2d_s32_params
from firmnet.reference.conv_s8 import conv2d_s8, conv2d_s32
from support.compare import assert_array_equal_first
from support.oracles import ort_session
from support.s8_cases import (conv_geometry, int8_data, make_bias, make_scales, ort_conv_case, quant_cases,
                              quant_kwargs)
from support.s8_kernels import _ptr, c_params


def weight_zero_points(rng, kind, n):
    """Per-tensor or per-channel weight zero points, the extremes included."""
    if kind == "tensor":
        return int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    return np.where(rng.random(n) < 0.3, rng.choice([-128, 127, 0], n), rng.integers(-128, 128, n))


def call_conv(runtime, params, arrays, x, w, bias, s32=False):
    """fn_conv2d_s8 (or _s32) with the struct's filter_offset set from arrays."""
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    offset = arrays.get("filter_offset")
    if offset is not None:
        offset = np.ascontiguousarray(offset, np.int32)
        keep.append(offset)
    s.filter_offset = _ptr(ffi, "int32_t", offset)
    shape = (params["batch"], params["out_h"], params["out_w"], params["out_c"])
    out = np.full(shape, 0x5A, np.int32 if s32 else np.int8)
    kernel = lib.fn_conv2d_s8_s32 if s32 else lib.fn_conv2d_s8
    status = kernel(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", w), _ptr(ffi, "int32_t", bias),
                    _ptr(ffi, "int32_t" if s32 else "int8_t", out))
    del keep
    return status, out


def literal_sums(x, w, zp_in, zp_w, strides, dilations, pads, groups):
    """SUM (x - zp_in) * (w - zp_w[c]) over in-bounds taps, by plain loops (NHWC, OHWI)."""
    n, h, wd, c = x.shape
    oc, kh, kw, cg = w.shape
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    zp_w = np.broadcast_to(np.asarray(zp_w, np.int64), (oc,))
    out = np.zeros((n, oh, ow, oc), np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(oc):
                    g = o // (oc // groups)
                    total = 0
                    for ky in range(kh):
                        for kx in range(kw):
                            iy = oy * strides[0] - pads[0] + ky * dilations[0]
                            ix = ox * strides[1] - pads[1] + kx * dilations[1]
                            if 0 <= iy < h and 0 <= ix < wd:
                                for i in range(cg):
                                    total += (int(x[b, iy, ix, g * cg + i]) - zp_in) * (int(w[o, ky, kx, i]) - zp_w[o])
                    out[b, oy, ox, o] = total
    return out


def offset_case(g, q, zp_kind):
    rng = np.random.default_rng(q["seed"])
    c, oc = g["groups"] * g["cin_g"], g["groups"] * g["cout_g"]
    x = int8_data(rng, (g["n"], g["h"], g["w"], c), q["data"], q["zp_in"])
    w = int8_data(rng, (oc, g["kh"], g["kw"], g["cin_g"]), "extremes" if q["data"] == "extremes" else "uniform")
    zp_w = weight_zero_points(rng, zp_kind, oc)
    bias = make_bias(rng, q["bias"], oc)
    acc = conv2d_s32(x, w, bias, input_zero_point=q["zp_in"], weight_zero_points=zp_w, groups=g["groups"],
                     **g["geo"])
    s_in, s_w, s_out = make_scales(rng, q, acc, oc)
    return x, w, zp_w, bias, dict(groups=g["groups"], **g["geo"], weight_zero_points=zp_w,
                                  **quant_kwargs(q, s_in, s_w, s_out))


@settings(max_examples=400, deadline=None)
@given(g=conv_geometry(), q=quant_cases(), zp_kind=st.sampled_from(["tensor", "channel"]))
def test_conv2d_with_filter_offset_matches_reference(runtime, g, q, zp_kind):
    x, w, _, bias, kw = offset_case(g, q, zp_kind)
    status, out = call_conv(runtime, *conv2d_s8_params(x.shape, w.shape, **kw), x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, conv2d_s8(x, w, bias, **kw), "conv2d_s8 with filter_offset")


@settings(max_examples=300, deadline=None)
@given(g=conv_geometry(), q=quant_cases(), zp_kind=st.sampled_from(["tensor", "channel"]))
def test_conv2d_s32_matches_reference(runtime, g, q, zp_kind):
    x, w, zp_w, bias, _ = offset_case(g, q, zp_kind)
    kw = dict(input_zero_point=q["zp_in"], weight_zero_points=zp_w, groups=g["groups"], **g["geo"])
    status, out = call_conv(runtime, *conv2d_s32_params(x.shape, w.shape, **kw), x, w, bias, s32=True)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, conv2d_s32(x, w, bias, **kw), "conv2d_s8_s32")


@settings(max_examples=40, deadline=None)
@given(g=conv_geometry(), q=quant_cases(), zp_kind=st.sampled_from(["tensor", "channel"]))
def test_reference_sums_are_the_literal_definition(g, q, zp_kind):
    x, w, zp_w, _, _ = offset_case(g, q, zp_kind)
    expected = literal_sums(x, w, q["zp_in"], zp_w, g["geo"]["strides"], g["geo"]["dilations"], g["geo"]["pads"],
                            g["groups"])
    assert np.array_equal(conv2d_s32(x, w, None, input_zero_point=q["zp_in"], weight_zero_points=zp_w,
                                     groups=g["groups"], **g["geo"]), expected)


@pytest.mark.parametrize("x_val, zp_in, w_val, zp_w", [(127, -128, -128, 127), (-128, 127, 127, -128),
                                                       (127, -128, 127, -128)])
def test_accumulator_at_its_bound_with_offset(runtime, x_val, zp_in, w_val, zp_w):
    """MAX_DEPTH_OFFSET products of magnitude 255 * 255: the largest sums the kernel allows."""
    x = np.full((1, 1, 1, MAX_DEPTH_OFFSET), x_val, np.int8)
    w = np.full((2, 1, 1, MAX_DEPTH_OFFSET), w_val, np.int8)
    params, arrays = conv2d_s32_params(x.shape, w.shape, input_zero_point=zp_in, weight_zero_points=zp_w)
    status, out = call_conv(runtime, params, arrays, x, w, None, s32=True)
    assert status == runtime.lib.FN_OK
    assert np.array_equal(out.ravel(), np.full(2, (x_val - zp_in) * (w_val - zp_w) * MAX_DEPTH_OFFSET, np.int64))


def test_kernels_reject_bad_filter_offsets(runtime):
    x = np.zeros((1, 3, 3, 2), np.int8)
    w = np.zeros((2, 2, 2, 2), np.int8)
    params, arrays = conv2d_s32_params(x.shape, w.shape, input_zero_point=0, weight_zero_points=[3, -3])
    for bad in ([129, 0], [0, -128]):
        for s32 in (False, True):
            status, _ = call_conv(runtime, params, {**arrays, "filter_offset": np.array(bad, np.int32)}, x, w, None,
                                  s32=s32)
            assert status == runtime.lib.FN_ERR_ARG, (bad, s32)
    deep = np.zeros((1, 1, 1, MAX_DEPTH_OFFSET + 1), np.int8)
    with pytest.raises(ValueError, match=f"exceed {MAX_DEPTH_OFFSET}"):
        conv2d_s32_params(deep.shape, (1, 1, 1, deep.shape[3]), input_zero_point=0, weight_zero_points=1)
    params, arrays = conv2d_s32_params(deep.shape, (1, 1, 1, deep.shape[3]), input_zero_point=0)
    status, _ = call_conv(runtime, params, {**arrays, "filter_offset": np.array([1], np.int32)}, deep,
                          np.zeros((1, 1, 1, deep.shape[3]), np.int8), None, s32=True)
    assert status == runtime.lib.FN_ERR_ARG


# ---------------------------------------------------------------- onnxruntime

def as_uint8(v):
    """The same quantized integers in ONNX's uint8 form (value + 128, zero point + 128)."""
    return (np.asarray(v, np.int16) + 128).astype(np.uint8)


def qlinearconv_model(x_shape, w, zp_w, bias, q, opset, onnx_type):
    """QLinearConv (NCHW) with weights that have zero points; every quantized tensor
    (x, w, y) in onnx_type: int8, or uint8 (onnxruntime has no int8-x/uint8-w kernel)."""
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh
    f32 = np.float32
    conv = as_uint8 if onnx_type == np.uint8 else (lambda v: np.asarray(v, np.int8))
    inits = [nh.from_array(np.array(q["input_scale"], f32), "xs"), nh.from_array(conv(q["input_zero_point"]), "xzp"),
             nh.from_array(conv(np.ascontiguousarray(w.transpose(0, 3, 1, 2))), "w"),
             nh.from_array(np.asarray(q["weight_scales"], f32), "ws"), nh.from_array(conv(zp_w), "wzp"),
             nh.from_array(np.array(q["output_scale"], f32), "ys"), nh.from_array(conv(q["output_zero_point"]), "yzp")]
    if bias is not None:
        inits.append(nh.from_array(bias, "b"))
    ins = ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp"] + (["b"] if bias is not None else [])
    node = helper.make_node("QLinearConv", ins, ["y"], group=q["groups"], strides=list(q["strides"]),
                            dilations=list(q["dilations"]), pads=list(q["pads"]), kernel_shape=list(w.shape[1:3]))
    elem = TensorProto.UINT8 if onnx_type == np.uint8 else TensorProto.INT8
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, list(x_shape))],
                              [helper.make_tensor_value_info("y", elem, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


@pytest.mark.parametrize("onnx_type", [np.int8, np.uint8])
@pytest.mark.parametrize("kind", ["general", "grouped", "depthwise"])
def test_ort_qlinearconv_with_weight_zero_points_is_matched_exactly(runtime, kind, onnx_type):
    rng = np.random.default_rng({"general": 11, "grouped": 12, "depthwise": 13}[kind])
    for i in range(15):
        x, w, bias, q = ort_conv_case(rng, kind)
        zp_w = weight_zero_points(rng, "tensor" if i % 2 else "channel", w.shape[0])
        model = qlinearconv_model(x.transpose(0, 3, 1, 2).shape, w, zp_w, bias, q, 13 + i % 5, onnx_type)
        x_onnx = np.ascontiguousarray((as_uint8(x) if onnx_type == np.uint8 else x).transpose(0, 3, 1, 2))
        expected = ort_session(model, "ORT_ENABLE_ALL").run(None, {"x": x_onnx})[0].transpose(0, 2, 3, 1)
        if onnx_type == np.uint8:
            expected = (expected.astype(np.int16) - 128).astype(np.int8)
        params, arrays = conv2d_s8_params(x.shape, w.shape, mode="ort", weight_zero_points=zp_w, **q)
        status, out = call_conv(runtime, params, arrays, x, w, bias)
        assert status == runtime.lib.FN_OK
        assert_array_equal_first(out, conv2d_s8(x, w, bias, mode="ort", weight_zero_points=zp_w, **q),
                                 f"C vs reference, case {i}")
        assert_array_equal_first(out, expected, f"QLinearConv {kind} {onnx_type.__name__}, case {i}")


def test_ort_convinteger_is_matched_exactly(runtime):
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh
    rng = np.random.default_rng(21)
    for i in range(20):
        x, w, _, q = ort_conv_case(rng, ["general", "grouped", "depthwise"][i % 3])
        zp_w = int(rng.integers(-128, 128))
        # ConvInteger in onnxruntime: uint8 activations; the same integers as int8 + 128
        xu = as_uint8(x)
        node = helper.make_node("ConvInteger", ["x", "w", "xzp", "wzp"], ["y"], group=q["groups"],
                                strides=list(q["strides"]), dilations=list(q["dilations"]), pads=list(q["pads"]),
                                kernel_shape=list(w.shape[1:3]))
        inits = [nh.from_array(np.ascontiguousarray(w.transpose(0, 3, 1, 2)), "w"),
                 nh.from_array(as_uint8(q["input_zero_point"]), "xzp"),
                 nh.from_array(np.array(zp_w, np.int8), "wzp")]
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                                  [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        expected = ort_session(model, "ORT_ENABLE_ALL").run(None, {"x": np.ascontiguousarray(
            xu.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)
        params, arrays = conv2d_s32_params(x.shape, w.shape, input_zero_point=q["input_zero_point"],
                                           weight_zero_points=zp_w, strides=q["strides"], dilations=q["dilations"],
                                           pads=q["pads"], groups=q["groups"])
        status, out = call_conv(runtime, params, arrays, x, w, None, s32=True)
        assert status == runtime.lib.FN_OK
        assert_array_equal_first(out, expected, f"ConvInteger case {i}")

"""Calling the int8 conv, depthwise and fully connected C kernels through cffi, and
checking them exactly against the numpy reference. The kernels get the structs of
firmnet.kernels.params_conv_s8, the reference the layer's quantities kw (geometry, scales,
zero points, act, mode): a wrong multiplier in a builder fails the check."""
from __future__ import annotations

import numpy as np

from firmnet.kernels.params_conv_s8 import (conv2d_s8_params, depthwise_conv2d_s8_params, fc_s8_params,
                                            pack_depthwise_filter)
from firmnet.kernels.params_requant import ARRAY_FIELDS, FIELD, SCALAR_FIELDS
from firmnet.reference.conv_s8 import (Requant, conv2d_s8, conv2d_s32, depthwise_as_ohwi, depthwise_conv2d_s8,
                                       output_stage_s8)
from firmnet.reference.dense_s8 import fc_s8, fc_s32
from support.compare import assert_array_equal_first


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


def c_params(ffi, ctype, params, arrays):
    """The C struct for (params, arrays); returns it with the arrays it points into. The
    requantization arrays go into the struct's block (params_requant.ARRAY_FIELDS)."""
    s = ffi.new(ctype + " *", params)
    keep = []
    for name in ARRAY_FIELDS:
        a = arrays.get(name)
        if a is not None:
            a = np.ascontiguousarray(a, dtype=np.float32 if name == "scale" else np.int32)
            keep.append(a)
        setattr(getattr(s, FIELD), name, _ptr(ffi, "float" if name == "scale" else "int32_t", a))
    return s, keep


def changed(params, change):
    """params with the fields of change replaced, those of the requant block inside it."""
    block = {k: v for k, v in change.items() if k in SCALAR_FIELDS}
    rest = {k: v for k, v in change.items() if k not in SCALAR_FIELDS}
    return {**params, **rest, FIELD: {**params[FIELD], **block}}


def call(runtime, kernel, ctype, params, arrays, x, w, bias, out_shape, fill=0x5A):
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, ctype, params, arrays)
    out = np.full(out_shape, fill, np.int8)
    status = getattr(lib, kernel)(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", w),
                                  _ptr(ffi, "int32_t", bias), _ptr(ffi, "int8_t", out))
    del keep
    return status, out


def run_conv(runtime, params, arrays, x, w, bias, shape=None):
    shape = shape or (params["batch"], params["out_h"], params["out_w"], params["out_c"])
    return call(runtime, "fn_conv2d_s8", "fn_conv2d_s8_params", params, arrays, x, w, bias, shape)


def run_dw(runtime, params, arrays, x, packed, bias, shape=None):
    shape = shape or (params["batch"], params["out_h"], params["out_w"], params["in_c"] * params["depth_multiplier"])
    return call(runtime, "fn_depthwise_conv2d_s8", "fn_depthwise_conv2d_s8_params", params, arrays,
                x, packed, bias, shape)


def run_fc(runtime, params, arrays, x, w, bias, shape=None):
    shape = shape or (params["batch"], params["out_features"])
    return call(runtime, "fn_fc_s8", "fn_fc_s8_params", params, arrays, x, w, bias, shape)


GEOMETRY = ("strides", "dilations", "pads", "groups")


def requant_of(mode, arrays) -> Requant:
    """Explicit (multiplier, shift) or scale arrays as the reference's requantization."""
    return Requant(mode, arrays["multiplier"], arrays["shift"], arrays["scale"])


def stage(acc, kw, arrays):
    """The output stage of acc with explicit requant arrays (the any-multiplier tests)."""
    return output_stage_s8(acc, requant_of(kw.get("mode", "tflm"), arrays), kw["output_zero_point"],
                           kw.get("act", (-128, 127)))


def expected_conv(x, w, bias, kw, arrays=None):
    """The reference of a conv case: from the layer's quantities kw, or with explicit requant
    arrays in place of the scales."""
    if arrays is None:
        return conv2d_s8(x, w, bias, **kw)
    geo = {k: kw[k] for k in GEOMETRY if k in kw}
    acc = conv2d_s32(x, w, bias, input_zero_point=kw["input_zero_point"],
                     weight_zero_points=kw.get("weight_zero_points", 0), **geo)
    return stage(acc, kw, arrays)


def expected_dw(x, w, bias, kw, arrays=None):
    """The reference of a depthwise case (w TFLite's [1, KH, KW, C*m])."""
    if arrays is None:
        return depthwise_conv2d_s8(x, w, bias, **kw)
    return expected_conv(x, depthwise_as_ohwi(w), bias, dict(kw, groups=x.shape[3]), arrays)


def expected_fc(x, w, bias, kw, arrays=None):
    if arrays is None:
        return fc_s8(x, w, bias, **kw)
    return stage(fc_s32(x, w, bias, input_zero_point=kw["input_zero_point"]), kw, arrays)


def check_conv(runtime, x, w, bias, kw, arrays=None):
    """fn_conv2d_s8 with the builder's struct (its requant arrays replaced by explicit ones if
    given) == the reference computed from the layer's quantities kw."""
    params, built = conv2d_s8_params(x.shape, w.shape, **kw)
    status, out = run_conv(runtime, params, built if arrays is None else {**built, **arrays}, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw, arrays), "conv2d_s8")
    return out


def check_dw(runtime, x, w, bias, kw, arrays=None):
    params, built = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    status, out = run_dw(runtime, params, built if arrays is None else arrays, x, pack_depthwise_filter(w), bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_dw(x, w, bias, kw, arrays), "depthwise_conv2d_s8")
    return out


def check_fc(runtime, x, w, bias, kw, arrays=None, per_channel=None):
    """per_channel: force the struct's per_channel flag (explicit arrays of one per output)."""
    params, built = fc_s8_params(x.shape, w.shape, **kw)
    if per_channel is not None:
        params[FIELD]["per_channel"] = int(per_channel)
    status, out = run_fc(runtime, params, built if arrays is None else arrays, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_fc(x, w, bias, kw, arrays), "fc_s8")
    return out

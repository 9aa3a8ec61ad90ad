"""Calling the int8 conv, depthwise and fully connected C kernels through cffi, and
checking them exactly against the numpy reference."""
from __future__ import annotations

import numpy as np

from firmnet.reference.conv_s8 import ARRAY_FIELDS, conv2d_s8, depthwise_conv2d_s8, pack_depthwise_filter
from firmnet.reference.dense_s8 import fc_s8
from support.compare import assert_array_equal_first


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


def c_params(ffi, ctype, params, arrays):
    """The C struct for (params, arrays); returns it with the arrays it points into."""
    s = ffi.new(ctype + " *", params)
    keep = []
    for name in ARRAY_FIELDS:
        a = arrays.get(name)
        if a is not None:
            a = np.ascontiguousarray(a, dtype=np.float32 if name == "scale" else np.int32)
            keep.append(a)
        setattr(s, name, _ptr(ffi, "float" if name == "scale" else "int32_t", a))
    return s, keep


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


def check_conv(runtime, x, w, bias, params, arrays):
    status, out = run_conv(runtime, params, arrays, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, conv2d_s8(x, w, bias, params, arrays), "conv2d_s8")
    return out


def check_dw(runtime, x, w, bias, params, arrays):
    status, out = run_dw(runtime, params, arrays, x, pack_depthwise_filter(w), bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, depthwise_conv2d_s8(x, w, bias, params, arrays), "depthwise_conv2d_s8")
    return out


def check_fc(runtime, x, w, bias, params, arrays):
    status, out = run_fc(runtime, params, arrays, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, fc_s8(x, w, bias, params, arrays), "fc_s8")
    return out

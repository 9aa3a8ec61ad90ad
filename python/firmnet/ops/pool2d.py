"""pool2d: 2-D max or average pooling (pads, strides, dilations, ceil mode, count_include_pad).

Global pooling is pooling with the kernel as large as the input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError, OpQuant
from ..reference import pool as ref
from ..reference import pool_s8 as ref_s8
from ._util import NO_CLAMP, check_types, output_type, require

KINDS = ("max", "avg")


@dataclass(frozen=True)
class Attrs:
    kind: str
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    ceil_mode: bool = False
    count_include_pad: bool = False
    layout: str = "NCHW"
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None


def output_size(size, kernel, stride, dilation, pad_before, pad_after, ceil_mode):
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    # ceil mode never starts a window inside the trailing padding
    if (out - 1) * stride >= size + pad_before:
        out -= 1
    return out


def out_hw(attrs, h, w):
    kh, kw = attrs.kernel
    return (output_size(h, kh, attrs.strides[0], attrs.dilations[0], attrs.pads[0], attrs.pads[2], attrs.ceil_mode),
            output_size(w, kw, attrs.strides[1], attrs.dilations[1], attrs.pads[1], attrs.pads[3], attrs.ceil_mode))


def nhwc(attrs, shape):
    """(n, h, w, c) of the input shape in either layout."""
    n, a, b, c = shape
    return (n, b, c, a) if attrs.layout == "NCHW" else (n, a, b, c)


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"pool kind {attrs.kind} unknown (supported: {KINDS})")
    require(len(x.shape) == 4, f"pool2d needs a 4-D input, got {x}")
    require(attrs.kind == "max" or attrs.dilations == (1, 1), "average pooling with dilations is not supported")
    n, h, w, c = nhwc(attrs, x.shape)
    kh, kw = attrs.kernel
    require(max(attrs.pads[0], attrs.pads[2]) < kh * attrs.dilations[0]
            and max(attrs.pads[1], attrs.pads[3]) < kw * attrs.dilations[1],
            f"pool2d: pads {attrs.pads} must be smaller than the kernel {attrs.kernel}")
    oh, ow = out_hw(attrs, h, w)
    require(oh >= 1 and ow >= 1, f"pool2d: the window {kh}x{kw} does not fit the padded input {h}x{w}")
    try:   # every window must hold an in-bounds element
        ref.pool_geometry((n, h, w, c), kernel=attrs.kernel, strides=attrs.strides, dilations=attrs.dilations,
                          pads=attrs.pads, out_size=(oh, ow))
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None
    shape = (n, c, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, c)
    return [output_type(attrs, shape)]


def int8_quantities(attrs, out_size) -> dict:
    """The reference's keywords of an int8 pooling: geometry, quantizations, clamp, mode."""
    q = attrs.quant
    kw = dict(kernel=attrs.kernel, strides=attrs.strides, pads=attrs.pads, out_size=tuple(out_size), act=attrs.act,
              x_q=(q.inputs[0].scale[0], q.inputs[0].zero_point[0]),
              y_q=(q.output.scale[0], q.output.zero_point[0]), mode=q.mode)
    if attrs.kind == "max":
        return dict(kw, dilations=attrs.dilations)
    return dict(kw, count_include_pad=attrs.count_include_pad, ort_uint8=q.output.uint8)


def _nhwc_reference(attrs, x, out_size):
    if attrs.quant is not None:
        pool = ref_s8.maxpool2d_s8 if attrs.kind == "max" else ref_s8.avgpool2d_s8
        return pool(x, **int8_quantities(attrs, out_size))
    common = dict(kernel=attrs.kernel, strides=attrs.strides, pads=attrs.pads, out_size=out_size, act=attrs.act)
    if attrs.kind == "max":
        return ref.maxpool2d_f32(x, dilations=attrs.dilations, **common)
    return ref.avgpool2d_f32(x, count_include_pad=attrs.count_include_pad, **common)


def reference(attrs, x):
    _, h, w, _ = nhwc(attrs, x.shape)
    if attrs.layout == "NCHW":
        y = _nhwc_reference(attrs, x.transpose(0, 2, 3, 1), out_hw(attrs, h, w))
        return [np.ascontiguousarray(y.transpose(0, 3, 1, 2))]
    return [_nhwc_reference(attrs, x, out_hw(attrs, h, w))]


def macs(attrs, in_types, out_types):
    return 0

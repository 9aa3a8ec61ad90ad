"""bconv2d: binary (XNOR-popcount) convolution of +-1 activations (b1) with +-1 weights.

Inputs: x (b1), w (an int8 constant of +1/-1; filter OIHW in NCHW, OHWI in NHWC), then for
the float and bits outputs the per-channel scale and offset (float32 [O] constants) into
which the pass folded the layer's alpha, bias and BatchNorm. Groups 1, dilation 1, zero
padding (pad_value 0: a padded tap contributes 0) or one padding (pad_value 1: a padded tap
is +1, Larq's pad_values=1). The output (Attrs.out): the int32 accumulator,
float32 clamp(acc * scale + offset, act), or b1: the sign (>= 0 -> +1) of that float.
A fully connected layer on +-1 values is the convolution whose filter covers its whole
(unpadded) input (passes/binarize.py). Arithmetic: reference/binary.py; kernels:
kernels/bconv2d_b1.py and kernels/fc_b1.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import TensorType
from ..reference import binary as ref
from ._util import NO_CLAMP, require, require_act
from .conv2d import output_size

OUT_DTYPES = {"int32": "int32", "float": "float32", "bits": "b1"}


@dataclass(frozen=True)
class Attrs:
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    out: str = "float"
    act: tuple[float, float] = NO_CLAMP   # float and bits outputs: clamp of the scaled value
    layout: str = "NCHW"
    pad_value: int = 0                    # 0: zero padding, 1: one padding (+1)


def dims(attrs, x_shape, w_shape):
    """(n, h, w, c), (o, kh, kw, c) whatever the layout."""
    if attrs.layout == "NCHW":
        (n, c, h, w), (o, cw, kh, kw) = x_shape, w_shape
    else:
        (n, h, w, c), (o, kh, kw, cw) = x_shape, w_shape
    return (n, h, w, c), (o, kh, kw, cw)


def out_hw(attrs, h, w, kh, kw):
    return (output_size(h, kh, attrs.strides[0], 1, attrs.pads[0], attrs.pads[2]),
            output_size(w, kw, attrs.strides[1], 1, attrs.pads[1], attrs.pads[3]))


def infer(attrs, in_types):
    x, w, scale, offset = (list(in_types) + [None, None])[:4]
    require(attrs.out in OUT_DTYPES, f"bconv2d: output kind {attrs.out} unknown ({', '.join(OUT_DTYPES)})")
    require(attrs.layout in ("NCHW", "NHWC"), f"bconv2d: layout {attrs.layout} unknown")
    require(attrs.pad_value in (0, 1), f"bconv2d: pad value {attrs.pad_value} (0: zero padding, 1: one padding)")
    require_act(attrs.act)
    require(x.dtype == "b1" and len(x.shape) == 4, f"bconv2d: the input must be a 4-D b1 tensor, got {x}")
    require(w.dtype == "int8" and len(w.shape) == 4, f"bconv2d: the weights must be 4-D int8 +-1, got {w}")
    (n, h, wd, c), (o, kh, kw, cw) = dims(attrs, x.shape, w.shape)
    require(c == cw, f"bconv2d: the input has {c} channels, the filter {cw}")
    require(min(attrs.strides) >= 1 and min(attrs.pads) >= 0, f"bconv2d: strides {attrs.strides}, pads {attrs.pads}")
    require(max(attrs.pads[0], attrs.pads[2]) < kh and max(attrs.pads[1], attrs.pads[3]) < kw,
            f"bconv2d: pads {attrs.pads} must be smaller than the filter {kh}x{kw}")
    if attrs.out == "int32":
        require(scale is None and offset is None and attrs.act == NO_CLAMP,
                "bconv2d: the int32 output takes no scale, offset or clamp")
    else:
        for t in (scale, offset):
            require(t is not None and t.dtype == "float32" and t.shape == (o,),
                    f"bconv2d: the {attrs.out} output needs float32 scale and offset of shape ({o},), got {t}")
    oh, ow = out_hw(attrs, h, wd, kh, kw)
    require(oh >= 1 and ow >= 1, f"bconv2d: the filter {kh}x{kw} does not fit the padded input {h}x{wd}")
    shape = (n, o, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, o)
    return [TensorType(shape, OUT_DTYPES[attrs.out])]


def reference(attrs, x, w, scale=None, offset=None):
    if attrs.layout == "NCHW":
        x, w = x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1)
    y = ref.bconv2d(x, w, scale, offset, strides=attrs.strides, pads=attrs.pads, kind=attrs.out, act=attrs.act,
                    pad_value=attrs.pad_value)
    return [np.ascontiguousarray(y.transpose(0, 3, 1, 2)) if attrs.layout == "NCHW" else y]


def macs(attrs, in_types, out_types):
    """Binary multiply-accumulates (one per +-1 product)."""
    _, (o, kh, kw, c) = dims(attrs, in_types[0].shape, in_types[1].shape)
    return out_types[0].size * kh * kw * c

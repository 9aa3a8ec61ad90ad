"""conv2d: 2-D convolution with groups, strides, dilations, asymmetric pads and a fused clamp.

Layout NCHW (as imported from ONNX, filter OIHW) or NHWC (after the layout pass,
filter OHWI); only NHWC is lowered to C.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import OpQuant
from ..reference import conv as ref
from ..reference import conv_s8 as ref_s8
from ._util import NO_CLAMP, check_types, output_type, require


@dataclass(frozen=True)
class Attrs:
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right
    groups: int = 1
    layout: str = "NCHW"
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None     # set on int8 convolutions (act is then an integer range)


def output_size(size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _dims(attrs, x_shape, w_shape):
    """(n, h, w, c), (oc, kh, kw, c_per_group) whatever the layout."""
    if attrs.layout == "NCHW":
        n, c, h, w = x_shape
        oc, cg, kh, kw = w_shape
    else:
        n, h, w, c = x_shape
        oc, kh, kw, cg = w_shape
    return (n, h, w, c), (oc, kh, kw, cg)


def accumulates_only(quant: OpQuant | None) -> bool:
    """An integer op without an output stage (ONNX ConvInteger/MatMulInteger): its output is
    the int32 accumulator."""
    return quant is not None and quant.output is None


def has_weight_zero_point(quant: OpQuant | None) -> bool:
    """Weights with zero points (ONNX allows them): only the general int8 conv kernel takes them."""
    return quant is not None and any(quant.inputs[1].zero_point)


def int8_conv_reference(quant, act, x, w, b, geometry):
    """The one int8 arithmetic of every conv kernel variant: the grouped convolution, from the
    layer's scales and zero points (reference/conv_s8.py)."""
    q_in, q_w = quant.inputs[0], quant.inputs[1]
    common = dict(input_zero_point=q_in.zero_point[0], weight_zero_points=q_w.zero_point, **geometry)
    if accumulates_only(quant):
        return ref_s8.conv2d_s32(x, w, b, **common)
    return ref_s8.conv2d_s8(x, w, b, input_scale=q_in.scale[0], weight_scales=q_w.scale,
                            output_scale=quant.output.scale[0], output_zero_point=quant.output.zero_point[0],
                            act=act, mode=quant.mode, **common)


def _geometry(attrs):
    return dict(strides=attrs.strides, dilations=attrs.dilations, pads=attrs.pads, groups=attrs.groups)


def infer(attrs, in_types):
    x, w, b = (list(in_types) + [None])[:3]
    check_types(attrs, [x, w, b][:len(in_types)], weight_indices=(1,))
    require(len(x.shape) == 4 and len(w.shape) == 4, f"conv2d needs 4-D input and filter, got {x} and {w}")
    (n, h, wd, c), (oc, kh, kw, cg) = _dims(attrs, x.shape, w.shape)
    g = attrs.groups
    require(g >= 1 and c == cg * g and oc % g == 0,
            f"conv2d: {c} input channels and {oc} filters do not fit group={g} with {cg} channels per filter")
    require(b is None or b.shape == (oc,), f"conv2d: bias must have shape ({oc},), got {b}")
    require(min(attrs.pads) >= 0 and min(attrs.strides) >= 1 and min(attrs.dilations) >= 1,
            f"conv2d: pads must be >= 0, strides and dilations >= 1 (got {attrs})")
    oh = output_size(h, kh, attrs.strides[0], attrs.dilations[0], attrs.pads[0], attrs.pads[2])
    ow = output_size(wd, kw, attrs.strides[1], attrs.dilations[1], attrs.pads[1], attrs.pads[3])
    require(oh >= 1 and ow >= 1, f"conv2d: the kernel {kh}x{kw} does not fit the padded input {h}x{wd}")
    shape = (n, oc, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, oc)
    return [output_type(attrs, shape)]


def _kwargs(attrs):
    return dict(strides=attrs.strides, dilations=attrs.dilations, pads=attrs.pads,
                groups=attrs.groups, act=attrs.act)


def _nhwc_reference(attrs, x, w, b):
    if attrs.quant is None:
        return ref.conv2d_f32(x, w, b, **_kwargs(attrs))
    return int8_conv_reference(attrs.quant, attrs.act, x, w, b, _geometry(attrs))


def reference(attrs, x, w, b=None):
    if attrs.layout == "NCHW":
        y = _nhwc_reference(attrs, x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1), b)
        return [np.ascontiguousarray(y.transpose(0, 3, 1, 2))]
    return [_nhwc_reference(attrs, x, w, b)]


def macs(attrs, in_types, out_types):
    _, (oc, kh, kw, cg) = _dims(attrs, in_types[0].shape, in_types[1].shape)
    return out_types[0].size * kh * kw * cg

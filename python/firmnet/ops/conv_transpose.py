"""conv_transpose: transposed 2-D convolution (ONNX ConvTranspose) with groups, strides,
dilations, pads of any sign (output_padding folded into the bottom/right pads) and a
fused clamp; float32.

Layout NCHW (as imported) or NHWC (after the layout pass; only NHWC is lowered). The
filter keeps ONNX's layout [in_c, out_c / groups, kh, kw] in both; the lowering repacks
it for the C kernel's gather form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError
from ..kernels import params_conv_f32
from ..lowering import ConstArg, KernelCall, params_of
from ..reference import conv_transpose as ref
from ._util import NO_CLAMP, check_types, output_type, require


@dataclass(frozen=True)
class Attrs:
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right (bottom/right minus output_padding)
    groups: int = 1
    layout: str = "NCHW"
    act: tuple[float, float] = NO_CLAMP


def _nhwc(attrs, shape):
    return tuple(shape[i] for i in (0, 2, 3, 1)) if attrs.layout == "NCHW" else tuple(shape)


def _kwargs(attrs):
    return dict(strides=attrs.strides, dilations=attrs.dilations, pads=attrs.pads, groups=attrs.groups,
                act=attrs.act)


def _params(attrs, x_shape, w_shape):
    try:
        return params_conv_f32.conv_transpose2d_f32_params(_nhwc(attrs, x_shape), w_shape, **_kwargs(attrs))
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    x, w, b = (list(in_types) + [None])[:3]
    check_types(attrs, [x, w, b][:len(in_types)])
    require(attrs.layout in ("NCHW", "NHWC"), f"conv_transpose: unknown layout {attrs.layout}")
    require(len(x.shape) == 4 and len(w.shape) == 4, f"conv_transpose needs 4-D input and filter, got {x} and {w}")
    try:
        oh, ow = ref.check_geometry(_nhwc(attrs, x.shape), w.shape, attrs.strides, attrs.dilations, attrs.pads,
                                    attrs.groups)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None
    n, oc = x.shape[0], w.shape[1] * attrs.groups
    require(b is None or b.shape == (oc,), f"conv_transpose: bias must have shape ({oc},), got {b}")
    return [output_type(attrs, (n, oc, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, oc))]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when fn_conv_transpose2d_f32 cannot run this layer (until kernels/ selection states it)."""
    _params(attrs, in_types[0].shape, in_types[1].shape)


def reference(attrs, x, w, b=None):
    if attrs.layout == "NCHW":
        y = ref.conv_transpose2d_f32(x.transpose(0, 2, 3, 1), w, b, **_kwargs(attrs))
        return [np.ascontiguousarray(y.transpose(0, 3, 1, 2))]
    return [ref.conv_transpose2d_f32(x, w, b, **_kwargs(attrs))]


def macs(attrs, in_types, out_types):
    """Products of the scatter form: every input element times its out_c/groups x kh x kw taps."""
    _, ocg, kh, kw = in_types[1].shape
    return in_types[0].size * ocg * kh * kw


def lower(node, graph):
    require(node.attrs.layout == "NHWC", f"{node.describe()}: internal error, NCHW conv_transpose reached lowering")
    x, w = (graph.types[i].shape for i in node.inputs[:2])
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    params = _params(node.attrs, x, w)
    packed = params_conv_f32.gather_filter(graph.constants[node.inputs[1]], node.attrs.groups)
    return KernelCall("fn_conv_transpose2d_f32", "fn_conv_transpose_f32.h", "fn_conv_transpose2d_f32_params",
                      params_of(params),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/gather", packed), bias, node.outputs[0]),
                      description="float transposed conv (gather form, no scratch)")

"""bmaxpool: max pooling of +-1 values (b1): the OR of the window's bits.

Valid in place of float max pooling before the sign because sign is monotone:
sign(max(v)) = max(sign(v)). Padded taps never win (ONNX MaxPool pads with -inf); every
window must hold an in-bounds tap. Dilation 1. Kernel: fn_bmaxpool2d_b1."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import TensorType
from ..kernels.params_binary import bmaxpool2d_b1_params
from ..lowering import KernelCall, params_of
from ..reference import binary as ref
from ._util import require
from .pool2d import output_size


@dataclass(frozen=True)
class Attrs:
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False
    layout: str = "NCHW"


def _nhwc(attrs, shape):
    n, a, b, c = shape
    return (n, b, c, a) if attrs.layout == "NCHW" else (n, a, b, c)


def out_hw(attrs, h, w):
    (kh, kw), (sh, sw), p = attrs.kernel, attrs.strides, attrs.pads
    return (output_size(h, kh, sh, 1, p[0], p[2], attrs.ceil_mode),
            output_size(w, kw, sw, 1, p[1], p[3], attrs.ceil_mode))


def infer(attrs, in_types):
    (x,) = in_types
    require(x.dtype == "b1" and len(x.shape) == 4, f"bmaxpool: the input must be a 4-D b1 tensor, got {x}")
    n, h, w, c = _nhwc(attrs, x.shape)
    kh, kw = attrs.kernel
    require(min(attrs.strides) >= 1 and min(attrs.kernel) >= 1 and min(attrs.pads) >= 0,
            f"bmaxpool: kernel {attrs.kernel}, strides {attrs.strides}, pads {attrs.pads}")
    require(max(attrs.pads[0], attrs.pads[2]) < kh and max(attrs.pads[1], attrs.pads[3]) < kw,
            f"bmaxpool: pads {attrs.pads} must be smaller than the kernel {attrs.kernel}")
    oh, ow = out_hw(attrs, h, w)
    require(oh >= 1 and ow >= 1, f"bmaxpool: the window {kh}x{kw} does not fit the padded input {h}x{w}")
    shape = (n, c, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, c)
    return [TensorType(shape, "b1")]


def reference(attrs, x):
    nchw = attrs.layout == "NCHW"
    x = x.transpose(0, 2, 3, 1) if nchw else x
    y = ref.bmaxpool2d(x, kernel=attrs.kernel, strides=attrs.strides, pads=attrs.pads,
                       out_size=out_hw(attrs, x.shape[1], x.shape[2]))
    return [np.ascontiguousarray(y.transpose(0, 3, 1, 2)) if nchw else y]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    x, y = (graph.types[t].shape for t in (node.inputs[0], node.outputs[0]))
    a = node.attrs
    params = bmaxpool2d_b1_params(x, y, kernel=a.kernel, strides=a.strides, pads=a.pads)
    return KernelCall("fn_bmaxpool2d_b1", "fn_binary_b1.h", "fn_bmaxpool2d_b1_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="binary max pooling (OR of bits)")

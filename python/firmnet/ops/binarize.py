"""binarize: float32 or int8 values -> b1 (+1 where the real value is >= 0, else -1).

float: x >= 0 (so -0.0 gives +1 and NaN -1; ONNX Sign gives 0 at exactly 0); int8 with
zero point zp: x >= zp, which is real = scale * (x - zp) >= 0 exactly. Any shape: the
channels are the last axis once the layout pass made the tensor NHWC (layout attribute,
as for the spatial ops). Kernels: fn_binarize_f32, fn_binarize_s8."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import TensorType
from ..kernels.params_binary import binarize_params
from ..lowering import KernelCall, params_of
from ..reference import binary as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    zero_point: int | None = None    # int8 input: its zero point
    layout: str = "NCHW"


def infer(attrs, in_types):
    (x,) = in_types
    if attrs.zero_point is None:
        require(x.dtype == "float32", f"binarize: a float32 input (or int8 with a zero point), got {x}")
    else:
        require(x.dtype == "int8" and x.quant is not None and x.quant.axis is None
                and x.quant.zero_point[0] == attrs.zero_point,
                f"binarize: an int8 input quantized per tensor with zero point {attrs.zero_point}, got {x}")
    require(len(x.shape) >= 1, "binarize: a scalar has no channel axis")
    return [TensorType(x.shape, "b1")]


def reference(attrs, x):
    return [ref.binarize(x, attrs.zero_point)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    shape = graph.types[node.inputs[0]].shape
    zp = node.attrs.zero_point
    function = "fn_binarize_f32" if zp is None else "fn_binarize_s8"
    return KernelCall(function, "fn_binary_b1.h", "fn_binarize_params", params_of(binarize_params(shape, zp or 0)),
                      (node.inputs[0], node.outputs[0]),
                      description="binarize float (x >= 0 -> +1)" if zp is None
                      else f"binarize int8 (x >= zero point {zp} -> +1)")

"""compare: a < b, a <= b, a > b, a >= b on float32 with numpy broadcasting, giving a bool
tensor (one byte per element: 0 or 1). ONNX Less, LessOrEqual, Greater, GreaterOrEqual;
the result feeds Where (exporters write nn.Softplus's threshold and SELU's branches so).
NaN compares false, as IEEE-754 and numpy say. Float only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import TensorType
from ..kernels.params_layout import compare_params
from ..lowering import KernelCall, params_of
from ..reference import elementwise as ref
from ._util import require, require_float32

KINDS = ("less", "less_equal", "greater", "greater_equal")


@dataclass(frozen=True)
class Attrs:
    kind: str


def infer(attrs, in_types):
    a, b = in_types
    require(attrs.kind in KINDS, f"compare kind {attrs.kind} unknown (supported: {KINDS})")
    require_float32(a, b)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        require(False, f"{attrs.kind}: shapes {a.shape} and {b.shape} do not broadcast")
    return [TensorType(tuple(int(d) for d in shape), "bool")]


def reference(attrs, a, b):
    return [ref.compare_f32(a, b, attrs.kind)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    a, b = (graph.types[i].shape for i in node.inputs)
    params = compare_params(a, b, node.attrs.kind)
    return KernelCall("fn_compare_f32", "fn_elementwise_f32.h", "fn_binary_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], node.outputs[0]), description=f"float {node.attrs.kind}")

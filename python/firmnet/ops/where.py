"""where: cond ? a : b with numpy broadcasting, the condition a constant (ONNX Where).

The condition is known at compile time (a run-time condition is refused on import):
the lowering stores it broadcast to the output shape, one byte per element, and the
kernel selects per element from a and b, which broadcast by strides. Float only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import TensorType
from ..layout import where_params
from ..lowering import ConstArg, KernelCall, params_of
from ..reference import elementwise as ref
from ._util import require, require_float32


@dataclass(frozen=True)
class Attrs:
    pass


def _shape(cond, a, b):
    try:
        return tuple(int(d) for d in np.broadcast_shapes(cond.shape, a.shape, b.shape))
    except ValueError:
        require(False, f"where: shapes {cond.shape}, {a.shape} and {b.shape} do not broadcast")


def infer(attrs, in_types):
    cond, a, b = in_types
    require(cond is not None and a is not None and b is not None, "where needs a condition and two inputs")
    require(cond.dtype == "bool", f"where: the condition must be bool, got {cond.dtype}")
    require_float32(a, b)
    shape = _shape(cond, a, b)
    require(int(np.prod(shape)) >= 1, f"where: empty output shape {list(shape)}")
    return [TensorType(shape, "float32")]


def reference(attrs, cond, a, b):
    return [ref.where_f32(cond, a, b)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    cond_name, a, b = node.inputs
    require(cond_name in graph.constants, f"{node.describe()}: the condition must be a constant")
    out_shape = graph.types[node.outputs[0]].shape
    cond = np.ascontiguousarray(np.broadcast_to(graph.constants[cond_name], out_shape).astype(np.uint8))
    params = where_params(graph.types[a].shape, graph.types[b].shape, out_shape)
    return KernelCall("fn_where_f32", "fn_elementwise_f32.h", "fn_where_f32_params", params_of(params),
                      (ConstArg(f"{cond_name}/mask", cond), a, b, node.outputs[0]),
                      description="float select by a constant condition")

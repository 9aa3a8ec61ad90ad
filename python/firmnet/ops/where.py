"""where: cond ? a : b with numpy broadcasting (ONNX Where), float a and b.

The kernel reads one condition byte per output element: a constant condition is stored
broadcast to the output shape by the lowering; a run-time condition (a compare result)
must have the output's shape. a and b broadcast by strides.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import TensorType
from ..kernels.params_layout import where_params
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
    out_shape = graph.types[node.outputs[0]].shape
    params = where_params(graph.types[a].shape, graph.types[b].shape, out_shape)
    if cond_name in graph.constants:
        cond = ConstArg(f"{cond_name}/mask", np.ascontiguousarray(
            np.broadcast_to(graph.constants[cond_name], out_shape).astype(np.uint8)))
        what = "float select by a constant condition"
    else:
        require(graph.types[cond_name].shape == out_shape, f"{node.describe()}: a run-time condition must have the "
                f"output's shape {list(out_shape)}, got {list(graph.types[cond_name].shape)}")
        cond, what = cond_name, "float select"
    return KernelCall("fn_where_f32", "fn_elementwise_f32.h", "fn_where_f32_params", params_of(params),
                      (cond, a, b, node.outputs[0]), description=what)

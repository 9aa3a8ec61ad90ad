"""binary: Add, Sub, Mul, Div with numpy broadcasting and a fused clamp."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import OpQuant
from ..layout import binary_params
from ..lowering import KernelCall, params_of
from ..reference import elementwise as ref
from ._util import NO_CLAMP, check_types, output_type, require

KINDS = ("add", "sub", "mul", "div")


@dataclass(frozen=True)
class Attrs:
    kind: str
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None


def infer(attrs, in_types):
    a, b = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"binary kind {attrs.kind} unknown (supported: {KINDS})")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        require(False, f"{attrs.kind}: shapes {a.shape} and {b.shape} do not broadcast")
    return [output_type(attrs, (int(d) for d in shape))]


def reference(attrs, a, b):
    return [ref.binary_f32(a, b, attrs.kind, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    a, b = (graph.types[i].shape for i in node.inputs)
    params = binary_params(a, b, node.attrs.kind, node.attrs.act)
    return KernelCall("fn_binary_f32", "fn_elementwise_f32.h", "fn_binary_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], node.outputs[0]),
                      description=f"float {node.attrs.kind} (broadcast)" if a != b else f"float {node.attrs.kind}")

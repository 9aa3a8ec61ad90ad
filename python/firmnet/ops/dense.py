"""dense: fully connected layer y = x @ w.T + b with a fused clamp (x [N,K], w [M,K])."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import TensorType
from ..lowering import KernelCall, params_of
from ..reference import dense as ref
from ._util import NO_CLAMP, require, require_act, require_float32


@dataclass(frozen=True)
class Attrs:
    act: tuple[float, float] = NO_CLAMP


def infer(attrs, in_types):
    x, w, b = (list(in_types) + [None])[:3]
    require_float32(x, w, b)
    require_act(attrs.act)
    require(len(x.shape) == 2 and len(w.shape) == 2 and x.shape[1] == w.shape[1],
            f"dense: input {x} and weights {w} do not match (need [N,K] and [M,K])")
    require(b is None or b.shape == (w.shape[0],), f"dense: bias must have shape ({w.shape[0]},), got {b}")
    return [TensorType((x.shape[0], w.shape[0]), "float32")]


def reference(attrs, x, w, b=None):
    return [ref.fc_f32(x, w, b, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return out_types[0].size * in_types[1].shape[1]


def lower(node, graph):
    (n, k), (m, _) = (graph.types[i].shape for i in node.inputs[:2])
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    params = ref.fc_f32_params((n, k), (m, k), act=node.attrs.act)
    return KernelCall("fn_fc_f32", "fn_fc_f32.h", "fn_fc_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], bias, node.outputs[0]),
                      description="dense float fully connected")

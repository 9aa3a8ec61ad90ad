"""unary: element-wise activation followed by a clamp.

Relu and Clip are `identity` with a clamp range; the other kinds are ONNX's
LeakyRelu, Sigmoid, Tanh, HardSigmoid and HardSwish.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import OpQuant
from ..layout import unary_params
from ..lowering import KernelCall, params_of
from ..reference import elementwise as ref
from ._util import NO_CLAMP, check_types, output_type, require

KINDS = ("identity", "leaky_relu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish")


@dataclass(frozen=True)
class Attrs:
    kind: str = "identity"
    alpha: float = 0.0
    beta: float = 0.0
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None     # int8: identity is a requantization, the others TFLite's int8 kernels


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"unary kind {attrs.kind} unknown (supported: {KINDS})")
    return [output_type(attrs, x.shape)]


def reference(attrs, x):
    return [ref.unary_f32(x, attrs.kind, alpha=attrs.alpha, beta=attrs.beta, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    a = node.attrs
    count = graph.types[node.inputs[0]].size
    params = unary_params(count, a.kind, a.alpha, a.beta, a.act)
    return KernelCall("fn_unary_f32", "fn_elementwise_f32.h", "fn_unary_f32_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description=f"float {a.kind}")

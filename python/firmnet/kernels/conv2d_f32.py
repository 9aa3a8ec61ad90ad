"""fn_conv2d_f32 (runtime_c/src/fn_conv2d_f32.c): float direct convolution (any stride, pad,
dilation and groups), the only float one."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _conv
from .params_conv_f32 import conv2d_f32_params

NAME = "fn_conv2d_f32"


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return None


def why(node, graph, target) -> str:
    return "float"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    a = node.attrs
    x, w = _conv.shapes(node, graph)
    params = conv2d_f32_params(x, w, strides=a.strides, dilations=a.dilations, pads=a.pads, groups=a.groups,
                                   act=a.act)
    kind = "depthwise" if a.groups == x[3] and a.groups > 1 else "grouped" if a.groups > 1 else "dense"
    return KernelCall(NAME, "fn_conv_f32.h", "fn_conv2d_f32_params", params_of(params), _conv.tensor_args(node),
                      description=f"direct float conv ({kind})")

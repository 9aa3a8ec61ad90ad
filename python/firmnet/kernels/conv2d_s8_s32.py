"""fn_conv2d_s8_s32 (runtime_c/src/fn_conv2d_s8.c): the general int8 convolution writing its
int32 accumulators (ONNX ConvInteger; MatMulInteger as a 1x1 convolution). The only kernel
of such layers, so it needs no cost figure."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv
from ._check import refusal

NAME = "fn_conv2d_s8_s32"


def supports(node, graph, target) -> str | None:
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if not _conv.accumulates_only(node):
        return "the layer has an output stage (int32 accumulators only)"
    return refusal(lambda: _conv.general_params(node, graph))


def why(node, graph, target) -> str:
    return "int32 accumulators out"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_conv_s8.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node), description=f"int8 {_conv.what(node)}, int32 accumulators out")

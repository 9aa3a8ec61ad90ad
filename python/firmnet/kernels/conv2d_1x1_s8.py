"""fn_conv2d_1x1_s8 (runtime_c/src/fn_conv2d_1x1_s8.c): int8 pointwise convolution as a matrix
product (stride 1, no padding, one group, weights without zero points), portable C; its DSP
variant is conv2d_1x1_s8_dsp.py.

Cost (instructions, bench/kernels_qemu.py on mps2-an386, KWS's 1x1 layer, 512,000 MACs):
2,195,960 (4.289 per MAC). fn_conv2d_s8 runs the same layer in 4.237 per MAC, so this
portable kernel is chosen only when forced (--kernel)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv
from ._check import refusal

NAME = "fn_conv2d_1x1_s8"
_PER_MAC = 4.289


def supports(node, graph, target) -> str | None:
    a = node.attrs
    if node.op != "conv2d":
        return "convolutions only"
    if a.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    _, (_, kh, kw, _) = _conv.shapes(node, graph)
    if (kh, kw) != (1, 1):
        return f"{kh}x{kw} filter (1x1 only)"
    if a.groups != 1:
        return f"{a.groups} groups (1 only)"
    if a.strides != (1, 1):
        return f"stride {a.strides[0]}x{a.strides[1]} (1 only)"
    if a.pads != (0, 0, 0, 0):
        return "padded (no padding only)"
    return refusal(lambda: _conv.general_params(node, graph))


def why(node, graph, target) -> str:
    return "1x1, stride 1"


def cost(node, graph, target) -> int:
    return _conv.estimate(node, graph, _PER_MAC)


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_conv_1x1_s8.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node),
                      description="int8 1x1 conv as a matrix product (DSP: SMLAD, 2 MACs per instruction)")

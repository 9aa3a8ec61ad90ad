"""fn_depthwise_conv2d_s8 (runtime_c/src/fn_depthwise_conv2d_s8.c): int8 depthwise convolution
(groups = input channels, any depth multiplier, weights without zero points) on the filter
repacked in blocks of 4 output channels, portable C; its DSP variants are
depthwise_conv2d_s8_rows_dsp.py and depthwise_conv2d_s8_blocks_dsp.py.

Cost (instructions, bench/kernels_qemu.py on mps2-an386, KWS's 3x3 depthwise layer,
72,000 MACs): 908,880 (12.623 per MAC)."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv
from ._check import refusal
from . import params_conv_s8 as kp
from .params_requant import nest

NAME = "fn_depthwise_conv2d_s8"
_PER_MAC = 12.623


def params(node, graph) -> tuple[dict, dict]:
    a = node.attrs
    x_shape, (oc, kh, kw, _) = _conv.shapes(node, graph)
    return kp.depthwise_conv2d_s8_params(x_shape, (1, kh, kw, oc), strides=a.strides, dilations=a.dilations,
                                         pads=a.pads, **_conv.requant_quantities(node))


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
    channels = _conv.shapes(node, graph)[0][3]
    if a.groups == 1 or a.groups != channels:
        return f"not depthwise ({a.groups} groups, {channels} input channels)"
    return refusal(lambda: params(node, graph))


def why(node, graph, target) -> str:
    return "depthwise"


def cost(node, graph, target) -> int:
    return _conv.estimate(node, graph, _PER_MAC)


def scratch_bytes(node, graph) -> int:
    return 0


def packed_filter(filt):
    """OHWI [C*m, kh, kw, 1] → the kernel's layout: blocks of 4 output channels, each [kh][kw][n]."""
    return kp.pack_depthwise_filter(filt.transpose(3, 1, 2, 0))


def call(node, graph) -> KernelCall:
    packed = packed_filter(graph.constants[node.inputs[1]])
    return KernelCall(NAME, "fn_conv_s8.h", "fn_depthwise_conv2d_s8_params",
                      params_of(nest(*params(node, graph))),
                      _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/packed", packed)),
                      description="int8 depthwise conv (channel blocks of 4)")

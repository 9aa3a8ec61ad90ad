"""fn_conv2d_s8 (runtime_c/src/fn_conv2d_s8.c): the general int8 convolution, any stride, pad,
dilation and groups, weights with or without zero points; also dense layers whose weights
have zero points, as a 1x1 convolution of one-pixel images. Portable C; its DSP variant
(one group, windows of at most 256 values) is conv2d_s8_dsp.py.

Cost (instructions, bench/kernels_qemu.py on mps2-an386), per MAC: groups of one input
channel as KWS's 3x3 depthwise layer run here (72,000 MACs: 2,540,680), else a 1x1 filter as
KWS's 1x1 layer (512,000 MACs: 2,169,320), a larger window as KWS's 10x4 stride-2 first
layer (320,000 MACs: 2,184,760).

Dense layers without weight zero points are fn_fc_s8's: measured, this kernel runs AD01's
640 -> 128 layer as a one-pixel conv in 257,360 instructions against fn_fc_s8's 376,640
(fn_fc_s8_dsp: 142,920), so a cost-only choice
would move every dense layer on non-DSP targets to this kernel; that is a change of the
generated code to be made on its own, not by the selection framework."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv
from ._check import refusal

NAME = "fn_conv2d_s8"
_PER_MAC_POINTWISE = 4.237
_PER_MAC_WINDOW = 6.827
_PER_MAC_DEPTHWISE = 35.288


def supports(node, graph, target) -> str | None:
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if node.op == "dense" and not _conv.has_weight_zero_point(node):
        return "dense layers only with weight zero points (fn_fc_s8 runs the others)"
    return refusal(lambda: _conv.general_params(node, graph))


def why(node, graph, target) -> str:
    zp = ", weights with zero points" if _conv.has_weight_zero_point(node) else ""
    return f"general int8 convolution{zp}"


def cost(node, graph, target) -> int:
    _, (_, kh, kw, cg) = _conv.shapes(node, graph)
    grouped = node.op == "conv2d" and node.attrs.groups > 1
    if grouped and cg == 1:
        per_mac = _PER_MAC_DEPTHWISE
    else:
        per_mac = _PER_MAC_POINTWISE if (kh, kw) == (1, 1) else _PER_MAC_WINDOW
    return _conv.estimate(node, graph, per_mac)


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    zp = " (weights with zero points)" if _conv.has_weight_zero_point(node) else ""
    return KernelCall(NAME, "fn_conv_s8.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node), description=f"int8 {_conv.what(node)}{zp}")

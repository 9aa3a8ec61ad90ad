"""fn_depthwise_conv2d_s8_blocks_dsp (runtime_c/src/fn_depthwise_conv2d_s8_blocks_dsp.c, contract
in fn_s8_dsp.h): fn_depthwise_conv2d_s8's layers (the same bytes) on CPUs with the DSP
extension for depth multiplier 1 or a multiple of 4 and at most 64 taps: per block of 4
channels the weights are widened once into the scratch; interior pixels walk a table of tap
offsets, border pixels their in-bounds taps; halfword multiply-accumulates.

Cost (instructions, bench/kernels_qemu.py on mps2-an386): KWS's 3x3 depthwise layer, 72,000
MACs: 472,840 (6.567 per MAC; 513,080 before its output stage took fn_out6_s8)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, depthwise_conv2d_s8

NAME = "fn_depthwise_conv2d_s8_blocks_dsp"
_PER_MAC = 6.567


def supports(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or depthwise_conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    p = depthwise_conv2d_s8.params(node, graph)[0]
    m = p["depth_multiplier"]
    if m != 1 and m % _s8_dsp.FN_DW_S8_BLOCK:
        return f"depth multiplier {m} (1 or a multiple of 4)"
    taps = p["kernel_h"] * p["kernel_w"]
    if taps > _s8_dsp.FN_DW_WTAPS:
        return f"{taps} taps (at most {_s8_dsp.FN_DW_WTAPS})"
    return None


def why(node, graph, target) -> str:
    return "depthwise, channel blocks, DSP"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph))


def scratch_bytes(node, graph) -> int:
    return _s8_dsp.dw_blocks_scratch(depthwise_conv2d_s8.params(node, graph)[0])


def call(node, graph) -> KernelCall:
    base = depthwise_conv2d_s8.call(node, graph)
    return KernelCall(NAME, "fn_s8_dsp.h", base.params_type, base.params, base.args,
                      description="int8 depthwise conv (DSP: channel blocks, widened weights in scratch)")

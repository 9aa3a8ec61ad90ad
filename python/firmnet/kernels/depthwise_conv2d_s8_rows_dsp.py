"""fn_depthwise_conv2d_s8_rows_dsp (runtime_c/src/fn_depthwise_conv2d_s8_rows_dsp.c, contract in
fn_s8_dsp.h): fn_depthwise_conv2d_s8's layers (the same bytes) on CPUs with the DSP extension
for depth multiplier 1 and kernels of at most 8 x 8: per block of 4 channels and output row
the input rows are widened once into the scratch's row slots, zeros in the padding, and every
output pixel runs one loop (3x3 unrolled) without border cases.

The C takes any row width (its scratch grows with it); the selection takes this variant only
while its kernel_h row slots stay within 1 KB, the stack buffer the variant had before it
took scratch, so that wide rows do not grow the arena (fn_depthwise_conv2d_s8_blocks_dsp
runs those).

Cost (instructions, bench/kernels_qemu.py on mps2-an386): KWS's 3x3 depthwise layer, 72,000
MACs: 339,320 (4.713 per MAC; 375,640 before its output stage took fn_out6_s8): _PER_MAC per
MAC. 3x3 layers with dilation_h 1 by the three-term model of the int16-weight variant
(depthwise_conv2d_s8_w16_dsp), fitted (least squares on relative error) to this variant's rows
of the same bench (KWS: 339,320, estimate +8 %; the VWW-shaped 3x3 layers 24 x 24 x 32:
634,640, -1 %; 48 x 48 x 8: 613,640, -3 %; 48 x 48 x 16 stride 2: 382,800, +1 %; 12 x 12 x 64
stride 2: 119,880, +0 %; 6 x 6 x 128: 202,160, +1 %; 3 x 3 x 256: 145,600 = 7.02 per MAC, -8 %):
    3.105 M + 275.9 R + 10.81 F
(M MACs, R output rows times blocks of 4 channels, F widened input columns: _s8_dsp.dw_row_terms)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, depthwise_conv2d_s8

NAME = "fn_depthwise_conv2d_s8_rows_dsp"
_PER_MAC = 4.713
COEFFICIENTS_3X3 = (3.105, 275.9, 10.81)   # (M, R, F): module docstring


def supports(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or depthwise_conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    p = depthwise_conv2d_s8.params(node, graph)[0]
    if p["depth_multiplier"] != 1:
        return f"depth multiplier {p['depth_multiplier']} (1 only)"
    if max(p["kernel_h"], p["kernel_w"]) > _s8_dsp.FN_DW_ROWS_K:
        return f"{p['kernel_h']}x{p['kernel_w']} kernel (at most 8x8)"
    rows = 4 * p["kernel_h"] * 2 * _s8_dsp.dw_span_w(p)
    if rows > _s8_dsp.ROW_SLOTS_BYTES:
        return f"row slots of {rows:,} bytes (at most {_s8_dsp.ROW_SLOTS_BYTES:,})"
    return None


def why(node, graph, target) -> str:
    return "depthwise, multiplier 1, widened rows, DSP"


def cost(node, graph, target) -> int:
    macs = _conv.macs(node, graph)
    p = depthwise_conv2d_s8.params(node, graph)[0]
    if p["kernel_h"] == p["kernel_w"] == 3 and p["dilation_h"] == 1:
        rows, columns = _s8_dsp.dw_row_terms(p)
        m, r, f = COEFFICIENTS_3X3
        return round(m * macs + r * rows + f * columns)
    return round(_PER_MAC * macs)


def scratch_bytes(node, graph) -> int:
    return _s8_dsp.dw_rows_scratch(depthwise_conv2d_s8.params(node, graph)[0])


def call(node, graph) -> KernelCall:
    base = depthwise_conv2d_s8.call(node, graph)
    return KernelCall(NAME, "fn_s8_dsp.h", base.params_type, base.params, base.args,
                      description="int8 depthwise conv (DSP: widened input rows in scratch)")

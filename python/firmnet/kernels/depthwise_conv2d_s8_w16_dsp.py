"""fn_depthwise_conv2d_s8_w16_dsp (runtime_c/src/fn_depthwise_conv2d_s8_w16_dsp.c, contract and
weight layout in fn_s8_dsp.h): fn_depthwise_conv2d_s8's layers (the same bytes) on CPUs with the
DSP extension, for depth multiplier 1, dilation_h 1 and kernels of at most 8 x 8, from weights
widened to int16, doubled and interleaved at compile time (pack_filter). Per block of 4
channels and output row the input rows are widened once into the scratch's row slots (zeros in
the padding), then two output pixels per pass share each tap's weight words (one SMLABB/SMLATT
per product, no border cases); the doubled weights and accumulators started at 2 * bias make
each sum fn_out6_s8's operand, so the output stage is 5 instructions per output and its
constants' loads. 3x3 layers (stride_w 1 or 2, fn_out6_s8 over the block) run a whole block per
call in inline assembly (runtime_c/src/fn_depthwise_conv2d_s8_w16_dsp.c).

Flash: 8 bytes per tap and block of 4 channels (2 bytes per weight, channels padded to a
multiple of 4) against 1 byte per weight; depthwise weights are small (KWS: 576 B -> 1,152 B per
layer). Scratch: kernel_h widened rows (8 bytes per column). The selection takes it while those
stay within ROWS_BYTES = 2 KB (twice the rows variant's 1 KB: a 3x3 layer 48 pixels wide, as
the VWW-shaped model's first ones, needs 1,200 B); the in-place declaration and the arena
check (bench/in_place.py) cover the rest.

Cost (instructions), fitted (least squares on relative error) to the fn_depthwise_conv2d_s8_w16_dsp
rows of `python bench/kernels_qemu.py` on mps2-an386: KWS 25 x 5 x 64: 232,880 = 3.23 per MAC
(estimate +13 %); the VWW-shaped 3x3 layers 24 x 24 x 32: 444,680 = 2.68 per MAC (-2 %),
48 x 48 x 8: 431,280 (-5 %), 48 x 48 x 16 stride 2: 273,480 (+2 %), 12 x 12 x 64 stride 2:
86,800 (+1 %), 6 x 6 x 128: 145,760 (+0 %), 3 x 3 x 256: 115,600 (-14 %); all on the assembly
path (3x3, dilation_w 1, stride_w 1 or 2, TFLM requantization over the full int8 range, where
fn_out6_s8 applies), with M the MACs, R the output rows times the blocks of 4 channels (row
setup) and F the widened input columns (padded rows widened times span_w times blocks):
    2.092 M + 218.1 R + 8.696 F
Other layers run a C loop, slower than the rows variant (KWS's layer with its range clamped
to [-100, 100], so that fn_out6_s8 does not apply: 919,640, 12.77 per MAC, against the rows
variant's 656,200): estimated at SLOW_PER_MAC per MAC, so that the selection leaves them to
the rows variant (--kernel still forces it).
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArg, KernelCall
from . import _conv, _s8_dsp, depthwise_conv2d_s8

NAME = "fn_depthwise_conv2d_s8_w16_dsp"
COEFFICIENTS = (2.092, 218.1, 8.696)   # (M, R, F): bench/kernels_qemu.py, module docstring
SLOW_PER_MAC = 12.77
ROWS_BYTES = 2048


def pack_filter(filt: np.ndarray) -> np.ndarray:
    """OHWI [C, kh, kw, 1] int8 -> the kernel's int32 words (fn_s8_dsp.h): per block of 4
    channels and tap, (2 w[c0], 2 w[c2]) and (2 w[c1], 2 w[c3]), low halfword first, the last
    block's missing channels 0."""
    c, kh, kw = filt.shape[:3]
    nb = (c + 3) // 4
    full = np.zeros((nb * 4, kh * kw), np.int64)
    full[:c] = 2 * filt.reshape(c, kh * kw).astype(np.int64)
    g = (full.reshape(nb, 4, kh * kw) & 0xFFFF).astype(np.uint32)
    even = g[:, 0] | (g[:, 2] << np.uint32(16))
    odd = g[:, 1] | (g[:, 3] << np.uint32(16))
    return np.ascontiguousarray(np.stack([even, odd], axis=-1)).view(np.int32)


def flash(node, graph) -> tuple[int, int]:
    """(int8, widened) bytes of the layer's weights."""
    c, kh, kw, _ = _conv.shapes(node, graph)[1]
    return c * kh * kw, 8 * ((c + 3) // 4) * kh * kw


def scratch(p: dict) -> int:
    """fn_depthwise_conv2d_s8_w16_dsp_scratch_size: kernel_h widened input rows of 2 * span_w words."""
    span = _s8_dsp.dw_span_w(p)
    kh, kw = p["kernel_h"], p["kernel_w"]
    if (p["depth_multiplier"] != 1 or p["dilation_h"] != 1 or not 1 <= kh <= _s8_dsp.FN_DW_ROWS_K
            or not 1 <= kw <= _s8_dsp.FN_DW_ROWS_K or span == 0):
        return 0
    words = kh * 2 * span
    return 4 * words if words < _s8_dsp.INT32_MAX // 4 else 0


def supports(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or depthwise_conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant (widened at compile time)"
    p = depthwise_conv2d_s8.params(node, graph)[0]
    if p["depth_multiplier"] != 1:
        return f"depth multiplier {p['depth_multiplier']} (1 only)"
    if p["dilation_h"] != 1:
        return f"dilation_h {p['dilation_h']} (1 only)"
    if max(p["kernel_h"], p["kernel_w"]) > _s8_dsp.FN_DW_ROWS_K:
        return f"{p['kernel_h']}x{p['kernel_w']} kernel (at most 8x8)"
    size = scratch(p)
    if size == 0 or size > ROWS_BYTES:
        return f"row slots of {size:,} bytes (at most {ROWS_BYTES:,})"
    return None


def why(node, graph, target) -> str:
    small, big = flash(node, graph)
    return f"depthwise, multiplier 1, int16 weights {big:,} B (int8 {small:,} B), DSP"


def fast_path(p: dict) -> bool:
    """The assembly path: 3x3, dilation_w 1, stride_w 1 or 2, TFLM over the full int8 range
    (fn_out6_s8 then applies unless a shift or bias is out of its range)."""
    rq = p["requant"]
    return (p["kernel_h"] == p["kernel_w"] == 3 and p["dilation_w"] == 1 and p["stride_w"] in (1, 2)
            and getattr(rq["mode"], "name", rq["mode"]) == "FN_REQUANT_TFLM"
            and (rq["act_min"], rq["act_max"]) == (-128, 127))


def cost(node, graph, target) -> int:
    p = depthwise_conv2d_s8.params(node, graph)[0]
    macs = _conv.macs(node, graph)
    if not fast_path(p):
        return round(SLOW_PER_MAC * macs)
    rows, columns = _s8_dsp.dw_row_terms(p)
    m, r, f = COEFFICIENTS
    return round(m * macs + r * rows + f * columns)


def scratch_bytes(node, graph) -> int:
    return scratch(depthwise_conv2d_s8.params(node, graph)[0])


def call(node, graph) -> KernelCall:
    base = depthwise_conv2d_s8.call(node, graph)
    packed = pack_filter(graph.constants[node.inputs[1]])
    args = (base.args[0], ConstArg(f"{node.inputs[1]}/w16", packed), *base.args[2:])
    return KernelCall(NAME, "fn_s8_dsp.h", base.params_type, base.params, args,
                      description="int8 depthwise conv (DSP: int16 weights, widened input rows in scratch)")

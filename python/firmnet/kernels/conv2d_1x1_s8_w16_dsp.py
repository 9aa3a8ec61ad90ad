"""fn_conv2d_1x1_s8_w16_dsp (runtime_c/src/fn_conv2d_1x1_s8_w16_dsp.c, contract and layout in
runtime_c/include/fn_conv2d_1x1_s8_w16_dsp.h): fn_conv2d_1x1_s8's layers (the same bytes) on
CPUs with the DSP extension, from weights widened to int16 and interleaved at compile time
(pack_filter): the pixels two at a time (across rows: all pixels are one matrix), their inputs
widened once per pair, then 2 pixels x 4 output channels per block, 16 MACs per 3 LDRDs and
8 SMLADs; the output stage is fn_out6_s8 (fn_fixedpoint.h) where it applies.

Flash: 2 bytes per weight (in_c padded to a multiple of 4, out_c to a multiple of 4) against 1;
the model-wide flash check is conv2d_s8_w16_dsp.flash_refusal's (which counts this form).

Cost (instructions), fitted (least squares on relative error) to `python bench/kernels_qemu.py`
on mps2-an386, its ten fn_conv2d_1x1_s8_w16_dsp rows (KWS's 1x1 64->64 over 25x5 pixels: 480,160,
0.938 per MAC; VWW-shaped's pointwise layers 48x48 8->16 to 3x3 256->256: 2.69 to 0.82 per MAC),
each estimate within 5 % of the measured figure, with S the inner steps (half-groups: blocks x
in_c_pad / 2, 16 MACs each), B the blocks (pixel pairs x blocks of 4 output channels: the output
stage and the block's loop entry) and P the pixel pairs (widening, calls):
    12.165 S + 80.85 B + 171.7 P
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArg, KernelCall
from . import _conv, _s8_dsp, conv2d_1x1_s8, conv2d_s8_w16_dsp

NAME = "fn_conv2d_1x1_s8_w16_dsp"
MAX_DEPTH = 65536                  # FN_S8_MAX_DEPTH
COEFFICIENTS = (12.165, 80.85, 171.7)   # (S, B, P): bench/kernels_qemu.py, module docstring


def in_c_pad(in_c: int) -> int:
    """fn_w16_in_c_pad: in_c rounded up to a multiple of 4."""
    return (in_c + 3) // 4 * 4


def scratch(p: dict) -> int:
    """fn_conv2d_1x1_s8_w16_dsp_scratch_size: the pair's widened inputs, a sentinel, 16 bytes per
    output channel."""
    if (p["groups"] != 1 or p["kernel_h"] != 1 or p["kernel_w"] != 1 or not 1 <= p["in_c"] <= MAX_DEPTH
            or not 1 <= p["out_c"] <= MAX_DEPTH):
        return 0
    return (4 * in_c_pad(p["in_c"]) + 8 + 16 * p["out_c"] + 7) // 8 * 8


def pack_filter(w: np.ndarray) -> np.ndarray:
    """The OHWI int8 1x1 filter as the kernel reads it (fn_conv2d_1x1_s8_w16_dsp.h): int16
    [out_c_pad / 4][in_c_pad / 4][2][4][2]: per block of 4 output channels, per group of 4
    input channels, per half h the 4 channels' pairs (w[i_h], w[i_(h+2)]); padding 0."""
    oc, kh, kw, ci = w.shape
    if (kh, kw) != (1, 1):
        raise ValueError(f"pack_filter: a {kh}x{kw} filter (1x1 only)")
    ocp, cip = (oc + 3) // 4 * 4, in_c_pad(ci)
    full = np.zeros((ocp, cip), np.int16)
    full[:oc, :ci] = w.reshape(oc, ci)
    # input channel 4g + 2t + h -> (g, t, h); output channel 4b + j -> (b, j)
    g = full.reshape(ocp // 4, 4, cip // 4, 2, 2)
    return np.ascontiguousarray(g.transpose(0, 2, 4, 1, 3))


def flash(node, graph) -> tuple[int, int]:
    """(int8, int16) bytes of the layer's weights."""
    oc, kh, kw, ci = _conv.shapes(node, graph)[1]
    return oc * kh * kw * ci, 2 * ((oc + 3) // 4 * 4) * kh * kw * in_c_pad(ci)


def shape_refusal(node, graph, target) -> str | None:
    """The layer-level conditions (no flash check)."""
    refused = _s8_dsp.refuse_target(target) or conv2d_1x1_s8.supports(node, graph, target)
    if refused:
        return refused
    if node.attrs.layout != "NHWC":
        return "NCHW layout (runs after the layout pass)"
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant (widened at compile time)"
    if scratch(_conv.general_params(node, graph)[0]) == 0:
        return "channels out of range"
    return None


def supports(node, graph, target) -> str | None:
    return shape_refusal(node, graph, target) or conv2d_s8_w16_dsp.flash_refusal(node, graph, target)


def why(node, graph, target) -> str:
    small, big = flash(node, graph)
    return f"1x1, stride 1, int16 weights {big:,} B (int8 {small:,} B), DSP"


def terms(node, graph) -> tuple[int, int, int]:
    """(S, B, P) of the cost model (COEFFICIENTS)."""
    p, _ = _conv.general_params(node, graph)
    pairs = -(-(p["batch"] * p["in_h"] * p["in_w"]) // 2)
    blocks = pairs * -(-p["out_c"] // 4)
    return blocks * in_c_pad(p["in_c"]) // 2, blocks, pairs


def cost(node, graph, target) -> int:
    return round(sum(c * t for c, t in zip(COEFFICIENTS, terms(node, graph), strict=True)))


def scratch_bytes(node, graph) -> int:
    return scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    packed = pack_filter(graph.constants[node.inputs[1]])
    return KernelCall(NAME, "fn_conv2d_1x1_s8_w16_dsp.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/w16", packed)),
                      description="int8 1x1 conv, int16 weights, DSP (SMLAD, 2 pixels x 4 channels)")

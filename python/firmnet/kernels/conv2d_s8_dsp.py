"""fn_conv2d_s8_dsp (runtime_c/src/fn_conv2d_s8_dsp.c, contract in fn_s8_dsp.h): fn_conv2d_s8's
layers (the same bytes) on CPUs with the DSP extension, for one group and windows of at most
FN_CONV_DSP_DEPTH = 256 values (kernel_h * kernel_w * in_c): both windows of a pixel pair
gathered into the scratch as 16-bit values, two MACs per SMLAD. Weights with zero points too.

Cost (instructions, bench/kernels_qemu.py on mps2-an386): a 1x1 filter 1.421 per MAC + 53.4 per
output, fitted (least squares on relative error) to its ten pointwise rows (KWS's 1x1 layer,
512,000 MACs: 1,138,080; VWW-shaped's pointwise layers, 8.78 per MAC at 8->16 to 1.76 at
256->256; each estimate within 8 %: the per-MAC figure alone, 2.223, had put the narrow layers
at a quarter of their cost, so it beat the 1x1 kernels there); a larger window 1.340 per MAC
+ 47.54 per output + 6.52 per gathered window value + 328.2 per output pixel, fitted the same
way to its ten rows with windows (KWS's 10x4 stride-2 first layer, the narrow first layers
and three ResNet-8 3x3 layers; each within 7 %). A flat 2.853 per MAC (KWS's first layer
alone) had put the digits CNN's 9-value windows at a quarter of their cost (13,147 against
54,360 instructions), so this kernel beat fn_conv2d_s8_w16_dsp (43,240) there."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, conv2d_s8

NAME = "fn_conv2d_s8_dsp"
_POINTWISE = (1.421, 53.4)   # per MAC, per output (module docstring)
_WINDOW = (1.340, 47.54, 6.52, 328.2)   # per MAC, output, gathered window value, output pixel


def supports(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    p, _ = _conv.general_params(node, graph)
    if p["groups"] != 1:
        return f"{p['groups']} groups (1 only)"
    depth = p["kernel_h"] * p["kernel_w"] * p["in_c"]
    if depth > _s8_dsp.FN_CONV_DSP_DEPTH:
        return f"window of {depth} values (at most {_s8_dsp.FN_CONV_DSP_DEPTH})"
    return None


def why(node, graph, target) -> str:
    return "one group, window <= 256 values, DSP"


def cost(node, graph, target) -> int:
    _, (out_c, kh, kw, in_c) = _conv.shapes(node, graph)
    if (kh, kw) == (1, 1):
        return _conv.estimate(node, graph, *_POINTWISE)
    per_mac, per_output, per_value, per_pixel = _WINDOW
    pixels = _conv.outputs(node, graph) // out_c
    return round(_conv.estimate(node, graph, per_mac, per_output) + (per_value * kh * kw * in_c + per_pixel) * pixels)


def scratch_bytes(node, graph) -> int:
    return _s8_dsp.conv2d_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    zp = " (weights with zero points)" if _conv.has_weight_zero_point(node) else ""
    return KernelCall(NAME, "fn_s8_dsp.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node), description=f"int8 {_conv.what(node)}{zp}, DSP (SMLAD, window in scratch)")

"""fn_depthwise_conv2d_s8_mve (runtime_c/src/fn_depthwise_conv2d_s8_mve.c, contract in
fn_s8_mve.h): fn_depthwise_conv2d_s8's layers (the same bytes) on CPUs with MVE (Helium) for
depth multiplier 1 and at most 64 taps: the image copied into the scratch with the input zero
point in the padding, then per channel 4 output pixels per vector (gather loads, VMLA by the
tap's weight).
The C takes any image (its scratch grows with it); the selection takes this variant only
while the padded image stays within 64 KB, so that large images do not grow the arena.

Cost (instructions, bench/mve.py on mps3-an547): KWS's 3x3 depthwise layer, 72,000 MACs:
187,188 (2.600 per MAC)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_mve, depthwise_conv2d_s8

NAME = "fn_depthwise_conv2d_s8_mve"
_PER_MAC = 2.600


def supports(node, graph, target) -> str | None:
    refused = depthwise_conv2d_s8.supports(node, graph, target) or _s8_mve.refuse_target(target)
    if refused:
        return refused
    p = depthwise_conv2d_s8.params(node, graph)[0]
    if p["depth_multiplier"] != 1:
        return f"depth multiplier {p['depth_multiplier']} (1 only)"
    if p["kernel_h"] * p["kernel_w"] > _s8_mve.FN_DW_MVE_TAPS:
        return f"{p['kernel_h']}x{p['kernel_w']} kernel (at most {_s8_mve.FN_DW_MVE_TAPS} taps)"
    image = _s8_mve.dw_padded_image(p)
    if image > _s8_mve.DW_IMAGE_LIMIT:
        return f"padded image of {image:,} bytes (at most {_s8_mve.DW_IMAGE_LIMIT:,})"
    return None


def why(node, graph, target) -> str:
    return "depthwise, multiplier 1, padded image, MVE"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph))


def scratch_bytes(node, graph) -> int:
    return _s8_mve.dw_scratch(depthwise_conv2d_s8.params(node, graph)[0])


def call(node, graph) -> KernelCall:
    base = depthwise_conv2d_s8.call(node, graph)
    return KernelCall(NAME, "fn_s8_mve.h", base.params_type, base.params, base.args,
                      description="int8 depthwise conv (MVE: padded image in scratch, 4 pixels per vector)")

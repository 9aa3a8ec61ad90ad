"""fn_conv2d_s8_mve (runtime_c/src/fn_conv2d_s8_mve.c, contract in fn_s8_mve.h): fn_conv2d_s8's
layers (the same bytes) on CPUs with MVE (Helium), for one group, weights without zero
points and windows of at most FN_CONV_MVE_DEPTH = 4096 values: per output pixel the window
is gathered into the scratch (the input zero point in the padding), then 4 output channels
at a time, 16 MACs per VMLADAVA.S8.

Cost (instructions, bench/mve.py on mps3-an547), per MAC: a 1x1 filter as KWS's 1x1 layer,
a larger window as KWS's 10x4 stride-2 first layer (see _PER_MAC_*)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_mve, conv2d_s8

NAME = "fn_conv2d_s8_mve"
_PER_MAC_POINTWISE = 0.425
_PER_MAC_WINDOW = 0.850


def supports(node, graph, target) -> str | None:
    refused = _s8_mve.refuse_target(target)
    if refused:
        return refused
    if node.op != "conv2d":
        return "convolutions only (fn_fc_s8_mve runs dense layers)"
    refused = conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    p, _ = _conv.general_params(node, graph)
    if p["groups"] != 1:
        return f"{p['groups']} groups (1 only)"
    depth = p["kernel_h"] * p["kernel_w"] * p["in_c"]
    if depth > _s8_mve.FN_CONV_MVE_DEPTH:
        return f"window of {depth} values (at most {_s8_mve.FN_CONV_MVE_DEPTH})"
    return None


def why(node, graph, target) -> str:
    return "one group, window in scratch, MVE"


def cost(node, graph, target) -> int:
    _, (_, kh, kw, _) = _conv.shapes(node, graph)
    return round((_PER_MAC_POINTWISE if (kh, kw) == (1, 1) else _PER_MAC_WINDOW) * _conv.macs(node, graph))


def scratch_bytes(node, graph) -> int:
    return _s8_mve.conv2d_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_s8_mve.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node), description=f"int8 {_conv.what(node)}, MVE (VMLADAVA, window in scratch)")

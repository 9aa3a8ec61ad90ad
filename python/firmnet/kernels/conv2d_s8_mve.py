"""fn_conv2d_s8_mve (runtime_c/src/fn_conv2d_s8_mve.c, contract in fn_s8_mve.h): fn_conv2d_s8's
layers (the same bytes) on CPUs with MVE (Helium), for one group, weights without zero
points and windows of at most FN_CONV_MVE_DEPTH = 4096 values: per output pixel the window
is gathered into the scratch (the input zero point in the padding), then 4 output channels
at a time, 16 MACs per VMLADAVA.S8.

Cost (instructions, bench/mve.py on mps3-an547): least squares over its seven rows (KWS's 1x1
layer through this kernel, 216,438; KWS's 10x4 stride-2 first layer, 270,719; ResNet-8's five
3x3 layers, 82,781 to 1,000,531), per MAC, per output and per window row gathered (output
pixels x kernel_h): 0.1747, 13.00 and 122.0, within 16 % of every row (the 1x1 layer: 208,672,
above fn_conv2d_1x1_s8_mve's 191,906, which runs it)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_mve, conv2d_s8

NAME = "fn_conv2d_s8_mve"
_PER_MAC, _PER_OUTPUT, _PER_ROW = 0.1747, 13.00, 122.0


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only (fn_fc_s8_mve runs dense layers)"
    refused = conv2d_s8.supports(node, graph, target) or _s8_mve.refuse_target(target)
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
    _, (oc, kh, _, _) = _conv.shapes(node, graph)
    rows = _conv.outputs(node, graph) // oc * kh
    return round(_conv.estimate(node, graph, _PER_MAC, _PER_OUTPUT) + _PER_ROW * rows)


def scratch_bytes(node, graph) -> int:
    return _s8_mve.conv2d_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_s8_mve.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node), description=f"int8 {_conv.what(node)}, MVE (VMLADAVA, window in scratch)")

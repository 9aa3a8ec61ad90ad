"""fn_fc_b1 (runtime_c/src/fn_fc_b1.c): binary fully connected layer, a bconv2d whose filter
covers its whole unpadded input (a flattened NHWC image is the same words, so the packed
filter is the same too). Cost: the row function's alone (_binary.py), on whole words per tap."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _binary
from .params_binary import fc_b1_params

NAME = "fn_fc_b1"


def supports(node, graph, target) -> str | None:
    reason = _binary.check_node(node, graph)
    if reason:
        return reason
    (_, h, w, _), (_, kh, kw, _), _ = _binary.shapes(node, graph)
    if (kh, kw) != (h, w) or any(node.attrs.pads):
        return f"{kh}x{kw} filter on a {h}x{w} input (fully connected: the filter covers the unpadded input)"
    return None


def why(node, graph, target) -> str:
    return "fully connected (the filter covers the whole input)"


def cost(node, graph, target) -> int:
    return round(_binary.row_cost(node, graph, False, target))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    x, w, y = _binary.shapes(node, graph)
    params = fc_b1_params(x[0], x[1:], w[0], _binary.bout(node, graph))
    return KernelCall(NAME, "fn_binary_b1.h", "fn_fc_b1_params", params_of(params),
                      (node.inputs[0], _binary.packed_filter(node, graph), node.outputs[0]),
                      description=f"binary fully connected {x[1] * x[2] * x[3]} -> {w[0]}, {node.attrs.out} output")

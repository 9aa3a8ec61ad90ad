"""fn_bconv2d_b1 (runtime_c/src/fn_bconv2d_b1.c): binary convolution, any filter, stride and
zero or one padding, XNOR-popcount on b1 words.

Cost (_binary.py): the row function's on the dense filter words, plus the board's per-tap
cost for each tap of each output pixel's window."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _binary
from .params_binary import bconv2d_b1_params, bconv2d_scratch, pack_dense_filters

NAME = "fn_bconv2d_b1"


def supports(node, graph, target) -> str | None:
    return _binary.check_node(node, graph)


def why(node, graph, target) -> str:
    return "binary convolution"


def cost(node, graph, target) -> int:
    _, (_, kh, kw, _), y = _binary.shapes(node, graph)
    per_tap = _binary.costs(target)[2]
    return round(_binary.row_cost(node, graph, True, target) + per_tap * y[0] * y[1] * y[2] * kh * kw)


def _params(node, graph) -> dict:
    x, w, y = _binary.shapes(node, graph)
    a = node.attrs
    return bconv2d_b1_params(x, w, y, strides=a.strides, pads=a.pads, bout=_binary.bout(node, graph),
                              pad_value=a.pad_value)


def scratch_bytes(node, graph) -> int:
    _, (_, kh, kw, c), _ = _binary.shapes(node, graph)
    return bconv2d_scratch({"kernel_h": kh, "kernel_w": kw, "in_c": c})


def call(node, graph) -> KernelCall:
    _, (_, kh, kw, _), _ = _binary.shapes(node, graph)
    filters = ConstArg(f"{node.inputs[1]}/b1", pack_dense_filters(graph.constants[node.inputs[1]]))
    return KernelCall(NAME, "fn_binary_b1.h", "fn_bconv2d_b1_params", params_of(_params(node, graph)),
                      (node.inputs[0], filters, node.outputs[0]), scratch_bytes=scratch_bytes(node, graph),
                      description=f"binary {kh}x{kw} conv, {node.attrs.out} output"
                      + (", one padding" if node.attrs.pad_value and any(node.attrs.pads) else ""))

"""fn_bconv2d_b1 (runtime_c/src/fn_bconv2d_b1.c): binary convolution, any filter, stride and
zero or one padding, XNOR-popcount on b1 words.

Cost (instructions on mps2-an386): PER_WORD per XOR-popcount of one word of a dense filter
with one output's window, PER_OUTPUT per output value (its share of gathering the window and
the output stage): fitted to bench/binary.py's 3x3 64 -> 64 16x16 layer (294,912 words,
16,384 outputs: 3,656,320 instructions, binary->bits) and the digits example's conv2 (3x3
8 -> 16 on 8x8: 3,072 words, 1,024 outputs: 123,600)."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _binary
from .params_binary import bconv2d_b1_params, bconv2d_scratch, pack_dense_filters

NAME = "fn_bconv2d_b1"
PER_WORD = 6.83
PER_OUTPUT = 100.2


def supports(node, graph, target) -> str | None:
    return _binary.check_node(node, graph)


def why(node, graph, target) -> str:
    return "binary convolution"


def cost(node, graph, target) -> int:
    return round(PER_WORD * _binary.word_ops(node, graph, dense=True) + PER_OUTPUT * _binary.outputs(node, graph))


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

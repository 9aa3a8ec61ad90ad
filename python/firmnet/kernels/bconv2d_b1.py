"""fn_bconv2d_b1 (runtime_c/src/fn_bconv2d_b1.c): binary convolution, any filter, stride and
zero padding, XNOR-popcount on b1 words.

Cost (instructions on mps2-an386, bench/binary.py): PER_WORD per XOR-popcount of one
32-channel word of one tap of one output, PER_OUTPUT per output value: the 3x3 64 -> 64
16x16 layer (294,912 word operations, 16,384 outputs) took 6,019,040 instructions
(binary->bits), i.e. 18.2 per word with 40 per output."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _binary
from .params_binary import bconv2d_b1_params

NAME = "fn_bconv2d_b1"
PER_WORD = 18.2
PER_OUTPUT = 40.0


def supports(node, graph, target) -> str | None:
    return _binary.check_node(node, graph)


def why(node, graph, target) -> str:
    return "binary convolution"


def cost(node, graph, target) -> int:
    return round(PER_WORD * _binary.word_ops(node, graph) + PER_OUTPUT * _binary.outputs(node, graph))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    x, w, y = _binary.shapes(node, graph)
    a = node.attrs
    params = bconv2d_b1_params(x, w, y, strides=a.strides, pads=a.pads, bout=_binary.bout(node, graph))
    kh, kw = w[1], w[2]
    return KernelCall(NAME, "fn_binary_b1.h", "fn_bconv2d_b1_params", params_of(params),
                      (node.inputs[0], _binary.packed_filter(node, graph), node.outputs[0]),
                      description=f"binary {kh}x{kw} conv, {a.out} output")

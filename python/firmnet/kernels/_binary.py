"""What the two binary layer variants (bconv2d_b1, fc_b1) share: the layer's NHWC/OHWI
shapes, its output stage (fn_bout), fc_b1's packed filter, and the cost of the row function
both run (fn_b1_row, fn_binary_b1_impl.h).

Cost (instructions on mps2-an386): ROW_PER_WORD per XOR-popcount of one word of a filter
with one window, ROW_PER_OUTPUT per output value; fn_bconv2d_b1 adds its own PER_TAP for
gathering each output pixel's window. The three constants solve the three measurements
(bench/binary.py, binary->bits): the 1024 -> 512 fully connected layer (16,384 words, 512
outputs, one tap: 182,880 instructions as fn_bconv2d_b1, 182,640 as fn_fc_b1), the 3x3
64 -> 64 16x16 conv (294,912 words, 16,384 outputs, 2,304 taps: 3,656,320) and the digits
example's conv2 (3x3 8 -> 16 on 8x8: 3,072 words, 1,024 outputs, 576 taps: 123,600)."""
from __future__ import annotations

from ..lowering import ConstArg
from . import params_binary as pb

ROW_PER_WORD = 11.06
ROW_PER_OUTPUT = 2.85


def shapes(node, graph) -> tuple[tuple, tuple, tuple]:
    """(input NHWC, filter OHWI, output NHWC) of an NHWC bconv2d node."""
    return tuple(graph.types[t].shape for t in (node.inputs[0], node.inputs[1], node.outputs[0]))


def bout(node, graph) -> dict:
    """fn_bout of the layer: its output kind, folded scale and offset, clamp."""
    _, (o, kh, kw, c), _ = shapes(node, graph)
    a = node.attrs
    scale, offset = (graph.constants[t] if t else None for t in (list(node.inputs[2:4]) + ["", ""])[:2])
    return pb.bout_params(a.out, o, kh * kw * c, scale, offset, a.act)


def packed_filter(node, graph) -> ConstArg:
    """The filter as fn_fc_b1 reads it: per tap whole words, like the image it is laid on."""
    return ConstArg(f"{node.inputs[1]}/b1", pb.pack_filters(graph.constants[node.inputs[1]]))


def binary_macs(node, graph) -> int:
    _, (_, kh, kw, c), y = shapes(node, graph)
    return y[0] * y[1] * y[2] * y[3] * kh * kw * c


def word_ops(node, graph, dense: bool) -> int:
    """XOR-popcounts of one call when every tap is inside the input: per output, the filter's
    words (dense: one bit string, fn_bconv2d_b1; else whole words per tap, fn_fc_b1)."""
    _, (_, kh, kw, c), y = shapes(node, graph)
    per_output = pb.words(kh * kw * c) if dense else kh * kw * pb.words(c)
    return y[0] * y[1] * y[2] * y[3] * per_output


def outputs(node, graph) -> int:
    return graph.types[node.outputs[0]].size


def row_cost(node, graph, dense: bool) -> float:
    """Instructions of the row function over the whole layer (see the module's docstring)."""
    return ROW_PER_WORD * word_ops(node, graph, dense) + ROW_PER_OUTPUT * outputs(node, graph)


def check_node(node, graph) -> str | None:
    if node.op != "bconv2d":
        return "binary layers only"
    if node.attrs.layout != "NHWC":
        return "NCHW layout (NHWC only)"
    for t in node.inputs[2:4]:
        if t and t not in graph.constants:
            return f"its scale/offset '{t}' is computed at run time (constants only)"
    if node.inputs[1] not in graph.constants:
        return "weights computed at run time (constants only)"
    return None

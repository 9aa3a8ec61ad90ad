"""What the two binary layer variants (bconv2d_b1, fc_b1) share: the layer's NHWC/OHWI
shapes, its output stage (fn_bout), fc_b1's packed filter, and the cost of the row function
both run (fn_b1_row, fn_binary_b1_impl.h).

Cost (instructions): per XOR-popcount of one word of a filter with one window, per output
value, and for fn_bconv2d_b1 per tap of each output pixel's window (gathering it, border masks
or runs, the row call). Each board family's three constants solve its three measurements
(bench/binary.py, binary->bits, and the per-layer profile of the digits example): the 1024 ->
512 fully connected layer as fn_fc_b1 (16,384 words, 512 outputs), the 3x3 64 -> 64 16x16 conv
(294,912 words, 16,384 outputs, 2,304 taps) and the digits example's conv2 (3x3 8 -> 16 on
8x8: 3,072 words, 1,024 outputs, 576 taps). Portable SWAR on mps2-an386 (Cortex-M4): 182,640,
3,656,320 and 123,600 instructions. Helium on mps3-an547 (Cortex-M55; fn_b1_mismatches_mve,
four words per vector, two filters per pass, a predicated tail, which the per-output constant
absorbs): 71,907, 1,863,094 and 92,219."""
from __future__ import annotations

from ..lowering import ConstArg
from . import params_binary as pb

# (per word, per output, per gathered tap), by whether the board has Helium (MVE)
COSTS = {False: (11.04, 3.29, 149.8), True: (2.09, 73.4, 18.4)}


def costs(target) -> tuple[float, float, float]:
    """The board's (per word, per output, per tap) costs; target None: the portable ones."""
    return COSTS[bool(target is not None and getattr(target, "mve", False))]


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


def row_cost(node, graph, dense: bool, target) -> float:
    """Instructions of the row function over the whole layer on the board (see the module's docstring)."""
    per_word, per_output, _ = costs(target)
    return per_word * word_ops(node, graph, dense) + per_output * outputs(node, graph)


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

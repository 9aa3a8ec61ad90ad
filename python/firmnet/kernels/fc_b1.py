"""fn_fc_b1 (runtime_c/src/fn_fc_b1.c): binary fully connected layer, a bconv2d whose filter
covers its whole unpadded input (a flattened NHWC image is the same words, so the packed
filter is the same too).

Cost (instructions on mps2-an386, bench/binary.py): PER_WORD per XOR-popcount of one word,
PER_OUTPUT per output value: the 1024 -> 512 layer (16,384 word operations, 512 outputs)
took 182,640 instructions (binary->bits), i.e. 10.2 per word with 30 per output."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _binary
from .params_binary import fc_b1_params

NAME = "fn_fc_b1"
PER_WORD = 10.2
PER_OUTPUT = 30.0


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
    return round(PER_WORD * _binary.word_ops(node, graph, dense=False) + PER_OUTPUT * _binary.outputs(node, graph))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    x, w, y = _binary.shapes(node, graph)
    params = fc_b1_params(x[0], x[1:], w[0], _binary.bout(node, graph))
    return KernelCall(NAME, "fn_binary_b1.h", "fn_fc_b1_params", params_of(params),
                      (node.inputs[0], _binary.packed_filter(node, graph), node.outputs[0]),
                      description=f"binary fully connected {x[1] * x[2] * x[3]} -> {w[0]}, {node.attrs.out} output")

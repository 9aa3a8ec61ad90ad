"""What the softmax variants share: the layer's shape and axis, and their one cost (a softmax
is the only kernel of its arithmetic, so no figure is needed)."""
from __future__ import annotations


def shape_axis(node, graph) -> tuple[tuple, int]:
    shape = graph.types[node.inputs[0]].shape
    return shape, node.attrs.axis % len(shape)   # infer checked the range


def quantities(node) -> tuple[tuple, tuple]:
    """((input scale, zero point), (output scale, zero point))."""
    q_in, q_out = node.attrs.quant.inputs[0], node.attrs.quant.output
    return (q_in.scale[0], q_in.zero_point[0]), (q_out.scale[0], q_out.zero_point[0])

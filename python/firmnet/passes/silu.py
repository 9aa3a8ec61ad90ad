"""SiLU as exporters write it, x * Sigmoid(x), becomes one unary silu node."""
from __future__ import annotations

import dataclasses
import math

from ..ir import Graph
from ..ops import unary


def _sigmoid_of(node, name):
    """The input of node if it is a float sigmoid without a clamp, else None."""
    if node is None or node.op != "unary" or node.attrs.kind != "sigmoid" or node.attrs.quant is not None:
        return None
    if tuple(node.attrs.act) != (-math.inf, math.inf):
        return None
    return node.inputs[0]


def fuse_silu(graph: Graph) -> Graph:
    """mul(x, sigmoid(x)) (either order) → unary silu(x) with the mul's clamp. The fused
    kernel computes x * fn_sigmoidf(x), the same two float operations as the pair, so the
    result is bit-identical. Does not fire when the sigmoid's output has another consumer
    or is a graph output, when the mul is quantized, or when x and the product differ in
    shape (a broadcast mul)."""
    producers, consumers = graph.producers(), graph.consumers()
    fused, dropped = {}, set()
    for node in graph.nodes:
        if node.op != "binary" or node.attrs.kind != "mul" or node.attrs.quant is not None:
            continue
        for x, s in (node.inputs, node.inputs[::-1]):
            sig = producers.get(s)
            if _sigmoid_of(sig, s) != x or sig.name in dropped or len(consumers.get(s, [])) != 1 \
                    or s in graph.outputs or graph.types[x].shape != graph.types[node.outputs[0]].shape:
                continue
            fused[node.name] = dataclasses.replace(node, op="unary", inputs=(x,),
                                                   attrs=unary.Attrs("silu", act=node.attrs.act))
            dropped.add(sig.name)
            break
    if not fused:
        return graph
    return graph.with_nodes([fused.get(n.name, n) for n in graph.nodes if n.name not in dropped])

"""Fuse clamps (Relu, Relu6, Clip) into the op that produces their input."""
from __future__ import annotations

import dataclasses

from ..ir import Graph
from ..ops._util import intersect

FUSES_CLAMP = ("conv2d", "conv_transpose", "dense", "pool2d", "binary", "unary")


def fuse_activations(graph: Graph) -> Graph:
    """producer → unary(identity, clamp) becomes producer with the clamp folded into its act range.

    Does not fire when the producer's output has other consumers or is a graph output.
    """
    while True:
        fused = _fuse_once(graph)
        if fused is graph:
            return graph
        graph = fused


def _fuse_once(graph: Graph) -> Graph:
    producers, consumers = graph.producers(), graph.consumers()
    fused_into: dict[str, object] = {}   # producer name → clamp node
    removed: set[str] = set()            # a clamp removed this round is not a producer this round
    for node in graph.nodes:
        if node.op == "unary" and node.attrs.kind == "identity":
            x = node.inputs[0]
            prod = producers.get(x)
            if (prod is not None and prod.op in FUSES_CLAMP and prod.name not in fused_into
                    and prod.name not in removed and len(consumers[x]) == 1 and x not in graph.outputs):
                fused_into[prod.name] = node
                removed.add(node.name)
    if not fused_into:
        return graph
    nodes = []
    for node in graph.nodes:
        if node.name in removed:
            continue
        clamp = fused_into.get(node.name)
        if clamp is not None:
            attrs = dataclasses.replace(node.attrs, act=intersect(node.attrs.act, clamp.attrs.act))
            node = dataclasses.replace(node, attrs=attrs, outputs=clamp.outputs)
        nodes.append(node)
    return graph.with_nodes(nodes)

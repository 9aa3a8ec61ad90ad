"""Remove layout work that does nothing: composed, no-op and identity transposes/reshapes,
and bits turned into +-1 floats only to be binarized again (LCE's converter writes
LceDequantize then LceQuantize around some layers)."""
from __future__ import annotations

import dataclasses

from ..ir import Graph
from ..ops import reshape, transpose
from .layout import memory_order_kept


def _rename_inputs(nodes, old, new):
    return [dataclasses.replace(n, inputs=tuple(new if i == old else i for i in n.inputs)) for n in nodes]


def simplify_layout(graph: Graph) -> Graph:
    """Applies, until nothing changes:
    - transpose of a transpose read only there → one transpose;
    - transpose that keeps the memory order (only size-1 dims move) → reshape;
    - reshape to the same shape → removed (not when it produces a graph output);
    - float binarize of an unbinarize → the unbinarize's bits (+-1.0 binarizes to the same
      +-1; not when it produces a graph output); the unbinarize stays if something else
      reads it (remove_dead_nodes drops it otherwise);
    - float binarize of a binary layer's float output read only there → the layer's bits
      output (the bits stage is by definition the sign of the float stage).
    """
    changed = True
    while changed:
        changed = False
        producers, consumers = graph.producers(), graph.consumers()
        nodes = list(graph.nodes)
        for k, node in enumerate(nodes):
            x = node.inputs[0] if node.inputs else ""
            if node.op == "transpose":
                inner = producers.get(x)
                if inner is not None and inner.op == "transpose" and len(consumers[x]) == 1 \
                        and x not in graph.outputs:
                    perm = tuple(inner.attrs.perm[p] for p in node.attrs.perm)
                    nodes[k] = dataclasses.replace(node, inputs=inner.inputs, attrs=transpose.Attrs(perm))
                    nodes.remove(inner)
                    changed = True
                    break
                if memory_order_kept(graph.types[x].shape, node.attrs.perm):
                    nodes[k] = dataclasses.replace(node, op="reshape",
                                                   attrs=reshape.Attrs(graph.types[node.outputs[0]].shape))
                    changed = True
                    break
            if node.op == "reshape" and graph.types[x].shape == node.attrs.shape \
                    and node.outputs[0] not in graph.outputs:
                del nodes[k]
                nodes = _rename_inputs(nodes, node.outputs[0], x)
                changed = True
                break
            inner = producers.get(x)
            if node.op != "binarize" or node.attrs.zero_point is not None or inner is None:
                continue
            if inner.op == "unbinarize" and node.outputs[0] not in graph.outputs:
                del nodes[k]
                nodes = _rename_inputs(nodes, node.outputs[0], inner.inputs[0])
                changed = True
                break
            if inner.op == "bconv2d" and inner.attrs.out == "float" and len(consumers[x]) == 1 \
                    and x not in graph.outputs:
                del nodes[k]
                nodes[nodes.index(inner)] = dataclasses.replace(inner, outputs=node.outputs,
                                                                attrs=dataclasses.replace(inner.attrs, out="bits"))
                changed = True
                break
        if changed:
            graph = graph.with_nodes(nodes)
    return graph


def remove_dead_nodes(graph: Graph) -> Graph:
    """Drop nodes none of whose outputs reach a graph output (e.g. unused exporter branches)."""
    needed = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if needed & set(node.outputs):
            kept.append(node)
            needed.update(i for i in node.inputs if i)
    if len(kept) == len(graph.nodes):
        return graph
    return graph.with_nodes(list(reversed(kept)))

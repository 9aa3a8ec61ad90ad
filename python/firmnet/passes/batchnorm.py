"""BatchNorm folding into the preceding conv/dense, and rewriting of the rest."""
from __future__ import annotations

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import Graph
from ..ops import batchnorm, binary


def _foldable_producer(graph: Graph, bn, producers, consumers):
    x = bn.inputs[0]
    prod = producers.get(x)
    if prod is None or prod.op not in ("conv2d", "dense") or x in graph.outputs:
        return None
    if len(consumers.get(x, [])) != 1 or not graph.is_constant(prod.inputs[1]):
        return None
    if prod.op == "conv2d" and prod.attrs.layout != "NCHW":
        return None
    if prod.attrs.act != (-np.inf, np.inf):
        return None
    bias = prod.inputs[2] if len(prod.inputs) > 2 else ""
    return prod if (not bias or graph.is_constant(bias)) else None


def fold_batchnorm(graph: Graph) -> Graph:
    """conv2d/dense → batchnorm becomes one conv2d/dense with scaled weights and shifted bias.

    Does not fire when the conv output feeds anything else, is a graph output, has a
    fused clamp, or its weights/bias are not constants.
    """
    producers, consumers = graph.producers(), graph.consumers()
    folds = {}
    for node in graph.nodes:
        if node.op == "batchnorm":
            prod = _foldable_producer(graph, node, producers, consumers)
            if prod is not None:
                folds[prod.name] = node
    if not folds:
        return graph
    b = rebuild_from(graph)
    skip = {bn.name for bn in folds.values()}
    for node in graph.nodes:
        if node.name in skip:
            continue
        bn = folds.get(node.name)
        if bn is None:
            b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
            continue
        s, t = batchnorm.scale_shift(bn.attrs, *(graph.constants[i] for i in bn.inputs[1:]))
        w = graph.constants[node.inputs[1]].astype(np.float64)
        w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
        bias = graph.constants[bias_name].astype(np.float64) if bias_name else np.zeros(len(s))
        inputs = (node.inputs[0], b.const(w.astype(np.float32), f"{node.name}/w_bn"),
                  b.const((bias * s + t).astype(np.float32), f"{node.name}/b_bn"))
        b.add(node.op, inputs, node.attrs, bn.outputs, node.name)
    return b.build(graph.outputs)


def batchnorm_to_affine(graph: Graph) -> Graph:
    """Every remaining batchnorm becomes x * s + t with per-channel constants."""
    if not any(n.op == "batchnorm" for n in graph.nodes):
        return graph
    b = rebuild_from(graph)
    for node in graph.nodes:
        if node.op != "batchnorm":
            b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
            continue
        s, t = batchnorm.scale_shift(node.attrs, *(graph.constants[i] for i in node.inputs[1:]))
        shape = (-1,) + (1,) * (len(graph.types[node.inputs[0]].shape) - 2)
        scaled = b.add("binary", [node.inputs[0], b.const(s.astype(np.float32).reshape(shape), f"{node.name}/scale")],
                       binary.Attrs("mul"), name=f"{node.name}/mul")[0]
        b.add("binary", [scaled, b.const(t.astype(np.float32).reshape(shape), f"{node.name}/shift")],
              binary.Attrs("add"), node.outputs, node.name)
    return b.build(graph.outputs)

"""Before the QDQ pass: the exporters' indirections folded, so it sees its patterns.

1. Identity chains: a reshape to its input's own shape (ONNX Identity, Dropout, a
   no-op Reshape) is removed and its readers read its input. The TorchScript exporter
   shares identical initializers (e.g. the equal biases of fresh BatchNorm layers
   folded into convs) behind Identity nodes; onnxruntime's quantizer then writes
   conv2.bias = Identity(DequantizeLinear(conv1.bias)), and without this the QDQ pass
   would not see the dequantized bias and the conv would run in float.
2. Constant chains: reshape/transpose of dequantize(constant, per tensor) becomes
   dequantize(reshaped/transposed constant), so the value stays int8 under its
   dequantize where an integer op reads it.
3. BatchNorm after a conv/dense whose weights are dequantize(int8 constant), directly or
   through one quantize → dequantize pair of the same quantization (onnxruntime's
   quantizer without pre-processing writes conv → Q → DQ → BatchNormalization → Q), is
   folded into the conv: the int8 weights stay as they are and the BatchNorm's
   per-channel factor moves into their scales (the weights are negated where it is
   negative), the bias becomes b·s + t. The dropped quantize → dequantize pair removes
   one rounding of the conv's output (the folded conv rounds once, to the BatchNorm's
   output quantization).

Does not fire on graph outputs, on tensors read by more than the pattern, or (3) on
weights whose negation would not fit int8 (a -128 value or zero point).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import Graph, Node, QuantParams
from ..ops import OPS, batchnorm, dequantize
from .simplify import remove_dead_nodes


def _rename(nodes, renames):
    return [dataclasses.replace(n, inputs=tuple(renames.get(i, i) for i in n.inputs)) for n in nodes]


def _remove_identities(graph: Graph) -> Graph:
    renames, kept = {}, []
    for n in graph.nodes:
        x = renames.get(n.inputs[0], n.inputs[0]) if n.inputs else ""
        if n.op == "reshape" and graph.types[x].shape == n.attrs.shape and n.outputs[0] not in graph.outputs:
            renames[n.outputs[0]] = x
            continue
        kept.append(n)
    return graph.with_nodes(_rename(kept, renames)) if renames else graph


def _fold_constant_layout(graph: Graph) -> Graph:
    producers = graph.producers()
    changed, nodes, constants = False, [], dict(graph.constants)
    for n in graph.nodes:
        dq = producers.get(n.inputs[0]) if n.op in ("reshape", "transpose") else None
        if dq is None or dq.op != "dequantize" or dq.inputs[0] not in graph.constants \
                or dq.attrs.quant.axis is not None or n.outputs[0] in graph.outputs:
            nodes.append(n)
            continue
        (value,) = OPS[n.op].reference(n.attrs, graph.constants[dq.inputs[0]])
        data = f"{n.outputs[0]}#data"
        constants[data] = value
        nodes.append(Node("dequantize", n.name, (data,), n.outputs, dq.attrs))
        changed = True
    if not changed:
        return graph
    b = rebuild_from(graph)
    for name, value in constants.items():
        if name not in graph.constants:
            b.const(value, name)
    for n in nodes:
        b.add(n.op, n.inputs, n.attrs, n.outputs, n.name)
    return b.build(graph.outputs)


def _single_reader(consumers, graph, name):
    users = consumers.get(name, [])
    return users[0] if len(users) == 1 and name not in graph.outputs else None


def _foldable(graph, bn, producers, consumers):
    """(conv/dense node, [quantize, dequantize] between or []) if bn folds into its producer."""
    if any(p not in graph.constants for p in bn.inputs[1:]):
        return None
    x, between = bn.inputs[0], []
    p = producers.get(x)
    if p is not None and p.op == "dequantize" and p.attrs.quant.axis is None:
        q = producers.get(p.inputs[0])
        if q is None or q.op != "quantize" or q.attrs.quant != p.attrs.quant \
                or _single_reader(consumers, graph, p.inputs[0]) is not p:
            return None
        between, x = [q, p], q.inputs[0]
        p = producers.get(x)
    if p is None or p.op not in ("conv2d", "dense") or p.attrs.quant is not None \
            or _single_reader(consumers, graph, x) is not (between[0] if between else bn) \
            or (p.op == "conv2d" and p.attrs.layout != "NCHW") or p.attrs.act != (-np.inf, np.inf):
        return None
    if between and _single_reader(consumers, graph, between[1].outputs[0]) is not bn:
        return None
    w = producers.get(p.inputs[1])
    if w is None or w.op != "dequantize" or w.inputs[0] not in graph.constants \
            or graph.types[w.inputs[0]].dtype != "int8" or w.attrs.quant.axis not in (None, 0) \
            or _single_reader(consumers, graph, p.inputs[1]) is not p:
        return None
    bias = p.inputs[2] if len(p.inputs) > 2 else ""
    bp = producers.get(bias)
    if bias and bias not in graph.constants and not (
            bp is not None and bp.op == "dequantize" and bp.inputs[0] in graph.constants):
        return None
    return p, between, w


def _folded_weights(graph, bn, conv, w):
    """(int8 weights, their QuantParams, s, t) of conv with bn folded in, or None."""
    s, t = batchnorm.scale_shift(bn.attrs, *(graph.constants[i] for i in bn.inputs[1:]))
    weights = graph.constants[w.inputs[0]]
    q = w.attrs.quant
    channels = weights.shape[0]
    scale = np.broadcast_to(np.asarray(q.scale, np.float64), (channels,)) * s
    zero = np.broadcast_to(np.asarray(q.zero_point, np.int64), (channels,))
    negative = scale < 0
    if not (np.isfinite(scale) & (scale != 0)).all() or (weights[negative] == -128).any() \
            or (zero[negative] == -128).any():
        return None
    sign = np.where(negative, -1, 1).reshape((-1,) + (1,) * (weights.ndim - 1))
    weights = (weights.astype(np.int16) * sign).astype(np.int8)
    zero = np.where(negative, -zero, zero)
    wq = QuantParams(tuple(float(np.float32(abs(v))) for v in scale), tuple(int(z) for z in zero), 0)
    return weights, wq, s, t


def _fold_batchnorm(graph: Graph) -> Graph:
    producers, consumers = graph.producers(), graph.consumers()
    folds = {}
    for bn in graph.nodes:
        found = _foldable(graph, bn, producers, consumers) if bn.op == "batchnorm" else None
        folded = _folded_weights(graph, bn, found[0], found[2]) if found else None
        if folded is not None:
            folds[found[0].name] = (bn, found[0], found[1], folded)
    if not folds:
        return graph
    skip = {n.name for bn, _, between, _ in folds.values() for n in [bn, *between]}
    b = rebuild_from(graph)
    for node in graph.nodes:
        if node.name in skip:
            continue
        if node.name not in folds:
            b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
            continue
        bn, conv, _, (weights, wq, s, t) = folds[node.name]
        data = b.const(weights, f"{conv.name}/w_bn_int8")
        w_name = b.add("dequantize", [data], dequantize.Attrs(wq), name=f"{conv.name}/w_bn/dequantize")[0]
        bias_name = conv.inputs[2] if len(conv.inputs) > 2 else ""
        if bias_name in graph.constants:
            bias = graph.constants[bias_name].astype(np.float64)
        elif bias_name:
            bp = producers[bias_name]
            bias = OPS["dequantize"].reference(bp.attrs, graph.constants[bp.inputs[0]])[0].astype(np.float64)
        else:
            bias = np.zeros(len(s))
        b_name = b.const((bias * s + t).astype(np.float32), f"{conv.name}/b_bn")
        b.add(conv.op, (conv.inputs[0], w_name, b_name), conv.attrs, bn.outputs, conv.name)
    return b.build(graph.outputs)


def fold_quant_chains(graph: Graph) -> Graph:
    """Identity chains, layout chains over dequantized constants, and BatchNorm across a
    quantize → dequantize pair into its conv; see the module docstring."""
    graph = _remove_identities(graph)
    graph = _fold_constant_layout(graph)
    return remove_dead_nodes(_fold_batchnorm(graph))

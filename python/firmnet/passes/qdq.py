"""Quantized models: dequantize → op → quantize becomes one integer op.

Applied until nothing changes:
1. Layout ops (reshape, transpose, slice), max pooling, reduce max/min and nearest resize
   commute with a per-tensor dequantize, so dequantize moves below them and they run on int8;
   likewise a quantize moves above a reshape/transpose, so it meets the op that computes the
   values (e.g. a batched MatMul's convolution followed by its layout ops).
2. quantize(dequantize(x)) is x when both use the same quantization, else an
   integer requantization (unary identity on int8).
3. dequantize → compute op [→ Relu/Clip] → quantize becomes the op on int8 tensors:
   weights stay int8 with their zero points (the general int8 conv kernel takes them;
   TFLite-style symmetric weights get the fast kernels), a float bias is quantized to
   int32 with scale s_in * s_w (TFLite's converter does the same), a clamp becomes the
   integer range.
   In ort mode a reduce mean/sum also takes dequantize → float activation (sigmoid, tanh,
   leaky_relu, hard_sigmoid, hard_swish; its output read only by the reduce) → reduce →
   quantize: the activation becomes the reduce's `pre`, a table of onnxruntime's float
   results (the model quantizes nothing between them: mobilenet_v3's last HardSwish).
4. Once nothing else fuses: a reduce mean/sum of dequantize(x) [through such an activation
   in ort mode] whose result stays float (nothing quantizes it: a float graph output)
   becomes an int8 reduce with a float output, the integer sum dequantized once.
5. Boundaries: a float graph input read only by quantize nodes of one quantization
   becomes an int8 input; a graph output made by a dequantize becomes int8. The C
   API then takes and returns int8, and the header gives their scales and zero points.
What is left (dequantize/quantize around float islands) runs as conversion kernels.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import FirmnetError, Graph, Node, OpQuant, TensorType, UnsupportedError, type_of
from ..ops import check_supported, reshape, unary
from ..ops._util import integer_range, intersect, quantize_value
from ..reference.ort_s8 import ORT_TABLE_KINDS
from .simplify import remove_dead_nodes

COMPUTE_OPS = ("conv2d", "dense", "pool2d", "binary", "softmax", "unary", "concat", "reduce")


class _Rewrite:
    def __init__(self, graph: Graph):
        self.g = graph
        self.producers = graph.producers()
        self.consumers = graph.consumers()

    def dq_source(self, name):
        """(int8 tensor, quantization) if name = dequantize(int8 activation, per tensor)."""
        p = self.producers.get(name)
        if p is not None and p.op == "dequantize" and p.attrs.quant.axis is None \
                and self.g.types[p.inputs[0]].dtype == "int8" and p.inputs[0] not in self.g.constants:
            return p.inputs[0], p.attrs.quant
        return None

    def dq_constant(self, name):
        """(constant, quantization) if name = dequantize(constant)."""
        p = self.producers.get(name)
        if p is not None and p.op == "dequantize" and p.inputs[0] in self.g.constants:
            return p.inputs[0], p.attrs.quant
        return None

    def only_consumer(self, name):
        users = self.consumers.get(name, [])
        if len(users) == 1 and name not in self.g.outputs:
            return users[0]
        return None


def _rebuild(graph: Graph, nodes, outputs=None, input_types=None, constants=None) -> Graph:
    """A new graph from nodes, re-inferring every type; input_types retypes graph inputs."""
    g = graph if input_types is None else graph.replace(types={**graph.types, **input_types})
    b = rebuild_from(g)
    for name, value in (constants or {}).items():
        b.const(value, name)
    for n in nodes:
        b.add(n.op, n.inputs, n.attrs, n.outputs, n.name)
    return b.build(outputs or graph.outputs)


def _commute_layout(graph: Graph):
    """Rule 1: op(dequantize(x)) → dequantize(op(x)) for reshape, transpose, slice, max pooling, reduce max/min,
    nearest resize, and
    constant padding whose value is exactly representable (e.g. 0 → the zero point)."""
    rw = _Rewrite(graph)
    nodes, changed = [], False
    for n in graph.nodes:
        src = rw.dq_source(n.inputs[0]) if n.inputs else None
        movable = n.op in ("reshape", "transpose", "pad", "slice") or (
            n.op == "pool2d" and n.attrs.kind == "max" and n.attrs.quant is None) or (
            n.op == "resize" and n.attrs.mode == "nearest") or (
            n.op == "reduce" and n.attrs.kind in ("max", "min") and n.attrs.quant is None)
        if src is None or not movable:
            nodes.append(n)
            continue
        x, q = src
        attrs = n.attrs
        if n.op == "pad":
            value = _exact_int8(attrs.value, q)
            if value is None:
                nodes.append(n)
                continue
            attrs = dataclasses.replace(attrs, value=float(value))
        if n.op == "pool2d":
            attrs = dataclasses.replace(attrs, quant=OpQuant((q,), q, "tflm"), act=integer_range(attrs.act, q))
        if n.op == "reduce":   # max/min of dequantized values = dequantized max/min (scale > 0)
            attrs = dataclasses.replace(attrs, quant=OpQuant((q,), q, "tflm"))
        inner = f"{n.outputs[0]}#int8"
        nodes.append(dataclasses.replace(n, inputs=(x,), outputs=(inner,), attrs=attrs))
        nodes.append(Node("dequantize", f"{n.name}/dequantize", (inner,), n.outputs,
                          rw.producers[n.inputs[0]].attrs))
        changed = True
    return _rebuild(graph, nodes) if changed else graph


def _hoist_quantize(graph: Graph):
    """Rule 1, other direction: quantize(layout(y)) → layout(quantize(y)) for a float y read
    only by the layout op, and that op's result read only by the quantize."""
    rw = _Rewrite(graph)
    moved = {}
    for n in graph.nodes:
        layout = rw.producers.get(n.inputs[0]) if n.op == "quantize" else None
        if layout is None or layout.op not in ("reshape", "transpose") or layout.name in moved \
                or rw.only_consumer(layout.outputs[0]) is not n \
                or rw.only_consumer(layout.inputs[0]) is not layout \
                or graph.types[layout.inputs[0]].dtype != "float32":
            continue
        inner = f"{n.outputs[0]}#before_{layout.name}"
        moved[layout.name] = (dataclasses.replace(n, inputs=layout.inputs, outputs=(inner,)),
                              dataclasses.replace(layout, inputs=(inner,), outputs=n.outputs))
        moved[n.name] = None
    if not moved:
        return graph
    nodes = []
    for n in graph.nodes:
        if n.name in moved:
            nodes.extend(moved[n.name] or ())
        else:
            nodes.append(n)
    return _rebuild(graph, nodes)


def _exact_int8(real: float, q) -> int | None:
    """The int8 value that dequantizes to exactly `real`, if there is one."""
    v = quantize_value(real, q)
    if not -128 <= v <= 127:
        return None
    back = (np.float32(v - q.zero_point[0]) * np.float32(q.scale[0]))
    return int(v) if back == np.float32(real) else None


def _quant_of_dequantized(rw, name):
    return rw.dq_source(name) or rw.dq_constant(name)


def _fuse_compute(graph: Graph, mode: str):
    """Rule 2 and 3: quantize(dequantize(x)) and quantize([clamp](op(dequantize(...))))."""
    rw = _Rewrite(graph)
    replace, drop, constants = {}, set(), {}
    for q_node in graph.nodes:
        if q_node.op != "quantize" or q_node.name in drop:
            continue
        out_q = q_node.attrs.quant
        act = (-math.inf, math.inf)
        x = q_node.inputs[0]
        producer = rw.producers.get(x)
        chain = [q_node]
        if producer is not None and producer.op == "unary" and producer.attrs.kind == "identity" \
                and producer.attrs.quant is None and rw.only_consumer(x) is q_node:
            act = producer.attrs.act
            chain.append(producer)
            x = producer.inputs[0]
            producer = rw.producers.get(x)
        src = rw.dq_source(x)
        if src is not None:
            # quantize(dequantize(x)) with an optional clamp between: a requantization
            xi, q_in = src
            if q_in == out_q and act == (-math.inf, math.inf):
                new = Node("reshape", q_node.name, (xi,), q_node.outputs, reshape.Attrs(graph.types[xi].shape))
            else:
                new = Node("unary", q_node.name, (xi,), q_node.outputs,
                           unary.Attrs("identity", act=integer_range(act, out_q),
                                       quant=OpQuant((q_in,), out_q, mode)))
            replace[q_node.name] = new
            drop.update(c.name for c in chain[1:])
            continue
        if producer is None or producer.op not in COMPUTE_OPS or getattr(producer.attrs, "quant", 1) is not None:
            continue
        if rw.only_consumer(x) is not chain[-1]:
            continue
        node, pre = _with_table_input(rw, producer, mode)
        fused = _integer_op(graph, rw, node, out_q, act, q_node, mode, constants)
        if fused is None or not _supported(graph, fused, constants):
            continue   # stays a float island between dequantize and quantize
        replace[producer.name] = fused
        drop.update(c.name for c in chain + pre)
    if not replace:
        return graph
    nodes = []
    for n in graph.nodes:
        if n.name in replace:
            nodes.append(replace[n.name])
        elif n.name not in drop:
            nodes.append(n)
    return _rebuild(graph, nodes, constants=constants)


def _with_table_input(rw, node, mode):
    """(node, absorbed): a reduce mean/sum reading a float activation of a dequantized int8
    tensor, read by nothing else, becomes the reduce of that tensor with the activation as its
    `pre` in ort mode, absorbed = [the activation node]; otherwise (node, [])."""
    if mode != "ort" or node.op != "reduce" or node.attrs.kind not in ("mean", "sum") or node.attrs.pre is not None:
        return node, []
    act = rw.producers.get(node.inputs[0])
    if act is None or act.op != "unary" or act.attrs.quant is not None or act.attrs.kind not in ORT_TABLE_KINDS \
            or rw.only_consumer(act.outputs[0]) is not node or rw.dq_source(act.inputs[0]) is None:
        return node, []
    return dataclasses.replace(node, inputs=act.inputs, attrs=dataclasses.replace(node.attrs, pre=act.attrs)), [act]


def _dequantizing_reduce(graph: Graph, mode: str) -> Graph:
    """Rule 4: reduce mean/sum of dequantize(x) [through a float activation, ort mode] with a
    float result → the int8 reduce of x with a float output."""
    rw = _Rewrite(graph)
    replace, drop = {}, set()
    for n in graph.nodes:
        if n.op != "reduce" or n.attrs.kind not in ("mean", "sum") or n.attrs.quant is not None:
            continue
        node, pre = _with_table_input(rw, n, mode)
        src = rw.dq_source(node.inputs[0])
        if src is None:
            continue
        x, q = src
        fused = dataclasses.replace(node, inputs=(x,),
                                    attrs=dataclasses.replace(node.attrs, quant=OpQuant((q,), None, mode)))
        if _supported(graph, fused, {}):
            replace[n.name] = fused
            drop.update(p.name for p in pre)
    if not replace:
        return graph
    return _rebuild(graph, [replace.get(n.name, n) for n in graph.nodes if n.name not in drop])


def _supported(graph, node, constants) -> bool:
    """Whether the int8 op accepts these quantizations (e.g. int8 softmax needs output scale 1/256)."""
    types = [None if not i else graph.types[i] if i in graph.types else type_of(constants[i]) for i in node.inputs]
    try:
        check_supported(node.op, node.attrs, types)
    except FirmnetError:
        return False
    return True


def _integer_op(graph, rw, node, out_q, act, q_node, mode, constants):
    """The int8 version of node writing q_node's output, or None if the pattern does not fit."""
    inputs, quants = [], []
    for k, name in enumerate(node.inputs):
        if not name:
            inputs.append(name)
            quants.append(None)
            continue
        is_bias = node.op in ("conv2d", "dense") and k == 2
        if is_bias:
            inputs.append(name)      # resolved below, once the input and weight scales are known
            quants.append(None)
            continue
        src = _quant_of_dequantized(rw, name)
        if src is None:
            return None
        tensor, q = src
        if graph.types[tensor].dtype != "int8":
            return None
        if k == 1 and node.op in ("conv2d", "dense"):
            if q.axis not in (None, 0):
                raise UnsupportedError(f"{node.describe()}: weights quantized along axis {q.axis}; "
                                       "firmnet needs per-output-channel (axis 0) or per-tensor scales")
        elif q.axis is not None:
            return None
        inputs.append(tensor)
        quants.append(q)
    if node.op in ("conv2d", "dense") and len(node.inputs) > 2 and node.inputs[2]:
        inputs[2] = _int32_bias(graph, rw, node, quants[0], quants[1], constants)
        if inputs[2] is None:
            return None
    full_act = intersect(getattr(node.attrs, "act", (-math.inf, math.inf)), act)
    attrs = node.attrs
    changes = {"quant": OpQuant(tuple(quants), out_q, mode)}
    if hasattr(attrs, "act"):
        changes["act"] = integer_range(full_act, out_q)
    elif full_act != (-math.inf, math.inf):
        return None
    return dataclasses.replace(node, inputs=tuple(inputs), outputs=q_node.outputs,
                               attrs=dataclasses.replace(attrs, **changes))


def _int32_bias(graph, rw, node, q_in, q_w, constants):
    """The bias as an int32 constant with scale s_in * s_w[c] (a new constant when it must be rescaled)."""
    name = node.inputs[2]
    channels = graph.types[node.inputs[1]].shape[0]
    want = (np.float64(np.float32(q_in.scale[0])) * np.asarray(q_w.scale, np.float64)) * np.ones(channels)
    src = rw.dq_constant(name)
    if src is not None:
        tensor, q = src
        values = graph.constants[tensor]
        if values.dtype == np.int32 and np.allclose(np.broadcast_to(np.asarray(q.scale), want.shape), want,
                                                     rtol=1e-6, atol=0) and not any(q.zero_point):
            return tensor
        real = (values.astype(np.float64) - np.asarray(q.zero_point)) * np.asarray(q.scale)
    elif name in graph.constants:
        real = graph.constants[name].astype(np.float64)
    else:
        return None
    quantized = np.clip(np.sign(real) * np.floor(np.abs(real / want) + 0.5), -2**31, 2**31 - 1)
    name = f"{node.name}/bias_int32"
    constants[name] = quantized.astype(np.int32)
    return name


def _boundaries(graph: Graph) -> Graph:
    """Rule 5: int8 graph inputs and outputs instead of quantize/dequantize at the edges."""
    rw = _Rewrite(graph)
    input_types, renames, dropped, outputs = {}, {}, set(), list(graph.outputs)
    for name in graph.inputs:
        users = rw.consumers.get(name, [])
        # (a model whose output is the quantized input itself keeps its quantize kernel)
        if users and graph.types[name].dtype == "float32" and name not in graph.outputs and all(
                u.op == "quantize" and u.attrs == users[0].attrs and u.outputs[0] not in graph.outputs
                for u in users):
            input_types[name] = TensorType(graph.types[name].shape, "int8", users[0].attrs.quant)
            for u in users:
                renames[u.outputs[0]] = name
                dropped.add(u.name)
    for k, name in enumerate(graph.outputs):
        p = rw.producers.get(name)
        if p is not None and p.op == "dequantize" and p.attrs.quant.axis is None \
                and graph.types[p.inputs[0]].dtype == "int8" and p.inputs[0] not in graph.inputs \
                and p.inputs[0] not in graph.outputs and p.inputs[0] not in renames:
            renames[p.inputs[0]] = name
            dropped.add(p.name)
    if not renames:
        return graph
    nodes = [dataclasses.replace(n, inputs=tuple(renames.get(i, i) for i in n.inputs),
                                 outputs=tuple(renames.get(o, o) for o in n.outputs))
             for n in graph.nodes if n.name not in dropped]
    types = {k: v for k, v in graph.types.items() if k not in graph.outputs}
    return _rebuild(graph.replace(types=types), nodes, outputs, input_types)


def fuse_qdq(graph: Graph, mode: str = "tflm") -> Graph:
    """Integer ops from QDQ patterns. Does not fire on graphs without dequantize/quantize nodes."""
    if not any(n.op in ("quantize", "dequantize") for n in graph.nodes):
        return graph
    while True:
        before = graph
        graph = _commute_layout(graph)
        graph = _hoist_quantize(graph)
        graph = _fuse_compute(graph, mode)
        if graph is before:
            break
    return remove_dead_nodes(_boundaries(_dequantizing_reduce(graph, mode)))   # dequantize nodes whose users all went integer

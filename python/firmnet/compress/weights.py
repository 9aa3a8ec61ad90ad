"""The weights compression can change in an ONNX graph.

A weight is the constant input of a Conv, Gemm or MatMul: a float initializer, or an
integer initializer under DequantizeLinear (a QDQ model; its scale and zero point are
initializers too), or a float initializer under QuantizeLinear -> DequantizeLinear (fake
quantization). `OnnxGraph` indexes producers, consumers and initializers so that the
pruning passes can read and rewrite those constants in place.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from ..ir import FirmnetError

WEIGHT_OPS = ("Conv", "Gemm", "MatMul")


def constants_to_initializers(model: onnx.ModelProto) -> None:
    """Turn the graph's Constant nodes holding a tensor into initializers (exporters write
    weights, shapes and quantization parameters either way; the passes read initializers)."""
    keep = []
    for node in model.graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None) if node.op_type == "Constant" else None
        if value is None:
            keep.append(node)
            continue
        tensor = onnx.TensorProto()
        tensor.CopyFrom(value.t)
        tensor.name = node.output[0]
        model.graph.initializer.append(tensor)
    if len(keep) != len(model.graph.node):
        del model.graph.node[:]
        model.graph.node.extend(keep)


def tensor_shapes(model: onnx.ModelProto) -> dict[str, list]:
    """{tensor: shape} by ONNX shape inference (a symbolic or unknown dimension: its name or
    None), initializers included."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param or None for d in dims]
    for t in model.graph.initializer:
        shapes[t.name] = list(t.dims)
    return shapes


class OnnxGraph:
    """An ONNX model's graph with its initializers as numpy arrays (written back by `set`)."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self.producer = {out: n for n in self.graph.node for out in n.output}
        self.consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
        for n in self.graph.node:
            for i, name in enumerate(n.input):
                if name:
                    self.consumers.setdefault(name, []).append((n, i))
        self.outputs = {o.name for o in self.graph.output}

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.inits[name])

    def set(self, name: str, value: np.ndarray) -> None:
        self.inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), name))

    def is_const(self, name: str) -> bool:
        return name in self.inits

    def readers(self, name: str) -> int:
        return len(self.consumers.get(name, ())) + (name in self.outputs)

    def privatize(self, node: onnx.NodeProto, index: int) -> str:
        """The initializer at node.input[index], copied under a new name if other nodes read it too
        (so that slicing it changes this node only)."""
        name = node.input[index]
        if self.readers(name) <= 1:
            return name
        copy, k = f"{name}_{layer_name(node)}", 0
        while copy in self.inits or copy in self.producer:
            k += 1
            copy = f"{name}_{layer_name(node)}_{k}"
        self.graph.initializer.append(numpy_helper.from_array(self.array(name), copy))
        self.inits[copy] = self.graph.initializer[-1]
        mine = list(node.output)
        self.consumers[name] = [(n, i) for n, i in self.consumers[name] if not (list(n.output) == mine and i == index)]
        self.consumers[copy] = [(node, index)]
        node.input[index] = copy
        return copy


@dataclass(frozen=True)
class ConstInput:
    """A constant one node reads: `data` is the initializer holding its values; for an integer
    initializer under DequantizeLinear, `scale`/`zero_point` name DQ's (zero_point None: 0) and
    `axis` is DQ's per-channel axis (None when per-tensor)."""
    data: str
    scale: str | None = None
    zero_point: str | None = None
    axis: int | None = None
    fake_quant: bool = False   # a float initializer under QuantizeLinear -> DequantizeLinear

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    def zero(self, g: OnnxGraph) -> np.ndarray:
        """The stored value meaning 0, broadcastable against the data."""
        data = g.array(self.data)
        if not self.quantized or self.zero_point is None:
            return np.zeros((), data.dtype)
        return _along(g.array(self.zero_point), self.axis, data.ndim).astype(data.dtype)

    def values(self, g: OnnxGraph) -> np.ndarray:
        """The constant as the node sees it (dequantized for a QDQ weight)."""
        data = g.array(self.data)
        if not self.quantized:
            return data.astype(np.float64)
        scale = _along(g.array(self.scale).astype(np.float64), self.axis, data.ndim)
        return (data.astype(np.float64) - self.zero(g).astype(np.float64)) * scale


def _along(v: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """A per-tensor or per-axis quantization parameter shaped to broadcast over an ndim tensor."""
    if v.ndim == 0 or v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis] = v.size
    return v.reshape(shape)


def const_input(g: OnnxGraph, name: str) -> ConstInput | None:
    """The constant behind tensor `name`, or None if it is computed at run time."""
    if g.is_const(name):
        return ConstInput(name)
    node = g.producer.get(name)
    if node is None or node.op_type != "DequantizeLinear":
        return None
    q = g.producer.get(node.input[0])
    if q is not None and q.op_type == "QuantizeLinear" and g.is_const(q.input[0]):
        return ConstInput(q.input[0], fake_quant=True)   # the float initializer is the weight
    if not g.is_const(node.input[1]):
        return None
    zp = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if zp is not None and not g.is_const(zp):
        return None
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    scale_size = g.array(node.input[1]).size
    source = node.input[0]
    if g.is_const(source):
        data_ndim = g.array(source).ndim
        return ConstInput(source, node.input[1], zp, (axis % data_ndim) if scale_size > 1 else None)
    return None


@dataclass(frozen=True)
class Weight:
    """The weight of one Conv/Gemm/MatMul layer, with the axes of its output and input channels."""
    layer: str               # the node's name (its weight's name for an unnamed node)
    op: str
    node: onnx.NodeProto
    const: ConstInput
    out_axis: int
    in_axis: int
    size: int
    first_conv: bool


def layer_name(node: onnx.NodeProto) -> str:
    return node.name or node.output[0]


def find_weights(g: OnnxGraph) -> list[Weight]:
    """Every Conv/Gemm/MatMul weight of the graph, in graph order; a weight shared by several
    layers is listed once (under its first layer)."""
    weights, seen, first = [], set(), True
    for node in g.graph.node:
        if node.op_type not in WEIGHT_OPS or len(node.input) < 2:
            continue
        const = const_input(g, node.input[1])
        if node.op_type == "Conv":
            is_first, first = first, False
        else:
            is_first = False
        if const is None or const.data in seen:
            continue
        shape = g.array(const.data).shape
        if node.op_type == "Conv":
            out_axis, in_axis = 0, 1
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            out_axis, in_axis = (0, 1) if trans_b else (1, 0)
        elif len(shape) == 2:
            out_axis, in_axis = 1, 0
        else:
            continue   # a batched MatMul constant is not a layer's weight
        seen.add(const.data)
        weights.append(Weight(layer_name(node), node.op_type, node, const, out_axis, in_axis,
                              int(np.prod(shape)), is_first))
    return weights


def by_name(weights: list[Weight], names, what: str = "prunable") -> dict[str, Weight]:
    """The weights named (by layer or by weight initializer); an unknown name lists the valid ones."""
    index = {}
    for w in weights:
        index.setdefault(w.layer, w)
        index.setdefault(w.const.data, w)
    unknown = [n for n in names if n not in index]
    if unknown:
        raise FirmnetError(f"no {what} layer named {', '.join(repr(n) for n in unknown)}; the model's "
                           f"Conv/Gemm/MatMul layers are: {', '.join(w.layer for w in weights) or '(none)'}")
    return {n: index[n] for n in names}

"""Small ONNX models for the pruning tests, built with onnx.helper.

Every weight, bias, BatchNorm parameter and input is a small multiple of a power of two,
so every sum onnxruntime computes is exact in float32 whatever its order: a model with some
channels removed and the original with those channels zeroed must then give equal bytes.

`mask(x, segments)` marks a tensor read by a layer (an Identity node, a no-op): the tests
turn it into a multiplication by the 0/1 mask of the channels structured pruning removed
(`zeroed_model`), which is what removing them means for that reader.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


OPSET = 17


class ModelBuilder:
    """Layers appended in order; qdq=True stores weights and biases as integers under
    DequantizeLinear (per-channel power-of-two scales) and quantizes activations after each ReLU."""

    def __init__(self, seed: int = 0, qdq: bool = False):
        self.rng = np.random.default_rng(seed)
        self.qdq = qdq
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.masks: dict[str, list[tuple[str | None, int, int]]] = {}   # Identity node -> segments
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def _const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def _node(self, op: str, inputs, name=None, **attrs) -> str:
        name = name or self._name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [name + "_out"], name=name, **attrs))
        return name + "_out"

    def _dyadic(self, shape, step=0.5, span=2) -> np.ndarray:
        return (self.rng.integers(-span, span + 1, size=shape) * step).astype(np.float32)

    def _weight(self, name: str, shape, axis: int = 0) -> str:
        """Weight values k/2 (|k| <= 2), or int8 k under a per-channel scale of 1/2 or 1/4."""
        if not self.qdq:
            return self._const(name, self._dyadic(shape))
        channels = shape[axis]
        scale = self.rng.choice([0.25, 0.5], size=channels).astype(np.float32)
        q = self.rng.integers(-4, 5, size=shape).astype(np.int8)
        zp = np.zeros(channels, np.int8)
        return self._node("DequantizeLinear", [self._const(name + "_q", q), self._const(name + "_scale", scale),
                                               self._const(name + "_zp", zp)], name=name + "_dq", axis=axis)

    def _bias(self, name: str, channels: int) -> str:
        if not self.qdq:
            return self._const(name, self._dyadic((channels,), 0.25))
        scale = np.full(channels, 1 / 64, np.float32)
        q = (self.rng.integers(-8, 9, size=channels) * 16).astype(np.int32)
        return self._node("DequantizeLinear", [self._const(name + "_q", q), self._const(name + "_scale", scale),
                                               self._const(name + "_zp", np.zeros(channels, np.int32))],
                          name=name + "_dq", axis=0)

    def input(self, shape, name="x") -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        return name

    def output(self, x: str, shape, name="y") -> None:
        self.nodes.append(helper.make_node("Identity", [x], [name], name="output"))
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))

    def conv(self, x, cin, cout, k=3, group=1, bias=True, name=None) -> str:
        name = name or self._name("conv")
        w = self._weight(name + "_w", (cout, cin // group, k, k))
        inputs = [x, w] + ([self._bias(name + "_b", cout)] if bias else [])
        return self._node("Conv", inputs, name=name, kernel_shape=[k, k], pads=[k // 2] * 4, group=group)

    def gemm(self, x, fin, fout, name=None, trans_b=1) -> str:
        name = name or self._name("gemm")
        w = self._weight(name + "_w", (fout, fin) if trans_b else (fin, fout), axis=0 if trans_b else 1)
        return self._node("Gemm", [x, w, self._bias(name + "_b", fout)], name=name, transB=trans_b)

    def matmul(self, x, fin, fout, name=None) -> str:
        name = name or self._name("matmul")
        return self._node("MatMul", [x, self._weight(name + "_w", (fin, fout), axis=1)], name=name)

    def bn(self, x, c) -> str:
        name = self._name("bn")
        scale = self._const(name + "_scale", self._dyadic((c,), 0.5, 2))
        bias = self._const(name + "_bias", self._dyadic((c,), 0.25))
        mean = self._const(name + "_mean", self._dyadic((c,), 0.25))
        var = self._const(name + "_var", self.rng.choice([0.75, 3.75], size=c).astype(np.float32))
        return self._node("BatchNormalization", [x, scale, bias, mean, var], name=name, epsilon=0.25)

    def relu(self, x) -> str:
        y = self._node("Relu", [x])
        if self.qdq:   # activations in int8 with scale 1/8, as a QDQ model holds them
            scale, zp = self._const(self._name("s"), np.float32(0.125)), self._const(self._name("z"), np.int8(0))
            y = self._node("DequantizeLinear", [self._node("QuantizeLinear", [y, scale, zp]), scale, zp])
        return y

    def maxpool(self, x) -> str:
        return self._node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])

    def avgpool(self, x) -> str:
        return self._node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])

    def gap(self, x) -> str:
        return self._node("GlobalAveragePool", [x])

    def flatten(self, x) -> str:
        return self._node("Flatten", [x], axis=1)

    def add(self, a, b) -> str:
        return self._node("Add", [a, b])

    def concat(self, xs) -> str:
        return self._node("Concat", xs, axis=1)

    def mask(self, x, segments) -> str:
        """x as read by the next layer; segments: (producer layer or None, channels, features each)."""
        y = self._node("Identity", [x], name=self._name("mask"))
        self.masks[y[:-len("_out")]] = list(segments)
        return y

    def model(self) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "prune_test", self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def zeroed_model(model: onnx.ModelProto, masks, kept_by_layer: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    """The model with each mask point multiplying its tensor by 0 on the channels removed from
    the layers it carries (kept_by_layer: a layer's kept output channels)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim)
             for vi in onnx.shape_inference.infer_shapes(model).graph.value_info}
    for node in out.graph.node:
        if node.name not in masks:
            continue
        parts = []
        for layer, channels, width in masks[node.name]:
            keep = np.zeros(channels, np.float32)
            keep[list(kept_by_layer[layer]) if layer is not None else slice(None)] = 1
            parts.append(np.repeat(keep, width))
        mask = np.concatenate(parts).reshape([1, -1] + [1] * (ranks[node.input[0]] - 2))
        out.graph.initializer.append(numpy_helper.from_array(mask, node.name + "_zeros"))
        node.op_type = "Mul"
        node.input.append(node.name + "_zeros")
    return out


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """onnxruntime without graph optimizations: each QDQ pair and layer computed as written (its
    fusions would turn a layer into an int8 one in one model and not in its masked twin)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return session.run(None, {model.graph.input[0].name: x})[0]


def dyadic_input(shape, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).integers(-8, 9, size=shape) * 0.25).astype(np.float32)


# The test models. Each returns (builder, the input shape).

def digits_like(seed=0, qdq=False):
    """conv-BN-relu, conv-relu, maxpool, conv-relu, flatten, gemm (the digits CNN's shape)."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 1, 8, 8])
    x = b.relu(b.bn(b.conv(x, 1, 6, name="c1"), 6))
    x = b.maxpool(b.relu(b.conv(b.mask(x, [("c1", 6, 1)]), 6, 8, name="c2")))
    x = b.relu(b.conv(b.mask(x, [("c2", 8, 1)]), 8, 8, name="c3"))
    b.output(b.gemm(b.mask(b.flatten(x), [("c3", 8, 16)]), 128, 10, name="fc"), [1, 10])
    return b, (1, 1, 8, 8)


def depthwise(seed=0, qdq=False, multiplier=1):
    """conv-relu, depthwise 3x3 (multiplier 1 or 2)-relu, pointwise-relu, global pool, gemm."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 3, 8, 8])
    x = b.relu(b.conv(x, 3, 6, name="c1"))
    d = b.relu(b.conv(x, 6, 6 * multiplier, group=6, name="dw"))
    x = b.relu(b.conv(b.mask(d, [("c1", 6, multiplier)]), 6 * multiplier, 8, k=1, name="pw"))
    x = b.flatten(b.gap(x))
    x = b.relu(b.gemm(b.mask(x, [("pw", 8, 1)]), 8, 12, name="fc1"))
    b.output(b.gemm(b.mask(x, [("fc1", 12, 1)]), 12, 4, name="fc2"), [1, 4])
    return b, (1, 3, 8, 8)


def concat(seed=0, qdq=False):
    """two convs of one input and the input itself concatenated, a conv, average pool, gemm."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 2, 8, 8])
    a = b.relu(b.conv(x, 2, 4, name="ca"))
    c = b.relu(b.conv(x, 2, 6, name="cb"))
    x = b.concat([a, x, c])
    x = b.relu(b.conv(b.mask(x, [("ca", 4, 1), (None, 2, 1), ("cb", 6, 1)]), 12, 6, name="cc"))
    x = b.flatten(b.avgpool(x))
    b.output(b.gemm(b.mask(x, [("cc", 6, 16)]), 96, 5, name="fc"), [1, 5])
    return b, (1, 2, 8, 8)


def residual(seed=0, qdq=False):
    """stem conv; a block conv-relu-conv added to the stem's output; a conv; pool; MatMul head."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 2, 8, 8])
    s = b.relu(b.conv(x, 2, 6, name="stem"))
    y = b.relu(b.conv(b.mask(s, [("stem", 6, 1)]), 6, 4, name="ra"))
    y = b.conv(b.mask(y, [("ra", 4, 1)]), 4, 6, name="rb")
    x = b.relu(b.add(s, y))
    x = b.relu(b.conv(b.mask(x, [("stem", 6, 1)]), 6, 8, name="cc"))
    x = b.flatten(b.gap(x))
    b.output(b.matmul(b.mask(x, [("cc", 8, 1)]), 8, 3, name="head"), [1, 3])
    return b, (1, 2, 8, 8)


def residual_to_output(seed=0):
    """both convs' channels reach the model output through a residual Add: nothing can go."""
    b = ModelBuilder(seed)
    x = b.input([1, 2, 8, 8])
    s = b.conv(x, 2, 4, name="stem")
    b.output(b.add(s, b.conv(b.relu(s), 4, 4, name="rb")), [1, 4, 8, 8])
    return b, (1, 2, 8, 8)


def layered(seed=0, qdq=False):
    """layers of many sizes for unstructured pruning: first conv (216 weights), 3x3 convs of
    1,152 and 2,304, a 1x1 conv of 64, a gemm of 2,048 and a small gemm of 320."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 3, 8, 8])
    x = b.relu(b.conv(x, 3, 8, name="c1"))
    x = b.relu(b.conv(x, 8, 16, name="c2"))
    x = b.relu(b.conv(x, 16, 16, name="c3"))
    x = b.maxpool(b.relu(b.conv(x, 16, 4, k=1, name="c4")))
    x = b.relu(b.gemm(b.flatten(x), 64, 32, name="fc1"))
    b.output(b.gemm(x, 32, 10, name="fc2"), [1, 10])
    return b, (1, 3, 8, 8)


def assorted(seed=0, qdq=False):
    """the rarer readers: PRelu and a per-channel Sub constant, a bias shared by two convs, a
    per-channel activation QuantizeLinear/DequantizeLinear pair (axis 1), a squeeze-excite
    Mul of two channel sets (joined), Reshape to [1, -1 as a number] and a Gemm with transB=0."""
    b = ModelBuilder(seed, qdq)
    x = b.input([1, 2, 8, 8])
    shared = b._const("shared_b", b._dyadic((6,), 0.25))
    a = b._node("Conv", [x, b._weight("ca_w", (6, 2, 3, 3)), shared], name="ca", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1])
    c = b._node("Conv", [x, b._weight("cb_w", (6, 2, 3, 3)), shared], name="cb", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1])
    a = b._node("PRelu", [a, b._const("slope", b._dyadic((6, 1, 1), 0.25))])
    c = b._node("Sub", [b.relu(c), b._const("offset", b._dyadic((1, 6, 1, 1), 0.25))])
    scale = b._const("act_scale", np.array([0.125, 0.25, 0.125, 0.5, 0.25, 0.125], np.float32))
    zp = b._const("act_zp", np.zeros(6, np.int8))
    c = b._node("DequantizeLinear", [b._node("QuantizeLinear", [c, scale, zp], axis=1), scale, zp], axis=1)
    x = b.relu(b.conv(b.mask(b.concat([a, c]), [("ca", 6, 1), ("cb", 6, 1)]), 12, 4, name="cc"))
    gate = b.relu(b.gemm(b.mask(b.flatten(b.gap(x)), [("cc", 4, 1)]), 4, 4, name="se"))   # one gate per channel
    gate = b._node("Unsqueeze", [gate, b._const("axes", np.array([2, 3], np.int64))])
    x = b._node("Mul", [x, gate])                                       # cc's and se's channels joined
    x = b._node("Reshape", [b.maxpool(x), b._const("shape", np.array([1, 64], np.int64))])
    b.output(b.gemm(b.mask(x, [("cc", 4, 16)]), 64, 3, name="fc", trans_b=0), [1, 3])
    return b, (1, 2, 8, 8)


MODELS = {"digits_like": digits_like, "depthwise": depthwise, "concat": concat, "residual": residual,
          "assorted": assorted}

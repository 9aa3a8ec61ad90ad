"""Small float32 ONNX DAGs whose execution order changes the peak of live bytes (schedule.py).

Each model lists its nodes breadth first, the way a graph exporter that walks the graph
level by level writes them: every branch's first layer, then every branch's second one.
That keeps all the branches' wide intermediate tensors live together, which a depth-first
order avoids.

    inception        x ─┬─ 1x1 ────────────┐
                        ├─ 1x1 ─ 3x3 ──────┤
                        ├─ 1x1 ─ 3x3 ──────┼─ concat ─ 1x1 ─ y
                        └─ maxpool ─ 1x1 ──┘

    fire             x ─ squeeze 1x1 ─┬─ expand 1x1 ─ pool ─┐
                     (twice)          └─ expand 3x3 ─ pool ─┴─ concat ─ ... ─ y

    branches         x ─┬─ 1x1 ───────────┐
                        ├─ 3x3 ───────────┼─ concat ─ 1x1 ─ y
                        └─ maxpool 3x3 ───┘

    se_residual      x ─┬─ 1x1 expand ─ hardswish ─ dw 3x3 ─┬─ GAP ─ 1x1 ─ relu ─ 1x1 ─ hardsigmoid ─┐
    (MobileNetV3)       │                                   └──────────────── mul ─────────────────────┴─ 1x1 ─┐
                        └─ 1x1 shortcut ───────────────────────── add ───────────────────────────────────────── y
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def weight(self, name, shape):
        fan_in = int(np.prod(shape[1:]))
        w = (self.rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(w, name))
        return name

    def conv(self, name, x, c_in, c_out, k=1, group=1, bias=True):
        inputs = [x, self.weight(f"{name}.w", (c_out, c_in // group, k, k))]
        if bias:
            b = self.rng.uniform(-0.5, 0.5, c_out).astype(np.float32)
            self.inits.append(numpy_helper.from_array(b, f"{name}.b"))
            inputs.append(f"{name}.b")
        self.nodes.append(helper.make_node("Conv", inputs, [name], name=name, kernel_shape=[k, k],
                                           pads=[k // 2] * 4, group=group))
        return name

    def op(self, op, name, inputs, **attrs):
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        return name

    def model(self, name, x_shape, y, y_shape):
        graph = helper.make_graph(self.nodes, name,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT, list(y_shape))],
                                  self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m


def inception(hw: int = 16):
    """Four branches of an inception block, breadth first; each 3x3 branch widens to 16
    channels before narrowing to 4."""
    b = _Builder(1)
    b1 = b.conv("b1", "x", 8, 4)
    b2a = b.conv("b2a", "x", 8, 16)
    b3a = b.conv("b3a", "x", 8, 16)
    b4a = b.op("MaxPool", "b4a", ["x"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    r2 = b.op("Relu", "r2", [b2a])
    r3 = b.op("Relu", "r3", [b3a])
    b2 = b.conv("b2", r2, 16, 4, k=3)
    b3 = b.conv("b3", r3, 16, 4, k=3)
    b4 = b.conv("b4", b4a, 8, 4)
    cat = b.op("Concat", "cat", [b1, b2, b3, b4], axis=1)
    b.conv("y", cat, 16, 8)
    return b.model("inception", (1, 8, hw, hw), "y", (1, 8, hw, hw))


def fire(hw: int = 16):
    """Two SqueezeNet fire modules (squeeze 1x1, expand 1x1 and 3x3, concat) whose expands
    are each pooled 2x2 (SqueezeNet's downsampling, moved before the concat), breadth first."""
    b = _Builder(2)
    x, c_in, size = "x", 8, hw
    for i in (1, 2):
        s = b.op("Relu", f"s{i}r", [b.conv(f"s{i}", x, c_in, 4)])
        ea, eb = b.conv(f"e{i}a", s, 4, 16), b.conv(f"e{i}b", s, 4, 16, k=3)
        ea, eb = b.op("Relu", f"e{i}ar", [ea]), b.op("Relu", f"e{i}br", [eb])
        pa = b.op("MaxPool", f"p{i}a", [ea], kernel_shape=[2, 2], strides=[2, 2])
        pb = b.op("MaxPool", f"p{i}b", [eb], kernel_shape=[2, 2], strides=[2, 2])
        x, c_in, size = b.op("Concat", "y" if i == 2 else f"c{i}", [pa, pb], axis=1), 32, size // 2
    return b.model("fire", (1, 8, hw, hw), "y", (1, 32, size, size))


def se_residual(hw: int = 16):
    """A MobileNetV3 block that widens 8 -> 16 channels: 1x1 expand, hardswish, depthwise 3x3,
    squeeze-excite (global average pool, 1x1, relu, 1x1, hardsigmoid, mul), 1x1 project,
    and a residual through a 1x1 projection shortcut, which the file lists first."""
    b = _Builder(3)
    sc = b.conv("shortcut", "x", 8, 16, bias=False)
    e = b.op("HardSwish", "ehs", [b.conv("expand", "x", 8, 32)])
    d = b.conv("dw", e, 32, 32, k=3, group=32)
    g = b.op("GlobalAveragePool", "gap", [d])
    f1 = b.op("Relu", "f1r", [b.conv("f1", g, 32, 8)])
    se = b.op("HardSigmoid", "hsig", [b.conv("f2", f1, 8, 32)], alpha=1.0 / 6, beta=0.5)
    m = b.op("Mul", "se", [d, se])
    p = b.conv("project", m, 32, 16, bias=False)
    b.op("Add", "y", [p, sc])
    return b.model("se_residual", (1, 8, hw, hw), "y", (1, 16, hw, hw))


def branches(hw: int = 16):
    """Three branches that each keep the input's width (1x1, 3x3, max pool), concatenated, then a
    1x1: the Concat's step is the peak (its inputs and its output live together), unless the
    branches write straight into their slices of its output (concat_views.py)."""
    b = _Builder(4)
    b1 = b.conv("b1", "x", 8, 8)
    b2 = b.conv("b2", "x", 8, 8, k=3)
    b3 = b.op("MaxPool", "b3", ["x"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    cat = b.op("Concat", "cat", [b1, b2, b3], axis=1)
    b.conv("y", cat, 24, 8)
    return b.model("branches", (1, 8, hw, hw), "y", (1, 8, hw, hw))


MODELS = {"inception": inception, "fire": fire, "se_residual": se_residual}
# A DAG whose file order is already the best one (not for test_schedule.py's order tests)
CONCAT_MODELS = {"branches": branches}

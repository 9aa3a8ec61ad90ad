"""Small binary (XNOR) ONNX models in the pattern of README "Binary layers", built with onnx.helper.

A float first conv, binary layers whose inputs are Sign outputs and whose weights are +-1
(optionally through a Sign of real weights, which folds at load time), a per-channel alpha
(Mul), BatchNormalization, Sign again (bits -> bits), max pooling on bits, a binary fully
connected layer after a Flatten, and a float last layer reading the bits as +-1."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class BinaryModel:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.count = 0

    def name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def const(self, value, kind="c"):
        n = self.name(kind)
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), n))
        return n

    def node(self, op, inputs, **attrs):
        n = self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [n + "_out"], name=n, **attrs))
        return n + "_out"

    def pm1(self, shape, through_sign=False):
        """+-1 weights, or real weights under a Sign node (folded by the loader)."""
        w = self.rng.standard_normal(shape).astype(np.float32)
        if through_sign:
            return self.node("Sign", [self.const(w + np.float32(1e-3) * np.sign(w), "w_real")])
        return self.const(np.where(w >= 0, 1.0, -1.0), "w")

    def batchnorm(self, x, c, spread=1.0):
        """BatchNorm with random statistics centred where the sums of +-1 products fall."""
        r = self.rng
        params = [r.uniform(0.5, 1.5, c) * np.where(r.random(c) < 0.2, -1, 1), r.uniform(-1, 1, c),
                  r.normal(0, spread, c), r.uniform(0.5, 2.0, c) * spread ** 2]
        return self.node("BatchNormalization", [x, *(self.const(p, "bn") for p in params)], epsilon=1e-5)

    def conv(self, x, w, pads=(1, 1, 1, 1), strides=(1, 1)):
        return self.node("Conv", [x, w], pads=list(pads), strides=list(strides))

    def alpha(self, x, c, rank=4):
        shape = (1, c, 1, 1) if rank == 4 else (c,)
        return self.node("Mul", [x, self.const(self.rng.uniform(0.05, 0.5, shape), "alpha")])

    def model(self, x_shape, out, out_shape, domains=()):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
        graph = helper.make_graph(self.nodes, "binary", [x],
                                  [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]
                              + [helper.make_opsetid(d, 1) for d in domains])
        onnx.checker.check_model(m)
        return m


def binary_cnn(seed: int = 0, c1: int = 16, c2: int = 33, c3: int = 40, fc: int = 64, size: int = 12,
               classes: int = 10, through_sign: bool = False) -> onnx.ModelProto:
    """x [1, 1, size, size] -> float conv 3x3 + BN -> Sign -> binary conv 3x3 (pad 1) + alpha + BN -> Sign
    -> MaxPool 2x2 (bits) -> binary conv 3x3 stride 2 (pad 1) + BN -> Sign -> Flatten -> binary Gemm
    + BN -> Sign -> float Gemm -> [1, classes]."""
    m = BinaryModel(seed)
    r = m.rng
    y = m.conv("x", m.const(r.standard_normal((c1, 1, 3, 3)) * 0.5, "w_float"))
    y = m.node("Sign", [m.batchnorm(y, c1)])
    y = m.conv(y, m.pm1((c2, c1, 3, 3), through_sign))
    y = m.node("Sign", [m.batchnorm(m.alpha(y, c2), c2, spread=3.0)])
    y = m.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = m.conv(y, m.pm1((c3, c2, 3, 3), through_sign), strides=(2, 2))
    y = m.node("Sign", [m.batchnorm(y, c3, spread=4.0)])
    half = (size // 2 + 1) // 2
    y = m.node("Flatten", [y], axis=1)
    w = np.where(r.standard_normal((c3 * half * half, fc)) >= 0, 1.0, -1.0)
    y = m.node("MatMul", [y, m.const(w, "w_fc")])
    y = m.node("Sign", [m.batchnorm(y, fc, spread=8.0)])
    w_last = m.const(r.standard_normal((classes, fc)) * 0.1, "w_last")
    y = m.node("Gemm", [y, w_last, m.const(r.normal(0, 0.1, classes))], transB=1)
    return m.model([1, 1, size, size], y, [1, classes])


def random_input(model, seed=0) -> np.ndarray:
    """A standard normal input of the model's input shape."""
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


QONNX = "qonnx.custom_op.general"


def qonnx_cnn(seed: int = 0, qonnx: bool = True, c1: int = 8, c2: int = 20, fc: int = 12,
              size: int = 8) -> onnx.ModelProto:
    """The Brevitas/QONNX form: BipolarQuant(x, scale) on activations (scale 0.5) and on the
    weights (per-output-channel scales, i.e. +-alpha filters), x [1, 2, size, size] -> float conv
    -> BN -> BipolarQuant -> conv (pad 1, stride 2) -> BN -> BipolarQuant -> Flatten -> Gemm ->
    output. qonnx=False writes the onnxruntime twin: Sign(x) * scale and the weights' values
    (the same wherever no BipolarQuant reads an exact 0)."""
    m = BinaryModel(seed)
    r = m.rng

    def quant(x, scale):
        s = m.const(scale, "scale")
        if qonnx:
            n = m.name("bipolarquant")
            m.nodes.append(helper.make_node("BipolarQuant", [x, s], [n + "_out"], name=n, domain=QONNX))
            return n + "_out"
        return m.node("Mul", [m.node("Sign", [x]), s])

    def weights(shape):
        alpha = r.uniform(0.1, 1.0, (shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
        w = r.standard_normal(shape).astype(np.float32)
        if qonnx:
            return quant(m.const(w, "w_real"), alpha)
        return m.const(np.where(w >= 0, 1.0, -1.0) * alpha, "w")

    y = m.conv("x", m.const(r.standard_normal((c1, 2, 3, 3)) * 0.5, "w_float"))
    y = quant(m.batchnorm(y, c1), np.float32(0.5))
    y = m.conv(y, weights((c2, c1, 3, 3)), strides=(2, 2))
    y = quant(m.batchnorm(y, c2, spread=2.0), np.float32(1.0))
    y = m.node("Flatten", [y], axis=1)
    half = (size + 1) // 2
    y = m.node("Gemm", [y, weights((fc, c2 * half * half))], transB=1)
    return m.model([1, 2, size, size], y, [1, fc], domains=(QONNX,) if qonnx else ())

"""The binary model fixtures (tests/fixtures/make_binary_models.py) hold the graphs its docstring
says PyTorch and Brevitas write: which layers are binary, in which form their ±1 weights come
(Sign(constant), a ±1 constant, BipolarQuant(constant, scale)), and the α / bias / BN after them.
Read with onnx only: neither torch nor brevitas is needed. The PyTorch ones also run in
onnxruntime and give the outputs torch recorded (the inputs reach no Sign as an exact 0).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from support.paths import FIXTURES

QONNX_DOMAIN = "qonnx.custom_op.general"
TORCH = ("torch_sign", "torch_sign_nofold", "torch_pm1_nofold", "torch_pm1")
BREVITAS = ("brevitas", "brevitas_dynamo")


class Graph:
    def __init__(self, name: str):
        self.model = onnx.load(str(FIXTURES / f"binary_cnn.{name}.onnx"))
        self.inits = {t.name: numpy_helper.to_array(t) for t in self.model.graph.initializer}
        self.producer = {o: n for n in self.model.graph.node for o in n.output}
        self.consumers = {}
        for n in self.model.graph.node:
            for x in n.input:
                self.consumers.setdefault(x, []).append(n)

    def layers(self):
        """The Conv/Gemm/MatMul nodes with a constant-rooted weight, in graph order."""
        return [n for n in self.model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]

    def source(self, name: str) -> tuple[list[str], np.ndarray | None, np.ndarray | None]:
        """The ops between a tensor and the initializer it comes from, that initializer, and the scale
        input of a BipolarQuant on the way."""
        ops, scale = [], None
        while name not in self.inits:
            node = self.producer.get(name)
            if node is None:
                return ops, None, scale
            ops.append(node.op_type)
            if node.op_type == "BipolarQuant":
                scale = self.inits[node.input[1]]
            name = node.input[0]
        return ops, self.inits[name], scale

    def data_op(self, layer) -> str:
        node = self.producer.get(layer.input[0])
        return node.op_type if node is not None else "input"

    def after(self, layer) -> list[str]:
        """The ops that read the layer's output, following single consumers up to 3 deep."""
        ops, name = [], layer.output[0]
        for _ in range(3):
            readers = self.consumers.get(name, [])
            if len(readers) != 1:
                break
            ops.append(readers[0].op_type)
            name = readers[0].output[0]
        return ops


def _pm1(a) -> bool:
    return a is not None and set(np.unique(a).tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("name", TORCH)
def test_torch_fixtures_have_float_ends_and_three_sign_layers(name):
    g = Graph(name)
    layers = g.layers()
    assert [g.data_op(n) for n in layers] == ["input", "Sign", "Sign", "Sign", "Relu"]
    first, last = layers[0], layers[-1]
    assert g.source(first.input[1])[0] == [] and g.source(last.input[1])[0] == []   # float weights
    conv2, conv3, fc1 = layers[1:4]
    assert (conv2.op_type, conv3.op_type, fc1.op_type) == ("Conv", "Conv", "MatMul")
    assert g.after(conv2)[:2] == ["Mul", "BatchNormalization"]
    assert g.inits[g.consumers[conv2.output[0]][0].input[1]].shape == (1, 16, 1, 1)     # α per channel
    assert g.after(fc1) == ["Mul", "Add", "Relu"]
    assert g.inits[g.consumers[fc1.output[0]][0].input[1]].shape == (16,)
    ops = {n: g.source(layer.input[1]) for n, layer in (("conv2", conv2), ("conv3", conv3), ("fc1", fc1))}
    if name.startswith("torch_sign"):       # Sign(float initializer), folding on or off
        assert {n: o for n, (o, _, _) in ops.items()} == {"conv2": ["Sign"], "conv3": ["Sign"],
                                                          "fc1": ["Transpose", "Sign"]}
        assert not any(_pm1(w) for _, w, _ in ops.values())
        assert g.after(conv3)[0] == "BatchNormalization"
    elif name == "torch_pm1_nofold":        # ±1 initializers; fc1's still under its Transpose
        assert {n: o for n, (o, _, _) in ops.items()} == {"conv2": [], "conv3": [], "fc1": ["Transpose"]}
        assert all(_pm1(w) for _, w, _ in ops.values())
    else:                                   # folding on: BN3 folded into conv3, which is no longer ±1
        assert all(o == [] for o, _, _ in ops.values())
        assert _pm1(ops["conv2"][1]) and _pm1(ops["fc1"][1]) and ops["fc1"][1].shape == (128, 16)
        w3 = ops["conv3"][1]
        assert not _pm1(w3) and len(conv3.input) == 3
        magnitudes = np.abs(w3).reshape(w3.shape[0], -1)
        assert np.allclose(magnitudes, magnitudes[:, :1])         # ±s_c: one magnitude per output channel
    bn_count = sum(n.op_type == "BatchNormalization" for n in g.model.graph.node)
    assert bn_count == {"torch_sign": 2, "torch_sign_nofold": 3, "torch_pm1_nofold": 3, "torch_pm1": 1}[name]


@pytest.mark.parametrize("name", TORCH)
def test_torch_fixtures_give_torch_outputs_in_onnxruntime(name):
    data = np.load(FIXTURES / f"binary_cnn.{name}.npz")
    session = ort.InferenceSession(str(FIXTURES / f"binary_cnn.{name}.onnx"), providers=["CPUExecutionProvider"])
    got = np.stack([session.run(None, {"input": x})[0] for x in data["inputs"]])
    np.testing.assert_allclose(got, data["outputs"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", BREVITAS)
def test_brevitas_fixtures_use_bipolar_quant(name):
    g = Graph(name)
    assert any(o.domain == QONNX_DOMAIN for o in g.model.opset_import)
    quants = [n for n in g.model.graph.node if n.op_type == "BipolarQuant"]
    assert len(quants) == 6 and all(n.domain == QONNX_DOMAIN for n in quants)
    layers = g.layers()
    assert [g.data_op(n) for n in layers] == ["input", "BipolarQuant", "BipolarQuant", "BipolarQuant", "Relu"]
    assert [n.op_type for n in layers] == ["Conv", "Conv", "Conv", "Gemm", "Gemm"]
    for layer in layers[1:4]:
        act = g.producer[layer.input[0]]
        assert g.inits[act.input[1]].tolist() == [1.0]          # activations: ±1
        ops, weight, scale = g.source(layer.input[1])
        assert ops == ["BipolarQuant"] and scale.tolist() == [pytest.approx(0.1)]   # weights: ±0.1
        assert weight.dtype == np.float32 and not _pm1(weight) and np.abs(weight).max() <= 0.1 + 1e-7
    assert [g.after(n)[0] for n in layers[1:3]] == ["BatchNormalization", "BatchNormalization"]
    assert len(layers[3].input) == 3        # fc1: Gemm with its bias as C

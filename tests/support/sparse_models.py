"""Pruned ONNX test models for the CSR kernels: ordinary dense models whose weights are
mostly zero (random magnitude-free pruning at a given sparsity), float and int8 QDQ (the float
model quantized by firmnet.compress.quantize_int8: symmetric weights keep their zeros).

  fc_model    input [1, 640] -> Gemm 640 -> 128 (AD01's first layer) -> Relu -> Gemm 128 -> 10
  pw_model    input [1, 64, 25, 5] -> 1x1 Conv 64 -> 64 (KWS's pointwise layer) -> Relu
              -> 1x1 Conv 64 -> 32
  conv_model  input [1, 8, 12, 10] -> 3x3 Conv 8 -> 16, padding 1 -> Relu -> 3x3 Conv 16 -> 16,
              stride 2, padding (1, 0, 1, 1), dilation (1, 2): fn_conv2d_s8_csr's windows inside
              the input and reaching into the padding
The first layer of each is pruned to `sparsity`, the second to `second` (10 % by default:
a layer where the dense kernel stays cheaper)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from firmnet.compress.quantize import quantize_int8


def pruned(rng, shape, sparsity: float) -> np.ndarray:
    w = rng.standard_normal(shape).astype(np.float32) * 0.1
    w[rng.random(shape) < sparsity] = 0.0
    return w


def _model(nodes, inits, x_shape, y_shape, name) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                              [numpy_helper.from_array(a, n) for n, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def fc_model(sparsity: float, second: float = 0.1, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = {"w1": pruned(rng, (128, 640), sparsity), "b1": rng.standard_normal(128).astype(np.float32) * 0.1,
             "w2": pruned(rng, (10, 128), second), "b2": rng.standard_normal(10).astype(np.float32) * 0.1}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1)]
    return _model(nodes, inits, [1, 640], [1, 10], "sparse_fc")


def pw_model(sparsity: float, second: float = 0.1, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = {"w1": pruned(rng, (64, 64, 1, 1), sparsity), "b1": rng.standard_normal(64).astype(np.float32) * 0.1,
             "w2": pruned(rng, (32, 64, 1, 1), second), "b2": rng.standard_normal(32).astype(np.float32) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], name="pw1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2", "b2"], ["y"], name="pw2")]
    return _model(nodes, inits, [1, 64, 25, 5], [1, 32, 25, 5], "sparse_pw")


def conv_model(sparsity: float, second: float = 0.1, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = {"w1": pruned(rng, (16, 8, 3, 3), sparsity), "b1": rng.standard_normal(16).astype(np.float32) * 0.1,
             "w2": pruned(rng, (16, 16, 3, 3), second), "b2": rng.standard_normal(16).astype(np.float32) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2", "b2"], ["y"], name="conv2", strides=[2, 2], pads=[1, 0, 1, 1],
                              dilations=[1, 2])]
    return _model(nodes, inits, [1, 8, 12, 10], [1, 16, 6, 4], "sparse_conv")


def write(model: onnx.ModelProto, path: Path, int8: bool, seed: int = 1) -> Path:
    """The model at path (.onnx); int8: quantized (QDQ) on 16 standard-normal calibration inputs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not int8:
        onnx.save(model, str(path))
        return path
    float_path = path.with_suffix(".float.onnx")
    onnx.save(model, str(float_path))
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    calib = path.with_suffix(".calib.npz")
    np.savez(calib, x=np.random.default_rng(seed).standard_normal([16, *shape[1:]]).astype(np.float32))
    return quantize_int8(float_path, calib, path)

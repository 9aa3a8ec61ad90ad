"""A small float VGG-style ONNX model for the Winograd float kernels (tests/test_kernels_winograd_f32.py,
bench/winograd_float.py): 3x3 convolutions with padding 1 and ReLU in blocks, max pooling between
them, global average pooling and a fully connected classifier.

  vgg_model(hw=32, widths=((16, 16), (32, 32), (64, 64)))
    input [1, 3, hw, hw] -> conv 3->16, 16->16, maxpool 2 -> conv 16->32, 32->32, maxpool 2
    -> conv 32->64, 64->64 -> global average pool -> Gemm 64 -> 10
Weights He-normal (seeded), biases small: activations stay of order 1 through the layers."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTHS = ((16, 16), (32, 32), (64, 64))


def conv_names(widths=WIDTHS) -> list[str]:
    """The 3x3 layers' node names, in order."""
    return [f"conv{b + 1}_{k + 1}" for b, block in enumerate(widths) for k in range(len(block))]


def vgg_model(hw: int = 32, widths=WIDTHS, classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x, c = "x", 3
    for b, block in enumerate(widths):
        if b:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{b}"], name=f"pool{b}", kernel_shape=[2, 2],
                                          strides=[2, 2]))
            x = f"pool{b}"
        for k, oc in enumerate(block):
            name = f"conv{b + 1}_{k + 1}"
            w = (rng.standard_normal((oc, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
            inits += [numpy_helper.from_array(w, f"{name}.w"),
                      numpy_helper.from_array((rng.standard_normal(oc) * 0.05).astype(np.float32), f"{name}.b")]
            nodes += [helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.y"], name=name,
                                       pads=[1, 1, 1, 1]),
                      helper.make_node("Relu", [f"{name}.y"], [f"{name}.r"], name=f"{name}.relu")]
            x, c = f"{name}.r", oc
    fc_w = (rng.standard_normal((classes, c)) * np.sqrt(1.0 / c)).astype(np.float32)
    inits += [numpy_helper.from_array(fc_w, "fc.w"), numpy_helper.from_array(np.zeros(classes, np.float32), "fc.b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "vgg_float",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

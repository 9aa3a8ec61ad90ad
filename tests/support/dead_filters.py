"""Small CNNs with dead filters (all-zero weights), float ONNX and int8 QDQ, built with onnx.helper.

A model is a list of layer specs applied in order to an NCHW input:
  ("conv", out_channels, kernel, stride, pad)   Conv (groups 1), then ReLU
  ("conv_linear", out_channels, kernel, stride, pad)   Conv without activation
  ("dw", kernel, stride, pad)                    depthwise Conv (group = channels), then ReLU
  ("maxpool", kernel, stride) / ("avgpool", kernel, stride) / ("gap",)
  ("flatten",)                                   Flatten, for the fully connected layers after it
  ("fc", out_features, relu)                     Gemm (transB), with or without ReLU
  ("add_self",)                                  Add of the tensor with itself (a two-activation Add)
  ("concat_self",)                               Concat of the tensor with itself along the channels
  ("residual",)                                  x + ReLU(Conv1x1(x)) (same channels): a residual Add
dead = {layer index: filters whose weights are all zero}. Weights are N(0, 1/fan_in); biases
are N(0, bias_std) (both signs: a dead filter with a negative bias after ReLU is a constant 0,
with a positive one a constant act(bias)). The int8 model is onnxruntime's quantize_static
(QDQ, int8 activations and per-channel symmetric int8 weights, MinMax calibration) of the
float one, so dead filters stay all-zero int8 weights with a quantized int32 bias.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def float_model(layers, input_shape, dead=None, seed=0, bias_std=0.5, dead_bias=None) -> onnx.ModelProto:
    """dead_bias: the bias of every dead filter (default: random like the others)."""
    rng = np.random.default_rng(seed)
    dead = dead or {}
    nodes, inits = [], []
    x, (n, c, h, w) = "input", input_shape
    flat = None

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def relu(i, y):
        nodes.append(helper.make_node("Relu", [y], [f"l{i}_relu"]))
        return f"l{i}_relu"

    for i, spec in enumerate(layers):
        kind = spec[0]
        if kind in ("conv", "conv_linear", "dw"):
            if kind == "dw":
                k, stride, pad = spec[1:]
                oc, cg, group = c, 1, c
            else:
                oc, k, stride, pad = spec[1:]
                cg, group = c, 1
            wt = rng.standard_normal((oc, cg, k, k)) / np.sqrt(cg * k * k)
            wt[list(dead.get(i, ()))] = 0
            b = _bias(rng, oc, bias_std, dead.get(i, ()), dead_bias)
            nodes.append(helper.make_node("Conv", [x, const(f"l{i}_w", wt), const(f"l{i}_b", b)], [f"l{i}"],
                                          name=f"layer{i}", kernel_shape=[k, k], strides=[stride] * 2,
                                          pads=[pad] * 4, group=group))
            x, c = f"l{i}", oc
            h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if kind != "conv_linear":
                x = relu(i, x)
        elif kind in ("maxpool", "avgpool"):
            k, stride = spec[1:]
            op = "MaxPool" if kind == "maxpool" else "AveragePool"
            nodes.append(helper.make_node(op, [x], [f"l{i}"], kernel_shape=[k, k], strides=[stride] * 2))
            x, h, w = f"l{i}", (h - k) // stride + 1, (w - k) // stride + 1
        elif kind == "gap":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [f"l{i}"]))
            x, h, w = f"l{i}", 1, 1
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [f"l{i}"], axis=1))
            x, flat = f"l{i}", c * h * w
        elif kind == "fc":
            out, with_relu = spec[1:]
            wt = rng.standard_normal((out, flat)) / np.sqrt(flat)
            wt[list(dead.get(i, ()))] = 0
            b = _bias(rng, out, bias_std, dead.get(i, ()), dead_bias)
            nodes.append(helper.make_node("Gemm", [x, const(f"l{i}_w", wt), const(f"l{i}_b", b)], [f"l{i}"],
                                          name=f"layer{i}", transB=1))
            x, flat = f"l{i}", out
            if with_relu:
                x = relu(i, x)
        elif kind == "residual":
            wt = rng.standard_normal((c, c, 1, 1)) / np.sqrt(c)
            wt[list(dead.get(i, ()))] = 0
            b = _bias(rng, c, bias_std, dead.get(i, ()), dead_bias)
            nodes.append(helper.make_node("Conv", [x, const(f"l{i}_w", wt), const(f"l{i}_b", b)], [f"l{i}_conv"],
                                          name=f"layer{i}"))
            nodes.append(helper.make_node("Add", [x, relu(i, f"l{i}_conv")], [f"l{i}"]))
            x = f"l{i}"
        elif kind == "concat_self":
            nodes.append(helper.make_node("Concat", [x, x], [f"l{i}"], axis=1))
            x, c = f"l{i}", 2 * c
        elif kind == "add_self":
            nodes.append(helper.make_node("Add", [x, x], [f"l{i}"]))
            x = f"l{i}"
        else:
            raise ValueError(f"unknown layer kind {kind}")
    nodes.append(helper.make_node("Identity", [x], ["output"]))
    graph = helper.make_graph(nodes, "dead_filters", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                    list(input_shape))],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _bias(rng, count, std, dead, dead_bias):
    b = rng.standard_normal(count) * std
    if dead_bias is not None:
        b[list(dead)] = dead_bias
    return b


def calibration(input_shape, count=16, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, *input_shape)).astype(np.float32)


def qdq_model(model: onnx.ModelProto, input_shape, tmp_dir, seed=1) -> onnx.ModelProto:
    """onnxruntime's quantize_static of the float model (module docstring)."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter({"input": x[None]} for x in calibration(input_shape[1:], seed=seed))

        def get_next(self):
            return next(self._it, None)

    src, dst = f"{tmp_dir}/float.onnx", f"{tmp_dir}/qdq.onnx"
    onnx.save(model, src)
    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax)
    return onnx.load(dst)


def sample_inputs(input_shape, count=3, seed=2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(input_shape).astype(np.float32) for _ in range(count)]

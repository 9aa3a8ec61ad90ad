"""int8 .tflite models with the shapes of MLPerf Tiny's reference models, built with
tflite_models.Builder (random weights, every activation calibrated with TFLM as the converter
calibrates): for kernel tests and benchmarks that need a realistic layer mix, not accuracy.

resnet8_model: the image classification model (MLPerf Tiny IC, ResNet-8 on CIFAR-10):
    input 32x32x3
    conv 3x3 -> 16, stride 1, ReLU
    stack 1: conv 3x3 16 -> 16 s1 ReLU; conv 3x3 16 -> 16 s1; ADD with the stack's input; ReLU
    stack 2: conv 3x3 16 -> 32 s2 ReLU; conv 3x3 32 -> 32 s1; shortcut conv 1x1 16 -> 32 s2; ADD; ReLU
    stack 3: conv 3x3 32 -> 64 s2 ReLU; conv 3x3 64 -> 64 s1; shortcut conv 1x1 32 -> 64 s2; ADD; ReLU
    average pool 8x8, fully connected 64 -> 10, softmax
(padding SAME throughout, batch norm folded into the convolutions as the converter does.)
"""
from __future__ import annotations

import numpy as np

from support.tflite_models import (Builder, _options, binary_layer, conv2d_layer, fc_layer, input_quant,
                                   pool_layer)


def residual_stack(b: Builder, rng, x, width: int, stride: int, calibrate, name: str):
    """ResNet v1's basic block as MLPerf Tiny's ResNet-8 writes it: conv 3x3 (stride) ReLU, conv
    3x3, a 1x1 (stride) shortcut convolution when the shape changes, ADD, ReLU."""
    conv = dict(bias_gain=0.3)
    y = calibrate(conv2d_layer(b, rng, x, width, strides=(stride, stride), act="RELU", name=f"{name}_conv1", **conv),
                  "RELU")
    y = calibrate(conv2d_layer(b, rng, y, width, name=f"{name}_conv2", **conv))
    shortcut = x
    if stride != 1 or x.shape[-1] != width:
        shortcut = calibrate(conv2d_layer(b, rng, x, width, kernel=(1, 1), strides=(stride, stride),
                                          name=f"{name}_shortcut", **conv))
    return calibrate(binary_layer(b, rng, "ADD", y, shortcut, "RELU", name=f"{name}_add"), "RELU")


def resnet8_model(seed: int = 0, input_hw: int = 32, widths=(16, 32, 64), classes: int = 10,
                  calibration_inputs: int = 16) -> bytes:
    """MLPerf Tiny's ResNet-8 shapes (module docstring) as an int8 TFLite model; input_hw, widths
    and classes change the size (the stages' strides stay 1, 2, 2)."""
    rng, b = np.random.default_rng(seed), Builder()

    def calibrate(t, act="NONE"):
        return b.calibrate(t, act, n=calibration_inputs, seed=seed % 1000)

    x = b.input((1, input_hw, input_hw, 3), input_quant(rng))
    y = calibrate(conv2d_layer(b, rng, x, widths[0], act="RELU", name="conv0", bias_gain=0.3), "RELU")
    for k, width in enumerate(widths):
        y = residual_stack(b, rng, y, width, 1 if k == 0 else 2, calibrate, f"stack{k + 1}")
    side = y.shape[1]
    p = pool_layer(b, y, "avg", (side, side), (side, side), "VALID")
    flat = b.op("RESHAPE", [p, b.const(np.array([-1, widths[-1]], np.int32), "shape")],
                [b.act((1, widths[-1]), p.q, "flat")], _options("ReshapeOptionsT", newShape=[-1, widths[-1]]))
    logits = calibrate(fc_layer(b, rng, flat, classes, per_channel=True, bias_gain=0.3, name="fc"))
    return b.build(b.op("SOFTMAX", [logits], [b.act((1, classes), (1 / 256, -128), "probs")],
                        _options("SoftmaxOptionsT", beta=1.0)))

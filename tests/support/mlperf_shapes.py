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

vww_model: the visual wake words model (MLPerf Tiny VWW, MobileNetV1 at width 0.25):
    input 96x96x3
    conv 3x3 -> 8, stride 2, ReLU6
    13 pairs of depthwise 3x3 (ReLU6) and pointwise 1x1 (ReLU6), output channels
    16, 32, 32, 64, 64, 128, 128 x 5, 256, 256; the depthwise strides 1, 2, 1, 2, 1, 2, 1 x 5, 2, 1
    average pool 3x3, fully connected 256 -> 2, softmax

mbv3_model: a MobileNetV3-small-style model (hard swish, squeeze-excite, residual ADDs; the
element-wise ops are a large share of its instructions):
    input 96x96x3
    conv 3x3 -> 16, stride 2, HARD_SWISH
    bneck blocks (expand 1x1, depthwise k x k, optional squeeze-excite, project 1x1 linear,
    ADD with the block's input where the shapes match), as (expand, out, kernel, stride, SE,
    activation): (16, 16, 3, 2, SE, ReLU), (72, 24, 3, 2, -, ReLU), (88, 24, 3, 1, -, ReLU),
    (96, 40, 5, 2, SE, hard swish), (240, 40, 5, 1, SE, hard swish)
    squeeze-excite: MEAN over H and W, conv 1x1 -> C/4 ReLU, conv 1x1 -> C, LOGISTIC, MUL
    conv 1x1 -> 144, HARD_SWISH, average pool 6x6, fully connected 144 -> classes, softmax
"""
from __future__ import annotations

import numpy as np

from support.tflite_models import (Builder, _options, binary_layer, conv2d_layer, fc_layer, input_quant,
                                   pool_layer, quant_from_range, real_range)


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


def _head(b: Builder, rng, y, classes: int, calibrate):
    """Average pool over the whole map, fully connected -> classes, softmax."""
    side, width = y.shape[1], y.shape[-1]
    p = pool_layer(b, y, "avg", (side, side), (side, side), "VALID")
    flat = b.op("RESHAPE", [p, b.const(np.array([-1, width], np.int32), "shape")],
                [b.act((1, width), p.q, "flat")], _options("ReshapeOptionsT", newShape=[-1, width]))
    logits = calibrate(fc_layer(b, rng, flat, classes, per_channel=True, bias_gain=0.3, name="fc"))
    return b.build(b.op("SOFTMAX", [logits], [b.act((1, classes), (1 / 256, -128), "probs")],
                        _options("SoftmaxOptionsT", beta=1.0)))


VWW_PAIRS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1), (128, 1),
             (128, 1), (256, 2), (256, 1))      # (pointwise output channels, depthwise stride)


def vww_model(seed: int = 0, input_hw: int = 96, classes: int = 2, calibration_inputs: int = 8) -> bytes:
    """MLPerf Tiny's VWW shapes (MobileNetV1 0.25, module docstring) as an int8 TFLite model."""
    rng, b = np.random.default_rng(seed), Builder()

    def calibrate(t, act="NONE"):
        return b.calibrate(t, act, n=calibration_inputs, seed=seed % 1000)

    x = b.input((1, input_hw, input_hw, 3), input_quant(rng))
    y = calibrate(conv2d_layer(b, rng, x, 8, strides=(2, 2), act="RELU6", name="conv0", bias_gain=0.3), "RELU6")
    for k, (width, stride) in enumerate(VWW_PAIRS):
        y = calibrate(conv2d_layer(b, rng, y, y.shape[-1], strides=(stride, stride), act="RELU6", depthwise=True,
                                   name=f"dw{k + 1}", bias_gain=0.3), "RELU6")
        y = calibrate(conv2d_layer(b, rng, y, width, kernel=(1, 1), act="RELU6", name=f"pw{k + 1}", bias_gain=0.3),
                      "RELU6")
    return _head(b, rng, y, classes, calibrate)


def _hard_swish(b: Builder, x, calibrate, name: str):
    """HARD_SWISH with the output range of the (calibrated) input's: [-0.375, hswish(hi)]
    (calibrating it would widen forever: its minimum -0.375 is reached, at -128)."""
    lo, hi = real_range(x.q)
    y = b.act(x.shape, quant_from_range(-0.375, max(hi, 0.5) * min(max(hi + 3, 0), 6) / 6), f"{name}/out")
    return b.op("HARD_SWISH", [x], [y])


def _activation(b: Builder, rng, y, act: str, calibrate, name: str):
    """y after a conv that did not fuse act: ReLU is fused by the caller, hard swish is its own op."""
    return _hard_swish(b, y, calibrate, name) if act == "HS" else y


def _fit(b: Builder, t, n: int, seed: int):
    """Set t's quantization from the values it takes (TFLM, n random inputs), in one pass: for
    tensors whose first estimate already holds every value (a mean, or a product with a gate in
    [0, 1], quantized like their input), where Builder.calibrate's saturation check would widen
    forever on a channel sitting at the range's floor."""
    from support.tflite_oracle import Tflm, random_inputs
    model = b.build(t)
    y = Tflm(model).run(random_inputs(model, n, seed))[0].astype(np.float64)
    real = (y - t.q[1]) * t.q[0]
    b.requantize(t, quant_from_range(real.min(), real.max()))
    return t


def _squeeze_excite(b: Builder, rng, x, calibrate, fit, name: str):
    """MEAN over H, W (keep dims), 1x1 -> C/4 ReLU, 1x1 -> C, LOGISTIC, MUL with x."""
    c = x.shape[-1]
    m = b.act((1, 1, 1, c), x.q, f"{name}/mean")
    m = fit(b.op("MEAN", [x, b.const(np.array([1, 2], np.int32), f"{name}/axes")], [m],
                 _options("ReducerOptionsT", keepDims=True)))
    s = calibrate(conv2d_layer(b, rng, m, max(c // 4, 8), kernel=(1, 1), act="RELU", name=f"{name}/reduce",
                               bias_gain=0.3), "RELU")
    s = calibrate(conv2d_layer(b, rng, s, c, kernel=(1, 1), name=f"{name}/expand", bias_gain=0.3))
    g = b.op("LOGISTIC", [s], [b.act(s.shape, (1 / 256, -128), f"{name}/gate")])
    return fit(binary_layer(b, rng, "MUL", x, g, out_q=x.q, name=f"{name}/scale"))


MBV3_BLOCKS = ((16, 16, 3, 2, True, "RELU"), (72, 24, 3, 2, False, "RELU"), (88, 24, 3, 1, False, "RELU"),
               (96, 40, 5, 2, True, "HS"), (240, 40, 5, 1, True, "HS"))   # (expand, out, kernel, stride, SE, act)


def mbv3_model(seed: int = 0, input_hw: int = 96, classes: int = 10, calibration_inputs: int = 8) -> bytes:
    """A MobileNetV3-small-style int8 TFLite model (module docstring): hard swish, squeeze-excite
    (MEAN, LOGISTIC, broadcast MUL) and residual ADDs."""
    rng, b = np.random.default_rng(seed), Builder()

    def calibrate(t, act="NONE"):
        return b.calibrate(t, act, n=calibration_inputs, seed=seed % 1000)

    def fit(t):
        return _fit(b, t, calibration_inputs, seed % 1000)

    x = b.input((1, input_hw, input_hw, 3), input_quant(rng))
    y = calibrate(conv2d_layer(b, rng, x, 16, strides=(2, 2), name="stem", bias_gain=0.3))
    y = _hard_swish(b, y, calibrate, "stem_hs")
    for k, (expand, out, kernel, stride, se, act) in enumerate(MBV3_BLOCKS):
        name, block_in = f"block{k + 1}", y
        fused = "RELU" if act == "RELU" else "NONE"
        if expand != y.shape[-1]:
            y = calibrate(conv2d_layer(b, rng, y, expand, kernel=(1, 1), act=fused, name=f"{name}/expand",
                                       bias_gain=0.3), fused)
            y = _activation(b, rng, y, act, calibrate, f"{name}/expand_hs")
        y = calibrate(conv2d_layer(b, rng, y, expand, kernel=(kernel, kernel), strides=(stride, stride), act=fused,
                                   depthwise=True, name=f"{name}/dw", bias_gain=0.3), fused)
        y = _activation(b, rng, y, act, calibrate, f"{name}/dw_hs")
        if se:
            y = _squeeze_excite(b, rng, y, calibrate, fit, f"{name}/se")
        y = calibrate(conv2d_layer(b, rng, y, out, kernel=(1, 1), name=f"{name}/project", bias_gain=0.3))
        if stride == 1 and block_in.shape == y.shape:
            y = calibrate(binary_layer(b, rng, "ADD", y, block_in, name=f"{name}/add"))
    y = calibrate(conv2d_layer(b, rng, y, 144, kernel=(1, 1), name="head", bias_gain=0.3))
    y = _hard_swish(b, y, calibrate, "head_hs")
    return _head(b, rng, y, classes, calibrate)

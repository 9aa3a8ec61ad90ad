"""TFLite builtin operators → IR nodes (NHWC; int8 ops carry their quantization).

One function per builtin; each gets the converter context `c`, the operator index,
its input and output tensor names, and its options table (or None).
"""
from __future__ import annotations

import math

import numpy as np
import tflite

from ..ir import OpQuant, UnsupportedError
from ..ops import binary, concat, conv2d, dense, dequantize, pad, pool2d, quantize, reduce, reshape, softmax, unary
from ..ops._util import integer_range

# fused activation → real clamp range
ACTIVATIONS = {
    tflite.ActivationFunctionType.NONE: (-math.inf, math.inf),
    tflite.ActivationFunctionType.RELU: (0.0, math.inf),
    tflite.ActivationFunctionType.RELU6: (0.0, 6.0),
    tflite.ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
}


def _options(table, cls):
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _act(c, fused, out):
    """The fused activation in the output's domain: an integer range for int8, real for float."""
    if fused not in ACTIVATIONS:
        raise UnsupportedError(f"fused activation {fused} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    real = ACTIVATIONS[fused]
    q = c.types[out].quant
    return integer_range(real, q) if q is not None else real


def _quant(c, inputs, out, weights=()):
    """OpQuant for an int8 op (None for float): activations' from their types, weights' from c.weight_quant."""
    q_out = c.types[out].quant
    if q_out is None:
        return None
    qs = []
    for k, name in enumerate(inputs):
        t = c.types.get(name) or c.b.types.get(name)   # tensors the importer added live in the builder
        if not name or t.dtype == "int32":        # absent, or an int32 bias
            qs.append(None)
        elif k in weights or name in c.weight_quant:  # weights, or a constant int8 operand
            q = c.weight_quant.get(name)
            if q is None:
                raise UnsupportedError(f"weights '{name}' carry no quantization parameters")
            if k in weights and t.dtype == "int8" and any(q.zero_point):
                raise UnsupportedError(f"int8 weights '{name}' have zero points {q.zero_point[:4]}; TFLite's int8 "
                                       "weights are symmetric (zero point 0)")
            qs.append(q)
        else:
            qs.append(t.quant)
    return OpQuant(tuple(qs), q_out, "tflm")


def _same_pads(size, kernel, stride, dilation):
    """TFLite's SAME padding (ComputePaddingHeightWidth): the extra row/column goes after."""
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pads(padding, h, w, kh, kw, strides, dilations):
    """TFLite padding as (top, left, bottom, right), after checking the geometry fields."""
    if padding not in (tflite.Padding.SAME, tflite.Padding.VALID):
        raise UnsupportedError(f"padding {padding} is not a TFLite padding (SAME=0, VALID=1)")
    for what, values in (("stride", strides), ("dilation", dilations)):
        if any(v < 1 for v in values):
            raise UnsupportedError(f"{what} {tuple(values)} must be at least 1")
    for size, kernel, dilation in ((h, kh, dilations[0]), (w, kw, dilations[1])):
        if dilation > 1 and (kernel - 1) * dilation + 1 > size:
            raise UnsupportedError(f"dilation {dilation} spreads the {kernel}-tap kernel over "
                                   f"{(kernel - 1) * dilation + 1} pixels of a {size}-pixel input: every output "
                                   "would read padding at all taps but one (a damaged file?)")
    if padding == tflite.Padding.VALID:
        return (0, 0, 0, 0)
    (t, b), (l, r) = _same_pads(h, kh, strides[0], dilations[0]), _same_pads(w, kw, strides[1], dilations[1])
    return (t, l, b, r)


def _weights_axis(c, w, axis) -> None:
    """Per-channel weights are quantized along the output channels (TFLite's rule)."""
    q = c.weight_quant.get(w)
    if q is not None and q.axis is not None and q.axis != axis:
        raise UnsupportedError(f"weights '{w}' are quantized along dimension {q.axis}; this operator needs the "
                               f"output-channel dimension {axis}")


def CONV_2D(c, index, inputs, outputs, table):
    o = _options(table, tflite.Conv2DOptions)
    x, w, bias = (inputs + [""])[:3]
    _weights_axis(c, w, 0)
    _, h, wd, cin = c.types[x].shape
    oc, kh, kw, cg = c.types[w].shape
    strides, dilations = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
    attrs = conv2d.Attrs(strides=strides, dilations=dilations, pads=_pads(o.Padding(), h, wd, kh, kw, strides, dilations),
                         groups=cin // cg, layout="NHWC", act=_act(c, o.FusedActivationFunction(), outputs[0]),
                         quant=_quant(c, [x, w, bias], outputs[0], weights=(1,)))
    c.add("conv2d", [x, w, bias], attrs, outputs, index)


def DEPTHWISE_CONV_2D(c, index, inputs, outputs, table):
    o = _options(table, tflite.DepthwiseConv2DOptions)
    x, w, bias = (inputs + [""])[:3]
    _weights_axis(c, w, 3)
    _, h, wd, cin = c.types[x].shape
    _, kh, kw, oc = c.types[w].shape
    strides, dilations = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
    # TFLite's [1, kh, kw, C*m] filter is the OHWI filter of a convolution with groups = C
    ohwi = c.constant(w).transpose(3, 1, 2, 0)
    w_name = c.const_like(w, ohwi, "ohwi", axis=0)
    attrs = conv2d.Attrs(strides=strides, dilations=dilations, pads=_pads(o.Padding(), h, wd, kh, kw, strides, dilations),
                         groups=cin, layout="NHWC", act=_act(c, o.FusedActivationFunction(), outputs[0]),
                         quant=_quant(c, [x, w_name, bias], outputs[0], weights=(1,)))
    c.add("conv2d", [x, w_name, bias], attrs, outputs, index)


def FULLY_CONNECTED(c, index, inputs, outputs, table):
    o = _options(table, tflite.FullyConnectedOptions)
    if o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise UnsupportedError("shuffled fully connected weights are not supported")
    x, w, bias = (inputs + [""])[:3]
    _weights_axis(c, w, 0)
    m, k = c.types[w].shape
    rows = c.types[x].size // k
    x2 = x if c.types[x].shape == (rows, k) else c.add("reshape", [x], reshape.Attrs((rows, k)), None, index,
                                                        suffix="rows")[0]
    out_shape = c.types[outputs[0]].shape
    attrs = dense.Attrs(act=_act(c, o.FusedActivationFunction(), outputs[0]),
                        quant=_quant(c, [x2, w, bias], outputs[0], weights=(1,)))
    if out_shape == (rows, m):
        c.add("dense", [x2, w, bias], attrs, outputs, index)
    else:   # keep_num_dims
        y = c.add("dense", [x2, w, bias], attrs, None, index, suffix="dense", out_type=(rows, m))[0]
        c.add("reshape", [y], reshape.Attrs(out_shape), outputs, index, suffix="dims")


def _pool(c, index, inputs, outputs, table, kind):
    o = _options(table, tflite.Pool2DOptions)
    x = inputs[0]
    _, h, w, _ = c.types[x].shape
    kernel, strides = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
    attrs = pool2d.Attrs(kind=kind, kernel=kernel, strides=strides,
                         pads=_pads(o.Padding(), h, w, kernel[0], kernel[1], strides, (1, 1)), layout="NHWC",
                         act=_act(c, o.FusedActivationFunction(), outputs[0]), quant=_quant(c, [x], outputs[0]))
    c.add("pool2d", [x], attrs, outputs, index)


def AVERAGE_POOL_2D(c, index, inputs, outputs, table):
    _pool(c, index, inputs, outputs, table, "avg")


def MAX_POOL_2D(c, index, inputs, outputs, table):
    _pool(c, index, inputs, outputs, table, "max")


def _binary(c, index, inputs, outputs, table, kind, options_class):
    fused = _options(table, options_class).FusedActivationFunction() if table is not None else 0
    attrs = binary.Attrs(kind, act=_act(c, fused, outputs[0]), quant=_quant(c, inputs, outputs[0]))
    c.add("binary", inputs, attrs, outputs, index)


def ADD(c, index, inputs, outputs, table):
    _binary(c, index, inputs, outputs, table, "add", tflite.AddOptions)


def SUB(c, index, inputs, outputs, table):
    _binary(c, index, inputs, outputs, table, "sub", tflite.SubOptions)


def MUL(c, index, inputs, outputs, table):
    _binary(c, index, inputs, outputs, table, "mul", tflite.MulOptions)


def RESHAPE(c, index, inputs, outputs, table):
    c.add("reshape", inputs[:1], reshape.Attrs(c.types[outputs[0]].shape), outputs, index)


SQUEEZE = RESHAPE


def SOFTMAX(c, index, inputs, outputs, table):
    beta = _options(table, tflite.SoftmaxOptions).Beta() if table is not None else 1.0
    c.add("softmax", inputs, softmax.Attrs(axis=-1, beta=float(beta), quant=_quant(c, inputs, outputs[0])),
          outputs, index)


def _unary(c, index, inputs, outputs, kind):
    q = _quant(c, inputs, outputs[0])
    act = (-128, 127) if q is not None else (-math.inf, math.inf)
    c.add("unary", inputs[:1], unary.Attrs(kind, act=act, quant=q), outputs, index)


def LOGISTIC(c, index, inputs, outputs, table):
    _unary(c, index, inputs, outputs, "sigmoid")


def TANH(c, index, inputs, outputs, table):
    _unary(c, index, inputs, outputs, "tanh")


def HARD_SWISH(c, index, inputs, outputs, table):
    _unary(c, index, inputs, outputs, "hard_swish")


def _relu(c, index, inputs, outputs, kind, real_range):
    q = _quant(c, inputs, outputs[0])
    if q is None:
        c.add("unary", inputs[:1], unary.Attrs("identity", act=real_range), outputs, index)
    else:   # TFLM's int8 RELU kernels (RELU6 clamps in the input's quantization, as TFLM does)
        c.add("unary", inputs[:1], unary.Attrs(kind, act=(-128, 127), quant=q), outputs, index)


def RELU(c, index, inputs, outputs, table):
    _relu(c, index, inputs, outputs, "relu", (0.0, math.inf))


def RELU6(c, index, inputs, outputs, table):
    _relu(c, index, inputs, outputs, "relu6", (0.0, 6.0))


def RELU_N1_TO_1(c, index, inputs, outputs, table):
    _relu(c, index, inputs, outputs, "relu_n1_to_1", (-1.0, 1.0))


def _reduce(c, index, inputs, outputs, table, kind):
    keep = bool(_options(table, tflite.ReducerOptions).KeepDims()) if table is not None else False
    rank = len(c.types[inputs[0]].shape)
    axes = [int(a) for a in c.constant(inputs[1]).ravel()]
    if any(not -rank <= a < rank for a in axes):
        raise UnsupportedError(f"axes {axes} are out of range for a rank-{rank} tensor")
    attrs = reduce.Attrs(kind, tuple(sorted({a % rank for a in axes})), keep, _quant(c, inputs[:1], outputs[0]))
    c.add("reduce", inputs[:1], attrs, outputs, index)


def MEAN(c, index, inputs, outputs, table):
    _reduce(c, index, inputs, outputs, table, "mean")


def SUM(c, index, inputs, outputs, table):
    _reduce(c, index, inputs, outputs, table, "sum")


def REDUCE_MAX(c, index, inputs, outputs, table):
    _reduce(c, index, inputs, outputs, table, "max")


def REDUCE_MIN(c, index, inputs, outputs, table):
    _reduce(c, index, inputs, outputs, table, "min")


def CONCATENATION(c, index, inputs, outputs, table):
    o = _options(table, tflite.ConcatenationOptions)
    if o.FusedActivationFunction() != tflite.ActivationFunctionType.NONE:
        raise UnsupportedError("CONCATENATION with a fused activation is not supported")
    q = _quant(c, inputs, outputs[0])
    same = q is None or all(p == q.output for p in q.inputs)
    c.add("concat", inputs, concat.Attrs(o.Axis(), quant=None if same else q), outputs, index)


def PAD(c, index, inputs, outputs, table):
    x = inputs[0]
    pads = c.constant(inputs[1]).astype(np.int64)
    q = c.types[x].quant
    if len(inputs) > 2 and inputs[2]:                      # PADV2: the padding value is a tensor
        value = float(c.constant(inputs[2]).ravel()[0])
    else:                                                  # PAD: zero, i.e. the zero point
        value = float(q.zero_point[0]) if q is not None else 0.0
    if q is not None and c.types[outputs[0]].quant != q:
        raise UnsupportedError("PAD with different input and output quantization is not supported")
    c.add("pad", [x], pad.Attrs(tuple(int(v) for v in pads[:, 0]), tuple(int(v) for v in pads[:, 1]), value),
          outputs, index)


PADV2 = PAD


def QUANTIZE(c, index, inputs, outputs, table):
    x, y = inputs[0], outputs[0]
    if c.types[x].dtype == "float32":
        c.add("quantize", [x], quantize.Attrs(c.types[y].quant, "tflm"), outputs, index)
    else:   # int8 → int8: TFLM's Requantize
        c.add("unary", [x], unary.Attrs("identity", act=(-128, 127), quant=_quant(c, [x], y)), outputs, index)


def DEQUANTIZE(c, index, inputs, outputs, table):
    c.add("dequantize", inputs[:1], dequantize.Attrs(c.types[inputs[0]].quant), outputs, index)


def DENSIFY(c, index, inputs, outputs, table):
    """The dense form of a sparse constant: the loader decoded it already, so the output is
    that constant (folded at import), with the input's quantization."""
    x, y = inputs[0], outputs[0]
    value = c.constant(x)
    file_type = c.types[y]
    if file_type.shape != value.shape or file_type.dtype != str(value.dtype):
        raise UnsupportedError(f"output '{y}' is {file_type.dtype} {list(file_type.shape)}, but the sparse "
                               f"constant '{x}' is {value.dtype} {list(value.shape)} (a damaged file?)")
    q = c.weight_quant.get(x)
    if file_type.quant is not None and file_type.quant != q:
        raise UnsupportedError(f"output '{y}' is quantized differently from the sparse constant '{x}' it "
                               "densifies (a damaged file?)")
    c.b.const(value, y)
    c.types[y] = c.b.types[y]
    if q is not None:
        c.weight_quant[y] = q


CONVERTERS = {f.__name__: f for f in (
    CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD, SUB, MUL, RESHAPE, SOFTMAX,
    LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, MEAN, SUM, REDUCE_MAX, REDUCE_MIN, CONCATENATION, PAD, QUANTIZE, DEQUANTIZE, DENSIFY)}
CONVERTERS.update(SQUEEZE=SQUEEZE, PADV2=PADV2)

"""ONNX quantization operators → IR nodes: QuantizeLinear/DequantizeLinear (the QDQ format,
which the QDQ pass turns into integer ops), QLinearConv/QLinearMatMul (written as their
dequantize → float op → quantize meaning), and ConvInteger/MatMulInteger (integer ops whose
int32 accumulators are the output). onnxruntime's com.microsoft QLinear* operators, which
quantize_static writes in its QOperator format (QGemm, QLinearAdd, QLinearMul, QLinearSigmoid,
QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat,
QLinearSoftmax: MS_CONVERTERS), are read the same way as their dequantize → float op →
quantize meaning; --requant ort then gives onnxruntime's kernel arithmetic. The data-movement
operators that format applies to int8 tensors (INT8_DATA_MOVEMENT: MaxPool, Reshape, Flatten, ...)
are written as dequantize → op → quantize with the input's quantization. Conventions as in onnx_ops.py. uint8 data is carried as
int8 (value - 128, zero point - 128: the same real values).
"""
from __future__ import annotations

import numpy as np

from ..ir import OpQuant, QuantParams, UnsupportedError
from ..ops import dequantize, quantize
from . import onnx_ops
from .onnx_ops import Conv, MatMul, _conv, _matmul, _need_const


def _quant_params(b, n, scale, zero_point, axis, shape, what):
    """QuantParams of a Q/DQ node and the zero point's ONNX dtype; uint8 is shifted to int8
    (q - 128 with zero point - 128: the same real values)."""
    s = _need_const(b, n, scale, f"{what} scale").astype(np.float32).ravel()
    if zero_point:
        z = _need_const(b, n, zero_point, f"{what} zero point")
        dtype, z = str(z.dtype), z.astype(np.int64).ravel()
    else:
        dtype, z = "uint8", np.zeros(s.size, np.int64)
    if dtype not in ("int8", "uint8", "int32"):
        raise UnsupportedError(f"{what} type {dtype} is not supported (int8, uint8; int32 for biases)")
    if dtype == "uint8":
        z = z - 128
    per_channel = _need_const(b, n, scale, f"{what} scale").ndim == 1 and s.size > 1
    rank = len(shape)
    if z.size not in (1, s.size):
        raise UnsupportedError(f"{what}: {s.size} scales but {z.size} zero points (must be equal)")
    if z.size != s.size:
        z = np.broadcast_to(z, s.shape)
    if per_channel:
        if not -rank <= axis < rank:
            raise UnsupportedError(f"{what}: axis {axis} is out of range for a rank-{rank} input")
        channels = shape[axis % rank]
        if channels != s.size:
            raise UnsupportedError(f"{what}: {s.size} scales along axis {axis}, which has {channels} channels "
                                   "(need one scale per channel)")
    quant = QuantParams(tuple(float(v) for v in s), tuple(int(v) for v in z),
                        (axis % rank) if per_channel else None, uint8=dtype == "uint8")
    return quant, dtype


def _as_int8_constant(values, dtype):
    return (values.astype(np.int16) - 128).astype(np.int8) if dtype == "uint8" else values


def QuantizeLinear(b, n, x, y_scale, y_zero_point=None, *, axis=1, saturate=1, block_size=0, output_dtype=0,
                   precision=0):
    if block_size or output_dtype not in (0, 2, 3):
        raise UnsupportedError("blocked quantization and output types other than int8/uint8 are not supported")
    quant, _ = _quant_params(b, n, y_scale, y_zero_point, axis, b.types[x].shape, "QuantizeLinear")
    if quant.axis is not None:
        raise UnsupportedError("per-channel quantization of activations is not supported")
    b.add("quantize", [x], quantize.Attrs(quant, b.requant), outputs=[n.output[0]], name=n.name)


def DequantizeLinear(b, n, x, x_scale, x_zero_point=None, *, axis=1, block_size=0):
    if block_size:
        raise UnsupportedError("blocked dequantization is not supported")
    quant, dtype = _quant_params(b, n, x_scale, x_zero_point, axis, b.types[x].shape, "DequantizeLinear")
    value = b.value(x)
    if value is not None:
        x = b.const(_as_int8_constant(value, dtype), f"{x}/int8" if dtype == "uint8" else x)
    elif b.types[x].dtype != ("int32" if dtype == "int32" else "int8"):
        raise UnsupportedError(f"input '{x}' is {b.types[x].dtype}: quantized activations must be int8 "
                               "(uint8 ones are supported when they come from a QuantizeLinear in the model)")
    b.add("dequantize", [x], dequantize.Attrs(quant), outputs=[n.output[0]], name=n.name)


class _Inner:
    """A stand-in ONNX node for the float op inside a QLinear* op."""

    def __init__(self, n, suffix, output):
        self.name, self.op_type, self.output = f"{n.name}/{suffix}", n.op_type, [output]


def _qlinear(b, n, float_op, x, xs, xz, w, ws, wz, ys, yz, bias=None, **attrs):
    """QLinear*(x, w, b) = quantize(float_op(dequantize(x), dequantize(w), dequantize(b)))."""
    def dq(name, scale, zp, axis, suffix):
        inner = _Inner(n, suffix, b.fresh(f"{n.name}/{suffix}"))
        DequantizeLinear(b, inner, name, scale, zp, axis=axis)
        return inner.output[0]
    inputs = [dq(x, xs, xz, 1, "x"), dq(w, ws, wz, 0 if float_op is Conv else 1, "w")]
    if bias:   # int32, zero point 0, scale = x_scale * w_scale (per output channel)
        w_scale = _need_const(b, n, ws, "w scale").astype(np.float32)
        bias_scale = np.float32(_need_const(b, n, xs, "x scale")) * w_scale
        zero = b.const(np.zeros(bias_scale.shape, np.int32), f"{n.name}/bias_zero_point")
        inputs.append(dq(bias, b.const(bias_scale, f"{n.name}/bias_scale"), zero, 0, "b"))
    yf = b.fresh(f"{n.name}/float")
    float_op(b, _Inner(n, "float", yf), *inputs, **attrs)
    QuantizeLinear(b, n, yf, ys, yz)


def _dq(b, n, x, scale, zero_point, suffix):
    inner = _Inner(n, suffix, b.fresh(f"{n.name}/{suffix}"))
    DequantizeLinear(b, inner, x, scale, zero_point)
    return inner.output[0]


def _around(b, n, float_op, operands, y_scale, y_zero_point, **attrs):
    """quantize(float_op(dequantize(x) for (x, scale, zero point) in operands))."""
    inputs = [_dq(b, n, x, s, z, f"x{k}") for k, (x, s, z) in enumerate(operands)]
    yf = b.fresh(f"{n.name}/float")
    float_op(b, _Inner(n, "float", yf), *inputs, **attrs)
    QuantizeLinear(b, n, yf, y_scale, y_zero_point)


def _nchw_only(channels_last):
    if channels_last:
        raise UnsupportedError("channels_last=1 (NHWC) is not supported; onnxruntime's NHWC layout "
                               "transformer writes it, quantize_static does not")


def QLinearAdd(b, n, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    _around(b, n, onnx_ops.Add, [(A, A_scale, A_zero_point), (B, B_scale, B_zero_point)], C_scale, C_zero_point)


def QLinearMul(b, n, A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    _around(b, n, onnx_ops.Mul, [(A, A_scale, A_zero_point), (B, B_scale, B_zero_point)], C_scale, C_zero_point)


def QLinearSigmoid(b, n, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None):
    _around(b, n, onnx_ops.Sigmoid, [(X, X_scale, X_zero_point)], Y_scale, Y_zero_point)


def QLinearLeakyRelu(b, n, X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, alpha=0.01):
    _around(b, n, onnx_ops.LeakyRelu, [(X, X_scale, X_zero_point)], Y_scale, Y_zero_point, alpha=alpha)


def QLinearGlobalAveragePool(b, n, X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, channels_last=0):
    _nchw_only(channels_last)
    _around(b, n, onnx_ops.GlobalAveragePool, [(X, x_scale, x_zero_point)], y_scale, y_zero_point)


def QLinearAveragePool(b, n, X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, auto_pad="NOTSET",
                       ceil_mode=0, channels_last=0, count_include_pad=0, kernel_shape, pads=None, strides=None):
    _nchw_only(channels_last)
    _around(b, n, onnx_ops.AveragePool, [(X, x_scale, x_zero_point)], y_scale, y_zero_point, auto_pad=auto_pad,
            ceil_mode=ceil_mode, count_include_pad=count_include_pad, kernel_shape=kernel_shape, pads=pads,
            strides=strides)


def QLinearConcat(b, n, Y_scale, Y_zero_point, *inputs, axis):
    if not inputs or len(inputs) % 3:
        raise UnsupportedError(f"QLinearConcat takes (tensor, scale, zero point) triples after Y_scale and "
                               f"Y_zero_point; got {len(inputs)} more inputs")
    _around(b, n, onnx_ops.Concat, [inputs[k:k + 3] for k in range(0, len(inputs), 3)], Y_scale, Y_zero_point,
            axis=axis)


def QLinearSoftmax(b, n, X, X_scale, x_zero_point, y_scale, y_zero_point=None, *, axis=None, opset):
    """Its `opset` attribute says which Softmax it quantizes (before 13: over the flattened
    trailing dimensions)."""
    model_opset = b.opset
    b.opset = int(opset)
    try:
        _around(b, n, onnx_ops.Softmax, [(X, X_scale, x_zero_point)], y_scale, y_zero_point, axis=axis)
    finally:
        b.opset = model_opset


def QGemm(b, n, A, a_scale, a_zero_point, B, b_scale, b_zero_point, C=None, y_scale=None, y_zero_point=None, *,
          alpha=1.0, transA=0, transB=0):
    """onnxruntime's QGemm: Gemm of dequantized A and B plus the int32 bias C (scale a_scale *
    b_scale), quantized to y_scale (float output when y_scale is absent)."""
    inputs = [_dq(b, n, A, a_scale, a_zero_point, "a")]
    w = _Inner(n, "b", b.fresh(f"{n.name}/b"))
    DequantizeLinear(b, w, B, b_scale, b_zero_point, axis=0 if transB else 1)
    inputs.append(w.output[0])
    if C:
        bias_scale = np.float32(_need_const(b, n, a_scale, "a scale")) * \
            _need_const(b, n, b_scale, "b scale").astype(np.float32)
        zero = b.const(np.zeros(bias_scale.shape, np.int32), f"{n.name}/bias_zero_point")
        c = _Inner(n, "c", b.fresh(f"{n.name}/c"))
        DequantizeLinear(b, c, C, b.const(bias_scale, f"{n.name}/bias_scale"), zero, axis=0)
        inputs.append(c.output[0])
    if not y_scale:
        onnx_ops.Gemm(b, n, *inputs, alpha=alpha, transA=transA, transB=transB)
        return
    yf = b.fresh(f"{n.name}/float")
    onnx_ops.Gemm(b, _Inner(n, "float", yf), *inputs, alpha=alpha, transA=transA, transB=transB)
    QuantizeLinear(b, n, yf, y_scale, y_zero_point)


# ONNX operators that only move values, which onnxruntime's QOperator format runs on int8 tensors
INT8_DATA_MOVEMENT = ("MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity")


def int8_data_movement(b, n, convert, inputs, attrs):
    """A data-movement op reading an int8 activation: dequantize → the float op → quantize with the
    input's own quantization, which the QDQ pass turns back into the op on int8."""
    x, q = inputs[0], b.types[inputs[0]].quant
    if q is None:
        raise UnsupportedError(f"input '{x}' is int8 without a quantization")
    xf = b.add("dequantize", [x], dequantize.Attrs(q), name=f"{n.name}/dequantize")[0]
    yf = b.fresh(f"{n.name}/float")
    convert(b, _Inner(n, "float", yf), xf, *inputs[1:], **attrs)
    b.add("quantize", [yf], quantize.Attrs(q, b.requant), outputs=[n.output[0]], name=n.name)


def QLinearConv(b, n, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B=None, **attrs):
    _qlinear(b, n, Conv, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B, **attrs)


def QLinearMatMul(b, n, a, a_scale, a_zero_point, b_in, b_scale, b_zero_point, y_scale, y_zero_point):
    _qlinear(b, n, MatMul, a, a_scale, a_zero_point, b_in, b_scale, b_zero_point, y_scale, y_zero_point)


def _zero_points(b, n, name, tensor, count, what):
    """int8 zero points of an integer operand (uint8 ones shifted by -128); an absent zero
    point is 0 of the operand's ONNX type."""
    uint8 = tensor in b.uint8_tensors or (b.value(tensor) is not None and b.value(tensor).dtype == np.uint8)
    if not name:
        return (-128 if uint8 else 0,) * count
    z = _need_const(b, n, name, what)
    if z.dtype not in (np.int8, np.uint8):
        raise UnsupportedError(f"{what} must be int8 or uint8, got {z.dtype}")
    z = z.astype(np.int64).ravel() - (128 if z.dtype == np.uint8 else 0)
    if z.size not in (1, count):
        raise UnsupportedError(f"{what} has {z.size} values; expected 1 or {count}")
    return tuple(int(v) for v in np.broadcast_to(z, (count,)))


def _integer_operands(b, n, x, x_zero_point, w, w_zero_point, channels_of):
    """(name of the int8 weight constant, OpQuant) of ConvInteger/MatMulInteger: zero points
    only (scales 1), int32 accumulators out. channels_of: the weight's output-channel count."""
    if b.types[x].dtype != "int8":
        raise UnsupportedError(f"input '{x}' is {b.types[x].dtype}; {n.op_type} reads int8 or uint8 data")
    w_value = _need_const(b, n, w, "weight input")
    if w_value.dtype not in (np.int8, np.uint8):
        raise UnsupportedError(f"weights '{w}' must be int8 or uint8, got {w_value.dtype}")
    x_zp = _zero_points(b, n, x_zero_point, x, 1, "the input zero point")
    if x_zero_point and np.asarray(b.value(x_zero_point)).size > 1:
        raise UnsupportedError("per-row input zero points are not supported (one zero point for the input)")
    oc = channels_of(w_value)
    w_zp = _zero_points(b, n, w_zero_point, w, oc, "the weight zero point")
    per_channel = len(set(w_zp)) > 1
    w_quant = QuantParams((1.0,) * (oc if per_channel else 1), w_zp if per_channel else w_zp[:1],
                          0 if per_channel else None)
    quant = OpQuant((QuantParams((1.0,), x_zp), w_quant), None, b.requant)
    w_name = b.const(_as_int8_constant(w_value, "uint8"), f"{w}/int8") if w_value.dtype == np.uint8 else w
    return w_name, quant


def ConvInteger(b, n, x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None, group=1,
                kernel_shape=None, pads=None, strides=None):
    w_name, quant = _integer_operands(b, n, x, x_zero_point, w, w_zero_point, lambda a: a.shape[0])
    quant = OpQuant(quant.inputs + (None,), None, quant.mode)   # no bias
    _conv(b, n, x, w_name, None, quant, auto_pad, dilations, group, kernel_shape, pads, strides)


def MatMulInteger(b, n, A, B, a_zero_point=None, b_zero_point=None):
    w_name, quant = _integer_operands(b, n, A, a_zero_point, B, b_zero_point,
                                      lambda a: a.shape[-1])
    _matmul(b, n, A, w_name, quant)


# onnxruntime's contrib operators (domain com.microsoft) read as their QDQ meaning
MS_DOMAIN = "com.microsoft"
MS_CONVERTERS = {f.__name__: f for f in (
    QGemm, QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool,
    QLinearConcat, QLinearSoftmax)}

CONVERTERS = {**{f.__name__: f for f in (
    QuantizeLinear, DequantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger)}, **MS_CONVERTERS}

# Operators that read integer tensors (the others compute in float32 until the QDQ pass).
QUANTIZED_INPUTS = tuple(CONVERTERS)

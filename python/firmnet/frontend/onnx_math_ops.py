"""ONNX element-wise math operators → IR nodes: activations (Gelu, Erf, PRelu, Elu, Selu,
Softplus), LogSoftmax, Pow, Sqrt, Reciprocal, Exp, Log, Abs, Neg, Min, Max, the float
comparisons Less/LessOrEqual/Greater/GreaterOrEqual (bool results) and Where, whose
condition is a constant or a run-time bool of the output's shape (the dynamo exporter
writes nn.Softplus as Where(x > threshold, x, Softplus(x))). Float32 only; in a
quantized model they stay float islands between DequantizeLinear and QuantizeLinear.

Conventions as in onnx_ops.py: one function per ONNX op, keyword arguments are the
op's attributes with the spec's defaults, inputs are tensor names.
"""
from __future__ import annotations

import numpy as np

from ..ir import UnsupportedError
from ..ops import binary, compare, reshape, unary, where
from .onnx_ops import softmax_like


def _unary(b, n, X, kind, alpha=0.0, beta=0.0):
    b.add("unary", [X], unary.Attrs(kind, float(alpha), float(beta)), outputs=[n.output[0]], name=n.name)


def Gelu(b, n, X, *, approximate="none"):
    kinds = {"none": "gelu", "tanh": "gelu_tanh"}
    if approximate not in kinds:
        raise UnsupportedError(f"Gelu approximate='{approximate}' is not supported (none, tanh)")
    _unary(b, n, X, kinds[approximate])


def Erf(b, n, input):
    _unary(b, n, input, "erf")


def Elu(b, n, X, *, alpha=1.0):
    _unary(b, n, X, "elu", alpha=alpha)


def Selu(b, n, X, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    _unary(b, n, X, "selu", alpha=alpha, beta=gamma)


def Softplus(b, n, X):
    _unary(b, n, X, "softplus")


def Sqrt(b, n, X):
    _unary(b, n, X, "sqrt")


def Reciprocal(b, n, X):
    _unary(b, n, X, "reciprocal")


def Exp(b, n, input):
    _unary(b, n, input, "exp")


def Log(b, n, input):
    _unary(b, n, input, "log")


def Abs(b, n, X):
    _unary(b, n, X, "abs")


def Neg(b, n, X):
    _unary(b, n, X, "neg")


def Sign(b, n, input):
    """ONNX Sign (-1, 0, +1); passes/binarize.py makes the Signs that feed binary layers bits."""
    _unary(b, n, input, "sign")


def LogSoftmax(b, n, input, *, axis=None):
    softmax_like(b, n, input, axis, log=True)


def _float_operand(b, name):
    """A constant operand as float32 (exporters write integer exponents and bounds), else the name."""
    value = b.value(name)
    if value is not None and value.dtype != np.float32:
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            raise UnsupportedError(f"constant input '{name}' has dtype {value.dtype}; numbers are needed")
        return b.const(value.astype(np.float32), f"{name}/float32")
    return name


def PRelu(b, n, X, slope):
    x_shape, s_shape = b.types[X].shape, b.types[slope].shape
    try:
        shape = tuple(np.broadcast_shapes(x_shape, s_shape))
    except ValueError:
        shape = None
    if shape != tuple(x_shape):
        raise UnsupportedError(f"the slope's shape {list(s_shape)} does not broadcast to the input's "
                               f"{list(x_shape)} (ONNX's unidirectional broadcasting)")
    b.add("binary", [X, _float_operand(b, slope)], binary.Attrs("prelu"), outputs=[n.output[0]], name=n.name)


def Pow(b, n, X, Y):
    """A constant scalar exponent becomes a unary op (x*x for 2, the exact square root for
    0.5); a tensor exponent, constant or computed, the broadcasting binary pow."""
    y = b.value(Y)
    if y is not None and y.size == 1 and tuple(np.broadcast_shapes(b.types[X].shape, y.shape)) == \
            tuple(b.types[X].shape):
        exponent = float(np.float32(y.reshape(())))
        if exponent == 1.0:
            _unary(b, n, X, "identity")
        else:
            _unary(b, n, X, "pow", alpha=exponent)
        return
    b.add("binary", [_float_operand(b, X), _float_operand(b, Y)], binary.Attrs("pow"), outputs=[n.output[0]],
          name=n.name)


def _variadic(b, n, inputs, kind):
    inputs = [_float_operand(b, i) for i in inputs if i]
    if len(inputs) == 1:
        b.add("reshape", inputs, reshape.Attrs(b.types[inputs[0]].shape), outputs=[n.output[0]], name=n.name)
        return
    acc = inputs[0]
    for k, other in enumerate(inputs[1:], start=1):
        last = k == len(inputs) - 1
        acc = b.add("binary", [acc, other], binary.Attrs(kind), outputs=[n.output[0]] if last else None,
                    name=n.name if last else f"{n.name}/{k}")[0]


def Min(b, n, *data_0):
    _variadic(b, n, data_0, "min")


def Max(b, n, *data_0):
    _variadic(b, n, data_0, "max")


def Where(b, n, condition, X, Y):
    cond = b.value(condition)
    if cond is None:
        x_shape, y_shape, c_shape = (b.types[t].shape for t in (X, Y, condition))
        out = tuple(int(d) for d in np.broadcast_shapes(c_shape, x_shape, y_shape))
        if tuple(c_shape) != out:
            raise UnsupportedError(f"its condition ('{condition}') is computed at run time with shape "
                                   f"{list(c_shape)}; a run-time condition must have the output's shape {list(out)} "
                                   "(a constant condition may broadcast)")
        name = condition
    else:
        name = b.const(cond.astype(bool), f"{condition}/bool") if cond.dtype != np.bool_ else condition
    b.add("where", [name, _float_operand(b, X), _float_operand(b, Y)], where.Attrs(), outputs=[n.output[0]],
          name=n.name)


def _compare(b, n, A, B, kind):
    b.add("compare", [_float_operand(b, A), _float_operand(b, B)], compare.Attrs(kind), outputs=[n.output[0]],
          name=n.name)


def Less(b, n, A, B):
    _compare(b, n, A, B, "less")


def LessOrEqual(b, n, A, B):
    _compare(b, n, A, B, "less_equal")


def Greater(b, n, A, B):
    _compare(b, n, A, B, "greater")


def GreaterOrEqual(b, n, A, B):
    _compare(b, n, A, B, "greater_equal")


# Inputs that may be bool tensors computed at run time (the loader refuses other non-float ones).
BOOL_INPUTS = {"Where": (0,)}

CONVERTERS = {f.__name__: f for f in (
    Gelu, Erf, PRelu, Elu, Selu, Softplus, LogSoftmax, Pow, Sqrt, Reciprocal, Exp, Log, Abs, Neg, Sign, Min, Max,
    Where, Less, LessOrEqual, Greater, GreaterOrEqual)}

"""Numpy reference of the float32 element-wise kernels (runtime_c/include/fn_elementwise_f32.h).

Arithmetic: inputs are float32, every op is computed in float64 and rounded once
to float32; the fused clamp `act` uses the float32 values the C struct holds.
Clamping commutes with the final rounding (rounding is monotonic and the bounds are
float32 values), and NaN passes through the clamp as in numpy.

For add, sub, mul, div and sqrt the float64 result rounded to float32 is the
correctly rounded float32 result (float64 has more than 2*24+2 significant bits), so
the C kernel, one IEEE float32 operation per element (sqrt: correctly rounded), must
match this reference exactly; min, max, prelu, abs and neg are exact selections. The
transcendental functions are float64 (numpy, or Python's math.erf/erfc where numpy
has none) rounded once: the C differs by its stated ulp errors.
"""
from __future__ import annotations

import math

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)
GELU_TANH_C = math.sqrt(2.0 / math.pi)

NO_CLAMP = (-math.inf, math.inf)


def _f32(v) -> float:
    return float(np.float32(v))


def _clamp(y: np.ndarray, act) -> np.ndarray:
    """min(max(y, lo), hi) with NaN passing through."""
    lo, hi = _f32(act[0]), _f32(act[1])
    return np.minimum(np.maximum(y, lo), hi)


def _as64(x) -> np.ndarray:
    with np.errstate(invalid="ignore"):          # signalling NaNs are quietened, not an error
        return np.asarray(x, dtype=np.float32).astype(np.float64)


def binary_f32(a, b, op: str, act=NO_CLAMP) -> np.ndarray:
    """clamp(a OP b) with numpy broadcasting; op in add, sub, mul, div (IEEE: x/0 is inf or nan)."""
    a, b = _as64(a), _as64(b)
    with np.errstate(all="ignore"):
        if op == "add":
            y = a + b
        elif op == "sub":
            y = a - b
        elif op == "mul":
            y = a * b
        elif op == "div":
            y = a / b
        elif op == "pow":
            y = np.power(a, b)
        elif op == "min":
            y = np.where((a < b) | np.isnan(a), a, b)
        elif op == "max":
            y = np.where((a > b) | np.isnan(a), a, b)
        elif op == "prelu":
            y = np.where(a < 0, a * b, a)
        else:
            raise ValueError(f"binary op {op!r} unknown (supported: add, sub, mul, div, pow, min, max, prelu)")
        return _clamp(y, act).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))                       # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _gelu(x):
    with np.errstate(invalid="ignore"):
        return 0.5 * x * _erfc(-x / math.sqrt(2.0)).astype(np.float64)


def _gelu_tanh(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return x * _sigmoid(2.0 * GELU_TANH_C * (x + 0.044715 * x ** 3))


def _elu(x, alpha):
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _softplus(x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), without overflow
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


_UNARY_MATH = {
    "exp": lambda x, a, b: np.exp(x),
    "log": lambda x, a, b: np.log(x),
    "sqrt": lambda x, a, b: np.sqrt(x),
    "reciprocal": lambda x, a, b: 1.0 / x,
    "abs": lambda x, a, b: np.abs(x),
    "neg": lambda x, a, b: -x,
    "sign": lambda x, a, b: np.sign(x),
    "bipolar": lambda x, a, b: np.where(x >= 0, 1.0, -1.0),
    "erf": lambda x, a, b: _erf(x).astype(np.float64),
    "gelu": lambda x, a, b: _gelu(x),
    "gelu_tanh": lambda x, a, b: _gelu_tanh(x),
    "elu": lambda x, a, b: _elu(x, a),
    "selu": lambda x, a, b: b * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x, a, b: _softplus(x),
    "pow": lambda x, a, b: np.sqrt(x) if a == 0.5 else np.power(x, a),   # numpy's own rule for 0.5
    "silu": lambda x, a, b: x * _sigmoid(x),
}


def unary_f32(x, op: str, alpha: float = 0.0, beta: float = 0.0, act=NO_CLAMP) -> np.ndarray:
    """clamp(op(x)), ONNX semantics:

    identity      x                                   (Relu, Clip: only the clamp acts)
    leaky_relu    x if x >= 0 else alpha * x          (LeakyRelu)
    sigmoid       1 / (1 + exp(-x))                   (Sigmoid)
    tanh          tanh(x)                             (Tanh)
    hard_sigmoid  max(0, min(1, alpha * x + beta))    (HardSigmoid)
    hard_swish    x * max(0, min(1, x / 6 + 1/2))     (HardSwish)
    exp, log, sqrt, abs, neg, erf                     (Exp, Log, Sqrt, Abs, Neg, Erf)
    sign          -1, 0 (and -0 at -0) or +1          (Sign; a binary layer's input binarizes
                                                       x >= 0 instead: passes/binarize.py)
    bipolar       +1 where x >= 0, else -1            (QONNX BipolarQuant with scale 1)
    reciprocal    1 / x                               (Reciprocal)
    gelu          x/2 * (1 + erf(x / sqrt2))          (Gelu), as x/2 * erfc(-x / sqrt2)
    gelu_tanh     x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))   (Gelu approximate=tanh),
                  as x * sigmoid(2 * sqrt(2/pi) * (...))
    elu           x if x >= 0 else alpha * (exp(x) - 1)           (Elu)
    selu          beta * (x if x > 0 else alpha * (exp(x) - 1))   (Selu: beta is gamma)
    softplus      log(1 + exp(x))                     (Softplus)
    pow           x ** alpha                          (Pow by a constant scalar; 0.5: sqrt, so
                                                       -0 at -0 and NaN at -inf, as numpy and onnxruntime)
    silu          x * sigmoid(x)                      (SiLU: Sigmoid then Mul)

    alpha and beta are used as the float32 values the C struct holds.
    """
    x = _as64(x)
    alpha, beta = _f32(alpha), _f32(beta)
    with np.errstate(all="ignore"):
        if op == "identity":
            y = x
        elif op == "leaky_relu":
            y = np.where(x >= 0, x, alpha * x)
        elif op == "sigmoid":
            y = _sigmoid(x)
        elif op == "tanh":
            y = np.tanh(x)
        elif op == "hard_sigmoid":
            y = np.maximum(0.0, np.minimum(1.0, alpha * x + beta))
        elif op == "hard_swish":
            y = x * np.maximum(0.0, np.minimum(1.0, x / 6.0 + 0.5))
        elif op in _UNARY_MATH:
            y = _UNARY_MATH[op](x, alpha, beta)
        else:
            raise ValueError(f"unary op {op!r} unknown (supported: identity, leaky_relu, sigmoid, tanh, "
                             f"hard_sigmoid, hard_swish, {', '.join(_UNARY_MATH)})")
        return _clamp(y, act).astype(np.float32)


def log_softmax_f32(x, axis: int) -> np.ndarray:
    """(x - max) - log(sum(exp(x - max))) along `axis`."""
    x = _as64(x)
    with np.errstate(all="ignore"):
        d = x - np.max(x, axis=axis, keepdims=True)
        return (d - np.log(np.sum(np.exp(d), axis=axis, keepdims=True))).astype(np.float32)


def compare_f32(a, b, op: str) -> np.ndarray:
    """a < b, a <= b, a > b or a >= b with numpy broadcasting (NaN compares false), as bool."""
    a, b = _as64(a), _as64(b)
    ops = {"less": np.less, "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal}
    if op not in ops:
        raise ValueError(f"compare op {op!r} unknown (supported: {', '.join(ops)})")
    with np.errstate(invalid="ignore"):
        return ops[op](a, b)


def where_f32(cond, a, b) -> np.ndarray:
    """cond ? a : b with numpy broadcasting (cond: any truthy array)."""
    return np.where(np.asarray(cond).astype(bool), _as64(a), _as64(b)).astype(np.float32)


def softmax_f32(x, axis: int) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along `axis`."""
    x = _as64(x)
    with np.errstate(all="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)

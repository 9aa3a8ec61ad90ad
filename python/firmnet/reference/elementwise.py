"""Numpy reference of the float32 element-wise kernels (runtime_c/include/fn_elementwise_f32.h).

Arithmetic: inputs are float32, every op is computed in float64 and rounded once
to float32; the fused clamp `act` uses the float32 values the C struct holds.
Clamping commutes with the final rounding (rounding is monotonic and the bounds are
float32 values), and NaN passes through the clamp as in numpy.

For add, sub, mul and div the float64 result rounded to float32 is the correctly
rounded float32 result (float64 has more than 2*24+2 significant bits), so the C
kernel, one IEEE float32 operation per element, must match this reference exactly.
"""
from __future__ import annotations

import math

import numpy as np

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
        else:
            raise ValueError(f"binary op {op!r} unknown (supported: add, sub, mul, div)")
        return _clamp(y, act).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))                       # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def unary_f32(x, op: str, alpha: float = 0.0, beta: float = 0.0, act=NO_CLAMP) -> np.ndarray:
    """clamp(op(x)), ONNX semantics:

    identity      x                                   (Relu, Clip: only the clamp acts)
    leaky_relu    x if x >= 0 else alpha * x          (LeakyRelu)
    sigmoid       1 / (1 + exp(-x))                   (Sigmoid)
    tanh          tanh(x)                             (Tanh)
    hard_sigmoid  max(0, min(1, alpha * x + beta))    (HardSigmoid)
    hard_swish    x * max(0, min(1, x / 6 + 1/2))     (HardSwish)

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
        else:
            raise ValueError(f"unary op {op!r} unknown (supported: identity, leaky_relu, sigmoid, tanh, "
                             f"hard_sigmoid, hard_swish)")
        return _clamp(y, act).astype(np.float32)


def softmax_f32(x, axis: int) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along `axis`."""
    x = _as64(x)
    with np.errstate(all="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)

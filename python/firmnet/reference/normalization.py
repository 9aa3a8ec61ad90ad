"""Numpy reference of float32 normalization over groups (runtime_c/include/fn_norm_f32.h):
ONNX LayerNormalization, InstanceNormalization and GroupNormalization.

The tensor is viewed as [batch, outer, channels, inner] with the channels split into
`groups` consecutive groups; each (batch, group) is normalized over all its elements:
    mean = sum(x) / count,  var = sum((x - mean)^2) / count      (two passes, as ONNX's
    y = (x - mean) / sqrt(var + epsilon) * scale[c] + bias[c]      reference computes them)
in float64 from the float32 values (epsilon as its float32 value), rounded once to
float32. The C kernel computes the same two-pass statistics in float32 and multiplies by
an approximate 1/sqrt; tests/test_kernels_norm_f32.py states the bound between them.
"""
from __future__ import annotations

import numpy as np


def norm_view(shape, kind: str, axis: int = 1, layout: str = "NCHW") -> tuple[int, int, int, int]:
    """(batch, outer, channels, inner) of a tensor for a normalization kind:
    'layer' normalizes every axis from `axis` on; 'channels' (instance and group norm)
    keeps axis 0 and the channel axis (1 in NCHW, last in NHWC)."""
    shape = tuple(int(d) for d in shape)
    if kind == "layer":
        return int(np.prod(shape[:axis])), 1, int(np.prod(shape[axis:])), 1
    if layout == "NCHW":
        return shape[0], 1, shape[1], int(np.prod(shape[2:]))
    return shape[0], int(np.prod(shape[1:-1])), shape[-1], 1


def norm_f32(x, scale, bias, view, groups: int, epsilon: float) -> np.ndarray:
    """y with x's shape: x viewed as `view`, scale and bias (or None) per channel of the view."""
    return norm_f32_stats(x, scale, bias, view, groups, epsilon)[0]


def norm_f32_stats(x, scale, bias, view, groups: int, epsilon: float):
    """(y, mean [batch, groups], 1 / sqrt(var + epsilon) [batch, groups]), all float32."""
    x = np.asarray(x)
    b, o, c, i = (int(v) for v in view)
    g = int(groups)
    if min(b, o, c, i, g) < 1 or c % g or b * o * c * i != x.size:
        raise ValueError(f"normalization: view {view} with {groups} groups does not fit x {x.shape}")
    xv = x.astype(np.float64).reshape(b, o, g, c // g, i)
    mean = xv.mean(axis=(1, 3, 4), keepdims=True)
    d = xv - mean
    var = (d * d).mean(axis=(1, 3, 4), keepdims=True)
    std = np.sqrt(var + np.float64(np.float32(epsilon)))
    z = d / std
    y = z * np.asarray(scale, np.float64).reshape(1, 1, g, c // g, 1)
    if bias is not None:
        y = y + np.asarray(bias, np.float64).reshape(1, 1, g, c // g, 1)
    stats = [a.reshape(b, g).astype(np.float32) for a in (mean, 1 / std)]
    return [y.astype(np.float32).reshape(x.shape), *stats]

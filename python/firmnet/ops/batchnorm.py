"""batchnorm: inference-mode batch normalization over axis 1 (NCHW) or the last axis (NHWC).

Never lowered: passes fold it into the preceding conv/dense, or rewrite it as a
per-channel multiply and add (passes/batchnorm.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError, TensorType
from ._util import require, require_float32


@dataclass(frozen=True)
class Attrs:
    epsilon: float = 1e-5


def infer(attrs, in_types):
    x, *params = in_types
    require_float32(x, *params)
    require(len(x.shape) >= 2, f"batchnorm needs rank >= 2, got {x}")
    for p in params:
        require(p.shape == (x.shape[1],), f"batchnorm: parameter {p} does not match {x.shape[1]} channels")
    return [TensorType(x.shape, x.dtype)]


def scale_shift(attrs, scale, bias, mean, var):
    """y = x * s + t per channel, computed in float64 then rounded to float32 once."""
    s = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + attrs.epsilon)
    t = bias.astype(np.float64) - mean.astype(np.float64) * s
    return s, t


def reference(attrs, x, scale, bias, mean, var):
    s, t = scale_shift(attrs, scale, bias, mean, var)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return [(x.astype(np.float64) * s.reshape(shape) + t.reshape(shape)).astype(np.float32)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    raise FirmnetError(f"{node.describe()}: internal error, batchnorm reached lowering")

"""Numpy reference of the float32 fully connected layer (runtime_c/include/fn_fc_f32.h).

Arithmetic: out[b, o] = clamp(bias[o] + sum_i x[b, i] * w[o, i]) computed in float64
(products of float32 values are exact in float64), clamped to `act` (as the float32
values the C struct holds) and rounded once to float32. The C kernel adds the same
terms in float32, bias first then i ascending; tests bound the difference by the
float32 summation error bound.
The C parameter struct: firmnet.kernels.params_conv_f32.
"""
from __future__ import annotations

import numpy as np

from .conv import clamp_f32


def check_fc_shapes(x_shape, w_shape) -> None:
    """The shape constraints of fn_fc_f32.h and fn_fc_s8.h."""
    if len(x_shape) != 2 or len(w_shape) != 2:
        raise ValueError(f"fc: x must be [N, K] and w [M, K], got {tuple(x_shape)} and {tuple(w_shape)}")
    if min(*x_shape, *w_shape) < 1:
        raise ValueError(f"fc: every size must be >= 1, got x {tuple(x_shape)}, w {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"fc: x has {x_shape[1]} features, w expects {w_shape[1]}")


def fc_f32(x, w, bias=None, *, act: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """out [N, M] = clamp(x @ w.T + bias), float64 arithmetic, float32 result."""
    x = np.asarray(x)
    w = np.asarray(w)
    check_fc_shapes(x.shape, w.shape)
    if bias is not None and np.shape(bias) != (w.shape[0],):
        raise ValueError(f"fc: bias must have shape ({w.shape[0]},), got {np.shape(bias)}")
    out = x.astype(np.float64) @ w.astype(np.float64).T
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)
    return clamp_f32(out, act)

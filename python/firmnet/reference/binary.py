"""Numpy reference of the binary layers (runtime_c/include/fn_binary_b1.h), in +-1 arithmetic.

Values are int8 arrays of +1 and -1 (never bits): the C packs them 32 to a word, the
reference does not. Layouts: activations NHWC, filters OHWI; pads (top, left, bottom, right).

- binarize: +1 where x >= 0 (float; -0.0 gives +1, NaN -1), or where x >= the zero point
  (int8: real = scale * (x - zp) >= 0 exactly then); ONNX Sign would give 0 for x == 0.
- the binary convolution's accumulator: acc = sum over the filter taps of x * w, with
  padded positions contributing 0 (zero padding, pad_value 0: K = valid taps * in_c) or
  holding +1 (one padding, pad_value 1, as Larq's pad_values=1: every tap counts, K =
  KH * KW * in_c): an integer in [-K, K], computed exactly (float64 products of +-1 sums).
- its output: acc (int32); or y = clamp(float32(acc) * scale[c] + offset[c], act) computed
  in float32 (one rounding after the product, one after the sum: numpy float32 arithmetic);
  or bits: +1 where that y >= 0, else -1 (the float BatchNorm-then-sign of the layer).
- binary max pooling: the max of the in-bounds +-1 values of each window.
"""
from __future__ import annotations

import numpy as np

from .conv import conv_out_size, window_view
from .pool import maxpool2d_f32

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]
OUT_KINDS = ("int32", "float", "bits")


def binarize(x: np.ndarray, zero_point: int | None = None) -> np.ndarray:
    """+1 / -1 (int8) of float x (x >= 0) or of int8 x (x >= zero_point)."""
    x = np.asarray(x)
    plus = x >= 0 if zero_point is None else x.astype(np.int32) >= int(zero_point)
    return np.where(plus, 1, -1).astype(np.int8)


def unbinarize(x: np.ndarray) -> np.ndarray:
    """+-1 values as float32."""
    return np.asarray(x).astype(np.float32)


def _check_pm1(name: str, a: np.ndarray) -> None:
    if a.size and not np.isin(a, (-1, 1)).all():
        raise ValueError(f"binary layer: {name} must hold +1 and -1 only")


def bconv2d_acc(x, w, *, strides: Pair = (1, 1), pads: Pads = (0, 0, 0, 0), pad_value: int = 0) -> np.ndarray:
    """int32 accumulators [N, OH, OW, O] of +-1 x [N, H, W, C] and +-1 w [O, KH, KW, C];
    padded positions hold pad_value (0: zero padding, 1: one padding)."""
    x, w = np.asarray(x), np.asarray(w)
    _check_pm1("the input", x)
    _check_pm1("the weights", w)
    n, h, wd, c = x.shape
    o, kh, kw, cw = w.shape
    if c != cw:
        raise ValueError(f"binary conv: input has {c} channels, the filter {cw}")
    if pad_value not in (0, 1):
        raise ValueError(f"binary conv: pad value {pad_value} (0: zero padding, 1: one padding)")
    oh = conv_out_size(h, kh, strides[0], 1, pads[0], pads[2])
    ow = conv_out_size(wd, kw, strides[1], 1, pads[1], pads[3])
    if oh < 1 or ow < 1:
        raise ValueError(f"binary conv: the filter {kh}x{kw} does not fit the padded input {h}x{wd}")
    xp = np.pad(x.astype(np.float64), ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)),
                constant_values=float(pad_value))
    windows = window_view(xp, (oh, ow), (kh, kw), strides, (1, 1))   # [N, OH, OW, KH, KW, C]
    acc = np.tensordot(windows, w.astype(np.float64), axes=([3, 4, 5], [1, 2, 3]))
    return acc.astype(np.int32)


def scaled(acc, scale, offset, act=(-np.inf, np.inf)) -> np.ndarray:
    """clamp(float32(acc) * scale + offset, act) in float32, per output channel (last axis)."""
    y = np.asarray(acc).astype(np.float32) * np.asarray(scale, np.float32) + np.asarray(offset, np.float32)
    return np.clip(y, np.float32(act[0]), np.float32(act[1])).astype(np.float32)


def output_stage(acc, kind: str, scale=None, offset=None, act=(-np.inf, np.inf)) -> np.ndarray:
    """The accumulators as the layer writes them (OUT_KINDS)."""
    if kind == "int32":
        return np.asarray(acc, np.int32)
    y = scaled(acc, scale, offset, act)
    if kind == "float":
        return y
    if kind == "bits":
        return binarize(y)
    raise ValueError(f"binary layer output kind '{kind}' unknown ({', '.join(OUT_KINDS)})")


def bconv2d(x, w, scale=None, offset=None, *, strides: Pair = (1, 1), pads: Pads = (0, 0, 0, 0),
            kind: str = "int32", act=(-np.inf, np.inf), pad_value: int = 0) -> np.ndarray:
    """The binary convolution with its output stage."""
    return output_stage(bconv2d_acc(x, w, strides=strides, pads=pads, pad_value=pad_value), kind, scale, offset, act)


def bmaxpool2d(x, *, kernel: Pair, strides: Pair = (1, 1), pads: Pads = (0, 0, 0, 0), out_size: Pair) -> np.ndarray:
    """Max of the in-bounds +-1 values of each window (padding never wins)."""
    _check_pm1("the input", np.asarray(x))
    y = maxpool2d_f32(np.asarray(x).astype(np.float32), kernel=kernel, strides=strides, pads=pads, out_size=out_size)
    return y.astype(np.int8)

"""Numpy reference of ONNX Resize over the two spatial axes of an NHWC tensor
(runtime_c/include/fn_resize.h): nearest (a gather, any element type) and bilinear
(float32).

Per axis, each output coordinate o maps to an input coordinate c by the
coordinate_transformation_mode; the mapping is computed in float32 with the formulas
and the operation order onnxruntime uses (its scale is the float32 scale of the model,
or out/in when the model gives sizes):
    half_pixel            (o + 0.5) / scale - 0.5
    half_pixel_symmetric  offset + (o + 0.5) / scale - 0.5, offset = in/2 * (1 - out / (scale * in))
    pytorch_half_pixel    (o + 0.5) / scale - 0.5, or 0 when out == 1
    align_corners         o * (in - 1) / (out - 1), or 0 when out == 1
    asymmetric            o / scale
    tf_half_pixel_for_nn  (o + 0.5) / scale
An axis with scale 1 and as many outputs as inputs is the identity in every mode (as in
onnxruntime and ONNX's reference, although tf_half_pixel_for_nn would otherwise shift it).
nearest: c rounded by nearest_mode (round_prefer_floor, round_prefer_ceil, floor, ceil, or
simple: onnxruntime's rule for Resize-10 and Upsample, floor on an axis whose scale is >= 1
and ceil on one whose scale is < 1), then clamped to [0, in - 1]. linear: c clamped to [0, in - 1], i0 = floor(c),
i1 = min(i0 + 1, in - 1), weights w0 = |c - i1| (of i0) and w1 = |c - i0| (of i1),
both 0.5 when i0 == i1. These per-axis tables are the C kernel's parameters.

Bilinear arithmetic: out = (x[y0,x0] * wx0 + x[y0,x1] * wx1) * wy0 + (x[y1,x0] * wx0 + x[y1,x1] * wx1) * wy1
with the float32 weights, computed here in float64 and rounded once to float32; the C
kernel computes the same expression in float32 (tolerance in tests/test_kernels_resize.py).
"""
from __future__ import annotations

import numpy as np

COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")
MODES = ("nearest", "linear")

f32 = np.float32


def output_length(size: int, scale: float) -> int:
    """Output length for a scale (onnxruntime: the float32 product, truncated)."""
    return int(f32(scale) * f32(size))


def source_coordinates(in_len: int, out_len: int, scale: float, mode: str) -> np.ndarray:
    """The input coordinate of every output index along one axis (float32)."""
    if mode not in COORDINATE_MODES:
        raise ValueError(f"resize: coordinate_transformation_mode {mode!r} is not supported "
                         f"(supported: {', '.join(COORDINATE_MODES)})")
    o = np.arange(out_len, dtype=f32)
    s, n_in, n_out = f32(scale), f32(in_len), f32(out_len)
    if s == 1 and in_len == out_len:
        return o          # an unscaled axis is left as it is (onnxruntime and ONNX's reference skip it)
    if mode == "half_pixel":
        return (o + f32(0.5)) / s - f32(0.5)
    if mode == "half_pixel_symmetric":
        adjustment = n_out / (s * n_in)
        offset = (n_in / f32(2)) * (f32(1) - adjustment)
        return offset + (o + f32(0.5)) / s - f32(0.5)
    if mode == "pytorch_half_pixel":
        return np.zeros(out_len, f32) if out_len == 1 else (o + f32(0.5)) / s - f32(0.5)
    if mode == "align_corners":
        return np.zeros(out_len, f32) if out_len == 1 else o * (n_in - f32(1)) / (n_out - f32(1))
    if mode == "asymmetric":
        return o / s
    return (o + f32(0.5)) / s          # tf_half_pixel_for_nn


def nearest_table(in_len: int, out_len: int, scale: float, coord_mode: str, nearest_mode: str) -> np.ndarray:
    """int32 input index of every output index."""
    if nearest_mode not in NEAREST_MODES:
        raise ValueError(f"resize: nearest_mode {nearest_mode!r} is not supported "
                         f"(supported: {', '.join(NEAREST_MODES)})")
    c = source_coordinates(in_len, out_len, scale, coord_mode).astype(np.float64)   # exact widening
    fl = np.floor(c)
    half = (c - fl) == 0.5
    if nearest_mode == "round_prefer_floor":
        idx = np.where(half, fl, np.floor(c + 0.5))
    elif nearest_mode == "round_prefer_ceil":
        idx = np.where(half, fl + 1, np.floor(c + 0.5))
    elif nearest_mode == "floor" or nearest_mode == "simple" and f32(scale) >= 1:
        idx = fl
    else:
        idx = np.ceil(c)
    return np.clip(idx, 0, in_len - 1).astype(np.int32)


def linear_table(in_len: int, out_len: int, scale: float, coord_mode: str):
    """(i0, i1, w0, w1): int32 neighbour indices and their float32 weights, per output index."""
    c = source_coordinates(in_len, out_len, scale, coord_mode)
    c = np.minimum(np.maximum(c, f32(0)), f32(in_len - 1))
    i0 = np.minimum(np.floor(c), in_len - 1).astype(np.int32)
    i1 = np.minimum(i0 + 1, in_len - 1).astype(np.int32)
    w1 = np.abs(c - i0.astype(f32)).astype(f32)
    w0 = np.abs(c - i1.astype(f32)).astype(f32)
    same = i0 == i1
    w0[same] = w1[same] = f32(0.5)
    return i0, i1, w0, w1


def check_resize(x_shape, out_hw, scales, mode):
    """ValueError unless x is 4-D NHWC, the output non-empty, the mode known and the scales positive."""
    if len(x_shape) != 4 or min(x_shape) < 1 or min(out_hw) < 1:
        raise ValueError(f"resize: needs a 4-D NHWC input and a non-empty output, got {tuple(x_shape)} -> {out_hw}")
    if mode not in MODES:
        raise ValueError(f"resize: mode {mode!r} is not supported (supported: {', '.join(MODES)})")
    if not all(np.isfinite(s) and s > 0 for s in scales):
        raise ValueError(f"resize: scales {scales} must be positive and finite")


def resize_nhwc(x, out_hw, scales, *, mode="nearest", coord_mode="half_pixel", nearest_mode="round_prefer_floor"):
    """Resize an NHWC array over H and W (module docstring); nearest keeps x's dtype."""
    x = np.asarray(x)
    check_resize(x.shape, out_hw, scales, mode)
    (h, w), (oh, ow) = x.shape[1:3], (int(v) for v in out_hw)
    if mode == "nearest":
        ys, xs = (nearest_table(n, o, s, coord_mode, nearest_mode) for n, o, s in ((h, oh, scales[0]),
                                                                                    (w, ow, scales[1])))
        return np.ascontiguousarray(x[:, ys][:, :, xs])
    y0, y1, wy0, wy1 = linear_table(h, oh, scales[0], coord_mode)
    x0, x1, wx0, wx1 = linear_table(w, ow, scales[1], coord_mode)
    xd = x.astype(np.float64)
    wx0, wx1 = wx0.astype(np.float64)[:, None], wx1.astype(np.float64)[:, None]
    wy0, wy1 = wy0.astype(np.float64)[:, None, None], wy1.astype(np.float64)[:, None, None]

    def row(ys):
        r = xd[:, ys]
        return r[:, :, x0] * wx0 + r[:, :, x1] * wx1
    return (row(y0) * wy0 + row(y1) * wy1).astype(np.float32)

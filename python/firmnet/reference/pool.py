"""Numpy reference of float32 2-D max and average pooling (runtime_c/include/fn_pool_f32.h).

Layout NHWC; pads are (top, left, bottom, right). Output size: the floor formula
(H + pt + pb - dh*(KH-1) - 1) // sh + 1 unless `out_size` is given; a larger
explicit size (up to the ceil formula) is ceil mode. Every window must hold at
least one in-bounds element.

Arithmetic:
- max pooling: the maximum of the window's in-bounds elements (padding never
  wins), clamped to `act`; exact, so C and reference agree bit for bit.
- average pooling: the sum of the in-bounds elements in float64 divided by the
  divisor, clamped to `act` and rounded once to float32. The divisor follows
  onnxruntime: windows reaching past H + pad_bottom (W + pad_right) are cut there;
  with count_include_pad it is the cut window's size including padding, otherwise
  the number of in-bounds elements. The C kernel sums in float32 (ky, kx
  ascending) and divides once; tests bound the difference.
`act` bounds are used as the float32 values the C struct holds.

The C parameter struct fn_pool2d_f32_params: firmnet.kernels.params_pool_f32.
"""
from __future__ import annotations

import numpy as np

from .conv import window_view, clamp_f32, conv_out_size

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


def _axis_size(size, kernel, stride, dilation, pad_before, pad_after, out, axis) -> int:
    """Checked output length along one axis (floor formula, or the explicit `out`)."""
    floor = conv_out_size(size, kernel, stride, dilation, pad_before, pad_after)
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    ceil = -(-span // stride) + 1
    if floor < 1:
        raise ValueError(f"pool2d: empty output along {axis} (input {size}, kernel {kernel}, "
                         f"dilation {dilation}, pads {pad_before}+{pad_after})")
    if out is None:
        out = floor
    elif not floor <= out <= ceil:
        raise ValueError(f"pool2d: output size {out} along {axis} must be between the floor "
                         f"formula ({floor}) and the ceil formula ({ceil})")
    taps = np.arange(out)[:, None] * stride - pad_before + np.arange(kernel)[None, :] * dilation
    if not np.all(np.any((taps >= 0) & (taps < size), axis=1)):
        raise ValueError(f"pool2d: a window along {axis} holds only padding "
                         f"(input {size}, kernel {kernel}, stride {stride}, dilation {dilation}, "
                         f"pad_before {pad_before}, output {out})")
    return int(out)


def _pool_geometry(x_shape, kernel, strides, dilations, pads, out_size) -> Pair:
    """The constraints of fn_pool_f32.h; returns (out_h, out_w). Raises ValueError."""
    if len(x_shape) != 4 or min(x_shape) < 1:
        raise ValueError(f"pool2d: x must be NHWC with every size >= 1, got {tuple(x_shape)}")
    if min(kernel) < 1 or min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise ValueError(f"pool2d: kernel {kernel}, strides {strides} and dilations {dilations} "
                         f"must be >= 1, pads {pads} >= 0")
    out_size = (None, None) if out_size is None else out_size
    pt, pl, pb, pr = pads
    oh = _axis_size(x_shape[1], kernel[0], strides[0], dilations[0], pt, pb, out_size[0], "H")
    ow = _axis_size(x_shape[2], kernel[1], strides[1], dilations[1], pl, pr, out_size[1], "W")
    return oh, ow


def pool_geometry(x_shape, *, kernel: Pair, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                  pads: Pads = (0, 0, 0, 0), out_size: Pair | None = None) -> dict:
    """The checked geometry of a pooling (sizes, output size, kernel, strides, dilations, pads)."""
    out_hw = _pool_geometry(x_shape, kernel, strides, dilations, pads, out_size)
    n, h, w, c = (int(v) for v in x_shape)
    return {
        "batch": n, "in_h": h, "in_w": w, "channels": c,
        "out_h": out_hw[0], "out_w": out_hw[1],
        "kernel_h": int(kernel[0]), "kernel_w": int(kernel[1]),
        "stride_h": int(strides[0]), "stride_w": int(strides[1]),
        "dilation_h": int(dilations[0]), "dilation_w": int(dilations[1]),
        "pad_top": int(pads[0]), "pad_left": int(pads[1]),
        "pad_bottom": int(pads[2]), "pad_right": int(pads[3]),
    }


def _padded_windows(x, out_hw, kernel, strides, dilations, pads, fill) -> np.ndarray:
    """Window view [N, OH, OW, KH, KW, C] over x padded with `fill`; the bottom and
    right padding is extended so that ceil-mode windows stay inside the array."""
    pt, pl, pb, pr = pads
    need_h = (out_hw[0] - 1) * strides[0] + dilations[0] * (kernel[0] - 1) + 1
    need_w = (out_hw[1] - 1) * strides[1] + dilations[1] * (kernel[1] - 1) + 1
    pb = max(pb, need_h - x.shape[1] - pt)
    pr = max(pr, need_w - x.shape[2] - pl)
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    return window_view(xp, out_hw, kernel, strides, dilations)


def maxpool2d_f32(x, *, kernel: Pair, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                  pads: Pads = (0, 0, 0, 0), out_size: Pair | None = None,
                  act: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """Max over each window's in-bounds elements, clamped; float32 [N, OH, OW, C]."""
    x = np.asarray(x)
    out_hw = _pool_geometry(x.shape, kernel, strides, dilations, pads, out_size)
    win = _padded_windows(x, out_hw, kernel, strides, dilations, pads, -np.inf)
    return clamp_f32(win.max(axis=(3, 4)), act)


def _divisors(size, out, kernel, stride, pad_before, pad_after, count_include_pad) -> np.ndarray:
    """Divisor count along one axis for each output position (onnxruntime's rule)."""
    start = np.arange(out) * stride - pad_before
    end = np.minimum(start + kernel, size + pad_after)          # ceil-mode windows are cut here
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avgpool2d_f32(x, *, kernel: Pair, strides: Pair = (1, 1), pads: Pads = (0, 0, 0, 0),
                  count_include_pad: bool = False, out_size: Pair | None = None,
                  act: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """Mean over each window (see the module docstring for the divisor), clamped;
    float64 arithmetic, float32 [N, OH, OW, C]."""
    x = np.asarray(x)
    out_hw = _pool_geometry(x.shape, kernel, strides, (1, 1), pads, out_size)
    win = _padded_windows(x, out_hw, kernel, strides, (1, 1), pads, 0.0)
    total = win.sum(axis=(3, 4))
    pt, pl, pb, pr = pads
    div_h = _divisors(x.shape[1], out_hw[0], kernel[0], strides[0], pt, pb, count_include_pad)
    div_w = _divisors(x.shape[2], out_hw[1], kernel[1], strides[1], pl, pr, count_include_pad)
    divisor = (div_h[:, None] * div_w[None, :]).astype(np.float64)
    return clamp_f32(total / divisor[None, :, :, None], act)

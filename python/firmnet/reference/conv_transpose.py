"""Numpy reference of float32 transposed 2-D convolution (runtime_c/include/fn_conv_transpose_f32.h).

Layouts: activations NHWC; the filter in ONNX's layout [in_c, out_c / groups, kernel_h,
kernel_w] (the C kernel takes it repacked: firmnet.kernels.params_conv_f32.gather_filter).

Arithmetic, in scatter form (the definition; the C kernel gathers): every input pixel
(iy, ix) of group g adds x[iy, ix, g*Cg + i] * W[g*Cg + i, o, ky, kx] to position
(iy * stride + ky * dilation, ix * stride + kx * dilation) of the full result; the output
is the full result cropped by pads (top, left) and cut at out_h x out_w (rows past the
full result, or before it for negative pads, are 0), plus bias, clamped to `act` (as
float32 values) and rounded once to float32. The sums are computed in float64 (every
product of float32 values is exact there); the C kernel adds the same terms in float32
in the order bias, ky, kx, input channel, so the two differ by at most the float32
summation bound stated in tests/test_kernels_conv_transpose_f32.py.
"""
from __future__ import annotations

import numpy as np

from .conv import clamp_f32

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


def full_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Length of the uncropped result along one axis: (in - 1) * stride + (kernel - 1) * dilation + 1."""
    return (size - 1) * stride + (kernel - 1) * dilation + 1


def out_size(size, kernel, stride, dilation, pad_begin, pad_end) -> int:
    """ONNX ConvTranspose's output length (output_padding folded into pad_end as pad_end - output_padding)."""
    return full_size(size, kernel, stride, dilation) - pad_begin - pad_end


def check_geometry(x_shape, w_shape, strides, dilations, pads, groups) -> tuple[int, int]:
    """(out_h, out_w) of a transposed convolution; ValueError for shapes that do not fit."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"conv_transpose2d: x must be NHWC and w [in_c, out_c/groups, kh, kw], "
                         f"got {tuple(x_shape)} and {tuple(w_shape)}")
    n, h, w, c = (int(v) for v in x_shape)
    ci, ocg, kh, kw = (int(v) for v in w_shape)
    if min(n, h, w, c, ocg, kh, kw) < 1:
        raise ValueError(f"conv_transpose2d: every size must be >= 1, got x {tuple(x_shape)}, w {tuple(w_shape)}")
    if groups < 1 or c % groups or ci != c:
        raise ValueError(f"conv_transpose2d: the filter has {ci} input channels for an input of {c} channels "
                         f"and groups={groups} (need equal counts, divisible by groups)")
    if min(strides) < 1 or min(dilations) < 1:
        raise ValueError(f"conv_transpose2d: strides {strides} and dilations {dilations} must be >= 1")
    oh = out_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    ow = out_size(w, kw, strides[1], dilations[1], pads[1], pads[3])
    if oh < 1 or ow < 1:
        raise ValueError(f"conv_transpose2d: empty output {oh}x{ow} (input {h}x{w}, kernel {kh}x{kw}, pads {pads})")
    return oh, ow


def conv_transpose2d_f32(x, w, bias=None, *, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                         pads: Pads = (0, 0, 0, 0), groups: int = 1,
                         act: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """out [N, OH, OW, out_c] in float64 arithmetic, float32 result (module docstring)."""
    x, w = np.asarray(x), np.asarray(w)
    oh, ow = check_geometry(x.shape, w.shape, strides, dilations, pads, groups)
    n, h, wd, c = x.shape
    _, ocg, kh, kw = w.shape
    oc = ocg * groups
    if bias is not None and np.shape(bias) != (oc,):
        raise ValueError(f"conv_transpose2d: bias must have shape ({oc},), got {np.shape(bias)}")
    sh, sw = strides
    dh, dw = dilations
    fh, fw = full_size(h, kh, sh, dh), full_size(wd, kw, sw, dw)
    cg = c // groups
    xg = x.astype(np.float64).reshape(n, h, wd, groups, cg)
    wg = w.astype(np.float64).reshape(groups, cg, ocg, kh, kw)
    # contributions [N, H, W, KH, KW, G, OCg]
    contrib = np.einsum("nhwgc,gcoyx->nhwyxgo", xg, wg, optimize=True).reshape(n, h, wd, kh, kw, oc)
    full = np.zeros((n, fh, fw, oc))
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky * dh: ky * dh + sh * (h - 1) + 1: sh, kx * dw: kx * dw + sw * (wd - 1) + 1: sw] += \
                contrib[:, :, :, ky, kx]
    out = np.zeros((n, oh, ow, oc))
    ys = np.arange(oh) + pads[0]
    xs = np.arange(ow) + pads[1]
    ys_ok, xs_ok = (ys >= 0) & (ys < fh), (xs >= 0) & (xs < fw)
    out[:, ys_ok[:, None] & xs_ok[None, :]] = full[:, ys[ys_ok]][:, :, xs[xs_ok]].reshape(n, -1, oc)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)
    return clamp_f32(out, act)

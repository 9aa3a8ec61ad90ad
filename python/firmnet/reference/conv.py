"""Numpy reference of float32 2-D convolution (runtime_c/include/fn_conv_f32.h).

Layouts: activations NHWC, filters OHWI ([out_c, kernel_h, kernel_w, in_c / groups]);
pads are (top, left, bottom, right) and padded positions are zeros.

Arithmetic: the sum  bias[o] + sum_{ky,kx,c} x[n, iy, ix, g*Cg + c] * w[o, ky, kx, c]
is computed in float64 (inputs are float32, so every product is exact in float64),
clamped to `act` (as float32 values, like the C struct holds them) and rounded once
to float32. The C kernel adds
the same terms in float32 in the order bias, ky, kx, c; the two differ by at most
the float32 summation error bound that tests/test_kernels_conv_f32.py states.
The C parameter structs: firmnet.kernels.params_conv_f32.
"""
from __future__ import annotations

import numpy as np

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


def conv_out_size(size: int, kernel: int, stride: int, dilation: int,
                  pad_before: int, pad_after: int) -> int:
    """Output length along one axis (floor formula of ONNX Conv / TFLite)."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _check_conv(x_shape, w_shape, strides, dilations, pads, groups) -> tuple[int, int]:
    """The constraints of fn_conv_f32.h; returns (out_h, out_w). Raises ValueError."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"conv2d: x must be NHWC and w OHWI (4-D), got {tuple(x_shape)} and {tuple(w_shape)}")
    n, h, w, c = (int(v) for v in x_shape)
    oc, kh, kw, cg = (int(v) for v in w_shape)
    if min(n, h, w, c, oc, kh, kw, cg) < 1:
        raise ValueError(f"conv2d: every size must be >= 1, got x {tuple(x_shape)}, w {tuple(w_shape)}")
    if groups < 1 or c % groups or oc % groups:
        raise ValueError(f"conv2d: groups={groups} must divide in_c={c} and out_c={oc}")
    if cg != c // groups:
        raise ValueError(f"conv2d: filter has {cg} input channels, expected in_c/groups = {c // groups}")
    if min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise ValueError(f"conv2d: strides {strides} and dilations {dilations} must be >= 1, pads {pads} >= 0")
    oh = conv_out_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    ow = conv_out_size(w, kw, strides[1], dilations[1], pads[1], pads[3])
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: empty output {oh}x{ow} (input {h}x{w}, kernel {kh}x{kw}, "
                         f"dilations {dilations}, pads {pads})")
    return oh, ow


def window_view(xp: np.ndarray, out_hw: Pair, kernel: Pair, strides: Pair, dilations: Pair) -> np.ndarray:
    """View [N, OH, OW, KH, KW, C] of the padded input xp [N, H', W', C] (no copy)."""
    sn, sh, sw, sc = xp.strides
    shape = (xp.shape[0], out_hw[0], out_hw[1], kernel[0], kernel[1], xp.shape[3])
    strides_ = (sn, sh * strides[0], sw * strides[1], sh * dilations[0], sw * dilations[1], sc)
    return np.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides_, writeable=False)


def conv2d_f32(x, w, bias=None, *, strides: Pair = (1, 1), dilations: Pair = (1, 1),
               pads: Pads = (0, 0, 0, 0), groups: int = 1,
               act: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """out [N, OH, OW, OC] = clamp(bias + conv(x, w)), float64 arithmetic, float32 result."""
    x = np.asarray(x)
    w = np.asarray(w)
    oh, ow = _check_conv(x.shape, w.shape, strides, dilations, pads, groups)
    oc, kh, kw, cg = w.shape
    if bias is not None and np.shape(bias) != (oc,):
        raise ValueError(f"conv2d: bias must have shape ({oc},), got {np.shape(bias)}")
    pt, pl, pb, pr = pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    win = window_view(xp, (oh, ow), (kh, kw), strides, dilations)
    win = win.reshape(win.shape[:5] + (groups, cg))                     # [N,OH,OW,KH,KW,G,Cg]
    wg = w.astype(np.float64).reshape(groups, oc // groups, kh, kw, cg)  # [G,OCg,KH,KW,Cg]
    out = np.einsum("nhwyxgc,goyxc->nhwgo", win, wg, optimize=True)
    out = out.reshape(x.shape[0], oh, ow, oc)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)
    return clamp_f32(out, act)


def clamp_f32(acc: np.ndarray, act: tuple[float, float]) -> np.ndarray:
    """min(max(acc, act_min), act_max) rounded to float32, the bounds taken as the
    float32 values the C parameter struct holds (act_min, act_max may be +-inf)."""
    lo, hi = (float(np.float32(a)) for a in act)
    return np.minimum(np.maximum(acc, lo), hi).astype(np.float32)

"""Parameters of the int8 Winograd F(2x2, 3x3) kernels (runtime_c/include/fn_conv2d_s8_winograd.h):
the transformed filter U = (2G) g (2G)^T as int16 [out_c][16][in_c_pad], and their
fn_conv2d_s8_params (the direct kernel's struct, params_conv_s8.conv2d_s8_params) restricted
to what they take. The numpy reference does not use this module: the kernel tests compare with
the direct convolution (reference/conv_s8.py), and with a numpy Winograd of their own."""
from __future__ import annotations

import numpy as np

from .params_conv_s8 import conv2d_s8_params

MAX_IN_C = 1827            # FN_WINO_S8_MAX_IN_C: 4 * 9 * in_c * 255 * 128 < 2^31
TILES = 2                  # FN_WINO_S8_TILES: transformed tiles in the scratch
# 2G of F(2x2, 3x3) (G: rows (1, 0, 0), (1/2, 1/2, 1/2), (1/2, -1/2, 1/2), (0, 0, 1))
G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)


def in_c_pad(in_c: int) -> int:
    """fn_wino_s8_in_c_pad: in_c rounded up to an even number."""
    return in_c + (in_c & 1)


def geometry_refusal(w_shape, strides, dilations, groups) -> str | None:
    """None for a geometry the Winograd kernels take (fn_wino_s8_shape), else the reason."""
    oc, kh, kw, cin = (int(v) for v in w_shape)
    if (kh, kw) != (3, 3):
        return f"{kh}x{kw} filter (3x3 only)"
    if tuple(strides) != (1, 1):
        return f"stride {tuple(strides)} (1 only)"
    if tuple(dilations) != (1, 1):
        return f"dilation {tuple(dilations)} (1 only)"
    if groups != 1:
        return f"{groups} groups (1 only)"
    if cin > MAX_IN_C:
        return (f"{cin} input channels: above {MAX_IN_C}, 4 x the accumulator would leave int32 "
                "(fn_conv2d_s8_winograd.h)")
    return None


def winograd_s8_params(x_shape, w_shape, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups: int = 1,
                       weight_zero_points=0, **quant) -> tuple[dict, dict]:
    """(fn_conv2d_s8_params scalar fields, arrays) of fn_conv2d_s8_winograd for x NHWC and w OHWI;
    quant: conv2d_s8_params's quantization keywords. ValueError for a layer it does not take."""
    refused = geometry_refusal(w_shape, strides, dilations, groups)
    if refused:
        raise ValueError(refused)
    params, arrays = conv2d_s8_params(x_shape, w_shape, strides=strides, dilations=dilations, pads=pads,
                                      groups=groups, weight_zero_points=weight_zero_points, **quant)
    if arrays["filter_offset"] is not None:
        raise ValueError("weights with zero points (symmetric weights only)")
    return params, arrays


def transform_filter(w) -> np.ndarray:
    """OHWI int8 3x3 filter → U = (2G) g (2G)^T per (output, input) channel, int16, in the kernels'
    interleaved layout [ceil(out_c / 2)][16][in_c_pad / 2][2][2]: per pair of output channels, per
    position k = 4 * i + j of U[i][j], per pair of input channels, (channel o: c, c + 1) then
    (channel o + 1: c, c + 1). The padding input channel and an odd out_c's last partner are 0."""
    w = np.asarray(w)
    if w.dtype != np.int8 or w.ndim != 4 or w.shape[1:3] != (3, 3):
        raise ValueError(f"Winograd filter must be int8 OHWI [out_c, 3, 3, in_c], got {w.dtype} {w.shape}")
    oc, _, _, cin = w.shape
    g = w.astype(np.int64).transpose(0, 3, 1, 2)                   # [oc, cin, 3, 3]
    u = np.einsum("ik,ockl,jl->ocij", G2, g, G2).reshape(oc, cin, 16)   # |U| <= 9 * 128 fits int16
    full = np.zeros((oc + (oc & 1), 16, in_c_pad(cin)), np.int64)
    full[:oc, :, :cin] = u.transpose(0, 2, 1)                       # [oc_pad, 16, cin_pad]
    pairs = full.reshape(-1, 2, 16, in_c_pad(cin) // 2, 2)          # [pair, o, k, c / 2, c % 2]
    return np.ascontiguousarray(pairs.transpose(0, 2, 3, 1, 4)).astype(np.int16)


def row_w(out_w: int) -> int:
    """fn_wino_s8_row_w: columns of the padded input rows (0 if out_w is outside [1, 2^30])."""
    return 2 * ((out_w - 1) // 2) + 4 if 1 <= out_w <= 2**30 else 0


def scratch_bytes(p: dict) -> int:
    """fn_conv2d_s8_winograd_scratch_size: TILES transformed tiles of 16 x in_c_pad int16, then the 4
    padded input rows of row_w x in_c bytes; 0 for a geometry the kernels do not take or a size
    not below 2^31."""
    shape = (p["kernel_h"], p["kernel_w"], p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"])
    width = row_w(p["out_w"])
    if shape != (3, 3, 1, 1, 1, 1) or p["groups"] != 1 or not 1 <= p["in_c"] <= MAX_IN_C or width == 0:
        return 0
    size = TILES * 16 * in_c_pad(p["in_c"]) * 2 + 4 * width * p["in_c"]
    return size if size < 2**31 - 1 else 0


def flash(w_shape) -> tuple[int, int]:
    """(direct, Winograd) bytes of the weights: 9 int8 against 16 int16 per (output, input)
    channel pair, in_c and out_c padded to even."""
    oc, kh, kw, cin = (int(v) for v in w_shape)
    return oc * kh * kw * cin, (oc + (oc & 1)) * 16 * in_c_pad(cin) * 2

"""Parameter structs of the int8 convolution and fully connected kernels
(runtime_c/include/fn_conv_s8.h, fn_fc_s8.h): the C interface, not the arithmetic.

`conv2d_s8_params`, `depthwise_conv2d_s8_params` and `fc_s8_params` take the float
quantization parameters of a layer and return
  (params, arrays): params = the C struct's scalar fields (names as in the header), its
                    requantization block under "requant" (params_requant.py: the block's
                    scalar fields),
                    arrays = the block's pointer fields {"multiplier", "shift", "scale"}
                    (and fn_conv2d_s8_params's "filter_offset"): int32 / float32 numpy
                    arrays, or None for those not read (the compiler emits NULL);
                    params_requant.nest(params, arrays) is the whole struct as one dict.
The numpy reference (reference/conv_s8.py, dense_s8.py) derives the multipliers on its
own from the same scales, so a wrong multiplier here makes the kernel tests fail.
The builders raise ValueError for what the kernels cannot run (depth bounds, scales).
"""
from __future__ import annotations

import numpy as np

from ..reference.conv import _check_conv
from ..reference.dense import check_fc_shapes
from .params_conv_f32 import conv_geometry
from .params_requant import FIELD, INT8_MAX, INT8_MIN, check_zero_point, requant_block

MAX_DEPTH = 2**16          # FN_S8_MAX_DEPTH: products per int32 accumulator
MAX_DEPTH_OFFSET = 2**15   # the same with a filter offset (255 * 255 * 2^15 < 2^31)
DW_BLOCK = 4               # FN_DW_S8_BLOCK: channels per block of the depthwise filter


def quant_fields(input_zero_point: int, output_zero_point: int, act, mode: str, input_scale, weight_scales,
                 output_scale, n_channels: int) -> tuple[dict, dict]:
    """({"input_offset", "requant"}, the block's arrays): what every int8 params struct of
    this module holds besides its geometry."""
    input_offset = -check_zero_point(input_zero_point, "input")
    block, arrays = requant_block(input_scale=input_scale, weight_scales=weight_scales,
                                  output_scale=output_scale, output_zero_point=output_zero_point, act=act,
                                  mode=mode, n_channels=n_channels)
    return {"input_offset": input_offset, FIELD: block}, arrays


def check_depth(depth: int, what: str, filter_offset: bool = False) -> None:
    limit = MAX_DEPTH_OFFSET if filter_offset else MAX_DEPTH
    if depth > limit:
        bound = "255 * 255 * 2^15" if filter_offset else "255 * 128 * 2^16"
        raise ValueError(f"{what}: {depth} products per accumulator exceed {limit}, the most an "
                         f"int32 accumulator holds without overflow ({bound} < 2^31)")


def filter_offsets(weight_zero_points, n_channels: int):
    """int32 [n_channels] of -(weight zero point), or None when every zero point is 0."""
    z = np.atleast_1d(np.asarray(weight_zero_points, dtype=np.int64))
    if z.ndim != 1 or z.size not in (1, n_channels):
        raise ValueError(f"weight zero points: expected 1 or {n_channels} values, got {z.size}")
    if np.any((z < INT8_MIN) | (z > INT8_MAX)):
        raise ValueError(f"weight zero points {z.tolist()} must be integers in [-128, 127]")
    if not z.any():
        return None
    return np.ascontiguousarray(np.broadcast_to(-z, (n_channels,))).astype(np.int32)


# ---------------------------------------------------------------- convolution

def conv2d_s8_params(x_shape, w_shape, *, input_scale, input_zero_point, weight_scales, output_scale,
                     output_zero_point, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                     groups: int = 1, act=(INT8_MIN, INT8_MAX), mode: str = "tflm",
                     weight_zero_points=0) -> tuple[dict, dict]:
    """(fn_conv2d_s8_params scalar fields, arrays) for x NHWC and w OHWI; pads (t, l, b, r).
    arrays also holds "filter_offset" (None when the weights are symmetric)."""
    geometry = conv_geometry(x_shape, w_shape, strides, dilations, pads, groups)
    oc, kh, kw, cg = (int(v) for v in w_shape)
    offsets = filter_offsets(weight_zero_points, oc)
    check_depth(kh * kw * cg, "conv2d", offsets is not None)
    quant, arrays = quant_fields(input_zero_point, output_zero_point, act, mode, input_scale, weight_scales,
                                 output_scale, oc)
    return {**geometry, **quant}, {**arrays, "filter_offset": offsets}


def conv2d_s32_params(x_shape, w_shape, *, input_zero_point, weight_zero_points=0, strides=(1, 1),
                      dilations=(1, 1), pads=(0, 0, 0, 0), groups: int = 1) -> tuple[dict, dict]:
    """(fn_conv2d_s8_params fields, arrays) for fn_conv2d_s8_s32, which writes the int32
    accumulators: the requantization fields are unused (per-tensor placeholders)."""
    return conv2d_s8_params(x_shape, w_shape, input_scale=1.0, input_zero_point=input_zero_point,
                            weight_scales=1.0, output_scale=1.0, output_zero_point=0, strides=strides,
                            dilations=dilations, pads=pads, groups=groups,
                            weight_zero_points=weight_zero_points)


# ---------------------------------------------------------------- depthwise

def _dw_filter_hwc(w) -> np.ndarray:
    """TFLite's [1, KH, KW, C*m] (or [KH, KW, C*m]) depthwise filter as [KH, KW, C*m]."""
    w = np.asarray(w)
    if w.ndim == 4 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 3:
        raise ValueError(f"depthwise filter must be [1, kh, kw, C*m] or [kh, kw, C*m], got {w.shape}")
    return w


def depthwise_conv2d_s8_params(x_shape, w_shape, *, input_scale, input_zero_point, weight_scales,
                               output_scale, output_zero_point, strides=(1, 1), dilations=(1, 1),
                               pads=(0, 0, 0, 0), act=(INT8_MIN, INT8_MAX),
                               mode: str = "tflm") -> tuple[dict, dict]:
    """(fn_depthwise_conv2d_s8_params scalar fields, arrays); w_shape is TFLite's
    [1, kh, kw, C*m] or [kh, kw, C*m]."""
    w_shape = tuple(int(v) for v in w_shape)
    kh, kw, oc = w_shape[-3:] if len(w_shape) in (3, 4) else (0, 0, 0)
    if len(w_shape) not in (3, 4) or (len(w_shape) == 4 and w_shape[0] != 1):
        raise ValueError(f"depthwise filter must be [1, kh, kw, C*m] or [kh, kw, C*m], got {w_shape}")
    n, h, w, c = (int(v) for v in x_shape)
    if c < 1 or oc % c:
        raise ValueError(f"depthwise: out_c={oc} must be a multiple of in_c={c}")
    oh, ow = _check_conv(x_shape, (oc, kh, kw, 1), strides, dilations, pads, c)
    check_depth(kh * kw, "depthwise_conv2d")
    quant, arrays = quant_fields(input_zero_point, output_zero_point, act, mode, input_scale, weight_scales,
                                 output_scale, oc)
    params = {
        "batch": n, "in_h": h, "in_w": w, "in_c": c,
        "out_h": oh, "out_w": ow, "depth_multiplier": oc // c,
        "kernel_h": kh, "kernel_w": kw,
        "stride_h": int(strides[0]), "stride_w": int(strides[1]),
        "dilation_h": int(dilations[0]), "dilation_w": int(dilations[1]),
        "pad_top": int(pads[0]), "pad_left": int(pads[1]),
        **quant,
    }
    return params, arrays


def pack_depthwise_filter(w) -> np.ndarray:
    """TFLite's [1, KH, KW, C*m] (or [KH, KW, C*m]) filter → the kernel's flat layout:
    blocks of DW_BLOCK output channels, each block [KH][KW][n] (fn_conv_s8.h)."""
    hwc = _dw_filter_hwc(w)
    kh, kw, oc = hwc.shape
    blocks = [hwc[:, :, c0:c0 + DW_BLOCK].reshape(-1) for c0 in range(0, oc, DW_BLOCK)]
    return np.ascontiguousarray(np.concatenate(blocks)).astype(hwc.dtype, copy=False)


def unpack_depthwise_filter(packed, kernel_h: int, kernel_w: int, out_c: int) -> np.ndarray:
    """Inverse of pack_depthwise_filter: [KH, KW, C*m]."""
    packed = np.asarray(packed).reshape(-1)
    if packed.size != kernel_h * kernel_w * out_c:
        raise ValueError(f"packed filter holds {packed.size} values, expected {kernel_h * kernel_w * out_c}")
    out = np.empty((kernel_h, kernel_w, out_c), packed.dtype)
    pos = 0
    for c0 in range(0, out_c, DW_BLOCK):
        nb = min(DW_BLOCK, out_c - c0)
        out[:, :, c0:c0 + nb] = packed[pos:pos + kernel_h * kernel_w * nb].reshape(kernel_h, kernel_w, nb)
        pos += kernel_h * kernel_w * nb
    return out


# ---------------------------------------------------------------- fully connected

def fc_s8_params(x_shape, w_shape, *, input_scale, input_zero_point, weight_scales, output_scale,
                 output_zero_point, act=(INT8_MIN, INT8_MAX), mode: str = "tflm") -> tuple[dict, dict]:
    """(fn_fc_s8_params scalar fields, arrays) for x [N, K] and w [M, K]."""
    check_fc_shapes(x_shape, w_shape)
    check_depth(int(x_shape[1]), "fc")
    m = int(w_shape[0])
    quant, arrays = quant_fields(input_zero_point, output_zero_point, act, mode, input_scale, weight_scales,
                                 output_scale, m)
    params = {"batch": int(x_shape[0]), "in_features": int(x_shape[1]), "out_features": m, **quant}
    return params, arrays

"""Numpy reference of the int8 convolutions (runtime_c/include/fn_conv_s8.h), bit-exact.

Arithmetic, per output element, in int64 numpy holding int32 values (TFLite's
reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel):
    sum = SUM over in-bounds taps of (x + input_offset) * w     |sum| < 2^31 (depth <= 2^16)
    acc = wrap32(sum + bias[c])
    out = output_stage_s8(acc)                                  TFLite's order, see below
Padded taps are left out of the sum (the input, offset included, is padded with 0).

Weights with a zero point (ONNX allows them; TFLite does not): the general convolution
takes filter_offset[c] = -(weight zero point of channel c), and the sum becomes
    sum = SUM over in-bounds taps of (x + input_offset) * (w + filter_offset[c])
          (depth <= 2^15, since |w + filter_offset| <= 255)
which is onnxruntime's QLinearConv/ConvInteger accumulator. `conv2d_s32` is that
accumulator plus the bias, without an output stage (ConvInteger, MatMulInteger).

Parameters. `conv2d_s8_params` and `depthwise_conv2d_s8_params` take the float
quantization parameters of a layer and return
  (params, arrays): params = the C struct's scalar fields (names as in the header),
                    arrays = {"multiplier", "shift", "scale"}, the struct's pointer
                    fields: int32 / float32 numpy arrays, or None for those the mode
                    does not read (the compiler emits NULL).
The effective scale of output channel c is computed as the runtime being matched does:
  tflm, single: double(s_in) * double(s_w[c]) / double(s_out), then quantize_multiplier
      (TFLite's PopulateConvolutionQuantizationParams in kernels/kernel_util.cc, the one
      used by Conv and DepthwiseConv, per-channel and per-tensor alike; checked against
      the tflite-micro interpreter by tests/test_kernels_conv_s8.py);
  ort: float32 (s_in * s_w[c]) / s_out, left to right in float32 (onnxruntime
      QLinearConv::ComputeOutputScale, onnxruntime/core/providers/cpu/quantization/
      qlinearconv.cc: `X_scale_value * W_scale_data[i] / Y_scale_value`). Where
      onnxruntime fuses a QDQ Conv it becomes this QLinearConv; onnxruntime 1.31 on
      x86 leaves a QDQ Conv with int8 activations unfused (float Conv, QuantizeLinear).
The references take (params, arrays) as well, so the kernel call and the reference
are parameterised in one place; tests may also hand them arbitrary multiplier/shift
arrays to reach every branch of the fixed-point code.
"""
from __future__ import annotations

import numpy as np

from .conv import _check_conv, conv_geometry, window_view
from .fixedpoint import (REQUANT_MODES, mul_by_quantized_mul_single, mul_by_quantized_mul_tflm,
                         quantize_multiplier, requantize_float)

INT8_MIN, INT8_MAX = -128, 127
MAX_DEPTH = 2**16          # FN_S8_MAX_DEPTH: products per int32 accumulator
MAX_DEPTH_OFFSET = 2**15   # the same with a filter offset (255 * 255 * 2^15 < 2^31)
DW_BLOCK = 4               # FN_DW_S8_BLOCK: channels per block of the depthwise filter
ARRAY_FIELDS = ("multiplier", "shift", "scale")


def wrap32(x):
    """int64 values → the int32 value with the same low 32 bits (C's modulo 2^32)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32) - 2**31


# ---------------------------------------------------------------- quantization parameters

def _scales(values, what: str) -> np.ndarray:
    s = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"{what} must be positive finite floats, got {values!r}")
    # the model stores float32 scales: that is what both runtimes read
    return s.astype(np.float32)


def requant_arrays(input_scale, weight_scales, output_scale, mode: str, n_channels: int) -> tuple[int, dict]:
    """(per_channel, arrays) for s_in * s_w[c] / s_out; weight_scales: one value
    (per-tensor) or n_channels values."""
    if mode not in REQUANT_MODES:
        raise ValueError(f"unknown requantization mode '{mode}' (modes: {', '.join(REQUANT_MODES)})")
    s_in = _scales(input_scale, "input scale")
    s_out = _scales(output_scale, "output scale")
    s_w = _scales(weight_scales, "weight scales")
    if s_in.size != 1 or s_out.size != 1:
        raise ValueError("input and output scales must be per-tensor (one value)")
    if s_w.size not in (1, n_channels):
        raise ValueError(f"weight scales: expected 1 or {n_channels} values (one per output "
                         f"channel), got {s_w.size}")
    per_channel = int(s_w.size > 1)
    if mode == "ort":
        with np.errstate(over="raise", under="ignore"):
            try:
                scale = (s_in[0] * s_w) / s_out[0]           # float32 arithmetic, left to right
            except FloatingPointError:
                raise ValueError("the float32 requantization scale overflows") from None
        return per_channel, {"multiplier": None, "shift": None, "scale": scale.astype(np.float32)}
    mult, shift = [], []
    for w in s_w:
        m, s = quantize_multiplier(float(s_in[0]) * float(w) / float(s_out[0]))
        mult.append(m)
        shift.append(s)
    return per_channel, {"multiplier": np.array(mult, np.int32), "shift": np.array(shift, np.int32),
                         "scale": None}


def quant_fields(input_zero_point: int, output_zero_point: int, act, mode: str, per_channel: int) -> dict:
    """The requantization scalar fields shared by every int8 params struct."""
    for name, zp in (("input", input_zero_point), ("output", output_zero_point)):
        if int(zp) != zp or not INT8_MIN <= zp <= INT8_MAX:
            raise ValueError(f"{name} zero point {zp} must be an integer in [-128, 127]")
    lo, hi = act
    if int(lo) != lo or int(hi) != hi or not INT8_MIN <= lo <= hi <= INT8_MAX:
        raise ValueError(f"activation range {tuple(act)} must be integers with -128 <= min <= max <= 127")
    return {
        "input_offset": -int(input_zero_point), "output_offset": int(output_zero_point),
        "act_min": int(lo), "act_max": int(hi),
        "requant_mode": REQUANT_MODES[mode], "per_channel": int(per_channel),
    }


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


# ---------------------------------------------------------------- output stage

def output_stage_s8(acc, params: dict, arrays: dict) -> np.ndarray:
    """fn_output_stage_s8 over acc [..., C] (channel last): int8 result.

    tflm/single: clamp(wrap32(requantize(acc) + output_offset), act_min, act_max);
    single's int64 → int32 conversion wraps like the C. ort: MlasRequantizeOutput,
    clamp in float to [act_min - zp, act_max - zp], round half to even, + zp.
    """
    acc = np.asarray(acc, dtype=np.int64)
    mode = params["requant_mode"]
    zp, lo, hi = params["output_offset"], params["act_min"], params["act_max"]
    ch = np.arange(acc.shape[-1]) if params["per_channel"] else np.zeros(acc.shape[-1], np.int64)
    if mode == REQUANT_MODES["ort"]:
        scale = np.asarray(arrays["scale"], dtype=np.float32)[ch]
        return (requantize_float(acc, scale, lo - zp, hi - zp) + zp).astype(np.int8)
    mult = np.asarray(arrays["multiplier"], dtype=np.int64)[ch]
    shift = np.asarray(arrays["shift"], dtype=np.int64)[ch]
    if mode == REQUANT_MODES["tflm"]:
        r = mul_by_quantized_mul_tflm(acc, mult, shift)
    elif mode == REQUANT_MODES["single"]:
        r = wrap32(mul_by_quantized_mul_single(acc, mult, shift))
    else:
        raise ValueError(f"unknown requant_mode {mode}")
    return np.clip(wrap32(r + zp), lo, hi).astype(np.int8)


def add_bias(acc: np.ndarray, bias) -> np.ndarray:
    if bias is None:
        return acc
    bias = np.asarray(bias)
    if bias.shape != (acc.shape[-1],) or bias.dtype != np.int32:
        raise ValueError(f"bias must be int32 of shape ({acc.shape[-1]},), got {bias.dtype} {bias.shape}")
    return wrap32(acc + bias.astype(np.int64))


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
    per_channel, arrays = requant_arrays(input_scale, weight_scales, output_scale, mode, oc)
    params = {**geometry, **quant_fields(input_zero_point, output_zero_point, act, mode, per_channel)}
    return params, {**arrays, "filter_offset": offsets}


def conv2d_s32_params(x_shape, w_shape, *, input_zero_point, weight_zero_points=0, strides=(1, 1),
                      dilations=(1, 1), pads=(0, 0, 0, 0), groups: int = 1) -> tuple[dict, dict]:
    """(fn_conv2d_s8_params fields, arrays) for fn_conv2d_s8_s32, which writes the int32
    accumulators: the requantization fields are unused (per-tensor placeholders)."""
    return conv2d_s8_params(x_shape, w_shape, input_scale=1.0, input_zero_point=input_zero_point,
                            weight_scales=1.0, output_scale=1.0, output_zero_point=0, strides=strides,
                            dilations=dilations, pads=pads, groups=groups,
                            weight_zero_points=weight_zero_points)


def _conv_sums(x, w, p: dict, groups: int, filter_offset=None) -> np.ndarray:
    """Exact int64 sums [N, OH, OW, OC] of (x + input_offset) * (w + filter_offset) over
    in-bounds taps."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError(f"x and w must be int8, got {x.dtype} and {w.dtype}")
    n, h, wd, c = x.shape
    oc, kh, kw, cg = w.shape
    if (n, h, wd, c) != (p["batch"], p["in_h"], p["in_w"], p["in_c"]) or (kh, kw) != (p["kernel_h"], p["kernel_w"]):
        raise ValueError(f"x {x.shape} / w {w.shape} do not match the parameters")
    oh, ow = p["out_h"], p["out_w"]
    sh, sw, dh, dw = p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"]
    pt, pl = p["pad_top"], p["pad_left"]
    # bottom/right padding implied by the output size, as in the C kernel
    pb = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - pt - h)
    pr = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - pl - wd)
    xo = x.astype(np.int64) + p["input_offset"]
    xp = np.pad(xo, ((0, 0), (pt, pb), (pl, pr), (0, 0)))          # padded taps add 0
    win = window_view(xp, (oh, ow), (kh, kw), (sh, sw), (dh, dw))   # [N,OH,OW,KH,KW,C]
    win = win.reshape(win.shape[:5] + (groups, cg))
    w = w.astype(np.int64)
    if filter_offset is not None:
        w = w + np.asarray(filter_offset, np.int64).reshape(oc, 1, 1, 1)
    wg = w.reshape(groups, oc // groups, kh, kw, cg)
    sums = np.einsum("nhwyxgc,goyxc->nhwgo", win, wg, optimize=True).reshape(n, oh, ow, oc)
    assert np.abs(sums).max(initial=0) < 2**31, "sum of products left int32 (depth bound violated)"
    return sums


def conv2d_s8(x, w, bias, params: dict, arrays: dict) -> np.ndarray:
    """int8 conv (x NHWC int8, w OHWI int8, bias int32 [OC] or None) → int8 NHWC."""
    return output_stage_s8(conv2d_s32(x, w, bias, params, arrays), params, arrays)


def conv2d_s32(x, w, bias, params: dict, arrays: dict) -> np.ndarray:
    """The int32 accumulators (sums plus bias, modulo 2^32) of conv2d_s8: fn_conv2d_s8_s32."""
    sums = _conv_sums(x, w, params, params["groups"], arrays.get("filter_offset"))
    return add_bias(sums, bias).astype(np.int32)


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
    per_channel, arrays = requant_arrays(input_scale, weight_scales, output_scale, mode, oc)
    params = {
        "batch": n, "in_h": h, "in_w": w, "in_c": c,
        "out_h": oh, "out_w": ow, "depth_multiplier": oc // c,
        "kernel_h": kh, "kernel_w": kw,
        "stride_h": int(strides[0]), "stride_w": int(strides[1]),
        "dilation_h": int(dilations[0]), "dilation_w": int(dilations[1]),
        "pad_top": int(pads[0]), "pad_left": int(pads[1]),
        **quant_fields(input_zero_point, output_zero_point, act, mode, per_channel),
    }
    return params, arrays


def depthwise_conv2d_s8(x, w, bias, params: dict, arrays: dict) -> np.ndarray:
    """int8 depthwise conv; w in TFLite's layout [1, KH, KW, C*m] (not packed)."""
    hwc = _dw_filter_hwc(w)
    if hwc.shape[2] != params["in_c"] * params["depth_multiplier"]:
        raise ValueError(f"filter {np.shape(w)} does not match in_c * depth_multiplier")
    # output channel c*m + j is group c's filter j: a grouped conv with groups = in_c
    w_ohwi = np.ascontiguousarray(hwc.transpose(2, 0, 1))[..., None]
    acc = add_bias(_conv_sums(x, w_ohwi, params, params["in_c"]), bias)
    return output_stage_s8(acc, params, arrays)


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


def depthwise_filter_from_onnx(w) -> np.ndarray:
    """ONNX depthwise Conv weight [C*m, 1, KH, KW] (group = C) → TFLite's [1, KH, KW, C*m]."""
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"ONNX depthwise weight must be [C*m, 1, kh, kw], got {w.shape}")
    return np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))[None]

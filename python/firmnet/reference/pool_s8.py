"""Int8 2-D max and average pooling (NHWC), bit-exact with runtime_c/include/fn_pool_s8.h
(fn_maxpool2d_s8.c, fn_avgpool2d_s8.c).

Geometry is the float kernels' (reference/pool.py): pads (top, left, bottom, right),
floor output size unless `out_size` (up to the ceil formula) is given, every window
holds an in-bounds element; max pooling may dilate, average pooling may not. The
references take the int8 array, the geometry, the input and output quantization as
(scale, zero point) pairs (the output defaults to the input's), the fused activation as
an integer clamp and the requant_mode; `maxpool_constants` / `avgpool_constants` derive
the method, count rule and integers from those. The C parameter structs
(firmnet.kernels.params_pool_s8) are those values with the methods and rules as the C
enums.

Methods (fn_pool_s8_method; picked from the mode and the quantizations):
SAME_QUANT  input and output quantization equal (TFLite always has this).
  max: the window maximum, clamped (reference_integer_ops::MaxPool).
  avg: TFLite reference_integer_ops::AveragePool: acc = sum of the raw int8 values,
       out = clamp(acc > 0 ? (acc + n/2) / n : (acc - n/2) / n) (C division), n the
       divisor; padded taps that the divisor counts (count_include_pad) add the zero
       point (real 0), so acc = sum + (n - n_valid) * zp.
REQUANT     tflm/single with different quantizations (TFLite has no such pooling;
  ONNX QDQ models may). max: TFLM's Requantize of the maximum (the map is monotonic):
  clamp(zp_out + MBQM(max - zp_in, m, shift)), (m, shift) = QuantizeMultiplier(s_in/s_out).
  avg: acc = sum of (x - zp_in) over the valid taps, t = MBQM(acc, m, shift) with
  (m, shift) = QuantizeMultiplier(s_in / s_out * 2^F), out = clamp(zp_out + the rounded
  division (as above) of t by n << F). F = frac_bits keeps F fraction bits of the
  scaled sum so that the two roundings stay within one LSB of the exact average;
  F is the largest F <= 16 with 255 * K * (s_in/s_out) * 2^F < 2^29 and
  K << F < 2^29 (K = kernel_h * kernel_w bounds every n), so nothing overflows.
ORT         onnxruntime.
  max: QDQ around MaxPool is dropped when the quantizations are equal (SAME_QUANT);
       otherwise onnxruntime pools the dequantized floats and quantizes:
       quantize_ort(float32(s_in * (max - zp_in)), s_out, zp_out).
  avg: QLinearAveragePool (contrib_ops/cpu/quantization/qlinear_pool.cc, also what
       DequantizeLinear -> AveragePool -> QuantizeLinear becomes): each tap dequantized
       as float32(s_in * (x - zp_in)), summed in float32 from 0 in ky, kx order, divided
       by float(n), then nearbyintf(y / s_out + float(zp_out)) clamped to int8 (for a uint8
       model onnxruntime adds its uint8 zero point zp_out + 128 and clamps to uint8:
       ort_zero_shift = 128, which changes how near-ties round). Its
       divisor with count_include_pad is the full kernel_h * kernel_w (count rule
       KERNEL), not the cut window of the float AveragePool.
ORT_GLOBAL  avg when the kernel covers the whole input without padding: onnxruntime's
  QLinearGlobalAveragePool (and QLinearAveragePool's fallback to it):
  MLAS qlgavgpool.cpp: acc = sum of x - zp_in * n (int32), scale = s_in / (s_out *
  float(n)) in float32, out = round_half_even(clamp(float(acc) * scale, -128 - zp_out,
  127 - zp_out)) + zp_out (MlasRequantizeOutput). onnxruntime refuses scale < 2^-32,
  scale >= 256 and n >= 2^24; so does avgpool_constants.
The fused clamp [act_min, act_max] is applied last in every method.
Corner differing from onnxruntime on purpose: an ORT average with |y / s_out| >= 2^31
(s_in / s_out above ~2^23) saturates here; onnxruntime's static_cast of that float is
undefined (INT_MIN, -128, on x86).

Count rules (fn_pool_count_rule) for the average divisor n of a window:
VALID (count_include_pad=False): its in-bounds taps; PAD_CUT (count_include_pad, tflm
and single): the window cut at in + pad_after, padding included (onnxruntime's float
AveragePool and firmnet's float kernel); KERNEL (count_include_pad, ort): kernel_h *
kernel_w.
"""
from __future__ import annotations

import numpy as np

from .fixedpoint import mul_by_quantized_mul_single, mul_by_quantized_mul_tflm, quantize_multiplier, requantize_float
from .pool import pool_geometry
from .quantize_s8 import check_act, check_mode, check_quant, dequantize_f32, f32, quantize_ort, round_even_sat

MAX_FRAC_BITS = 16
SUM_LIMIT = 2**29
GEOMETRY = ("batch", "in_h", "in_w", "channels", "out_h", "out_w", "kernel_h", "kernel_w",
            "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "pad_bottom", "pad_right")


def _base(x_shape, kernel, strides, dilations, pads, out_size, x_q, y_q, mode, act, what, ort_uint8=False):
    geo = pool_geometry(x_shape, kernel=kernel, strides=strides, dilations=dilations, pads=pads, out_size=out_size)
    check_mode(mode, what)
    s_in, zp_in = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(x_q if y_q is None else y_q, f"{what} output")
    lo, hi = check_act(act, what)
    p = {k: geo[k] for k in GEOMETRY}
    p.update(count_rule="valid", method="same_quant", requant_mode=mode,
             input_offset=-zp_in, output_offset=zp_out, multiplier=0, shift=0, frac_bits=0,
             input_scale=s_in, output_scale=s_out, global_scale=0.0, act_min=lo, act_max=hi,
             ort_zero_shift=128 if ort_uint8 and mode == "ort" else 0)
    same = s_in == s_out and zp_in == zp_out
    return p, same


def maxpool_constants(x_shape, *, kernel, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                      out_size=None, x_q=(1.0, 0), y_q=None, mode: str = "tflm",
                      act: tuple[int, int] = (-128, 127)) -> dict:
    """The geometry, method and integers of an int8 max pooling (module docstring)."""
    what = "int8 max pooling"
    p, same = _base(x_shape, kernel, strides, dilations, pads, out_size, x_q, y_q, mode, act, what)
    if same:
        return p
    if mode == "ort":
        p["method"] = "ort"
        return p
    m, shift = quantize_multiplier(p["input_scale"] / p["output_scale"])
    if shift > 22:
        raise ValueError(f"{what}: scale ratio {p['input_scale'] / p['output_scale']:.6g} is too large "
                         f"(>= 2^22) for fixed-point requantization")
    p.update(method="requant", multiplier=m, shift=shift)
    return p


def avgpool_constants(x_shape, *, kernel, strides=(1, 1), pads=(0, 0, 0, 0), count_include_pad=False,
                      out_size=None, x_q=(1.0, 0), y_q=None, mode: str = "tflm",
                      act: tuple[int, int] = (-128, 127), ort_uint8: bool = False) -> dict:
    """The geometry, method, count rule and integers of an int8 average pooling (module
    docstring); ort_uint8: the model's tensors are uint8 (onnxruntime's uint8 kernel)."""
    what = "int8 average pooling"
    p, same = _base(x_shape, kernel, strides, (1, 1), pads, out_size, x_q, y_q, mode, act, what, ort_uint8)
    area = p["kernel_h"] * p["kernel_w"]
    if 255 * area >= SUM_LIMIT:
        raise ValueError(f"{what}: kernel {p['kernel_h']}x{p['kernel_w']} is too large (int32 sums need "
                         f"255 * kernel area < 2^29)")
    ratio = p["input_scale"] / p["output_scale"]
    if mode == "ort":
        whole = (p["kernel_h"], p["kernel_w"]) == (p["in_h"], p["in_w"]) and not any(pads)
        if whole:
            n = area
            scale = f32(p["input_scale"]) / (f32(p["output_scale"]) * f32(n))
            if n >= 2**24 or not 2.0**-32 <= scale < 256.0:
                raise ValueError(f"{what}: onnxruntime's QLinearGlobalAveragePool refuses scale "
                                 f"s_in / (s_out * {n}) = {float(scale):.6g} (it needs 2^-32 <= scale < 256)")
            p.update(method="ort_global", global_scale=float(scale))
        else:
            p.update(method="ort", count_rule="kernel" if count_include_pad else "valid")
        return p
    p["count_rule"] = "pad_cut" if count_include_pad else "valid"
    if same:
        return p
    frac = 0
    while (frac < MAX_FRAC_BITS and 255 * area * ratio * 2.0 ** (frac + 1) < SUM_LIMIT
           and area << (frac + 1) < SUM_LIMIT):
        frac += 1
    if not 255 * area * ratio * 2.0 ** frac < SUM_LIMIT:
        raise ValueError(f"{what}: scale ratio s_in/s_out = {ratio:.6g} is too large for a {area}-tap "
                         f"window (255 * taps * ratio must stay below 2^29)")
    m, shift = quantize_multiplier(ratio * 2.0 ** frac)
    p.update(method="requant", multiplier=m, shift=shift, frac_bits=frac)
    return p


# ---------------------------------------------------------------- references

def _taps(x, p):
    """For each tap (ky, kx) in order: (valid [OH, OW] mask, values [N, OH, OW, C] int64)."""
    oy = np.arange(p["out_h"]) * p["stride_h"] - p["pad_top"]
    ox = np.arange(p["out_w"]) * p["stride_w"] - p["pad_left"]
    for ky in range(p["kernel_h"]):
        iy = oy + ky * p["dilation_h"]
        vy = (iy >= 0) & (iy < p["in_h"])
        for kx in range(p["kernel_w"]):
            ix = ox + kx * p["dilation_w"]
            vx = (ix >= 0) & (ix < p["in_w"])
            vals = x[:, np.clip(iy, 0, p["in_h"] - 1)][:, :, np.clip(ix, 0, p["in_w"] - 1)]
            yield vy[:, None] & vx[None, :], vals


def _mbqm(x, p):
    if p["requant_mode"] == "single":
        return mul_by_quantized_mul_single(x, p["multiplier"], p["shift"])
    return mul_by_quantized_mul_tflm(x, p["multiplier"], p["shift"])


def _round_div(t, d):
    """TFLite's rounded division: t > 0 ? (t + d/2) / d : (t - d/2) / d, C truncation."""
    mag = (np.abs(t) + d // 2) // d
    return np.where(t > 0, mag, -mag)


def _clamp(v, p) -> np.ndarray:
    return np.clip(v, p["act_min"], p["act_max"]).astype(np.int8)


def maxpool2d_s8(x, **quantities) -> np.ndarray:
    """int8 max pooling of x NHWC; quantities: maxpool_constants' keywords (geometry, x_q, y_q,
    mode, act)."""
    x = np.asarray(x)
    p = maxpool_constants(x.shape, **quantities)
    x = x.astype(np.int64)
    best = None
    for valid, vals in _taps(x, p):
        v = np.where(valid[None, :, :, None], vals, -129)
        best = v if best is None else np.maximum(best, v)
    method = p["method"]
    zp_in = -p["input_offset"]
    if method == "requant":
        best = np.clip(_mbqm(best - zp_in, p) + p["output_offset"], -128, 127)
    elif method == "ort":
        best = quantize_ort(dequantize_f32(best, p["input_scale"], zp_in), p["output_scale"], p["output_offset"])
    return _clamp(best, p)


def _divisors(p) -> np.ndarray:
    """The divisor n of every window, [OH, OW] int64."""
    rule = p["count_rule"]
    axes = []
    for size, out, k, s, pb, pa in ((p["in_h"], p["out_h"], p["kernel_h"], p["stride_h"], p["pad_top"],
                                     p["pad_bottom"]),
                                    (p["in_w"], p["out_w"], p["kernel_w"], p["stride_w"], p["pad_left"],
                                     p["pad_right"])):
        start = np.arange(out) * s - pb
        if rule == "kernel":
            axes.append(np.full(out, k))
        elif rule == "pad_cut":
            axes.append(np.minimum(start + k, size + pa) - start)
        else:
            axes.append(np.minimum(start + k, size) - np.maximum(start, 0))
    return axes[0][:, None] * axes[1][None, :]


def avgpool2d_s8(x, **quantities) -> np.ndarray:
    """int8 average pooling of x NHWC; quantities: avgpool_constants' keywords (geometry,
    count_include_pad, x_q, y_q, mode, act, ort_uint8)."""
    x = np.asarray(x)
    p = avgpool_constants(x.shape, **quantities)
    x = x.astype(np.int64)
    method = p["method"]
    zp_in, zp_out = -p["input_offset"], p["output_offset"]
    n = _divisors(p)[None, :, :, None]
    if method == "ort":
        total = np.zeros((p["batch"], p["out_h"], p["out_w"], p["channels"]), np.float32)
        for valid, vals in _taps(x, p):
            d = dequantize_f32(vals, p["input_scale"], zp_in)
            total = np.where(valid[None, :, :, None], total + d, total).astype(np.float32)
        shift = p["ort_zero_shift"]
        with np.errstate(all="ignore"):
            y = total / n.astype(np.float32)
            v = y / f32(p["output_scale"]) + f32(zp_out + shift)
        return _clamp(round_even_sat(v, -128 + shift, 127 + shift) - shift, p)
    acc = 0
    n_valid = 0
    for valid, vals in _taps(x, p):
        acc = acc + np.where(valid[None, :, :, None], vals, 0)
        n_valid = n_valid + valid.astype(np.int64)[None, :, :, None]
    if method == "same_quant":
        return _clamp(_round_div(acc + (n - n_valid) * zp_in, n), p)
    if method == "requant":
        t = _mbqm(acc - n_valid * zp_in, p)
        return _clamp(_round_div(t, n << p["frac_bits"]) + zp_out, p)
    # ort_global: MlasRequantizeOutput
    r = requantize_float(acc - zp_in * n, f32(p["global_scale"]), p["act_min"] - zp_out, p["act_max"] - zp_out)
    return _clamp(r + zp_out, p)

"""Float <-> int8 conversions, int8 -> int8 requantization and int8 concatenation,
bit-exact with runtime_c/include/fn_elementwise_s8.h (fn_quantize_s8.c, fn_concat_s8.c).

Also the float32 helpers every int8 reference that follows onnxruntime needs
(float32 arithmetic in numpy is IEEE single precision, so it is exact as written):
`fma_f32` (a correctly rounded fused multiply-add, as AVX2's vfmadd), the two
roundings (`round_even_sat`: nearbyint / cvtps2dq, `round_away_sat`: std::round) and
`quantize_ort` (MLAS's QuantizeLinear).

Arithmetic per requant_mode (the model-wide fn_requant_mode of fn_fixedpoint.h):

quantize float32 -> int8 (TFLM tensorflow/lite/micro/kernels/internal/reference/
quantize.h AffineQuantize: it DIVIDES, in float32, by the scale):
  tflm, single  clamp(round_half_away(x / scale) + zp)        TfLiteRound = std::round
  ort           clamp(round_half_even(x / scale) + zp)         onnxruntime MLAS
                MlasQuantizeLinear (quantize.cpp, quantize_avx512f.cpp): divide,
                clamp to [-128 - zp, 127 - zp] in float, cvtps2dq, + zp
  NaN gives -128 in both (MLAS's max_ps returns its second operand on NaN; TFLM's
  cast of NaN is undefined, -128 on x86).
dequantize int8 -> float32: float32(q - zp) * scale, one rounding; TFLM's
  static_cast<float>(double(scale) * (q - zp)) and onnxruntime's DequantizeLinear
  give this same value (the double product is exact), so it is mode-independent.
requantize int8 -> int8 (`requantize_values`; the C kernels take it as one fn_requant_s8 spec,
firmnet.kernels.params_quantize_s8):
  COPY   equal (float32) scales and zero points: the bytes are copied
  FIXED  tflm/single (s_in / s_out >= 2^22 is refused, where the left shift of
         255 would overflow int32): TFLM's QUANTIZE int8 -> int8 (quantize_common.cc
         PrepareQuantizeReference: (m, shift) = QuantizeMultiplier(double(s_in) /
         double(s_out)); reference_ops::Requantize: clamp(MultiplyByQuantizedMultiplier(
         q - zp_in, m, shift) + zp_out)), the multiply rounding per requant_mode
  FLOAT  ort: DequantizeLinear then QuantizeLinear in float32, i.e.
         quantize_ort(float32(s_in * (q - zp_in)), s_out, zp_out). This is also what
         onnxruntime's QLinearConcat tables hold (qlinear_lookup_table.cc
         QlinearBuildLookupTable with the identity transform).
concat: TFLM's CONCATENATION requires equal quantization (then it is a byte copy and
  the compiler should emit the byte kernel fn_concat of fn_tensor.h); fn_concat_s8
  requantizes each input whose scale or zero point differs from the output's as
  above (onnxruntime's QLinearConcat does exactly that with its tables).
The references take the arrays and the tensors' quantizations ((scale, zero point) pairs)
and the requant mode; the C parameter structs are built in firmnet.kernels.params_quantize_s8.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .fixedpoint import REQUANT_MODES, mul_by_quantized_mul_single, mul_by_quantized_mul_tflm, quantize_multiplier

MAX_FIXED_SHIFT = 22     # 255 << shift must stay below 2^31 in MultiplyByQuantizedMultiplier


# ---------------------------------------------------------------- float32 helpers

def f32(x):
    """x as numpy float32 (scalars stay numpy scalars, so arithmetic stays float32)."""
    return np.float32(x) if np.ndim(x) == 0 else np.asarray(x, dtype=np.float32)


def fma_f32(a, b, c) -> np.ndarray:
    """Correctly rounded float32 a * b + c (C's fmaf, x86 vfmadd231ps).

    a * b is exact in float64; the float64 sum is made round-to-odd (TwoSum gives its
    exact error; an inexact even result moves one ulp toward the error), and a
    round-to-odd float64 rounds to float32 correctly (53 >= 24 + 2 bits).
    Mirrors fn_fmaf in fn_elementwise_s8.h.
    """
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    c = np.asarray(c, np.float32).astype(np.float64)
    p = a * b
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)
    shape = np.shape(s)
    s, err = (np.array(v, dtype=np.float64, order="C").reshape(-1) for v in np.broadcast_arrays(s, err))
    even = (s.view(np.int64) & 1) == 0
    s = np.where((err != 0) & even, np.nextafter(s, s + err), s)
    return s.astype(np.float32).reshape(shape)


def round_even_sat(v, lo: int, hi: int) -> np.ndarray:
    """Nearest integer of float32 v, ties to even, saturated to [lo, hi]; NaN gives lo."""
    v = np.asarray(v, np.float32).astype(np.float64)
    with np.errstate(invalid="ignore"):
        r = np.clip(np.rint(v), lo, hi)
    return np.where(np.isnan(v), lo, r).astype(np.int64)


def round_away_sat(v, lo: int, hi: int) -> np.ndarray:
    """Nearest integer of float32 v, ties away from zero, saturated to [lo, hi]; NaN gives lo."""
    v = np.asarray(v, np.float32).astype(np.float64)
    with np.errstate(invalid="ignore"):
        r = np.clip(np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)), lo, hi)
    return np.where(np.isnan(v), lo, r).astype(np.int64)


def quantize_ort(x, scale, zero_point: int) -> np.ndarray:
    """MLAS QuantizeLinear of float32 x: round_half_even(x / scale) + zp, saturated to int8."""
    with np.errstate(all="ignore"):
        v = f32(x) / f32(scale)
    return round_even_sat(v, -128 - zero_point, 127 - zero_point) + zero_point


def dequantize_f32(q, scale, zero_point: int) -> np.ndarray:
    """float32(q - zp) * scale (one float32 rounding)."""
    return (np.asarray(q, np.int64) - zero_point).astype(np.float32) * f32(scale)


# ---------------------------------------------------------------- checks shared by the int8 builders

def check_mode(mode: str, what: str) -> int:
    if mode not in REQUANT_MODES:
        raise ValueError(f"{what}: requantization mode {mode!r} unknown (modes: {', '.join(REQUANT_MODES)})")
    return REQUANT_MODES[mode]


def check_quant(q, what: str) -> tuple[float, int]:
    """(scale, zero point) with scale a positive finite float32 and zp in [-128, 127];
    the scale is returned as the float32 value (as a Python float)."""
    try:
        scale, zp = q
    except (TypeError, ValueError):
        raise ValueError(f"{what}: quantization must be (scale, zero_point), got {q!r}") from None
    s = float(np.float32(scale))
    if not (s > 0.0 and math.isfinite(s)):
        raise ValueError(f"{what}: scale {scale!r} must be a positive finite float32")
    if int(zp) != zp or not -128 <= int(zp) <= 127:
        raise ValueError(f"{what}: zero point {zp!r} must be an integer in [-128, 127]")
    return s, int(zp)


def check_act(act, what: str) -> tuple[int, int]:
    lo, hi = (int(v) for v in act)
    if not -128 <= lo <= hi <= 127:
        raise ValueError(f"{what}: activation range {tuple(act)} must satisfy -128 <= min <= max <= 127")
    return lo, hi


# ---------------------------------------------------------------- quantize / dequantize

def quantize_f32_s8(x, *, scale: float, zero_point: int, mode: str = "tflm") -> np.ndarray:
    """float32 -> int8 with the quantization (scale, zero_point), rounding per mode (module docstring)."""
    scale, zp = check_quant((scale, zero_point), "quantize")
    check_mode(mode, "quantize")
    with np.errstate(all="ignore"):
        v = f32(x) / f32(scale)
    rounded = (round_even_sat if mode == "ort" else round_away_sat)(v, -128 - zp, 127 - zp)
    return (rounded + zp).astype(np.int8)


def dequantize_s8_f32(q, *, scale: float, zero_point: int) -> np.ndarray:
    scale, zp = check_quant((scale, zero_point), "dequantize")
    return dequantize_f32(q, scale, zp)


# ---------------------------------------------------------------- requantize int8 -> int8

def requantize_values(q, x_q, y_q, mode: str = "tflm", what: str = "requantize") -> np.ndarray:
    """int8 values (any integer array) with quantization x_q as int8 with y_q; int64 result."""
    check_mode(mode, what)
    s_in, zp_in = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    q = np.asarray(q, np.int64)
    if (s_in, zp_in) == (s_out, zp_out):
        return q.copy()
    if mode == "ort":
        return quantize_ort(dequantize_f32(q, s_in, zp_in), s_out, zp_out)
    m, shift = quantize_multiplier(s_in / s_out)   # double(s_in) / double(s_out), as TFLM
    if shift > MAX_FIXED_SHIFT:
        raise ValueError(f"{what}: scale ratio {s_in / s_out:.6g} is too large (>= 2^22) "
                         f"for TFLite's fixed-point requantization")
    mul = mul_by_quantized_mul_single if mode == "single" else mul_by_quantized_mul_tflm
    return np.clip(mul(q - zp_in, m, shift) + zp_out, -128, 127)


def requantize_s8(q, *, x_q, y_q, mode: str = "tflm") -> np.ndarray:
    """fn_requantize_s8's arithmetic: int8 of q's shape."""
    return requantize_values(q, x_q, y_q, mode).astype(np.int8)


# ---------------------------------------------------------------- concatenation

def concat_s8(xs: Sequence, axis: int, *, x_qs: Sequence, y_q, mode: str = "tflm") -> np.ndarray:
    """numpy.concatenate(xs, axis) of int8 tensors with their own quantizations x_qs[k], each
    requantized to y_q first."""
    if len(x_qs) != len(xs):
        raise ValueError(f"concat: {len(xs)} inputs but {len(x_qs)} quantizations")
    parts = [requantize_values(x, q, y_q, mode, what=f"concat input {k}").astype(np.int8).reshape(np.shape(x))
             for k, (x, q) in enumerate(zip(xs, x_qs))]
    return np.concatenate(parts, axis=axis)

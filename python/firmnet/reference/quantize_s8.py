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
requantize int8 -> int8 (one `fn_requant_s8` spec):
  COPY   equal (float32) scales and zero points: the bytes are copied
  FIXED  tflm/single (the builder refuses s_in / s_out >= 2^22, where the left shift of
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
  requantizes each input whose scale or zero point differs from the output's with
  the spec above (onnxruntime's QLinearConcat does exactly that with its tables).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..kernels.params_layout import concat_params as _concat_layout
from .fixedpoint import REQUANT_MODES, mul_by_quantized_mul_single, mul_by_quantized_mul_tflm, quantize_multiplier

INT32_MAX = 2**31 - 1
S8_REQUANT = {"copy": 0, "fixed": 1, "float": 2}       # fn_s8_requant_method


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


def _count(count: int, what: str) -> int:
    if not 0 <= int(count) <= INT32_MAX:
        raise ValueError(f"{what}: element count must be in 0..2^31-1, got {count}")
    return int(count)


# ---------------------------------------------------------------- quantize / dequantize

def quantize_f32_s8_params(count: int, y_q, mode: str = "tflm") -> dict:
    """fn_quantize_f32_s8_params: float32 -> int8 with output quantization y_q = (scale, zp)."""
    what = "quantize"
    scale, zp = check_quant(y_q, what)
    return {"count": _count(count, what), "requant_mode": check_mode(mode, what), "scale": scale, "zero_point": zp}


def quantize_f32_s8(x, p: dict) -> np.ndarray:
    """Reference of fn_quantize_f32_s8 (see the module docstring)."""
    zp = p["zero_point"]
    with np.errstate(all="ignore"):
        v = f32(x) / f32(p["scale"])
    if p["requant_mode"] == REQUANT_MODES["ort"]:
        r = round_even_sat(v, -128 - zp, 127 - zp)
    else:
        r = round_away_sat(v, -128 - zp, 127 - zp)
    return (r + zp).astype(np.int8)


def dequantize_s8_f32_params(count: int, x_q) -> dict:
    """fn_dequantize_s8_f32_params: int8 with quantization x_q = (scale, zp) -> float32."""
    scale, zp = check_quant(x_q, "dequantize")
    return {"count": _count(count, "dequantize"), "scale": scale, "zero_point": zp}


def dequantize_s8_f32(q, p: dict) -> np.ndarray:
    return dequantize_f32(q, p["scale"], p["zero_point"])


# ---------------------------------------------------------------- requantize int8 -> int8

def requant_s8_spec(x_q, y_q, mode: str = "tflm", what: str = "requantize") -> dict:
    """One fn_requant_s8 (int8 with x_q -> int8 with y_q), see the module docstring."""
    code = check_mode(mode, what)
    s_in, zp_in = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    spec = {"method": S8_REQUANT["copy"], "requant_mode": code, "input_zero_point": zp_in,
            "output_zero_point": zp_out, "multiplier": 0, "shift": 0,
            "input_scale": s_in, "output_scale": s_out}
    if s_in == s_out and zp_in == zp_out:
        return spec
    if mode == "ort":
        spec["method"] = S8_REQUANT["float"]
        return spec
    m, shift = quantize_multiplier(s_in / s_out)   # double(s_in) / double(s_out), as TFLM
    if shift > 22:
        # 255 << shift must stay below 2^31 for MultiplyByQuantizedMultiplier's left shift
        raise ValueError(f"{what}: scale ratio {s_in / s_out:.6g} is too large (>= 2^22) "
                         f"for TFLite's fixed-point requantization")
    spec.update(method=S8_REQUANT["fixed"], multiplier=m, shift=shift)
    return spec


def apply_requant(q, spec: dict) -> np.ndarray:
    """int8 values (any integer array) through one fn_requant_s8 spec; int64 result."""
    q = np.asarray(q, np.int64)
    method = spec["method"]
    if method == S8_REQUANT["copy"]:
        return q.copy()
    if method == S8_REQUANT["float"]:
        x = dequantize_f32(q, spec["input_scale"], spec["input_zero_point"])
        return quantize_ort(x, spec["output_scale"], spec["output_zero_point"])
    d = q - spec["input_zero_point"]
    if spec["requant_mode"] == REQUANT_MODES["single"]:
        r = mul_by_quantized_mul_single(d, spec["multiplier"], spec["shift"])
    else:
        r = mul_by_quantized_mul_tflm(d, spec["multiplier"], spec["shift"])
    return np.clip(r + spec["output_zero_point"], -128, 127)


def requantize_s8_params(count: int, x_q, y_q, mode: str = "tflm") -> dict:
    """fn_requantize_s8_params: {"count": n, "q": fn_requant_s8}."""
    return {"count": _count(count, "requantize"), "q": requant_s8_spec(x_q, y_q, mode)}


def requantize_s8(q, p: dict) -> np.ndarray:
    return apply_requant(q, p["q"]).astype(np.int8)


# ---------------------------------------------------------------- concatenation

def concat_s8_params(shapes: Sequence[Sequence[int]], axis: int, x_qs: Sequence, y_q,
                     mode: str = "tflm") -> dict:
    """fn_concat_s8_params for numpy.concatenate(xs, axis) of int8 tensors with their
    own quantizations x_qs[k], requantized to y_q; `in_block_elems` and `requant` are
    lists (one entry per input), as the C struct's arrays.

    When every input has y_q's quantization, every spec is COPY and the byte kernel
    fn_concat (layout.concat_params with elem_size 1) does the same job: prefer it.
    """
    if len(x_qs) != len(shapes):
        raise ValueError(f"concat: {len(shapes)} inputs but {len(x_qs)} quantizations")
    lay = _concat_layout(shapes, axis, 1)
    return {"n_inputs": lay["n_inputs"], "outer": lay["outer"], "in_block_elems": list(lay["in_block_bytes"]),
            "requant": [requant_s8_spec(q, y_q, mode, what=f"concat input {k}") for k, q in enumerate(x_qs)]}


def concat_s8(xs: Sequence, axis: int, p: dict) -> np.ndarray:
    """Reference of fn_concat_s8: each input requantized with its spec, then concatenated."""
    parts = [apply_requant(x, spec).astype(np.int8).reshape(np.shape(x)) for x, spec in zip(xs, p["requant"])]
    return np.concatenate(parts, axis=axis)

"""The fixed-point arithmetic of the int8 path, in numpy (mirrors runtime_c/include/fn_fixedpoint.h).

quantize_multiplier follows TFLite: frexp in float64, the fraction rounded half away
from zero to Q31. The requantize functions take int64 numpy arrays (or Python ints)
holding int32 values and return int64 arrays holding int32 values.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
REQUANT_MODES = {"tflm": 0, "single": 1, "ort": 2}


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier, shift) with real ≈ multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    if not (real > 0.0 and math.isfinite(real)):
        raise ValueError(f"cannot quantize the multiplier {real}: it must be positive and finite")
    fraction, shift = math.frexp(real)
    q = math.floor(fraction * (1 << 31) + 0.5)   # fraction > 0: half away from zero
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise ValueError(f"the multiplier {real} is too large for Q31 with shift <= 30")
    return int(q), int(shift)


def _i64(x):
    return np.asarray(x, dtype=np.int64)


def _wrap32(x):
    """int64 → int32 with two's-complement wrap-around (what the C does through uint32_t)."""
    return ((_i64(x) + 2**31) % 2**32) - 2**31


def sat_rounding_doubling_high_mul(a, b):
    a, b = _i64(a), _i64(b)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = ab + nudge
    # C's int64 division truncates toward zero
    result = np.where(q >= 0, q // (1 << 31), -((-q) // (1 << 31)))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, result)


def rounding_divide_by_pot(x, exponent):
    x, exponent = _i64(x), _i64(exponent)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def mul_by_quantized_mul_tflm(x, multiplier, shift):
    shift = _i64(shift)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    scaled = _wrap32(_i64(x) << left)
    return rounding_divide_by_pot(sat_rounding_doubling_high_mul(scaled, multiplier), right)


def mul_by_quantized_mul_single(x, multiplier, shift):
    total = 31 - _i64(shift)
    return _wrap32((_i64(x) * _i64(multiplier) + (np.int64(1) << (total - 1))) >> total)   # wraps as the C


def requantize_float(acc, scale, lo, hi):
    """onnxruntime's float requantization: float32 acc * scale, clamped, rounded half to even.
    The bounds must lie within ±2^22, the C's exact range."""
    if max(abs(lo), abs(hi)) > 2**22:
        raise ValueError(f"requantize_float bounds [{lo}, {hi}] exceed ±2^22")
    v = np.asarray(acc, dtype=np.float64).astype(np.float32) * np.asarray(scale, dtype=np.float32)
    v = np.clip(v, np.float32(lo), np.float32(hi))
    return np.rint(v).astype(np.int64)


def requantize(acc, mode: str, multiplier, shift, scale=None, lo=-2**22, hi=2**22):
    """acc → output integer before adding the output zero point, in one of REQUANT_MODES."""
    if mode == "tflm":
        return mul_by_quantized_mul_tflm(acc, multiplier, shift)
    if mode == "single":
        return mul_by_quantized_mul_single(acc, multiplier, shift)
    if mode == "ort":
        return requantize_float(acc, scale, lo, hi)
    raise ValueError(f"unknown requantization mode '{mode}' (modes: {', '.join(REQUANT_MODES)})")

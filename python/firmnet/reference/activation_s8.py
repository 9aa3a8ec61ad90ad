"""Int8 softmax, logistic, tanh and hard swish, bit-exact with TensorFlow Lite Micro.

Mirrors runtime_c/include/fn_activation_s8.h and fn_gemmlowp.h with numpy int64 arrays
holding int32 (or int16) values. Two halves:

* TFLM's Prepare arithmetic (``*_scaling``): from float scales and zero points, the
  integers TFLM computes, with TFLM's float types (scales and beta are float32, products
  in float64) and its QuantizeMultiplier (frexp, round half away from zero); ValueError
  where TFLM (or its kernel's arithmetic) is undefined;
* references (``softmax_s8`` ...) taking the int8 array and the layer's quantities (axis,
  scales, zero points, beta): they derive their integers themselves. The C parameter
  structs (firmnet.kernels.params_activation_s8) add the layout (the axis split) and the
  kernels' limits.

TFLM functions mirrored (tflite-micro, tensorflow/lite/micro/kernels and
tensorflow/lite/kernels/internal): softmax_common.cc CalculateSoftmaxParams with
PreprocessSoftmaxScaling and CalculateInputRadius, reference_ops::Softmax<int8,int8>;
logistic_common.cc CalculateArithmeticOpDataLogistic, reference_integer_ops::Logistic;
tanh.cc CalculateArithmeticOpData, reference_integer_ops::Tanh; hard_swish_common.cc
HardSwishPrepare (QuantizeMultiplier, DownScaleInt32ToInt16Multiplier),
reference_ops::HardSwish<int8>; gemmlowp fixedpoint.h for exp, 1/(1+x), logistic, tanh.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .fixedpoint import rounding_divide_by_pot, sat_rounding_doubling_high_mul, mul_by_quantized_mul_tflm

INT32_MAX = 2**31 - 1
SOFTMAX_OUTPUT = (2.0**-8, -128)  # (scale, zero point) TFLM requires for int8 softmax
LOGISTIC_OUTPUT = (2.0**-8, -128)
TANH_OUTPUT = (2.0**-7, 0)


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _wrap32(x) -> np.ndarray:
    return ((_i64(x) + 2**31) % 2**32) - 2**31


def _wrap16(x) -> np.ndarray:
    return ((_i64(x) + 2**15) % 2**16) - 2**15


# ---------------------------------------------------------------- gemmlowp (fn_gemmlowp.h)

def gl_add(a, b):
    return _wrap32(_i64(a) + _i64(b))


def gl_sub(a, b):
    return _wrap32(_i64(a) - _i64(b))


def gl_neg(a):
    return _wrap32(-_i64(a))


gl_mul = sat_rounding_doubling_high_mul


def gl_rounding_half_sum(a, b):
    s = _i64(a) + _i64(b)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))        # C division truncates


def gl_sat_rounding_mul_by_pot(x, exponent: int):
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, -2**31, _wrap32(x << exponent)))


def gl_rescale(x, src_bits: int, dst_bits: int):
    return gl_sat_rounding_mul_by_pot(x, src_bits - dst_bits)


def gl_exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    constant_term, constant_1_over_3 = 1895147668, 715827883
    x = gl_add(a, 1 << 28)
    x2 = gl_mul(x, x)
    x3 = gl_mul(x2, x)
    x4 = gl_mul(x2, x2)
    poly = rounding_divide_by_pot(gl_add(gl_mul(gl_add(rounding_divide_by_pot(x4, 2), x3), constant_1_over_3), x2), 1)
    return gl_add(constant_term, gl_mul(constant_term, gl_add(x, poly)))


_EXP_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)   # exp(-2^k), k=-2..4


def gl_exp_on_negative_values(a, integer_bits: int):
    """exp(a) in Q0 for a <= 0 in Q(integer_bits), 0 <= integer_bits <= 29."""
    a = _i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = gl_sub(a & (one_quarter - 1), one_quarter)
    remainder = gl_sub(a_mod, a)
    result = gl_exp_on_interval_between_negative_one_quarter_and_0_excl(gl_rescale(a_mod, integer_bits, 0))
    for k, multiplier in zip(range(-2, 5), _EXP_BARREL):
        if integer_bits > k:
            result = np.where(remainder & (1 << (fractional_bits + k)), gl_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_q2(half_denominator):
    x = gl_add(1515870810, gl_mul(half_denominator, -1010580540))
    for _ in range(3):
        x = gl_add(x, gl_rescale(gl_mul(x, gl_sub(1 << 29, gl_mul(half_denominator, x))), 4, 2))
    return x


def gl_one_over_one_plus_x_for_x_in_0_1(a):
    return gl_rescale(_newton_reciprocal_q2(gl_rounding_half_sum(a, INT32_MAX)), 1, 0)


def gl_one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    return gl_rescale(gl_sub(_newton_reciprocal_q2(gl_rounding_half_sum(a, INT32_MAX)), 1 << 29), 2, 0)


def gl_logistic(a, integer_bits: int):
    a = _i64(a)
    abs_input = np.where(a > 0, a, gl_neg(a))
    positive = gl_one_over_one_plus_x_for_x_in_0_1(gl_exp_on_negative_values(gl_neg(abs_input), integer_bits))
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, gl_sub(INT32_MAX, positive)))


def gl_tanh(a, integer_bits: int):
    a = _i64(a)
    n = np.where(a < 0, a, gl_neg(a))
    t = gl_one_minus_x_over_one_plus_x_for_x_in_0_1(gl_exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, gl_neg(t), t))


def _trunc_div(x, d: int):
    x = _i64(x)
    return np.where(x >= 0, x // d, -((-x) // d))


def gl_sat_rounding_doubling_high_mul16(a, b):
    a, b = _i64(a), _i64(b)
    ab = a * b
    r = _trunc_div(ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14)), 1 << 15)
    return np.where((a == -2**15) & (b == -2**15), 2**15 - 1, r)


def gl_rounding_divide_by_pot16(x, exponent: int):
    """gemmlowp RoundingDivideByPOT<int16_t>: the mask is truncated to 16 bits (exponent >= 16 gives +-1)."""
    x = _i64(x)
    mask = int(_wrap16(((1 << exponent) - 1) & 0xFFFF))
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


# ---------------------------------------------------------------- TFLite's parameter arithmetic

def tflite_quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier (double-rounding build): frexp, Q31 mantissa rounded half away
    from zero, shifts below -31 flushed to (0, 0); shifts above 30 are kept."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q = math.floor(fraction * 2**31 + 0.5)
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLite CalculateInputRadius: floor((2^ib - 1) * 2^(total - ib) / 2^left_shift), left_shift >= 0."""
    return (((1 << input_integer_bits) - 1) << (total_signed_bits - input_integer_bits)) >> input_left_shift


def downscale_int32_to_int16_multiplier(multiplier: int) -> int:
    """TFLite DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15."""
    if multiplier >= INT32_MAX - (1 << 15):
        return 2**15 - 1
    return (multiplier + (1 << 15)) >> 16


def _scale(value: float, what: str) -> float:
    """A scale as the float32 TFLite stores, checked positive and finite."""
    with np.errstate(over="ignore"):
        v = float(np.float32(value))
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{what} must be a positive finite float32, got {value}")
    return v


def _zero_point(value: int, what: str) -> int:
    if int(value) != value or not -128 <= int(value) <= 127:
        raise ValueError(f"{what} must be an int8 zero point in -128..127, got {value}")
    return int(value)


def require_output(op: str, scale: float, zero_point: int, required: tuple[float, int], why: str) -> None:
    want_scale, want_zp = required
    if float(np.float32(scale)) != want_scale or int(zero_point) != want_zp:
        raise ValueError(f"int8 {op}: output quantization must be scale 1/{round(1 / want_scale)} and zero point "
                         f"{want_zp} ({why}); got scale {scale!r} and zero point {zero_point}")


# ---------------------------------------------------------------- softmax

def softmax_scaling(input_scale: float, beta: float = 1.0) -> dict:
    """TFLM CalculateSoftmaxParams: input_multiplier, input_left_shift and diff_min for
    beta * input_scale (PreprocessSoftmaxScaling with 5 integer bits, CalculateInputRadius)."""
    scale = _scale(input_scale, "int8 softmax: input scale")
    beta32 = _scale(beta, "int8 softmax: beta")
    # min(beta * scale * 2^26, 2^31 - 1) in double
    real = min(beta32 * scale * float(1 << 26), float(INT32_MAX))
    if not real > 1.0:
        raise ValueError(f"int8 softmax: beta * input_scale = {beta32 * scale!r} is too small: TFLite needs "
                         f"beta * input_scale * 2^26 > 1 (QuantizeMultiplierGreaterThanOne)")
    multiplier, shift = tflite_quantize_multiplier(real)
    return {"input_multiplier": multiplier, "input_left_shift": shift, "diff_min": -calculate_input_radius(5, shift)}


def _count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    """clz of positive int32 values (exact: float64 holds every int32)."""
    return 32 - np.frexp(x.astype(np.float64))[1].astype(np.int64)


def softmax_s8(x, *, axis: int, input_scale: float, beta: float = 1.0, output_scale: float = SOFTMAX_OUTPUT[0],
               output_zero_point: int = SOFTMAX_OUTPUT[1]) -> np.ndarray:
    """int8 softmax along `axis` (TFLM's arithmetic, output quantization 1/256, -128); int8 of x's shape."""
    require_output("softmax", output_scale, output_zero_point, SOFTMAX_OUTPUT, "TFLite requires it")
    p = softmax_scaling(input_scale, beta)
    x = np.asarray(x)
    lanes = np.moveaxis(_i64(x), axis, 1) if x.ndim > 1 else _i64(x)[None]     # [..., axis, ...] → axis 1
    lanes = lanes.reshape(lanes.shape[0], lanes.shape[1], -1)
    diff = lanes - lanes.max(axis=1, keepdims=True)
    valid = diff >= p["diff_min"]
    rescaled = gl_mul(_wrap32(diff << p["input_left_shift"]), p["input_multiplier"])
    exps = gl_exp_on_negative_values(rescaled, 5)
    sum_of_exps = np.where(valid, gl_rescale(exps, 0, 12), 0).sum(axis=1, keepdims=True)
    clz = _count_leading_zeros32(sum_of_exps)
    shifted_scale = gl_one_over_one_plus_x_for_x_in_0_1((sum_of_exps << clz) - 2**31)
    exponent = (12 - clz) + 31 - 8
    prob = gl_mul(shifted_scale, exps)
    # exponent > 31 (TFLM aborts there): the same rounding division, continued
    unsat = np.where(exponent <= 31, rounding_divide_by_pot(prob, np.minimum(exponent, 31)),
                     (prob + (np.int64(1) << (exponent - 1))) >> exponent)
    out = np.where(valid, np.minimum(unsat - 128, 127), -128).astype(np.int8)
    if x.ndim <= 1:
        return out.reshape(x.shape)
    moved = np.moveaxis(x, axis, 1).shape
    return np.ascontiguousarray(np.moveaxis(out.reshape(moved), 1, axis))


# ---------------------------------------------------------------- logistic and tanh

def radius_scaling(op: str, input_scale: float, input_zero_point: int) -> dict:
    """TFLM's int8 logistic/tanh Prepare: frexp of input_scale * 2^27 and the input radius."""
    scale = _scale(input_scale, f"int8 {op}: input scale")
    zp = _zero_point(input_zero_point, f"int8 {op}: input zero point")
    fraction, shift = math.frexp(scale * float(1 << 27))
    multiplier = math.floor(fraction * 2**31 + 0.5)   # exact: a float32 mantissa has 24 bits
    if shift < 0:
        raise ValueError(f"int8 {op}: input scale {input_scale!r} is below 2^-28, where TFLite's input radius "
                         f"is undefined (negative shift)")
    if shift > 62:
        raise ValueError(f"int8 {op}: input scale {input_scale!r} is 2^35 or more, where TFLite's input radius "
                         f"is undefined (shift past 62)")
    return {"input_zero_point": zp, "input_range_radius": calculate_input_radius(4, shift),
            "input_multiplier": int(multiplier), "input_left_shift": int(shift)}


def _radius_kernel(x, p: dict, function, output_shift: int, output_offset: int) -> np.ndarray:
    x = np.asarray(x)
    v = _i64(x) - p["input_zero_point"]
    radius = p["input_range_radius"]
    out = np.where(v <= -radius, -128, 127)
    if radius > 0:
        q4 = mul_by_quantized_mul_tflm(v, p["input_multiplier"], p["input_left_shift"])
        y = np.clip(rounding_divide_by_pot(function(q4, 4), output_shift) + output_offset, -128, 127)
        out = np.where((v > -radius) & (v < radius), y, out)
    return out.astype(np.int8)


def logistic_s8(x, *, input_scale: float, input_zero_point: int, output_scale: float = LOGISTIC_OUTPUT[0],
                output_zero_point: int = LOGISTIC_OUTPUT[1]) -> np.ndarray:
    """int8 logistic (TFLM's arithmetic, output 1/256, -128)."""
    require_output("logistic", output_scale, output_zero_point, LOGISTIC_OUTPUT,
                   "TFLite checks the zero point and its kernel assumes the scale")
    return _radius_kernel(x, radius_scaling("logistic", input_scale, input_zero_point), gl_logistic, 23, -128)


def tanh_s8(x, *, input_scale: float, input_zero_point: int, output_scale: float = TANH_OUTPUT[0],
            output_zero_point: int = TANH_OUTPUT[1]) -> np.ndarray:
    """int8 tanh (TFLM's arithmetic, output 1/128, 0)."""
    require_output("tanh", output_scale, output_zero_point, TANH_OUTPUT, "TFLite's kernel assumes both")
    return _radius_kernel(x, radius_scaling("tanh", input_scale, input_zero_point), gl_tanh, 24, 0)


# ---------------------------------------------------------------- hard swish

def hard_swish_scaling(input_scale: float, input_zero_point: int, output_scale: float,
                       output_zero_point: int) -> dict:
    """TFLM HardSwishPrepare: float32 scale ratios, QuantizeMultiplier, then the Q31 multipliers
    rounded to Q15."""
    what = "int8 hard swish"
    in_scale = np.float32(_scale(input_scale, f"{what}: input scale"))
    out_scale = np.float32(_scale(output_scale, f"{what}: output scale"))
    with np.errstate(all="ignore"):
        hires_input_scale = np.float32(1.0 / 128.0) * in_scale
        reluish_scale = np.float32(3.0) / np.float32(32768.0)
        output_multiplier = float(hires_input_scale / out_scale)
        reluish_multiplier = float(hires_input_scale / reluish_scale)
    if not (math.isfinite(output_multiplier) and math.isfinite(reluish_multiplier)):
        raise ValueError(f"{what}: input scale {input_scale!r} / output scale {output_scale!r} overflows float32")
    out_q, out_exp = tflite_quantize_multiplier(output_multiplier)
    if out_exp > 0:
        raise ValueError(f"{what}: (input_scale / 128) / output_scale = {output_multiplier!r} must be below 1 "
                         f"(TFLite requires output_multiplier_exponent <= 0); input scale {input_scale!r}, "
                         f"output scale {output_scale!r}")
    rel_q, rel_exp = tflite_quantize_multiplier(reluish_multiplier)
    if rel_exp > 31:
        raise ValueError(f"{what}: input scale {input_scale!r} is too large (reluish exponent {rel_exp} > 31 "
                         f"overflows TFLite's saturating shift)")
    return {"input_zero_point": _zero_point(input_zero_point, f"{what}: input zero point"),
            "output_zero_point": _zero_point(output_zero_point, f"{what}: output zero point"),
            "reluish_multiplier_fixedpoint_int16": downscale_int32_to_int16_multiplier(rel_q),
            "output_multiplier_fixedpoint_int16": downscale_int32_to_int16_multiplier(out_q),
            "reluish_multiplier_exponent": rel_exp, "output_multiplier_exponent": out_exp}


def _saturating_left_shift16(x, amount: int):
    return np.clip(_i64(x) << amount, -2**15, 2**15 - 1)


def hard_swish_s8(x, *, input_scale: float, input_zero_point: int, output_scale: float,
                  output_zero_point: int) -> np.ndarray:
    """int8 hard swish (TFLM's arithmetic, reference_ops::HardSwish<int8>)."""
    p = hard_swish_scaling(input_scale, input_zero_point, output_scale, output_zero_point)
    x = np.asarray(x)
    hires = (_i64(x) - p["input_zero_point"]) * 128
    preshift_output = gl_sat_rounding_doubling_high_mul16(hires, p["output_multiplier_fixedpoint_int16"])
    exponent = p["reluish_multiplier_exponent"]
    reluish = hires
    if exponent > 0:
        reluish = _saturating_left_shift16(reluish, exponent - 1)
    reluish = gl_sat_rounding_doubling_high_mul16(reluish, p["reluish_multiplier_fixedpoint_int16"])
    if exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if exponent < 0:
        reluish = gl_rounding_divide_by_pot16(reluish, -exponent)
    reluish = (reluish + (1 << 15)) >> 1
    # TFLite SaturatingDoublingHighMul: truncating, saturating only -32768 * -32768
    value = np.where((reluish == -2**15) & (preshift_output == -2**15), 2**15 - 1,
                     _trunc_div(reluish * preshift_output, 1 << 15))
    value = gl_rounding_divide_by_pot16(value, -p["output_multiplier_exponent"])
    value = _wrap16(value + p["output_zero_point"])
    return np.clip(value, -128, 127).astype(np.int8)

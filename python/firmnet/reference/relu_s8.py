"""Int8 RELU, RELU6 and RELU_N1_TO_1 as standalone ops, bit-exact with TensorFlow Lite Micro.

Mirrors runtime_c/include/fn_relu_s8.h (fn_relu_s8.c): one kernel,

    out = clamp(output_zero_point + MultiplyByQuantizedMultiplier(x - input_zero_point,
                                                                  multiplier, shift),
                act_min, act_max)

where `relu_constants(kind, ...)` computes, from float scales and zero points, the
integers TFLM's Prepare computes (scales are the float32 TFLite stores), per kind:

* ``relu``: TFLM RELU (activations_common.cc ReluPrepare ->
  CalculateReluOpData<int8_t> with act range [0, +inf); activations.cc ReluEval ->
  ReluQuantized). (multiplier, shift) = QuantizeMultiplier(double(s_in) / double(s_out));
  act_min = max(-128, zp_out + int32(roundf(0.0f / s_out))) = zp_out, act_max = 127.
* ``relu6``: TFLM RELU6 (Relu6Prepare, Relu6Eval -> Relu6Quantized). TFLM does NOT
  requantize: it clamps the input bytes to [zp_in, six] with six =
  FloatToQuantizedType<int8_t>(6.0f, s_in, zp_in) = clamp(round(6.0f / s_in) + zp_in) and
  ignores the output tensor's quantization. This encodes that as the identity
  requantization (multiplier 2^30, shift 1, output zero point = zp_in), so when the output
  quantization differs from the input's, the bytes are TFLM's bytes, read in the INPUT
  quantization (TFLite, not Micro, requantizes here instead).
* ``relu_n1_to_1``: TFLM has no RELU_N1_TO_1 kernel (its op resolver refuses the
  model). This applies TFLM's CalculateReluOpData with the act range [-1, 1]:
  act_min = max(-128, zp_out + int32(roundf(-1.0f / s_out))), act_max = min(127, zp_out +
  int32(roundf(1.0f / s_out))), the same requantization as RELU. This is TFLite's (not
  Micro's) QuantizedReluX(-1, 1) arithmetic, except that TFLite computes the scale ratio
  in float32 before widening it, where TFLM (and this module) divide in double.

Refusals (ValueError): scales that are not positive finite float32 values, zero points
outside int8; a scale ratio so large that (x - zp_in) * 2^shift
(plus the output zero point) leaves int32, where TFLM's MultiplyByQuantizedMultiplier
overflows (undefined behaviour); a clamp bound |round(a / scale)| of 2^30 or more (input
scales below about 5.6e-9 for RELU6, output scales below about 9.3e-10 for RELU_N1_TO_1),
where TFLM's float-to-int32 conversion of the bound is near overflow. The C parameter
struct (firmnet.kernels.params_relu_s8) is these constants and the element count.
"""
from __future__ import annotations

import numpy as np

from .activation_s8 import tflite_quantize_multiplier
from .fixedpoint import mul_by_quantized_mul_tflm
from .quantize_s8 import check_quant

INT32_MAX = 2**31 - 1
IDENTITY = (1 << 30, 1)              # QuantizeMultiplier(1.0): multiplies exactly by 1
RELU_OPS = ("relu", "relu6", "relu_n1_to_1")
_BOUND_LIMIT = 2**30                 # largest |round(a / scale)| accepted for a clamp bound


def _round_away(v: float) -> int:
    """C's round/roundf of a float value: nearest integer, ties away from zero."""
    return int(np.floor(v + 0.5)) if v >= 0 else -int(np.floor(-v + 0.5))


def quantized_bound(value: float, scale: float, zero_point: int, what: str) -> int:
    """zero_point + round(float32(value) / float32(scale)) clamped to int8, as TFLM's
    FloatToQuantizedType<int8_t> and CalculateReluOpData compute it (float32 division)."""
    with np.errstate(over="ignore"):
        ratio = float(np.float32(value) / np.float32(scale))
    rounded = _round_away(ratio) if np.isfinite(ratio) else _BOUND_LIMIT
    if abs(rounded) >= _BOUND_LIMIT:
        raise ValueError(f"{what}: the clamp bound {value} / scale {scale!r} = {ratio:.6g} is 2^30 or more, "
                         f"where TFLite Micro's float-to-int32 conversion of the bound is near overflow")
    return min(127, max(-128, zero_point + rounded))


def requantization(input_scale: float, input_zero_point: int, output_scale: float, what: str) -> tuple[int, int]:
    """(multiplier, shift) = QuantizeMultiplier(double(s_in) / double(s_out)), refused where
    (x - zp_in) << shift could leave int32 (TFLM's left shift overflows there)."""
    m, shift = tflite_quantize_multiplier(input_scale / output_scale)
    max_deviation = max(127 - input_zero_point, input_zero_point + 128)
    if shift > 0 and (max_deviation << shift) > INT32_MAX - 128:
        raise ValueError(f"{what}: input_scale / output_scale = {input_scale / output_scale:.6g} is too large: "
                         f"(x - input_zero_point) * 2^{shift} overflows int32 in TFLite Micro's "
                         f"MultiplyByQuantizedMultiplier")
    return m, shift


def relu_constants(kind: str, input_scale: float, input_zero_point: int, output_scale: float,
                   output_zero_point: int) -> dict:
    """TFLM's Prepare of `kind` (module docstring): input_zero_point, output_zero_point,
    multiplier, shift, act_min, act_max."""
    if kind not in RELU_OPS:
        raise ValueError(f"int8 {kind}: not a RELU kind ({', '.join(RELU_OPS)})")
    what = f"int8 {kind}"
    s_in, zp_in = check_quant((input_scale, input_zero_point), f"{what} input")
    s_out, zp_out = check_quant((output_scale, output_zero_point), f"{what} output")
    if kind == "relu6":      # a clamp to [zp_in, six] in the input quantization, as TFLM
        six = quantized_bound(6.0, s_in, zp_in, f"{what} input")
        (m, shift), zp_out, lo, hi = IDENTITY, zp_in, zp_in, six
    else:
        m, shift = requantization(s_in, zp_in, s_out, what)
        lo, hi = (zp_out, 127) if kind == "relu" else (quantized_bound(-1.0, s_out, zp_out, f"{what} output"),
                                                       quantized_bound(1.0, s_out, zp_out, f"{what} output"))
    return {"input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": m, "shift": shift,
            "act_min": lo, "act_max": hi}


def relu_s8(x, kind: str, *, input_scale: float, input_zero_point: int, output_scale: float,
            output_zero_point: int) -> np.ndarray:
    """int8 RELU, RELU6 or RELU_N1_TO_1 (`kind`) as TFLM computes it; int8 of x's shape."""
    p = relu_constants(kind, input_scale, input_zero_point, output_scale, output_zero_point)
    x = np.asarray(x)
    v = x.astype(np.int64) - p["input_zero_point"]
    out = mul_by_quantized_mul_tflm(v, p["multiplier"], p["shift"]) + p["output_zero_point"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8).reshape(x.shape)

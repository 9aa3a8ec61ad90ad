"""The accumulator requantization block fn_requant_acc_s8 (runtime_c/include/fn_fixedpoint.h):
the C interface of the output stage that every int8 convolution, depthwise and fully
connected params struct holds as its field `requant`. Not the arithmetic (reference/fixedpoint.py).

`requant_block` takes a layer's float scales, output zero point, activation clamp and mode and
returns (block, arrays): block = the struct's scalar fields (names as in the header),
arrays = its pointer fields "multiplier", "shift", "scale": int32 / float32 numpy arrays, or
None for those the mode does not read (the compiler emits NULL). `nest` puts a params
struct's block arrays inside its block, for the emitter and the tests' C structs.

The effective scale of output channel c is computed as the runtime being matched does:
  tflm, single: double(s_in) * double(s_w[c]) / double(s_out), then quantize_multiplier
      (TFLite's PopulateConvolutionQuantizationParams in kernels/kernel_util.cc, the one
      used by Conv and DepthwiseConv, per-channel and per-tensor alike; TFLM
      CalculateOpDataFullyConnected for FC);
  ort: float32 (s_in * s_w[c]) / s_out, left to right in float32 (onnxruntime
      QLinearConv::ComputeOutputScale, QLinearMatMul::Compute).
"""
from __future__ import annotations

import numpy as np

from ..lowering import c_enum
from ..reference.fixedpoint import REQUANT_MODES, quantize_multiplier
from ..reference.quantize_s8 import check_mode

INT8_MIN, INT8_MAX = -128, 127
FIELD = "requant"                                     # the block's field in the params structs
SCALAR_FIELDS = ("output_offset", "act_min", "act_max", "mode", "per_channel")
ARRAY_FIELDS = ("multiplier", "shift", "scale")
FIELDS = SCALAR_FIELDS + ARRAY_FIELDS                 # fn_requant_acc_s8's fields, in C order
WHAT = "int8 requantization"                          # the errors' subject
REQUANT_MODE = c_enum(REQUANT_MODES, "FN_REQUANT_")   # fn_requant_mode, by name in the generated C


def _scales(values, what: str) -> np.ndarray:
    s = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"{what} must be positive finite floats, got {values!r}")
    # the model stores float32 scales: that is what both runtimes read
    return s.astype(np.float32)


def requant_arrays(input_scale, weight_scales, output_scale, mode: str, n_channels: int) -> tuple[int, dict]:
    """(per_channel, arrays) for s_in * s_w[c] / s_out; weight_scales: one value
    (per-tensor) or n_channels values."""
    check_mode(mode, WHAT)
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


def check_zero_point(zp, what: str) -> int:
    if int(zp) != zp or not INT8_MIN <= zp <= INT8_MAX:
        raise ValueError(f"{what} zero point {zp} must be an integer in [-128, 127]")
    return int(zp)


def block_fields(output_zero_point: int, act, mode: str, per_channel: int) -> dict:
    """The block's scalar fields."""
    check_mode(mode, WHAT)
    zp = check_zero_point(output_zero_point, "output")
    lo, hi = act
    if int(lo) != lo or int(hi) != hi or not INT8_MIN <= lo <= hi <= INT8_MAX:
        raise ValueError(f"activation range {tuple(act)} must be integers with -128 <= min <= max <= 127")
    return {"output_offset": zp, "act_min": int(lo), "act_max": int(hi), "mode": REQUANT_MODE[mode],
            "per_channel": int(per_channel)}


def requant_block(*, input_scale, weight_scales, output_scale, output_zero_point, act, mode: str,
                  n_channels: int) -> tuple[dict, dict]:
    """(block scalar fields, block arrays) of a layer with n_channels output channels."""
    per_channel, arrays = requant_arrays(input_scale, weight_scales, output_scale, mode, n_channels)
    return block_fields(output_zero_point, act, mode, per_channel), arrays


def nest(params: dict, arrays: dict) -> dict:
    """One dict of a params struct: the block's arrays (numpy or None) inside params["requant"],
    the struct's other arrays beside its scalar fields."""
    rest = {k: v for k, v in arrays.items() if k not in ARRAY_FIELDS}
    block = {**params[FIELD], **{k: arrays.get(k) for k in ARRAY_FIELDS}}
    return {**params, FIELD: block, **rest}

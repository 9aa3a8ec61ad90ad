"""Numpy reference of the int8 convolutions and their output stage, bit-exact with
runtime_c/include/fn_conv_s8.h, computed from the layer's own quantities.

Arithmetic, per output element, in int64 numpy holding int32 values (TFLite's
reference_integer_ops::ConvPerChannel / DepthwiseConvPerChannel):
    sum = SUM over in-bounds taps of (x - zp_in) * w            |sum| < 2^31 (depth <= 2^16)
    acc = wrap32(sum + bias[c])
    out = output_stage_s8(acc)                                  TFLite's order, see below
Padded taps are left out of the sum (the input, offset included, is padded with 0).

Weights with a zero point (ONNX allows them; TFLite does not): the sum becomes
    sum = SUM over in-bounds taps of (x - zp_in) * (w - zp_w[c])
which is onnxruntime's QLinearConv/ConvInteger accumulator. `conv2d_s32` is that
accumulator plus the bias, without an output stage (ConvInteger, MatMulInteger).

Requantization. The functions take the float scales as the model stores them (float32)
and derive the per-channel requantization themselves (`requantizer`), as the runtime
being matched does:
  tflm, single: (m, shift) = quantize_multiplier(double(s_in) * double(s_w[c]) / double(s_out))
      (TFLite's PopulateConvolutionQuantizationParams, kernels/kernel_util.cc; TFLM
      CalculateOpDataFullyConnected for FC; checked against the tflite-micro interpreter
      by tests/test_kernels_conv_s8_oracles.py);
  ort: the float32 scale (s_in * s_w[c]) / s_out, left to right in float32 (onnxruntime
      QLinearConv::ComputeOutputScale, QLinearMatMul::Compute).
`output_stage_s8` also takes explicit (multiplier, shift) or scale values, so that tests
can reach every branch of the fixed-point code with arbitrary ones.
The C parameter structs are built elsewhere (firmnet.kernels.params_conv_s8), from the
same scales, independently of this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conv import _check_conv, window_view
from .fixedpoint import REQUANT_MODES, mul_by_quantized_mul_single, mul_by_quantized_mul_tflm, quantize_multiplier
from .fixedpoint import requantize_float

INT8_MIN, INT8_MAX = -128, 127


def wrap32(x):
    """int64 values → the int32 value with the same low 32 bits (C's modulo 2^32)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32) - 2**31


# ---------------------------------------------------------------- requantization

@dataclass(frozen=True)
class Requant:
    """The per-channel requantization of one layer: (multiplier, shift) for tflm/single,
    the float32 scale for ort; one entry (per-tensor) or one per output channel."""
    mode: str
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None


def _float32_scales(values, what: str) -> np.ndarray:
    s = np.atleast_1d(np.asarray(values, dtype=np.float64)).astype(np.float32)
    if s.ndim != 1 or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"{what} must be positive finite float32 values, got {values!r}")
    return s


def requantizer(input_scale, weight_scales, output_scale, mode: str) -> Requant:
    """The requantization s_in * s_w[c] / s_out of a conv or FC layer, as the runtime of
    `mode` computes it (module docstring)."""
    if mode not in REQUANT_MODES:
        raise ValueError(f"unknown requantization mode '{mode}' (modes: {', '.join(REQUANT_MODES)})")
    (s_in,), (s_out,) = _float32_scales(input_scale, "input scale"), _float32_scales(output_scale, "output scale")
    s_w = _float32_scales(weight_scales, "weight scales")
    if mode == "ort":
        with np.errstate(over="ignore", under="ignore"):
            return Requant(mode, scale=np.float32(s_in) * s_w / np.float32(s_out))
    pairs = [quantize_multiplier(float(s_in) * float(w) / float(s_out)) for w in s_w]
    return Requant(mode, multiplier=np.array([m for m, _ in pairs], np.int64),
                   shift=np.array([s for _, s in pairs], np.int64))


def output_stage_s8(acc, requant: Requant, output_zero_point: int, act=(INT8_MIN, INT8_MAX)) -> np.ndarray:
    """int8 result of the accumulators acc [..., C] (channel last); requant holds one entry
    or C entries.

    tflm/single: clamp(wrap32(requantize(acc) + zp_out), act_min, act_max); single's
    int64 → int32 conversion wraps like the C. ort: MlasRequantizeOutput, clamp in float
    to [act_min - zp, act_max - zp], round half to even, + zp.
    """
    acc = np.asarray(acc, dtype=np.int64)
    zp, (lo, hi) = int(output_zero_point), (int(act[0]), int(act[1]))

    def per_channel(values, dtype):
        v = np.asarray(values, dtype=dtype).reshape(-1)
        if v.size not in (1, acc.shape[-1]):
            raise ValueError(f"requantization: {v.size} values for {acc.shape[-1]} channels")
        return np.broadcast_to(v, acc.shape[-1:])
    if requant.mode == "ort":
        return (requantize_float(acc, per_channel(requant.scale, np.float32), lo - zp, hi - zp) + zp).astype(np.int8)
    mult, shift = per_channel(requant.multiplier, np.int64), per_channel(requant.shift, np.int64)
    if requant.mode == "tflm":
        r = mul_by_quantized_mul_tflm(acc, mult, shift)
    elif requant.mode == "single":
        r = wrap32(mul_by_quantized_mul_single(acc, mult, shift))
    else:
        raise ValueError(f"unknown requantization mode '{requant.mode}'")
    return np.clip(wrap32(r + zp), lo, hi).astype(np.int8)


def add_bias(acc: np.ndarray, bias) -> np.ndarray:
    if bias is None:
        return acc
    bias = np.asarray(bias)
    if bias.shape != (acc.shape[-1],) or bias.dtype != np.int32:
        raise ValueError(f"bias must be int32 of shape ({acc.shape[-1]},), got {bias.dtype} {bias.shape}")
    return wrap32(acc + bias.astype(np.int64))


# ---------------------------------------------------------------- convolution

def conv_sums(x, w, *, input_zero_point, weight_zero_points=0, strides=(1, 1), dilations=(1, 1),
              pads=(0, 0, 0, 0), groups: int = 1) -> np.ndarray:
    """Exact int64 sums [N, OH, OW, OC] of (x - zp_in) * (w - zp_w[c]) over in-bounds taps;
    x NHWC int8, w OHWI int8, pads (top, left, bottom, right)."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError(f"x and w must be int8, got {x.dtype} and {w.dtype}")
    oh, ow = _check_conv(x.shape, w.shape, strides, dilations, pads, groups)
    n, h, wd, c = x.shape
    oc, kh, kw, cg = w.shape
    (sh, sw), (dh, dw), (pt, pl) = strides, dilations, pads[:2]
    # bottom/right padding as far as the last window reaches
    pb = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - pt - h)
    pr = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - pl - wd)
    xo = x.astype(np.int64) - int(input_zero_point)
    xp = np.pad(xo, ((0, 0), (pt, pb), (pl, pr), (0, 0)))          # padded taps add 0
    win = window_view(xp, (oh, ow), (kh, kw), (sh, sw), (dh, dw))   # [N,OH,OW,KH,KW,C]
    win = win.reshape(win.shape[:5] + (groups, cg))
    zw = np.broadcast_to(np.atleast_1d(np.asarray(weight_zero_points, np.int64)), (oc,))
    wg = (w.astype(np.int64) - zw.reshape(oc, 1, 1, 1)).reshape(groups, oc // groups, kh, kw, cg)
    sums = np.einsum("nhwyxgc,goyxc->nhwgo", win, wg, optimize=True).reshape(n, oh, ow, oc)
    assert np.abs(sums).max(initial=0) < 2**31, "sum of products left int32 (depth bound violated)"
    return sums


def conv2d_s32(x, w, bias, *, input_zero_point, weight_zero_points=0, strides=(1, 1), dilations=(1, 1),
               pads=(0, 0, 0, 0), groups: int = 1) -> np.ndarray:
    """The int32 accumulators (sums plus bias, modulo 2^32) of an int8 conv: ConvInteger."""
    sums = conv_sums(x, w, input_zero_point=input_zero_point, weight_zero_points=weight_zero_points,
                     strides=strides, dilations=dilations, pads=pads, groups=groups)
    return add_bias(sums, bias).astype(np.int32)


def conv2d_s8(x, w, bias, *, input_scale, input_zero_point, weight_scales, output_scale, output_zero_point,
              weight_zero_points=0, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups: int = 1,
              act=(INT8_MIN, INT8_MAX), mode: str = "tflm") -> np.ndarray:
    """int8 conv (x NHWC int8, w OHWI int8, bias int32 [OC] or None) → int8 NHWC."""
    acc = conv2d_s32(x, w, bias, input_zero_point=input_zero_point, weight_zero_points=weight_zero_points,
                     strides=strides, dilations=dilations, pads=pads, groups=groups)
    return output_stage_s8(acc, requantizer(input_scale, weight_scales, output_scale, mode), output_zero_point, act)


# ---------------------------------------------------------------- depthwise

def depthwise_as_ohwi(w) -> np.ndarray:
    """TFLite's depthwise filter [1, KH, KW, C*m] (or [KH, KW, C*m]) as the OHWI filter
    [C*m, KH, KW, 1] of the grouped convolution with groups = C that it is."""
    w = np.asarray(w)
    if w.ndim == 4 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 3:
        raise ValueError(f"depthwise filter must be [1, kh, kw, C*m] or [kh, kw, C*m], got {w.shape}")
    return np.ascontiguousarray(w.transpose(2, 0, 1))[..., None]


def depthwise_conv2d_s8(x, w, bias, *, input_scale, input_zero_point, weight_scales, output_scale,
                        output_zero_point, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                        act=(INT8_MIN, INT8_MAX), mode: str = "tflm") -> np.ndarray:
    """int8 depthwise conv; w in TFLite's layout [1, KH, KW, C*m]: output channel c*m + j is
    input channel c's filter j, a grouped conv with groups = in_c."""
    return conv2d_s8(x, depthwise_as_ohwi(w), bias, input_scale=input_scale, input_zero_point=input_zero_point,
                     weight_scales=weight_scales, output_scale=output_scale, output_zero_point=output_zero_point,
                     strides=strides, dilations=dilations, pads=pads, groups=np.shape(x)[-1], act=act, mode=mode)


def depthwise_filter_from_onnx(w) -> np.ndarray:
    """ONNX depthwise Conv weight [C*m, 1, KH, KW] (group = C) → TFLite's [1, KH, KW, C*m]."""
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"ONNX depthwise weight must be [C*m, 1, kh, kw], got {w.shape}")
    return np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))[None]

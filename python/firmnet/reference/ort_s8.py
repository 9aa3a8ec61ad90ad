"""onnxruntime's int8 activations and softmax (requant_mode ort), bit-exact with
runtime_c/src/fn_lut_s8.c and fn_softmax_ort_s8.c (declared in fn_activation_ort_s8.h).

Element-wise activations: a 256-entry lookup table built at compile time
(`ort_activation_table`), applied by fn_lut_s8: out = table[x + 128]. Every int8 -> int8
function of one value is a table, so the table holds exactly what onnxruntime computes,
whichever way it runs the op:
- QLinearSigmoid, QLinearLeakyRelu (contrib_ops/cpu/quantization/qlinear_activations.cc,
  qlinear_lookup_table.cc QlinearBuildLookupTable: what DequantizeLinear -> Sigmoid /
  LeakyRelu -> QuantizeLinear becomes in its QDQ transformer): each of the 256 inputs
  dequantized as float32(x - zp_in) * s_in, the float function applied, and the result
  quantized by MlasQuantizeLinear (round half to even of y / s_out, saturated, + zp_out).
- Tanh, HardSigmoid, HardSwish (and Sigmoid where it is not fused) stay in float in
  onnxruntime: DequantizeLinear, the float op, QuantizeLinear: the same three steps.
The float functions, float32 throughout:
  sigmoid       MLAS MlasComputeLogistic (lib/logistic.cpp; x86-64 dispatches to its
                FMA3 kernel): v = clamp(x, -18, 18), a rational polynomial in v*v
                evaluated with fused multiply-adds, p / q + 0.5 clamped to [0, 1]
  tanh          MLAS MlasComputeTanh (lib/tanh.cpp, FMA3 kernel): v = clamp(x, -9, 9), p / q
  leaky_relu    x >= 0 ? x : alpha * x
  hard_sigmoid  max(0, min(1, alpha * x + beta))   (product and sum rounded separately)
  hard_swish    x * hard_sigmoid(x) with alpha = float32(1/6), beta = 0.5: onnxruntime's
                graph optimizer rewrites HardSwish into HardSigmoid and Mul
The FMA3 and the unfused (SSE2 / ARM) evaluations of the two polynomials differ in the last
bit of a few floats; measured over random quantizations this changes no table entry, and
the tables follow the FMA3 kernel that x86-64 machines run.
A fused clamp (a Relu/Clip folded into the op) clamps the table entries.

Softmax: onnxruntime's QLinearSoftmax (contrib_ops/cpu/quantization/qlinear_softmax.cc,
also what DequantizeLinear -> Softmax -> QuantizeLinear becomes), for any output
quantization (quantize_static writes 1/255 in QDQ models, 1/256 in QOperator ones):
  table[d] = float32(exp((255 - d - 255 + shift) * s_in)) in double, d = max - x in 0..255,
            shift = max(0, ln(FLT_MAX / n) - 5) / s_in, n the softmax axis length
            (so that the float sum of n entries cannot overflow)
  per lane: sum = float32 sum of table[max - x] in axis order;
            out = nearbyintf(table[max - x] / sum * Y) + zp_out, Y = floorf(1.0f / s_out)
            (float32 quotient, then product), saturated at 127.
  (The source we read multiplies first, (e * Y) / sum, which overflows float32 for a lane of
  one element; onnxruntime 1.32 divides first: measured on 10,000 outputs where the orders
  e / sum * Y, e * (Y / sum), e * (1 / sum * Y) and (e * Y) / sum round differently, only
  the first agrees with it everywhere.)
  (onnxruntime 1.32 saturates in its int8 and uint8 kernels alike.)
"""
from __future__ import annotations

import math

import numpy as np

from .quantize_s8 import check_act, check_quant, dequantize_f32, f32, fma_f32, quantize_ort

ORT_TABLE_KINDS = ("sigmoid", "tanh", "leaky_relu", "hard_sigmoid", "hard_swish")
FLT_MAX = float(np.finfo(np.float32).max)
SOFTMAX_RESERVE = 5.0           # QLinearSoftmax's reserve_bit for its float table

_LOGISTIC = {"range": 18.0,
             "alpha": (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05,
                       8.51377133304701e-03, 2.48287947061529e-01),
             "beta": (6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06,
                      1.70198817374094e-03, 1.16817656904453e-01, 9.93151921023180e-01)}
_TANH = {"range": 9.0,
         "alpha": (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                   5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                   4.89352455891786e-03),
         "beta": (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                  4.89352518554385e-03)}


def _horner(v2, coefficients):
    """c0 * v2^k + ... in MLAS's order: fma(v2, c0, c1), then fma(acc, v2, c_i)."""
    acc = fma_f32(v2, f32(coefficients[0]), f32(coefficients[1]))
    for c in coefficients[2:]:
        acc = fma_f32(acc, v2, f32(c))
    return acc


def _rational(x, constants):
    r = f32(constants["range"])
    v = np.minimum(np.maximum(f32(x), -r), r)
    v2 = v * v
    return (_horner(v2, constants["alpha"]) * v) / _horner(v2, constants["beta"])


def mlas_logistic(x) -> np.ndarray:
    """MLAS's float32 logistic (FMA3 kernel)."""
    return np.clip(_rational(x, _LOGISTIC) + f32(0.5), f32(0.0), f32(1.0))


def mlas_tanh(x) -> np.ndarray:
    """MLAS's float32 tanh (FMA3 kernel)."""
    return _rational(x, _TANH)


def hard_sigmoid_f32(x, alpha, beta) -> np.ndarray:
    return np.maximum(np.minimum(f32(alpha) * f32(x) + f32(beta), f32(1.0)), f32(0.0))


def ort_float_activation(kind: str, x, alpha: float = 0.0, beta: float = 0.0) -> np.ndarray:
    """onnxruntime's float32 result of the activation `kind` (module docstring)."""
    x = f32(x)
    if kind == "sigmoid":
        return mlas_logistic(x)
    if kind == "tanh":
        return mlas_tanh(x)
    if kind == "leaky_relu":
        return np.where(x >= 0, x, f32(alpha) * x)
    if kind == "hard_sigmoid":
        return hard_sigmoid_f32(x, alpha, beta)
    if kind == "hard_swish":
        return x * hard_sigmoid_f32(x, 1.0 / 6.0, 0.5)
    raise ValueError(f"no onnxruntime lookup table for '{kind}' (kinds: {', '.join(ORT_TABLE_KINDS)})")


def ort_activation_table(kind: str, x_q, y_q, alpha: float = 0.0, beta: float = 0.0,
                         act=(-128, 127)) -> np.ndarray:
    """The 256 int8 outputs of `kind` for the inputs -128..127 (index x + 128)."""
    what = f"int8 {kind} (onnxruntime)"
    s_in, zp_in = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    lo, hi = check_act(act, what)
    x = dequantize_f32(np.arange(-128, 128), s_in, zp_in)
    with np.errstate(all="ignore"):
        y = ort_float_activation(kind, x, alpha, beta)
    return np.clip(quantize_ort(y, s_out, zp_out), lo, hi).astype(np.int8)


def ort_float_table(kind: str, x_q, alpha: float = 0.0, beta: float = 0.0,
                    act=(-math.inf, math.inf)) -> np.ndarray:
    """onnxruntime's float32 result of `kind` (then a float clamp to act) for each of the 256
    dequantized int8 inputs -128..127 (index x + 128): what DequantizeLinear -> the float op
    gives where the model quantizes nothing after it (e.g. HardSwish -> ReduceMean)."""
    s_in, zp_in = check_quant(x_q, f"{kind} of a dequantized int8 input")
    x = dequantize_f32(np.arange(-128, 128), s_in, zp_in)
    with np.errstate(all="ignore"):
        y = ort_float_activation(kind, x, alpha, beta)
    lo, hi = act
    return np.minimum(np.maximum(y, f32(lo)), f32(hi)).astype(np.float32)


def lut_s8(x, table) -> np.ndarray:
    """table[x + 128]: what fn_lut_s8 computes with a 256-entry int8 table."""
    return np.asarray(table, np.int8)[np.asarray(x, np.int64) + 128]


def ort_activation_s8(x, kind: str, *, x_q, y_q, alpha: float = 0.0, beta: float = 0.0, act=(-128, 127)):
    """onnxruntime's int8 `kind` of x (its float function between DequantizeLinear and
    QuantizeLinear, clamped to act), int8 of x's shape."""
    return lut_s8(x, ort_activation_table(kind, x_q, y_q, alpha, beta, act))


# ---------------------------------------------------------------- softmax

def ort_softmax_table(x_scale: float, axis_len: int) -> np.ndarray:
    """QLinearSoftmax's float table, indexed by d = max - x (0..255)."""
    s = float(np.float32(x_scale))
    shift = max(0.0, math.log(float(np.float32(FLT_MAX) / np.float32(axis_len))) - SOFTMAX_RESERVE) / s
    return np.array([math.exp((float(255 - d) - 255.0 + shift) * s) for d in range(256)]).astype(np.float32)


def softmax_y_steps(output_scale: float) -> float:
    """QLinearSoftmax's Y = floorf(1.0f / s_out), refused outside [1, 2^24]."""
    y = math.floor(float(np.float32(1.0) / np.float32(output_scale)))
    if not 1 <= y <= 2**24:
        raise ValueError(f"int8 softmax (onnxruntime): output scale {output_scale!r} must lie in [2^-24, 1] "
                         f"(floor(1 / scale) is the largest output step count)")
    return float(y)


def softmax_ort_s8(x, *, axis: int, x_q, y_q) -> np.ndarray:
    """onnxruntime's QLinearSoftmax along `axis` (module docstring), int8 of x's shape."""
    what = "int8 softmax (onnxruntime)"
    s_in, _ = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    x = np.asarray(x)
    lanes = np.moveaxis(np.asarray(x, np.int64), axis, -1)
    table = ort_softmax_table(s_in, lanes.shape[-1])
    e = table[lanes.max(axis=-1, keepdims=True) - lanes]              # float32
    total = np.zeros(lanes.shape[:-1] + (1,), np.float32)
    for k in range(lanes.shape[-1]):                                  # float32 sum in axis order
        total = total + e[..., k:k + 1]
    with np.errstate(all="ignore"):
        v = (e / total) * f32(softmax_y_steps(s_out))
    r = np.rint(v.astype(np.float64)) + zp_out
    return np.ascontiguousarray(np.moveaxis(np.minimum(r, 127).astype(np.int8), -1, axis))

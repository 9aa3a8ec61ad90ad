"""Int8 ADD, SUB and MUL with broadcasting, bit-exact with runtime_c/include/fn_elementwise_s8.h
(fn_add_s8.c, fn_mul_s8.c).

The references (`add_s8`, `mul_s8`) take the two int8 arrays, their and the output's
quantizations as (scale, zp) pairs, the fused activation as an integer clamp and the
requant_mode; `add_constants` / `mul_constants` derive the method and its integers and
floats (TFLM's or onnxruntime's Prepare) from those. The C parameter structs
(firmnet.kernels.params_elementwise_s8) add the broadcast walk (strides) to them.

method tflm (FN_ELTWISE_S8_TFLM; requant_mode tflm or single): TFLite Micro's arithmetic.
  ADD  add_common.cc CalculateOpDataAdd: left_shift = 20, in float64
       twice = 2 * max(s1, s2), real_k = s_k / twice, real_out = twice / (2^20 * s_out),
       each through QuantizeMultiplierSmallerThanOneExp (TFLite's QuantizeMultiplier,
       with real < 1 required); reference_integer_ops::AddElementwise /
       BroadcastAdd6DSlow per element:
         x_k = (q_k - zp_k) * 2^20
         raw = MBQMSmallerThanOneExp(x_1, m1, sh1) + MBQMSmallerThanOneExp(x_2, m2, sh2)
         out = clamp(MBQMSmallerThanOneExp(raw, m_out, sh_out) + zp_out, act_min, act_max)
  SUB  sub_common.cc CalculateOpDataSub: the same, but TFLM computes twice, real_k and
       real_out in FLOAT32 (twice_max_input_scale is a float there, and the divisions
       are float divisions cast to double), then reference_ops::SubElementwise /
       BroadcastQuantSubSlow with raw = scaled_1 - scaled_2. (TFLite proper computes the
       SUB multipliers in float64 like ADD; TFLM is the contract.)
  MUL  mul_common.cc CalculateOpDataMul: (m, shift) = QuantizeMultiplier(double(s1) *
       double(s2) / double(s_out)); reference_integer_ops::MulElementwise:
         out = clamp(MBQM((q1 - zp1) * (q2 - zp2), m, shift) + zp_out, act_min, act_max)
       s1 * s2 / s_out >= 2^14 is refused (shift > 14), where 255 * 255 * 2^shift
       would overflow TFLite's int32 arithmetic (every output would saturate anyway).
  MBQM rounds twice (tflm) or once (single), see fixedpoint.py.

method ort_qlinear (FN_ELTWISE_S8_ORT_QLINEAR; requant_mode ort; ADD and MUL): onnxruntime's
  QLinearAdd / QLinearMul (contrib_ops/cpu/quantization/qlinear_binary_op.cc), which
  its QDQ transformer also uses for DequantizeLinear -> Add/Mul -> QuantizeLinear
  (qdq_selector_action_transformer.cc BinaryOpQDQRules). All float32:
  ADD  MLAS MlasQLinearAddKernelAvx2Helper (intrinsics/avx2/qladd_avx2.cpp), the x86-64
       kernel for any AVX2 machine:
         ra = sa / sc, rb = sb / sc
         fixed = zc - (ra * za + rb * zb)   -- GCC contracts this line to
                 zc - fma(ra, za, rb * zb) in the Linux wheel (measured against
                 onnxruntime 1.31.1, see tests/test_kernels_elementwise_s8.py)
         c = fma(a, ra, fma(b, rb, fixed))                  both operands vary
         when operand A is one scalar for a row, onnxruntime passes the operands
         swapped (input 1 as A, input 0 as the scalar B), so:
         fixed' = zc - fma(rb, zb, ra * za), c = fma(b, rb, fma(a, ra, fixed'))
         out = saturate(round_half_even(c))                   (cvtps2dq, packs)
       so `a_first` rows are those where A's stride is 0 (A is also the scalar when
       both are, as onnxruntime checks input 0 first). ARM64 builds use an integer
       NEON kernel (qladd.cpp) and round differently.
  MUL  MLAS MlasQLinearMulKernel, SSE2 (qlmul.cpp), no FMA (measured: the fused variant
       disagrees with onnxruntime where the two differ):
         ratio = sa * sb / sc (left to right), prod = (a - za) * (b - zb) exact,
         out = saturate(round_half_even(float(prod) * ratio + float(zc)))
       with the product and the sum rounded separately. For a uint8 model onnxruntime adds
       its uint8 zero point zc + 128 and saturates to uint8 (ort_zero_shift = 128), which
       changes how near-ties round.
method ort_float (FN_ELTWISE_S8_ORT_FLOAT; requant_mode ort; ADD, SUB, MUL): DequantizeLinear,
  the float32 operation, QuantizeLinear, each rounded, as onnxruntime runs a QDQ group
  it does not fuse: SUB always (there is no QLinearSub), ADD/MUL if the session's graph
  optimizations are off (ort_unfused=True).
The fused clamp [act_min, act_max] is applied last in every method.

Corner where the C/reference differ from onnxruntime on purpose: a float result
beyond +-2^31 (a scale ratio above ~2^23 for ADD, s_a * s_b / s_y above ~2^15 for MUL)
saturates to the right bound here, while cvtps2dq makes it INT_MIN (-128).
"""
from __future__ import annotations

import numpy as np

from .fixedpoint import mul_by_quantized_mul_single, mul_by_quantized_mul_tflm, quantize_multiplier
from .quantize_s8 import check_act, check_mode, check_quant, dequantize_f32, f32, fma_f32, quantize_ort, round_even_sat

ADD_LEFT_SHIFT = 20


def _method(mode: str, op: str, ort_unfused: bool) -> str:
    if mode != "ort":
        return "tflm"
    if op == "sub" or ort_unfused:
        return "ort_float"
    return "ort_qlinear"


def _smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: real must be in (0, 1)."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"{what}: TFLite requires this multiplier in (0, 1), got {real:.6g} "
                         f"(the output scale is too small for the input scales)")
    return quantize_multiplier(real)


def add_constants(a_q, b_q, y_q, *, op: str = "add", mode: str = "tflm", act: tuple[int, int] = (-128, 127),
                  ort_unfused: bool = False) -> dict:
    """The method (tflm, ort_qlinear, ort_float) and constants of y = a OP b (op 'add' or 'sub').

    a_q, b_q, y_q: (scale, zero point) of a, b and y; act: the fused clamp in y's
    integer domain; mode: 'tflm', 'single' or 'ort'. ort_unfused: follow onnxruntime
    running DQ -> Add -> Q unfused (in float32) instead of QLinearAdd.
    """
    what = f"int8 {op}"
    if op not in ("add", "sub"):
        raise ValueError(f"{what}: op must be 'add' or 'sub'")
    check_mode(mode, what)
    (sa, za), (sb, zb), (sy, zy) = (check_quant(q, f"{what} {n}") for q, n in ((a_q, "a"), (b_q, "b"), (y_q, "y")))
    lo, hi = check_act(act, what)
    p = {"method": _method(mode, op, ort_unfused),
         "subtract": int(op == "sub"), "a_offset": -za, "b_offset": -zb, "output_offset": zy,
         "left_shift": 0, "a_multiplier": 0, "a_shift": 0, "b_multiplier": 0, "b_shift": 0,
         "output_multiplier": 0, "output_shift": 0,
         "a_scale": sa, "b_scale": sb, "output_scale": sy,
         "a_ratio": 0.0, "b_ratio": 0.0, "fixed_ab": 0.0, "fixed_ba": 0.0,
         "act_min": lo, "act_max": hi}
    if p["method"] == "tflm":
        if op == "add":        # add_common.cc: float64
            twice = 2.0 * max(sa, sb)
            ra, rb, ro = sa / twice, sb / twice, twice / ((1 << ADD_LEFT_SHIFT) * sy)
        else:                  # sub_common.cc: float32, then cast to double
            twice32 = f32(2) * max(f32(sa), f32(sb))
            ra = float(f32(sa) / twice32)
            rb = float(f32(sb) / twice32)
            ro = float(twice32 / (f32(1 << ADD_LEFT_SHIFT) * f32(sy)))
        (p["a_multiplier"], p["a_shift"]) = _smaller_than_one(ra, f"{what} input a multiplier")
        (p["b_multiplier"], p["b_shift"]) = _smaller_than_one(rb, f"{what} input b multiplier")
        (p["output_multiplier"], p["output_shift"]) = _smaller_than_one(ro, f"{what} output multiplier")
        p["left_shift"] = ADD_LEFT_SHIFT
    elif p["method"] == "ort_qlinear":
        ra, rb = f32(sa) / f32(sy), f32(sb) / f32(sy)
        p["a_ratio"], p["b_ratio"] = float(ra), float(rb)
        p["fixed_ab"] = float(f32(zy) - fma_f32(ra, f32(za), rb * f32(zb)))
        p["fixed_ba"] = float(f32(zy) - fma_f32(rb, f32(zb), ra * f32(za)))
    return p


def mul_constants(a_q, b_q, y_q, *, mode: str = "tflm", act: tuple[int, int] = (-128, 127),
                  ort_unfused: bool = False, ort_uint8: bool = False) -> dict:
    """The method and constants of y = a * b (same arguments as add_constants; ort_uint8: the
    model's tensors are uint8, onnxruntime's uint8 QLinearMul)."""
    what = "int8 mul"
    check_mode(mode, what)
    (sa, za), (sb, zb), (sy, zy) = (check_quant(q, f"{what} {n}") for q, n in ((a_q, "a"), (b_q, "b"), (y_q, "y")))
    lo, hi = check_act(act, what)
    p = {"method": _method(mode, "mul", ort_unfused),
         "a_offset": -za, "b_offset": -zb, "output_offset": zy, "multiplier": 0, "shift": 0, "ratio": 0.0,
         "a_scale": sa, "b_scale": sb, "output_scale": sy, "act_min": lo, "act_max": hi, "ort_zero_shift": 0}
    if p["method"] == "tflm":
        p["multiplier"], p["shift"] = quantize_multiplier(sa * sb / sy)    # float64, as TFLM
        if p["shift"] > 14:
            # 255 * 255 * 2^shift reaches 2^31: TFLite's int32 arithmetic would overflow
            raise ValueError(f"{what}: multiplier s_a * s_b / s_y = {sa * sb / sy:.6g} is too large "
                             f"(>= 2^14) for TFLite's int32 arithmetic")
    elif p["method"] == "ort_qlinear":
        p["ratio"] = float(f32(sa) * f32(sb) / f32(sy))
        p["ort_zero_shift"] = 128 if ort_uint8 else 0
    return p


# ---------------------------------------------------------------- references

def _operands(a, b):
    """a and b broadcast to the output, int64, plus onnxruntime's operand order: A is the
    scalar of each row (`a_first`) when a is broadcast along the innermost output dimension
    longer than 1 (or the output is one element)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    a2, b2 = np.broadcast_arrays(a, b)
    longer = [d for d in range(a2.ndim) if a2.shape[d] > 1]
    a_full = (1,) * (a2.ndim - a.ndim) + a.shape
    a_first = not longer or a_full[longer[-1]] == 1
    return a2, b2, a_first


def _mbqm(x, mode: str, m: int, s: int):
    if mode == "single":
        return mul_by_quantized_mul_single(x, m, s)
    return mul_by_quantized_mul_tflm(x, m, s)


def _clamp(v, p) -> np.ndarray:
    return np.clip(v, p["act_min"], p["act_max"]).astype(np.int8)


def add_s8(a, b, *, a_q, b_q, y_q, op: str = "add", mode: str = "tflm", act: tuple[int, int] = (-128, 127),
           ort_unfused: bool = False) -> np.ndarray:
    """int8 y = a OP b (op 'add' or 'sub') with numpy broadcasting (module docstring)."""
    p = add_constants(a_q, b_q, y_q, op=op, mode=mode, act=act, ort_unfused=ort_unfused)
    a, b, a_first = _operands(a, b)
    method = p["method"]
    if method == "tflm":
        x = (a + p["a_offset"]) << p["left_shift"]
        y = (b + p["b_offset"]) << p["left_shift"]
        sx = _mbqm(x, mode, p["a_multiplier"], p["a_shift"])
        sy = _mbqm(y, mode, p["b_multiplier"], p["b_shift"])
        raw = sx - sy if p["subtract"] else sx + sy
        out = _mbqm(raw, mode, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
        return _clamp(out, p)
    if method == "ort_qlinear":
        af, bf = a.astype(np.float32), b.astype(np.float32)
        ra, rb = f32(p["a_ratio"]), f32(p["b_ratio"])
        if a_first:
            c = fma_f32(bf, rb, fma_f32(af, ra, f32(p["fixed_ba"])))
        else:
            c = fma_f32(af, ra, fma_f32(bf, rb, f32(p["fixed_ab"])))
        return _clamp(round_even_sat(c, -128, 127), p)
    da = dequantize_f32(a, p["a_scale"], -p["a_offset"])
    db = dequantize_f32(b, p["b_scale"], -p["b_offset"])
    s = da - db if p["subtract"] else da + db
    return _clamp(quantize_ort(s, p["output_scale"], p["output_offset"]), p)


def mul_s8(a, b, *, a_q, b_q, y_q, mode: str = "tflm", act: tuple[int, int] = (-128, 127),
           ort_unfused: bool = False, ort_uint8: bool = False) -> np.ndarray:
    """int8 y = a * b with numpy broadcasting (module docstring)."""
    p = mul_constants(a_q, b_q, y_q, mode=mode, act=act, ort_unfused=ort_unfused, ort_uint8=ort_uint8)
    a, b, _ = _operands(a, b)
    method = p["method"]
    if method == "tflm":
        prod = (a + p["a_offset"]) * (b + p["b_offset"])
        out = _mbqm(prod, mode, p["multiplier"], p["shift"]) + p["output_offset"]
        return _clamp(out, p)
    if method == "ort_qlinear":
        prod = ((a + p["a_offset"]) * (b + p["b_offset"])).astype(np.float32)
        t = prod * f32(p["ratio"])
        shift = p["ort_zero_shift"]
        c = t + f32(p["output_offset"] + shift)
        return _clamp(round_even_sat(c, -128 + shift, 127 + shift) - shift, p)
    da = dequantize_f32(a, p["a_scale"], -p["a_offset"])
    db = dequantize_f32(b, p["b_scale"], -p["b_offset"])
    with np.errstate(all="ignore"):
        s = da * db
    return _clamp(quantize_ort(s, p["output_scale"], p["output_offset"]), p)

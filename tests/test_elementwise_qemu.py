"""The int8 element-wise kernels on the emulated Cortex-M4F (mps2-an386, QEMU), byte for byte
against the numpy reference: fn_add_s8_table (add and sub, with and without a fused clamp,
contiguous rows, one scalar operand, strided broadcasts, row lengths around the four-lane
step), fn_mul_s8's TFLM rows (SXTAB16 + SMULBB/SMULTT on the DSP path; right and left output
shifts, clamps, broadcasts), and the 256-entry tables that replace TFLM's logistic, tanh, hard
swish and requantization (fn_lut_s8), on seeded random cases with random quantizations. Each
firmware is built twice with arm-none-eabi-gcc -O2 -Werror: with the DSP path and with
-U__ARM_FEATURE_DSP (the portable path on the same CPU); both must equal the reference.

Instruction counts: python bench/elementwise.py. Tests never assert timing.
"""
from __future__ import annotations

import numpy as np
import pytest

from support.compare import assert_array_equal_first
from support.qemu_elementwise import add_case, mul_case, run_cases, unary_attrs, unary_case
from support.qemu_harness import require_tools
from support.tflite_models import quant_from_range


def _quant(rng):
    return float(np.float32(2.0 ** rng.uniform(-9, 1))), int(rng.integers(-128, 128))


def _shapes(rng, k):
    n = int(rng.integers(1, 41))
    kind = k % 5
    if kind == 0:
        return (n,), (n,)
    if kind == 1:
        return (3, n), (1,)                       # b a scalar
    if kind == 2:
        return (1,), (2, n)                       # a a scalar
    if kind == 3:
        return (n, 3), (n, 1)                     # b broadcast along the rows
    return (2, 1, n), (1, 3, 1)                   # both broadcast: strided rows


def _operands(rng, k):
    """Case k's two random int8 operands, of _shapes(rng, k)."""
    a_shape, b_shape = _shapes(rng, k)
    return (rng.integers(-128, 128, a_shape, dtype=np.int8), rng.integers(-128, 128, b_shape, dtype=np.int8))


def _act(rng, y_q):
    return [(-128, 127), (y_q[1], 127), (max(-128, y_q[1] - 20), min(127, y_q[1] + 30))][int(rng.integers(0, 3))]


def binary_cases(seed: int, n: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(n):
        a, b = _operands(rng, k)
        a_q, b_q = _quant(rng), _quant(rng)
        if k % 3 == 2:
            y_q = (float(np.float32(a_q[0] * b_q[0] * 2.0 ** rng.uniform(-8, 8))), int(rng.integers(-128, 128)))
            try:
                cases.append(mul_case(a, b, dict(a_q=a_q, b_q=b_q, y_q=y_q, mode="tflm", act=_act(rng, y_q))))
            except ValueError:
                pass
            continue
        y_q = (float(np.float32(max(a_q[0], b_q[0]) * 2.0 ** rng.uniform(-2, 4))), int(rng.integers(-128, 128)))
        kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, op="sub" if k % 3 else "add", mode="tflm", act=_act(rng, y_q))
        try:
            cases.append(add_case(a, b, kw, table=True))
        except ValueError:
            pass
    return cases


def ort_binary_cases(seed: int, n: int) -> list:
    """fn_add_s8 and fn_mul_s8 with onnxruntime's arithmetic (requant ort): QLinearAdd/Mul's
    fused multiply-adds (ort_qlinear; the FPU's VFMA on the board) and the unfused
    dequantize -> op -> quantize graph (ort_float), half of the cases on power-of-two scales
    (exact halves: ties to even on the FPU's VCVTR)."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(n):
        a, b = _operands(rng, k)
        if k % 2 == 0:
            a_q, b_q = ((2.0 ** int(rng.integers(-8, 0)), int(rng.integers(-128, 128))) for _ in range(2))
        else:
            a_q, b_q = _quant(rng), _quant(rng)
        unfused = k % 4 >= 2
        if k % 3 == 2:
            y_q = (float(np.float32(a_q[0] * b_q[0] * 2.0 ** int(rng.integers(-4, 5)))), int(rng.integers(-128, 128)))
            kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, mode="ort", act=_act(rng, y_q), ort_unfused=unfused)
            cases.append(mul_case(a, b, kw))
            continue
        y_q = (float(np.float32(max(a_q[0], b_q[0]) * 2.0 ** int(rng.integers(-2, 4)))), int(rng.integers(-128, 128)))
        kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, op="sub" if unfused and k % 3 else "add", mode="ort",
                  act=_act(rng, y_q), ort_unfused=unfused)
        cases.append(add_case(a, b, kw, table=False))
    return cases


def unary_cases(seed: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(12):
        x = rng.integers(-128, 128, int(rng.integers(1, 70)), dtype=np.int8)
        x_q = _quant(rng)
        lo, hi = (x_q[0] * (-128 - x_q[1]), x_q[0] * (127 - x_q[1]))
        kind = ("hard_swish", "sigmoid", "tanh", "identity")[k % 4]
        y_q = {"sigmoid": (1 / 256, -128), "tanh": (1 / 128, 0),
               "hard_swish": quant_from_range(-0.375, max(hi, 0.5) * min(max(hi + 3, 0), 6) / 6),
               "identity": quant_from_range(lo * rng.uniform(0.3, 2), hi * rng.uniform(0.3, 2))}[kind]
        cases.append(unary_case(x, unary_attrs(kind, x_q, y_q, mode=("tflm", "single")[k % 2])))
    return cases


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_elementwise_on_cortex_m4_match_reference(tmp_path, dsp):
    require_tools()
    cases = binary_cases(16, 60) + unary_cases(17)
    assert {c.function for c in cases} == {"fn_add_s8_table", "fn_mul_s8", "fn_lut_s8"}
    outs, _ = run_cases(tmp_path, cases, dsp=dsp)
    for k, (out, case) in enumerate(zip(outs, cases)):
        assert_array_equal_first(out, case.want, f"case {k}: {case.function} {case.inputs[0].shape}")


def test_ort_elementwise_on_cortex_m4f_match_reference(tmp_path):
    """onnxruntime's add, sub and mul on the M4F's FPU (VFMA for the fused multiply-adds, VCVTR
    for the rounding): the reference's bytes, every method."""
    require_tools()
    cases = ort_binary_cases(18, 48)
    assert {(c.function, c.params["method"]) for c in cases} >= {("fn_add_s8", 1), ("fn_add_s8", 2),
                                                                  ("fn_mul_s8", 1), ("fn_mul_s8", 2)}
    outs, _ = run_cases(tmp_path, cases, dsp=True)
    for k, (out, case) in enumerate(zip(outs, cases)):
        assert_array_equal_first(out, case.want, f"case {k}: {case.function} {case.inputs[0].shape}")

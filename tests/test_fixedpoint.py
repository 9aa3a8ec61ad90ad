"""The fixed-point helpers of runtime_c/include/fn_fixedpoint.h against their numpy mirror
(firmnet.reference.fixedpoint) and against independent exact oracles written here with
Python integers and fractions (what TFLite's gemmlowp functions compute, by definition):

  SaturatingRoundingDoublingHighMul(a, b) = floor((a * b + 2^30) / 2^31): nearest, ties
      toward +infinity (gemmlowp's nudge 1 - 2^30 for negative products followed by a
      division truncating toward zero gives exactly that; NOT ties away from zero as the
      comment in fn_fixedpoint.h says), (INT32_MIN, INT32_MIN) saturating to INT32_MAX
  RoundingDivideByPOT(x, e)               = round(x / 2^e), ties away from zero
  MultiplyByQuantizedMultiplier (tflm)    = RDPOT(SRDHM(wrap32(x * 2^left), m), right)
  single rounding                         = floor((x * m + 2^(30 - s)) / 2^(31 - s))
  ort                                     = float32(acc) * scale, clamped, round half even
  QuantizeMultiplier                      = frexp, fraction * 2^31 rounded half away from zero

Every C result must equal both the mirror and the oracle. The two edges outside the
kernels' domain (single-rounding wrap, the float path's exact range) have explicit tests.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firmnet.reference import fixedpoint as fx

I32_MIN, I32_MAX = -2**31, 2**31 - 1
MODES = {"tflm": 0, "single": 1, "ort": 2}

# ---------------------------------------------------------------- oracles (Python ints)


def _round_half_away(num: int, den: int) -> int:
    """round(num / den), ties away from zero, den > 0."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def wrap32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def srdhm_oracle(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    return (a * b + 2**30) // 2**31                    # floor: ties toward +infinity


def rdpot_oracle(x: int, e: int) -> int:
    return _round_half_away(x, 2**e)


def tflm_oracle(x: int, m: int, s: int) -> int:
    left, right = max(s, 0), max(-s, 0)
    return rdpot_oracle(srdhm_oracle(wrap32(x * 2**left), m), right)


def single_oracle(x: int, m: int, s: int) -> int:
    total = 31 - s
    return (x * m + 2**(total - 1)) // 2**total       # floor: ties toward +infinity


def float_oracle(acc: int, scale: float, lo: int, hi: int) -> int:
    v = float(np.float32(np.float32(acc) * np.float32(scale)))
    v = min(max(v, float(lo)), float(hi))
    return int(round(v))                               # Python rounds floats half to even


def qm_oracle(real: float) -> tuple[int, int]:
    """QuantizeMultiplier with exact fractions: real = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if real == 0:
        return 0, 0
    r = Fraction(real)
    shift = 0
    while r >= 1:
        r /= 2
        shift += 1
    while r < Fraction(1, 2):
        r *= 2
        shift -= 1
    q = math.floor(r * 2**31 + Fraction(1, 2))
    if q == 2**31:
        q, shift = 2**30, shift + 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise ValueError("too large")
    return q, shift


# ---------------------------------------------------------------- helpers


def c_srdhm(rt, a, b):
    return rt.lib.fn_sat_rounding_doubling_high_mul(a, b)


def check_srdhm(rt, a, b):
    expected = srdhm_oracle(a, b)
    assert c_srdhm(rt, a, b) == expected, f"C srdhm({a}, {b})"
    assert int(fx.sat_rounding_doubling_high_mul(a, b)) == expected, f"numpy srdhm({a}, {b})"


def check_rdpot(rt, x, e):
    expected = rdpot_oracle(x, e)
    assert rt.lib.fn_rounding_divide_by_pot(x, e) == expected, f"C rdpot({x}, {e})"
    assert int(fx.rounding_divide_by_pot(x, e)) == expected, f"numpy rdpot({x}, {e})"


def check_tflm(rt, x, m, s):
    expected = tflm_oracle(x, m, s)
    assert rt.lib.fn_mul_by_quantized_mul_tflm(x, m, s) == expected, f"C tflm({x}, {m}, {s})"
    assert int(fx.mul_by_quantized_mul_tflm(x, m, s)) == expected, f"numpy tflm({x}, {m}, {s})"
    assert rt.lib.fn_requantize(x, MODES["tflm"], m, s, 0.0, -128, 127) == expected
    assert int(fx.requantize(x, "tflm", m, s)) == expected


def check_single(rt, x, m, s):
    expected = single_oracle(x, m, s)
    assert I32_MIN <= expected <= I32_MAX, "only in-range results are defined (see the xfail below)"
    assert rt.lib.fn_mul_by_quantized_mul_single(x, m, s) == expected, f"C single({x}, {m}, {s})"
    assert int(fx.mul_by_quantized_mul_single(x, m, s)) == expected, f"numpy single({x}, {m}, {s})"
    assert rt.lib.fn_requantize(x, MODES["single"], m, s, 0.0, -128, 127) == expected
    assert int(fx.requantize(x, "single", m, s)) == expected


def check_float(rt, acc, scale, lo, hi):
    scale = float(np.float32(scale))
    expected = float_oracle(acc, scale, lo, hi)
    assert rt.lib.fn_round_clamp_ort(float(np.float32(acc) * np.float32(scale)), lo, hi) == expected, \
        f"C round_clamp_ort({acc} * {scale!r}, {lo}, {hi})"
    assert int(fx.requantize_float(acc, scale, lo, hi)) == expected
    assert rt.lib.fn_requantize(acc, MODES["ort"], 0, 0, scale, lo, hi) == expected
    assert int(fx.requantize(acc, "ort", 0, 0, scale, lo, hi)) == expected


# ---------------------------------------------------------------- edge cases

@pytest.mark.parametrize("a, b, expected", [
    (I32_MIN, I32_MIN, I32_MAX),          # the one saturating case
    (I32_MIN, I32_MAX, -I32_MAX),         # -2^31 * (2^31 - 1) / 2^31 exactly
    (I32_MAX, I32_MAX, I32_MAX - 1),      # (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31
    (I32_MIN, 2**30, -2**30),
    (1, 2**30, 1),                        # +0.5 → 1
    (-1, 2**30, 0),                       # -0.5 → 0: ties toward +infinity
    (3, 2**30, 2), (-3, 2**30, -1),       # +-1.5 → 2, -1
    (1, 2**30 - 1, 0), (-1, 2**30 - 1, 0),
    (0, I32_MIN, 0),
    (-5, I32_MIN, 5),                     # exact
])
def test_srdhm_edge_cases(runtime, a, b, expected):
    assert srdhm_oracle(a, b) == expected
    check_srdhm(runtime, a, b)


@pytest.mark.parametrize("x, e, expected", [
    (5, 0, 5), (-5, 0, -5), (I32_MIN, 0, I32_MIN),     # exponent 0 is the identity
    (3, 1, 2), (-3, 1, -2),                           # ties away from zero
    (1, 1, 1), (-1, 1, -1),
    (-5, 2, -1), (-6, 2, -2), (6, 2, 2), (-7, 2, -2),  # -1.25, -1.5, 1.5, -1.75
    (I32_MIN, 31, -1), (I32_MAX, 31, 1),
    (-2**30, 31, -1), (2**30, 31, 1), (-2**30 + 1, 31, 0), (2**30 - 1, 31, 0),
    (I32_MIN, 30, -2), (I32_MAX, 1, 2**30),
])
def test_rounding_divide_by_pot_edge_cases(runtime, x, e, expected):
    assert rdpot_oracle(x, e) == expected
    check_rdpot(runtime, x, e)


TFLM_EDGES = [
    (3, 2**30, 30),            # 3 << 30 wraps to -2^30 before the multiply
    (1, 2**30, 30),            # 1 << 30 = 2^30: exact 2^29
    (-1, 2**30, 30),
    (2, 2**31 - 1, 30),        # 2 << 30 wraps to INT32_MIN
    (I32_MAX, 2**31 - 1, 30),  # wraps to -2^30
    (I32_MIN, I32_MAX, 0), (I32_MIN, 2**30, 0), (I32_MAX, 2**30, 0),
    (I32_MAX, 2**31 - 1, -31), (I32_MIN, 2**31 - 1, -31), (I32_MIN, 2**30, -31),
    (12345, 2**30, -1), (-12345, 2**30, -1), (12347, 2**30, -2), (-12347, 2**30, -2),
    (0, 2**30, 5), (1000, 0, 3),
]


@pytest.mark.parametrize("x, m, s", TFLM_EDGES)
def test_tflm_edge_cases(runtime, x, m, s):
    check_tflm(runtime, x, m, s)


@pytest.mark.parametrize("x, m, s", [
    (1, 2**30, 0), (-1, 2**30, 0),             # +-0.5: ties go toward +infinity: 1 and 0
    (3, 2**30, 0), (-3, 2**30, 0),             # +-1.5 → 2, -1
    (I32_MAX, 2**31 - 1, -31), (I32_MIN, 2**31 - 1, -31), (I32_MIN, 2**30, -31),
    (I32_MIN, 2**30, 0), (I32_MAX, 2**31 - 1, 0), (I32_MIN, 2**31 - 1, 0),
    (1, 2**30, 30), (-2, 2**31 - 1, 30), (1, 2**31 - 1, 30),   # 2^60 / 2 scale: in range
    (0, 2**31 - 1, 30), (7, 0, 12),
])
def test_single_edge_cases(runtime, x, m, s):
    check_single(runtime, x, m, s)


@pytest.mark.parametrize("acc, scale, lo, hi", [
    (1, 0.5, -128, 127), (-1, 0.5, -128, 127),       # +-0.5 → 0 (even)
    (3, 0.5, -128, 127), (-3, 0.5, -128, 127),       # +-1.5 → +-2
    (5, 0.5, -128, 127), (-5, 0.5, -128, 127),       # +-2.5 → +-2
    (255, 1.0, -128, 127), (-300, 1.0, -128, 127),   # clamped before rounding
    (253, 0.5, -128, 126), (-257, 0.5, -128, 127),   # 126.5 clamps to 126; -128.5 to -128
    (2**24 + 1, 2.0**-24, -128, 127),                # float(acc) rounds to 2^24 first
    (I32_MAX, 2.0**-24, -255, 255), (I32_MIN, 2.0**-24, -255, 255),
    (I32_MIN, 2.0**-31, -255, 255),
    (0, 1e-30, -5, 5), (123, 0.0, -5, 5),
    (7, 1.0, 0, 0),
    (2**22 - 1, 1.0, -2**22, 2**22),                 # the magic-number trick's limit
])
def test_requantize_float_edge_cases(runtime, acc, scale, lo, hi):
    check_float(runtime, acc, scale, lo, hi)


# ---------------------------------------------------------------- hypothesis over int32

int32s = st.one_of(st.integers(I32_MIN, I32_MAX),
                   st.sampled_from([I32_MIN, I32_MIN + 1, -2**30, -1, 0, 1, 2**30, I32_MAX - 1, I32_MAX]),
                   st.integers(-2**16, 2**16))
multipliers = st.one_of(st.integers(2**30, I32_MAX), st.sampled_from([0, 2**30, I32_MAX]),
                        st.integers(0, I32_MAX))
shifts = st.one_of(st.integers(-31, 30), st.sampled_from([-31, -30, -1, 0, 1, 29, 30]))


@settings(max_examples=600, deadline=None)
@given(a=int32s, b=int32s)
def test_srdhm_matches(runtime, a, b):
    check_srdhm(runtime, a, b)


@settings(max_examples=600, deadline=None)
@given(x=int32s, e=st.integers(0, 31))
def test_rounding_divide_by_pot_matches(runtime, x, e):
    check_rdpot(runtime, x, e)


@settings(max_examples=600, deadline=None)
@given(x=int32s, m=multipliers, s=shifts)
def test_tflm_matches(runtime, x, m, s):
    check_tflm(runtime, x, m, s)


@settings(max_examples=600, deadline=None)
@given(x=int32s, m=multipliers, s=shifts)
def test_single_matches(runtime, x, m, s):
    assume(I32_MIN <= single_oracle(x, m, s) <= I32_MAX)
    check_single(runtime, x, m, s)


@settings(max_examples=600, deadline=None)
@given(acc=int32s, scale=st.one_of(st.floats(0, 4, width=32), st.floats(2**-32, 2**-8, width=32),
                                   st.sampled_from([0.5, 0.25, 0.125, 1.5, 2.0**-20])),
       lo=st.integers(-2**22, 0), span=st.integers(0, 2**22))
def test_requantize_float_matches(runtime, acc, scale, lo, span):
    check_float(runtime, acc, scale, lo, lo + span)


@settings(max_examples=300, deadline=None)
@given(acc=st.integers(-2**16, 2**16), half=st.booleans(), lo=st.integers(-255, 0), hi=st.integers(0, 255))
def test_requantize_float_ties_go_to_even(runtime, acc, half, lo, hi):
    """scale 0.5 makes every odd acc a tie; ORT rounds them to even, unlike TFLite."""
    scale = 0.5 if half else 0.25
    check_float(runtime, acc, scale, lo, hi)


# ---------------------------------------------------------------- known disagreements

def test_single_out_of_range_wraps_in_c_and_mirror(runtime):
    """TFLite only DCHECKs the range; both sides wrap through uint32 the same way."""
    x, m, s = I32_MAX, I32_MAX, 30
    exact = single_oracle(x, m, s)
    assert exact > I32_MAX
    wrapped = (exact + 2**31) % 2**32 - 2**31
    assert runtime.lib.fn_mul_by_quantized_mul_single(x, m, s) == int(fx.mul_by_quantized_mul_single(x, m, s)) \
        == wrapped


def test_requantize_float_refuses_bounds_beyond_its_exact_range():
    with pytest.raises(ValueError, match="2\\^22"):
        fx.requantize(2**23 + 1, "ort", 0, 0, 1.0, -2**30, 2**30)


# ---------------------------------------------------------------- quantize_multiplier

@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (1.0, (2**30, 1)), (0.5, (2**30, 0)), (0.25, (2**30, -1)), (2.0, (2**30, 2)),
    (2.0**-31, (2**30, -30)), (2.0**-32, (2**30, -31)),
    (2.0**-33, (0, 0)), (1e-20, (0, 0)),                      # tiny: flushed to (0, 0)
    (2.0**-32 * (1 - 2.0**-40), (2**30, -31)),               # tiny, but rounds up into range
    (1 - 2.0**-32, (2**30, 1)),                              # fraction * 2^31 = 2^31 - 1/2 carries
    (0.5 + 2.0**-32, (2**30 + 1, 0)),                        # a tie: away from zero
    (0.5 + 2.0**-33, (2**30, 0)),                            # below the tie
    ((2**31 - 1) * 2.0**-31, (2**31 - 1, 0)),
    ((2**31 - 1) * 2.0**-1, (2**31 - 1, 30)),                # the largest representable
    (0.1, (1717986918, -3)), (0.7, (1503238554, 0)),
])
def test_quantize_multiplier_edge_cases(real, expected):
    assert fx.quantize_multiplier(real) == expected
    assert qm_oracle(real) == expected


@pytest.mark.parametrize("real", [2.0**30, 2.0**30 * (1 - 2.0**-53), 1e10, -1.0, float("nan"), float("inf")])
def test_quantize_multiplier_refuses(real):
    with pytest.raises(ValueError):
        fx.quantize_multiplier(real)


@settings(max_examples=500, deadline=None)
@given(real=st.one_of(st.floats(2.0**-40, 2.0**30, exclude_max=True),
                      st.floats(1e-6, 10.0),
                      st.floats(2**-40, 2**30, width=32, exclude_max=True)))
def test_quantize_multiplier_matches_oracle(real):
    try:
        expected = qm_oracle(real)
    except ValueError:                     # rounds up to 2^30 or beyond: shift 31
        with pytest.raises(ValueError):
            fx.quantize_multiplier(real)
        return
    got = fx.quantize_multiplier(real)
    assert got == expected
    m, s = got
    if m:
        assert 2**30 <= m < 2**31 and -31 <= s <= 30
        # within half a unit of the Q31 significand
        assert abs(Fraction(m) * Fraction(2) ** (s - 31) - Fraction(real)) <= Fraction(2) ** (s - 32)

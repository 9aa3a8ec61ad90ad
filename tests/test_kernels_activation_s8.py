"""int8 softmax, logistic, tanh and hard swish (fn_activation_s8.h, fn_gemmlowp.h)
against the numpy reference (firmnet.reference.activation_s8), and the reference
against TensorFlow Lite Micro. The kernels get the structs of
firmnet.kernels.params_activation_s8, the reference the tensors' quantities (axis,
scales, zero points, beta).

All integer comparisons are exact (np.array_equal, first mismatch named):

- every fn_gl_* helper of fn_gemmlowp.h: C == numpy on edge and random int32 values
  over its whole argument range (both mirror gemmlowp's wrap-around, so any int32 works);
- logistic, tanh, hard swish: C == reference on all 256 int8 inputs, for fixed grids of
  input/output quantizations (extremes included) and for hypothesis-drawn ones;
- softmax: C == reference for hypothesis-drawn shapes [outer, axis_len, inner], input
  scales, beta and data (random, all equal, one-hot extremes), in place too;
- reference == TFLM (the `tflite-micro` Python package, one-op .tflite models built
  here; the package is a test dependency).

Float meaning (tolerances measured, then rounded up): the gemmlowp helpers against
exp, 1/(1+x), (1-x)/(1+x), logistic and tanh of the input's real value; the kernels'
outputs within about half an output step of the float function.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmnet import cbuild, resources
from firmnet.kernels import params_activation_s8 as P
from firmnet.reference import activation_s8 as A

from support import tflite_oracle
from support.compare import assert_array_equal_first
from support.tflite_models import S, tflite_one_op_model

FN_OK, FN_ERR_ARG = 0, 1
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)

# Headers in dependency order. The session fixture `runtime` concatenates all headers
# alphabetically for cffi, which puts fn_activation_s8.h before fn_common.h (fn_status
# undefined); until cbuild orders fn_common.h first, this module builds its own extension.
HEADERS = ("fn_common.h", "fn_fixedpoint.h", "fn_gemmlowp.h", "fn_activation_s8.h")
SOURCES = ("fn_softmax_s8.c", "fn_logistic_s8.c", "fn_tanh_s8.c", "fn_hard_swish_s8.c")


@pytest.fixture(scope="module")
def rt():
    inc = resources.runtime_include_dir()
    headers = [inc / h for h in HEADERS]
    objects = cbuild.compile_objects([resources.runtime_dir() / "src" / s for s in SOURCES], [inc])
    wrapper = "".join(f'#include "{h}"\n' for h in HEADERS)
    return cbuild.build_extension(cbuild.header_cdef(headers), wrapper, objects, [inc])


KERNELS = {   # op: (C function, C struct, reference)
    "softmax": ("fn_softmax_s8", "fn_softmax_s8_params", A.softmax_s8),
    "logistic": ("fn_logistic_s8", "fn_logistic_s8_params", A.logistic_s8),
    "tanh": ("fn_tanh_s8", "fn_tanh_s8_params", A.tanh_s8),
    "hard_swish": ("fn_hard_swish_s8", "fn_hard_swish_s8_params", A.hard_swish_s8),
}
ELEMENTWISE_BUILDERS = {"logistic": P.logistic_s8_params, "tanh": P.tanh_s8_params,
                        "hard_swish": P.hard_swish_s8_params}


def struct_of(op: str, shape, q: dict) -> dict:
    """The kernel's parameter struct (the builder's) for an int8 tensor of `shape` and the
    layer's quantities q (the reference's keyword arguments)."""
    if op == "softmax":
        return P.softmax_s8_params(shape, q["axis"], q["input_scale"], q.get("output_scale", 1 / 256),
                                   q.get("output_zero_point", -128), q.get("beta", 1.0))
    return ELEMENTWISE_BUILDERS[op](int(np.prod(shape)), q["input_scale"], q["input_zero_point"],
                                    q["output_scale"], q["output_zero_point"])


def run_c(rt, op: str, params: dict, x: np.ndarray, in_place: bool = False) -> np.ndarray:
    fn, struct, _ = KERNELS[op]
    x = np.ascontiguousarray(x, dtype=np.int8)
    out = x.copy() if in_place else np.full_like(x, 99)
    src = out if in_place else x
    status = getattr(rt.lib, fn)(rt.ffi.new(f"{struct} *", params), rt.ffi.cast("int8_t *", rt.ffi.from_buffer(src)),
                                 rt.ffi.cast("int8_t *", rt.ffi.from_buffer(out)))
    assert status == FN_OK, f"{fn} returned {status} for {params}"
    return out


def check_c_equals_reference(rt, op: str, q: dict, x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """C with the builder's struct == the reference from the quantities q."""
    params = struct_of(op, x.shape, q)
    ref = KERNELS[op][2](x, **q)
    assert ref.dtype == np.int8 and ref.shape == x.shape
    assert_array_equal_first(run_c(rt, op, params, x, in_place), ref, f"{op} {q}")
    return ref


def elementwise_q(op: str, in_scale: float, in_zp: int, out_scale: float = 0.0, out_zp: int = 0) -> dict:
    """The quantities of an int8 logistic (output 1/256, -128), tanh (1/128, 0) or hard swish."""
    out = {"logistic": (1 / 256, -128), "tanh": (1 / 128, 0)}.get(op, (out_scale, out_zp))
    return dict(input_scale=in_scale, input_zero_point=in_zp, output_scale=out[0], output_zero_point=out[1])


# ---------------------------------------------------------------- gemmlowp helpers

def int32_values(rng, n: int = 1500, lo: int = INT32_MIN, hi: int = INT32_MAX) -> np.ndarray:
    edges = [lo, lo + 1, hi - 1, hi, 0, -1, 1, 2**30, -2**30, 2**29, -2**29, 2**26, -2**26]
    edges = [e for e in edges if lo <= e <= hi]
    small = np.arange(max(lo, -300), min(hi, 300) + 1)
    return np.concatenate([np.array(edges, dtype=np.int64), small, rng.integers(lo, hi, n, endpoint=True)])


def c_map(fn, *columns) -> np.ndarray:
    return np.array([fn(*(int(c) for c in args)) for args in zip(*columns)], dtype=np.int64)


UNARY_HELPERS = ["neg", "exp_on_interval_between_negative_one_quarter_and_0_excl",
                 "one_over_one_plus_x_for_x_in_0_1", "one_minus_x_over_one_plus_x_for_x_in_0_1"]


@pytest.mark.parametrize("name", UNARY_HELPERS)
def test_gemmlowp_unary_helper_c_equals_reference(rt, name):
    a = int32_values(np.random.default_rng(1))
    assert_array_equal_first(c_map(getattr(rt.lib, f"fn_gl_{name}"), a), getattr(A, f"gl_{name}")(a), name)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "rounding_half_sum"])
def test_gemmlowp_binary_helper_c_equals_reference(rt, name):
    rng = np.random.default_rng(2)
    a, b = int32_values(rng), rng.permutation(int32_values(rng))
    assert_array_equal_first(c_map(getattr(rt.lib, f"fn_gl_{name}"), a, b), getattr(A, f"gl_{name}")(a, b), name)


@pytest.mark.parametrize("name, bits", [("exp_on_negative_values", range(0, 30)), ("logistic", range(0, 30)),
                                        ("tanh", range(0, 29)), ("sat_rounding_mul_by_pot", range(-31, 31))])
def test_gemmlowp_helper_with_bits_c_equals_reference(rt, name, bits):
    rng = np.random.default_rng(3)
    for b in bits:
        a = int32_values(rng, 300)
        got = c_map(lambda v: getattr(rt.lib, f"fn_gl_{name}")(v, b), a)
        assert_array_equal_first(got, getattr(A, f"gl_{name}")(a, b), f"{name} bits={b}")


def test_gemmlowp_rescale_c_equals_reference(rt):
    rng = np.random.default_rng(4)
    for src, dst in [(0, 12), (12, 0), (5, 0), (4, 2), (1, 0), (2, 0), (0, 30), (30, 0)]:
        a = int32_values(rng, 200)
        assert_array_equal_first(c_map(lambda v: rt.lib.fn_gl_rescale(v, src, dst), a), A.gl_rescale(a, src, dst),
                                 f"rescale {src}->{dst}")


def test_gemmlowp_int16_helpers_c_equal_reference(rt):
    a = np.arange(-2**15, 2**15, 7)
    b = np.random.default_rng(5).permutation(a)
    edge = np.array([-2**15, -2**15, 2**15 - 1, 0, -1])
    a, b = np.concatenate([a, edge]), np.concatenate([b, edge[::-1]])
    assert_array_equal_first(c_map(rt.lib.fn_gl_sat_rounding_doubling_high_mul16, a, b),
                             A.gl_sat_rounding_doubling_high_mul16(a, b), "srdhm16")
    for e in range(32):
        assert_array_equal_first(c_map(lambda v: rt.lib.fn_gl_rounding_divide_by_pot16(v, e), a),
                                 A.gl_rounding_divide_by_pot16(a, e), f"rdbp16 e={e}")
    # gemmlowp's int16 mask truncation: from exponent 16 on, +-1 instead of a division
    assert A.gl_rounding_divide_by_pot16(np.array([0, 5000, -5000]), 16).tolist() == [1, 1, -1]
    assert A.gl_rounding_divide_by_pot16(np.array([16384, -16385, 3]), 15).tolist() == [1, -1, 0]


def test_gemmlowp_helpers_approximate_their_functions():
    """Measured maxima (dense random grids): exp 2^-22.06, 1/(1+x) 2^-28.2, (1-x)/(1+x)
    2^-27.2, logistic 2^-23.75, tanh 2^-22.75; the bounds below leave a margin."""
    rng = np.random.default_rng(6)
    for bits in (0, 4, 5, 6, 12, 29):
        a = np.concatenate([rng.integers(INT32_MIN, 1, 50000), np.arange(-3000, 1), [INT32_MIN]])
        err = np.abs(A.gl_exp_on_negative_values(a, bits) / 2.0**31 - np.exp(a / 2.0**(31 - bits)))
        assert err.max() < 2.0**-21.5, f"exp bits={bits}: {err.max()}"
    a = np.concatenate([rng.integers(0, INT32_MAX, 50000), np.arange(0, 3000), [INT32_MAX]])
    x = a / 2.0**31
    assert np.abs(A.gl_one_over_one_plus_x_for_x_in_0_1(a) / 2.0**31 - 1 / (1 + x)).max() < 2.0**-28
    assert np.abs(A.gl_one_minus_x_over_one_plus_x_for_x_in_0_1(a) / 2.0**31 - (1 - x) / (1 + x)).max() < 2.0**-27
    for bits in (0, 4, 5, 10, 28):
        a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 50000), np.arange(-3000, 3000), [INT32_MIN]])
        x = a / 2.0**(31 - bits)
        logistic = np.exp(-np.logaddexp(0.0, -x))
        assert np.abs(A.gl_logistic(a, bits) / 2.0**31 - logistic).max() < 2.0**-23, f"logistic bits={bits}"
        assert np.abs(A.gl_tanh(a, bits) / 2.0**31 - np.tanh(x)).max() < 2.0**-22, f"tanh bits={bits}"


# ---------------------------------------------------------------- logistic, tanh, hard swish: exhaustive

IN_SCALES = [2.0**-28, 1e-6, 0.001, 1 / 256, 0.0123, 0.05, 0.1, 0.25, 0.5, 1.0, 2.9, 7.99, 8.0, 100.0, 2.0**34]
IN_ZPS = [-128, -1, 0, 45, 127]


@pytest.mark.parametrize("op", ["logistic", "tanh"])
@pytest.mark.parametrize("in_scale", IN_SCALES)
def test_logistic_tanh_all_inputs_c_equals_reference(rt, op, in_scale):
    for zp in IN_ZPS:
        check_c_equals_reference(rt, op, elementwise_q(op, in_scale, zp), ALL_INT8)


# (input scale, output scale): exponents from 0 down to -31, reluish exponents -23..30
HARD_SWISH_SCALES = [(0.05, 0.03), (0.05, 0.05), (0.05, 0.0005), (1.0, 0.01), (0.01, 0.0001), (0.001, 1.0),
                     (0.001, 0.3), (2.0**-24, 0.03), (2.0**-24, 2.0**-24), (0.02, 100.0), (2.0**-30, 1.0),
                     (1.0, 1.002 / 128), (10.0, 0.1), (1e7, 1e7 / 127), (3.0, 1e9), (0.1, 3e30)]


@pytest.mark.parametrize("in_scale, out_scale", HARD_SWISH_SCALES)
def test_hard_swish_all_inputs_c_equals_reference(rt, in_scale, out_scale):
    for in_zp in IN_ZPS:
        for out_zp in (-128, -7, 0, 127):
            q = elementwise_q("hard_swish", in_scale, in_zp, out_scale, out_zp)
            check_c_equals_reference(rt, "hard_swish", q, ALL_INT8)
            check_c_equals_reference(rt, "hard_swish", q, ALL_INT8, in_place=True)


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["logistic", "tanh", "hard_swish"]), log2_in=st.floats(-28, 34),
       log2_out=st.floats(-20, 20), in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127))
def test_elementwise_random_quantization_c_equals_reference(rt, op, log2_in, log2_out, in_zp, out_zp):
    q = elementwise_q(op, 2.0**log2_in, in_zp, 2.0**log2_out, out_zp)
    try:
        struct_of(op, ALL_INT8.shape, q)
    except ValueError as e:   # hard swish refuses what TFLite's shifts cannot hold
        assert op == "hard_swish" and ("must be below 1" in str(e) or "reluish exponent" in str(e)), str(e)
        with pytest.raises(ValueError):    # TFLM's arithmetic is undefined there
            A.hard_swish_s8(ALL_INT8, **q)
        return
    check_c_equals_reference(rt, op, q, ALL_INT8)


@pytest.mark.parametrize("in_scale", [0.01, 0.03, 0.05, 0.08])
@pytest.mark.parametrize("in_zp", [-128, 0, 100])
def test_elementwise_meaning(in_scale, in_zp):
    """Outputs within half an output step (plus the fixed-point error) of the float function."""
    real = (ALL_INT8.astype(np.float64) - in_zp) * np.float32(in_scale)
    logistic = A.logistic_s8(ALL_INT8, **elementwise_q("logistic", in_scale, in_zp))
    want = np.clip(256 / (1 + np.exp(-real)) - 128, -128, 127)
    assert np.abs(logistic - want).max() <= 0.5 + 2e-3
    tanh = A.tanh_s8(ALL_INT8, **elementwise_q("tanh", in_scale, in_zp))
    assert np.abs(tanh - np.clip(128 * np.tanh(real), -128, 127)).max() <= 0.5 + 2e-3
    out_scale, out_zp = 0.02, -40
    hs = A.hard_swish_s8(ALL_INT8, **elementwise_q("hard_swish", in_scale, in_zp, out_scale, out_zp))
    want = np.clip(real * np.clip(real + 3, 0, 6) / 6 / out_scale + out_zp, -128, 127)
    # TFLM's 16-bit hard swish: up to about one output step (its documented bias trade-off)
    assert np.abs(hs - want).max() <= 1.0


# ---------------------------------------------------------------- softmax

@st.composite
def softmax_cases(draw):
    outer, inner = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    axis_len = draw(st.one_of(st.integers(1, 40), st.integers(1, 700), st.sampled_from([511, 512, 4095])))
    shape = (outer, axis_len, inner)
    kind = draw(st.sampled_from(["random", "equal", "one_hot", "two_level"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "random":
        lo = draw(st.integers(-128, 127))
        x = rng.integers(lo, 128, size=shape)
    elif kind == "equal":
        x = np.full(shape, draw(st.integers(-128, 127)))
    elif kind == "one_hot":
        x = np.full(shape, -128)
        x[:, rng.integers(0, axis_len), :] = 127
    else:
        x = np.where(rng.random(shape) < 0.5, draw(st.integers(-128, 127)), draw(st.integers(-128, 127)))
    log2_scale = draw(st.floats(-20, 3))
    beta = draw(st.sampled_from([1.0, 0.5, 2.0, 0.1, 7.5, 1e-3, 1e4]))
    return x.astype(np.int8), float(np.float32(2.0**log2_scale)), beta


def softmax_float(x: np.ndarray, scale: float, beta: float) -> np.ndarray:
    z = (x.astype(np.float64) - x.max(axis=1, keepdims=True)) * np.float32(scale) * np.float32(beta)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@settings(max_examples=400, deadline=None)
@given(softmax_cases())
@example((np.full((1, 4095, 1), 5, np.int8), 0.1, 1.0))
@example((np.array([[[-128], [127]]], np.int8), 2.0**-20, 1e-3))
@example((np.full((1, 4095, 1), -128, np.int8), 0.02409704402089119, 2.0))   # sum of exps 4095 >= 512
def test_softmax_c_equals_reference(rt, case):
    x, scale, beta = case
    q = dict(axis=1, input_scale=scale, beta=beta)
    try:
        struct_of("softmax", x.shape, q)
    except ValueError as e:
        assert "too small" in str(e) and np.float32(scale) * np.float32(beta) * 2.0**26 <= 1.0
        return
    ref = check_c_equals_reference(rt, "softmax", q, x)
    check_c_equals_reference(rt, "softmax", q, x, in_place=True)
    # meaning: half an output step from round(256 p) - 128, clamped (x = max gives 127 at most),
    # on lanes whose sum of exponentials stays below 512: beyond it TFLM aborts, and the kernel
    # (documented in fn_activation_s8.h) carries on with coarser results
    want = np.clip(256 * softmax_float(x, scale, beta), 0, 255)
    z = (x.astype(np.float64) - x.max(axis=1, keepdims=True)) * np.float32(scale) * np.float32(beta)
    meaningful = np.broadcast_to(np.exp(z).sum(axis=1, keepdims=True) < 512, x.shape)
    assert np.abs(ref.astype(np.float64) + 128 - want)[meaningful].max(initial=0.0) <= 0.5 + 1e-3


def test_softmax_flat_layout_and_axis():
    x = np.random.default_rng(7).integers(-128, 128, size=(2, 5, 3, 4)).astype(np.int8)
    p = P.softmax_s8_params(x.shape, 1, 0.07, 1 / 256, -128)
    assert (p["outer"], p["axis_len"], p["inner"]) == (2, 5, 12)
    moved = np.moveaxis(x, 1, -1)
    last = A.softmax_s8(moved, axis=-1, input_scale=0.07)
    assert_array_equal_first(A.softmax_s8(x, axis=1, input_scale=0.07), np.moveaxis(last, -1, 1),
                             "softmax axis 1 vs last")


def test_softmax_kws_check_vector(rt):
    """/work/shared/ANCHORS.md: the MLPerf Tiny KWS model's softmax (input scale
    0.14469251, beta 1) on its check vector gives TFLM's output bytes."""
    x = np.array([[-55, -41, -3, 3, -62, -71, -36, -90, -68, 105, -128, 63]], np.int8)
    q = dict(axis=-1, input_scale=np.float32(0.14469251), output_scale=np.float32(0.00390625), output_zero_point=-128)
    p = struct_of("softmax", x.shape, q)
    assert (p["input_multiplier"], p["input_left_shift"], p["diff_min"]) == (1242899200, 24, -124)
    want = np.array([[-128] * 9 + [127, -128, -127]], np.int8)
    assert_array_equal_first(check_c_equals_reference(rt, "softmax", q, x), want, "KWS softmax")


# ---------------------------------------------------------------- parameters and refusals

def test_params_have_exactly_the_struct_fields(rt):
    ffi = rt.ffi
    built = {
        "fn_softmax_s8_params": P.softmax_s8_params((2, 10), -1, 0.1, 1 / 256, -128),
        "fn_logistic_s8_params": P.logistic_s8_params(5, 0.1, 0, 1 / 256, -128),
        "fn_tanh_s8_params": P.tanh_s8_params(5, 0.1, 0, 1 / 128, 0),
        "fn_hard_swish_s8_params": P.hard_swish_s8_params(5, 0.1, 0, 0.05, 3),
    }
    for struct, params in built.items():
        assert set(params) == {name for name, _ in ffi.typeof(struct).fields}, struct
        assert all(isinstance(v, int) for v in params.values()), struct


def test_params_values():
    # softmax: beta * scale * 2^26 = 0.1f * 2^26 -> Q31 mantissa and shift 23; radius floor(31 * 2^26 / 2^23)
    p = P.softmax_s8_params((1, 10), -1, 0.1, 1 / 256, -128)
    assert (p["input_multiplier"], p["input_left_shift"], p["diff_min"]) == (1717986944, 23, -248)
    # huge beta * scale: the real multiplier is capped at 2^31 - 1, shift 31, only the maximum counts
    p = P.softmax_s8_params((1, 10), -1, 1.0, 1 / 256, -128, beta=100.0)
    assert (p["input_multiplier"], p["input_left_shift"], p["diff_min"]) == (INT32_MAX, 31, 0)
    # logistic/tanh: frexp(0.1f * 2^27) without QuantizeMultiplier's fix-ups; radius floor(15 * 2^27 / 2^24)
    p = P.logistic_s8_params(3, 0.1, -3, 1 / 256, -128)
    assert p == {"count": 3, "input_zero_point": -3, "input_range_radius": 120, "input_multiplier": 1717986944,
                 "input_left_shift": 24}
    assert P.tanh_s8_params(3, 8.0, 0, 1 / 128, 0)["input_range_radius"] == 0
    # hard swish: float32 ratios, Q31 -> Q15 rounding
    p = P.hard_swish_s8_params(3, 0.05, 0, 0.03, -20)
    assert (p["output_multiplier_fixedpoint_int16"], p["output_multiplier_exponent"]) == (27307, -6)
    assert (p["reluish_multiplier_fixedpoint_int16"], p["reluish_multiplier_exponent"]) == (17476, 3)
    assert A.downscale_int32_to_int16_multiplier(INT32_MAX - 10) == 32767
    assert A.tflite_quantize_multiplier(2.0**-40) == (0, 0)
    assert A.tflite_quantize_multiplier(2.0**40) == (2**30, 41)


@pytest.mark.parametrize("call, message", [
    (lambda: P.softmax_s8_params((1, 10), -1, 0.1, 1 / 255, -128), "scale 1/256 and zero point -128"),
    (lambda: P.softmax_s8_params((1, 10), -1, 0.1, 1 / 256, 0), "scale 1/256 and zero point -128"),
    (lambda: P.softmax_s8_params((1, 4096), -1, 0.1, 1 / 256, -128), "at most 4095"),
    (lambda: P.softmax_s8_params((1, 10), -1, 2.0**-27, 1 / 256, -128), "too small"),
    (lambda: P.softmax_s8_params((1, 10), -1, 0.1, 1 / 256, -128, beta=0.0), "beta"),
    (lambda: P.softmax_s8_params((1, 10), 2, 0.1, 1 / 256, -128), "out of range"),
    (lambda: P.logistic_s8_params(4, 0.1, 0, 1 / 256, 0), "scale 1/256 and zero point -128"),
    (lambda: P.logistic_s8_params(4, 0.1, 0, 1 / 128, -128), "scale 1/256 and zero point -128"),
    (lambda: P.logistic_s8_params(4, 2.0**-29, 0, 1 / 256, -128), "below 2^-28"),
    (lambda: P.logistic_s8_params(4, 0.1, 128, 1 / 256, -128), "zero point"),
    (lambda: P.logistic_s8_params(0, 0.1, 0, 1 / 256, -128), "element count"),
    (lambda: P.tanh_s8_params(4, 0.1, 0, 1 / 128, -128), "scale 1/128 and zero point 0"),
    (lambda: P.tanh_s8_params(4, 0.1, 0, 1 / 256, 0), "scale 1/128 and zero point 0"),
    (lambda: P.tanh_s8_params(4, 2.0**36, 0, 1 / 128, 0), "2^35"),
    (lambda: P.tanh_s8_params(4, -0.1, 0, 1 / 128, 0), "positive"),
    (lambda: P.hard_swish_s8_params(4, 0.1, 0, 0.1 / 128, 0), "must be below 1"),
    (lambda: P.hard_swish_s8_params(4, 1e9, 0, 1e9, 0), "too large"),
    (lambda: P.hard_swish_s8_params(4, 0.1, 0, math.nan, 0), "output scale"),
])
def test_params_refuse_with_clear_message(call, message):
    with pytest.raises(ValueError, match=message.replace("^", r"\^")):
        call()


def test_kernels_refuse_bad_arguments(rt):
    ffi, lib = rt.ffi, rt.lib
    buf = ffi.new("int8_t[16]")
    good = {
        "softmax": P.softmax_s8_params((1, 16), -1, 0.1, 1 / 256, -128),
        "logistic": P.logistic_s8_params(16, 0.1, 0, 1 / 256, -128),
        "tanh": P.tanh_s8_params(16, 0.1, 0, 1 / 128, 0),
        "hard_swish": P.hard_swish_s8_params(16, 0.1, 0, 0.05, 0),
    }
    bad = {
        "softmax": [{"axis_len": 4096}, {"outer": 0}, {"inner": 0}, {"input_left_shift": 32}, {"diff_min": 1}],
        "logistic": [{"count": 0}, {"input_zero_point": 128}, {"input_range_radius": -1}, {"input_left_shift": 31},
                     {"input_left_shift": -1}],
        "tanh": [{"count": 0}, {"input_zero_point": -129}, {"input_left_shift": 31}],
        "hard_swish": [{"count": 0}, {"output_zero_point": 128}, {"output_multiplier_exponent": 1},
                       {"reluish_multiplier_exponent": 32}, {"output_multiplier_exponent": -32}],
    }
    for op, params in good.items():
        fn, struct, _ = KERNELS[op]
        kernel = getattr(lib, fn)
        assert kernel(ffi.new(f"{struct} *", params), buf, buf) == FN_OK
        assert kernel(ffi.NULL, buf, buf) == FN_ERR_ARG
        assert kernel(ffi.new(f"{struct} *", params), ffi.NULL, buf) == FN_ERR_ARG
        assert kernel(ffi.new(f"{struct} *", params), buf, ffi.NULL) == FN_ERR_ARG
        for change in bad[op]:
            assert kernel(ffi.new(f"{struct} *", {**params, **change}), buf, buf) == FN_ERR_ARG, (op, change)


# ---------------------------------------------------------------- against TensorFlow Lite Micro

def tflm_run(op: str, x: np.ndarray, in_q, out_q, beta: float = 1.0) -> np.ndarray:
    """TFLM's int8 `op` (softmax, logistic, tanh, hard_swish) on x, run as a one-op .tflite model."""
    options = None
    if op == "softmax":
        options = ("SoftmaxOptions", S.SoftmaxOptionsT())
        options[1].beta = beta
    return tflite_oracle.tflm_run(tflite_one_op_model(op.upper(), x.shape, x.shape, in_q, out_q, options=options), x)


def test_reference_equals_tflite_micro(rt):
    """reference == C (above) == TFLM's kernels, on all int8 inputs / random softmax rows.
    TFLM aborts (TFLITE_CHECK) on a softmax lane whose Q12.19 sum of exps reaches 2^28, so
    softmax lanes here are at most 511 long."""
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x = ALL_INT8.reshape(1, 256)
    for in_scale in [2.0**-28, 2.0**-20, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 7.99, 10.0, 2.0**34]:
        for zp in (-128, 0, 3, 127):
            for op, out_q in (("logistic", (1 / 256, -128)), ("tanh", (1 / 128, 0))):
                want = tflm_run(op, x, (in_scale, zp), out_q)
                assert_array_equal_first(KERNELS[op][2](x, **elementwise_q(op, in_scale, zp)), want,
                                         f"{op} vs TFLM, input ({in_scale}, {zp})")
    for in_scale, out_scale in HARD_SWISH_SCALES:
        for in_zp, out_zp in ((0, 0), (-128, 127), (127, -128), (5, -20)):
            q = elementwise_q("hard_swish", in_scale, in_zp, out_scale, out_zp)
            want = tflm_run("hard_swish", x, (in_scale, in_zp), (out_scale, out_zp))
            assert_array_equal_first(A.hard_swish_s8(x, **q), want, f"hard swish vs TFLM {q}")
    rng = np.random.default_rng(8)
    for in_scale in (0.003, 0.05, 0.1, 0.5, 2.0):
        for beta in (1.0, 0.3, 5.0):
            for shape, lo in (((4, 40), -128), ((2, 300), 100), ((3, 511), 120), ((1, 2), -128)):
                xs = rng.integers(lo, 128, size=shape).astype(np.int8)
                want = tflm_run("softmax", xs, (in_scale, 7), (1 / 256, -128), beta)
                q = dict(axis=-1, input_scale=in_scale, beta=beta)
                assert_array_equal_first(check_c_equals_reference(rt, "softmax", q, xs), want,
                                         f"softmax vs TFLM {in_scale} {beta} {shape}")


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["logistic", "tanh", "hard_swish", "softmax"]), log2_in=st.floats(-28, 34),
       log2_out=st.floats(-20, 20), in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127),
       beta=st.floats(0.01, 100.0), axis_len=st.integers(1, 511), seed=st.integers(0, 2**32 - 1))
def test_reference_equals_tflite_micro_random_quantization(op, log2_in, log2_out, in_zp, out_zp, beta, axis_len, seed):
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    in_scale, out_scale = float(np.float32(2.0**log2_in)), float(np.float32(2.0**log2_out))
    if op == "softmax":
        in_scale = float(np.float32(2.0**min(log2_in, 4)))
        x = np.random.default_rng(seed).integers(-128, 128, size=(2, axis_len)).astype(np.int8)
        try:
            ours = A.softmax_s8(x, axis=-1, input_scale=in_scale, beta=beta)
        except ValueError:       # beta * scale * 2^26 <= 1: TFLM's QuantizeMultiplierGreaterThanOne aborts
            return
        want = tflm_run("softmax", x, (in_scale, in_zp), (1 / 256, -128), float(np.float32(beta)))
        assert_array_equal_first(ours, want, f"softmax vs TFLM {in_scale} {beta}")
        return
    q = elementwise_q(op, in_scale, in_zp, out_scale, out_zp)
    x = ALL_INT8.reshape(1, 256)
    try:
        ours = KERNELS[op][2](x, **q)
    except ValueError:
        return
    out_q = (q["output_scale"], q["output_zero_point"])
    assert_array_equal_first(ours, tflm_run(op, x, (in_scale, in_zp), out_q), f"{op} vs TFLM {q}")


@pytest.mark.parametrize("op, in_q, out_q", [
    ("softmax", (0.1, 0), (1 / 255, -128)),
    ("softmax", (0.1, 0), (1 / 256, 0)),
    ("logistic", (0.1, 0), (1 / 256, 0)),
    ("hard_swish", (0.1, 0), (0.1 / 128, 0)),
])
def test_tflite_micro_refuses_what_we_refuse(op, in_q, out_q):
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    with pytest.raises(RuntimeError):
        tflm_run(op, np.zeros((1, 8), np.int8), in_q, out_q)
    with pytest.raises(ValueError):
        {"softmax": lambda: P.softmax_s8_params((1, 8), -1, in_q[0], out_q[0], out_q[1]),
         "logistic": lambda: P.logistic_s8_params(8, in_q[0], in_q[1], out_q[0], out_q[1]),
         "hard_swish": lambda: P.hard_swish_s8_params(8, in_q[0], in_q[1], out_q[0], out_q[1])}[op]()

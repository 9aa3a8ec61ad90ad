"""int8 RELU, RELU6 and RELU_N1_TO_1 (fn_relu_s8.h, fn_relu_s8.c) against the numpy
reference (firmnet.reference.relu_s8), and the reference against TensorFlow Lite Micro.

All comparisons are exact (np.array_equal, first mismatch named), always on all 256 int8
inputs:

- C == reference for fixed grids of input/output quantizations (extremes included, equal
  and different) and for hypothesis-drawn ones, in place too; the identity shortcut of the
  C kernel (equal scales) against the reference's general arithmetic;
- reference == TFLM (the `tflite-micro` Python package, one-op .tflite models built with
  tests/test_kernels_reduce_s8.py's builder) for RELU and RELU6; TFLM has no RELU_N1_TO_1
  kernel, which a test pins (the builder then follows TFLM's RELU Prepare arithmetic);
- TFLM's RELU6 ignores the output quantization (pinned: the bytes do not depend on it);
- the parameters' exact values, their refusals (with messages) and the C's argument checks;
- meaning: within half an output step of the float function.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmnet.kernels import params_relu_s8 as P
from firmnet.reference import relu_s8 as U
from firmnet.reference.fixedpoint import mul_by_quantized_mul_tflm

from support.compare import assert_array_equal_first
from support.tflite_models import tflite_one_op_model
from support.tflite_oracle import tflm_run

FN_OK, FN_ERR_ARG = 0, 1
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
TFLM_OPS = {"relu": "RELU", "relu6": "RELU6", "relu_n1_to_1": "RELU_N1_TO_1"}


def run_c(runtime, p: dict, x: np.ndarray, in_place: bool = False) -> np.ndarray:
    ffi = runtime.ffi
    x = np.ascontiguousarray(x, dtype=np.int8)
    out = x.copy() if in_place else np.full_like(x, 99)
    src = out if in_place else x
    status = runtime.lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", p), ffi.cast("int8_t *", ffi.from_buffer(src)),
                                    ffi.cast("int8_t *", ffi.from_buffer(out)))
    assert status == FN_OK, f"fn_relu_s8 returned {status} for {p}"
    return out


def quantities(in_q, out_q) -> dict:
    return dict(input_scale=in_q[0], input_zero_point=in_q[1], output_scale=out_q[0], output_zero_point=out_q[1])


def check_c_equals_reference(runtime, op: str, in_q, out_q, x: np.ndarray = ALL_INT8) -> np.ndarray:
    """fn_relu_s8 with the builder's struct == the reference from the quantizations."""
    p = P.RELU_PARAMS[op](x.size, *in_q, *out_q)
    ref = U.relu_s8(x, op, **quantities(in_q, out_q))
    assert ref.dtype == np.int8 and ref.shape == x.shape
    assert_array_equal_first(run_c(runtime, p, x), ref, f"relu {p}")
    assert_array_equal_first(run_c(runtime, p, x, in_place=True), ref, f"relu in place {p}")
    return ref


def tflm_relu(op: str, x: np.ndarray, in_q, out_q) -> np.ndarray:
    return tflm_run(tflite_one_op_model(TFLM_OPS[op], x.shape, x.shape, in_q, out_q), x)


def params_or_refusal(op: str, in_q, out_q):
    try:
        return P.RELU_PARAMS[op](256, *in_q, *out_q)
    except ValueError as e:
        assert ("too large" in str(e) and in_q[0] / out_q[0] > 2.0**20) or "2^30" in str(e), e
        return None


# ---------------------------------------------------------------- C == reference

SCALES = [2.0**-24, 1e-5, 0.0039, 0.02, 0.05, 0.1, 0.5, 1.0, 6.0, 100.0]
ZPS = [-128, -1, 0, 37, 127]


@pytest.mark.parametrize("op", U.RELU_OPS)
@pytest.mark.parametrize("in_scale", SCALES)
def test_all_inputs_c_equals_reference(runtime, op, in_scale):
    for out_scale in SCALES + [in_scale]:
        for in_zp in ZPS:
            for out_zp in ZPS:
                if params_or_refusal(op, (in_scale, in_zp), (out_scale, out_zp)) is not None:
                    check_c_equals_reference(runtime, op, (in_scale, in_zp), (out_scale, out_zp))


@settings(max_examples=600, deadline=None)
@given(op=st.sampled_from(U.RELU_OPS), log2_in=st.floats(-30, 20), log2_out=st.floats(-30, 20),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127), same=st.booleans())
@example(op="relu", log2_in=0.0, log2_out=-22.0, in_zp=0, out_zp=127, same=False)
def test_random_quantization_c_equals_reference(runtime, op, log2_in, log2_out, in_zp, out_zp, same):
    in_q = (float(np.float32(2.0**log2_in)), in_zp)
    out_q = in_q if same else (float(np.float32(2.0**log2_out)), out_zp)
    if params_or_refusal(op, in_q, out_q) is not None:
        check_c_equals_reference(runtime, op, in_q, out_q)


def test_identity_requantization_is_exact():
    """The C shortcut for (multiplier, shift) = (2^30, 1) relies on this identity."""
    v = np.arange(-255, 256)
    assert np.array_equal(mul_by_quantized_mul_tflm(v, *U.IDENTITY), v)
    assert U.tflite_quantize_multiplier(1.0) == U.IDENTITY


# ---------------------------------------------------------------- meaning

@pytest.mark.parametrize("in_q, out_q", [((0.05, -10), (0.03, -128)), ((0.1, 0), (0.1, 0)),
                                         ((0.01, 50), (0.02, -30)), ((0.004, -128), (0.008, 0))])
def test_meaning(in_q, out_q):
    """RELU and RELU_N1_TO_1 within half an output step of the float function; RELU6 in
    the input quantization (TFLM's)."""
    real = (ALL_INT8.astype(np.float64) - in_q[1]) * np.float32(in_q[0])
    for op, lo, hi in (("relu", 0.0, np.inf), ("relu_n1_to_1", -1.0, 1.0)):
        got = U.relu_s8(ALL_INT8, op, **quantities(in_q, out_q))
        want = np.clip(np.clip(real, lo, hi) / np.float32(out_q[0]) + out_q[1], -128, 127)
        assert np.abs(got - want).max() <= 0.5 + 1e-6, op
    got = U.relu_s8(ALL_INT8, "relu6", **quantities(in_q, out_q))
    want = np.clip(np.clip(real, 0.0, 6.0) / np.float32(in_q[0]) + in_q[1], -128, 127)
    assert np.abs(got - want).max() <= 0.5 + 1e-6


# ---------------------------------------------------------------- parameters and refusals

def test_params_have_exactly_the_struct_fields(runtime):
    fields = {name for name, _ in runtime.ffi.typeof("fn_relu_s8_params").fields}
    for op in U.RELU_OPS:
        p = P.RELU_PARAMS[op](7, 0.1, 3, 0.05, -2)
        assert set(p) == fields, op
        assert all(isinstance(v, int) for v in p.values()), op


def test_params_values():
    # RELU: double(0.1f) / double(0.03f) = 3.33333340...: Q31 mantissa 1789569773 (10/3 would give
    # 1789569707), shift 2; clamp [zp_out, 127]
    p = P.relu_s8_params(7, 0.1, 3, 0.03, -2)
    assert p == {"count": 7, "input_zero_point": 3, "output_zero_point": -2, "multiplier": 1789569773,
                 "shift": 2, "act_min": -2, "act_max": 127}
    # RELU6: identity in the input quantization, six = round(6 / 0.05) + 3 = 123; output ignored
    p = P.relu6_s8_params(7, 0.05, 3, 0.9, -50)
    assert p == {"count": 7, "input_zero_point": 3, "output_zero_point": 3, "multiplier": 2**30, "shift": 1,
                 "act_min": 3, "act_max": 123}
    assert P.relu6_s8_params(7, 0.01, 0, 0.01, 0)["act_max"] == 127           # 600 saturates
    # RELU_N1_TO_1: [zp + round(-1 / s), zp + round(1 / s)], clamped to int8
    p = P.relu_n1_to_1_s8_params(7, 0.01, 0, 0.008, 10)
    assert (p["act_min"], p["act_max"]) == (-115, 127)                         # -125 + 10, 125 + 10
    assert (p["multiplier"], p["shift"]) == U.tflite_quantize_multiplier(float(np.float32(0.01)) /
                                                                         float(np.float32(0.008)))
    p = P.relu_n1_to_1_s8_params(7, 0.01, 0, 1.0, 0)
    assert (p["act_min"], p["act_max"]) == (-1, 1)
    # bounds round half away from zero (roundf), after a float32 division
    assert (U.quantized_bound(1.0, 2.0, 0, "t"), U.quantized_bound(-1.0, 2.0, 0, "t")) == (1, -1)
    assert U.quantized_bound(1.0, 0.4, 0, "t") == 3                  # float32 1 / 0.4f is 2.5 exactly
    # a tiny ratio: QuantizeMultiplier flushes it to (0, 0); the output is the zero point
    assert U.relu_s8(ALL_INT8, "relu", **quantities((2.0**-30, 0), (2.0**10, 5))).tolist() == [5] * 256


@pytest.mark.parametrize("call, message", [
    (lambda: P.relu_s8_params(4, 1.0, 0, 2.0**-24, 0), "too large"),
    (lambda: P.relu_n1_to_1_s8_params(4, 1.0, -128, 2.0**-23, 0), "too large"),
    (lambda: P.relu6_s8_params(4, 2e-9, 0, 0.1, 0), "2\\^30"),
    (lambda: P.relu_n1_to_1_s8_params(4, 1e-9, 0, 5e-10, 0), "2\\^30"),
    (lambda: P.relu_s8_params(4, 0.0, 0, 0.1, 0), "scale"),
    (lambda: P.relu_s8_params(4, 0.1, 0, -0.1, 0), "scale"),
    (lambda: P.relu6_s8_params(4, float("nan"), 0, 0.1, 0), "scale"),
    (lambda: P.relu6_s8_params(4, 0.1, 0, 0.1, 200), "zero point"),
    (lambda: P.relu_n1_to_1_s8_params(4, 0.1, -129, 0.1, 0), "zero point"),
    (lambda: P.relu_s8_params(0, 0.1, 0, 0.1, 0), "element count"),
    (lambda: P.relu_s8_params(2**31, 0.1, 0, 0.1, 0), "element count"),
])
def test_params_refuse_with_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_largest_accepted_ratio_is_exact(runtime):
    """Shift 23 (ratio 2^22) is accepted for every zero point: 255 * 2^23 < 2^31 - 128; shift
    24 is refused by the builder and the C alike. C == reference == TFLM at the edge."""
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    p = P.relu_s8_params(256, 1.0, -128, 2.0**-22, 0)
    assert p["shift"] == 23
    ref = check_c_equals_reference(runtime, "relu", (1.0, -128), (2.0**-22, 0))
    assert ref.tolist() == [0] + [127] * 255
    x = ALL_INT8.reshape(1, 256)
    assert_array_equal_first(ref.reshape(1, 256), tflm_relu("relu", x, (1.0, -128), (2.0**-22, 0)), "shift 23")
    assert runtime.lib.fn_relu_s8(runtime.ffi.new("fn_relu_s8_params *", {**p, "shift": 24}),
                                  runtime.ffi.new("int8_t[256]"), runtime.ffi.new("int8_t[256]")) == FN_ERR_ARG
    with pytest.raises(ValueError, match="too large"):
        P.relu_s8_params(256, 1.0, 0, 2.0**-23, 0)


def test_kernel_refuses_bad_arguments(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    buf = ffi.new("int8_t[16]")
    good = P.relu_s8_params(16, 0.1, 0, 0.05, 3)
    assert lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", good), buf, buf) == FN_OK
    assert lib.fn_relu_s8(ffi.NULL, buf, buf) == FN_ERR_ARG
    assert lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", good), ffi.NULL, buf) == FN_ERR_ARG
    assert lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", good), buf, ffi.NULL) == FN_ERR_ARG
    for change in [{"count": 0}, {"input_zero_point": 128}, {"output_zero_point": -129}, {"multiplier": -1},
                   {"shift": 31}, {"shift": -32}, {"shift": 24}, {"act_min": -129}, {"act_max": 128},
                   {"act_min": 5, "act_max": 4}]:
        assert lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", {**good, **change}), buf, buf) == FN_ERR_ARG, change


# ---------------------------------------------------------------- against TensorFlow Lite Micro

@pytest.mark.parametrize("op", ["relu", "relu6"])
def test_reference_equals_tflite_micro(op):
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x = ALL_INT8.reshape(1, 256)
    for in_scale in SCALES:
        for out_scale in (in_scale, 0.003, 0.07, 1.0, 40.0):
            for in_zp, out_zp in ((0, 0), (-128, 127), (127, -128), (5, -20), (-60, -60)):
                p = params_or_refusal(op, (in_scale, in_zp), (out_scale, out_zp))
                if p is not None:
                    want = tflm_relu(op, x, (in_scale, in_zp), (out_scale, out_zp))
                    ours = U.relu_s8(x, op, **quantities((in_scale, in_zp), (out_scale, out_zp)))
                    assert_array_equal_first(ours, want, f"{op} vs TFLM {p}")


@settings(max_examples=400, deadline=None)
@given(op=st.sampled_from(["relu", "relu6"]), log2_in=st.floats(-28, 20), log2_out=st.floats(-28, 20),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127), same=st.booleans())
def test_reference_equals_tflite_micro_random_quantization(op, log2_in, log2_out, in_zp, out_zp, same):
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    in_q = (float(np.float32(2.0**log2_in)), in_zp)
    out_q = in_q if same else (float(np.float32(2.0**log2_out)), out_zp)
    p = params_or_refusal(op, in_q, out_q)
    if p is not None:
        x = ALL_INT8.reshape(1, 256)
        ours = U.relu_s8(x, op, **quantities(in_q, out_q))
        assert_array_equal_first(ours, tflm_relu(op, x, in_q, out_q), f"{op} vs TFLM {p}")


def test_tflite_micro_relu6_ignores_the_output_quantization():
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x = ALL_INT8.reshape(1, 256)
    same = tflm_relu("relu6", x, (0.05, 3), (0.05, 3))
    assert_array_equal_first(tflm_relu("relu6", x, (0.05, 3), (0.2, -100)), same, "TFLM relu6, other output q")
    assert same.min() == 3 and same.max() == 123


def test_tflite_micro_has_no_relu_n1_to_1():
    """TFLM refuses the op; relu_n1_to_1_s8_params follows TFLM's RELU arithmetic instead."""
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    with pytest.raises(RuntimeError):
        tflm_relu("relu_n1_to_1", ALL_INT8.reshape(1, 256), (0.01, 0), (0.01, 0))

"""int8 MEAN (fn_reduce_s8.h, fn_mean_s8.c) against the numpy reference
(firmnet.reference.reduce_s8), and the reference against TensorFlow Lite Micro.

All comparisons are exact (np.array_equal, first mismatch named):

- C == reference for hypothesis-drawn shapes (rank 1..4), axis sets (empty, negative,
  repeated), keep_dims, equal and different quantizations (extreme scales and zero points
  included) and data (random, constant extremes), in place too;
- reference == TFLM (the `tflite-micro` Python package, one-op .tflite models built here;
  the package is a test dependency) on hypothesis-drawn cases, global average pooling
  grids, the precision-limited fold of 1/n (k clamped to 31 + shift), a multiplier flushed
  to zero, and an int32 sum that wraps around;
- the parameters' exact values, their refusals (with messages) and the C's argument checks.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmnet.kernels import params_reduce_s8 as P
from firmnet.reference import reduce_s8 as R
from support.compare import assert_array_equal_first
from support.tflite_models import tflite_one_op_model
from support.tflite_oracle import tflm_run

FN_OK, FN_ERR_ARG = 0, 1


# ---------------------------------------------------------------- one-op .tflite models and TFLM


def tflm_mean(x: np.ndarray, axes, keep_dims: bool, in_q, out_q) -> np.ndarray:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S
    options = S.ReducerOptionsT()
    options.keepDims = keep_dims
    out_shape = R.mean_output_shape(x.shape, axes, keep_dims)
    model = tflite_one_op_model("MEAN", x.shape, out_shape, in_q, out_q, [list(axes)], ("ReducerOptions", options))
    # the input, the output and TFLM's int32 scratch sums (one per output element)
    return tflm_run(model, x, arena_size=x.size + 5 * int(np.prod(out_shape)) + 64 * 1024)


# ---------------------------------------------------------------- C and reference

def mean(x, axes, in_q, out_q, keep_dims: bool = True) -> np.ndarray:
    """The reference from the quantizations ((scale, zero point) pairs)."""
    return R.mean_s8(x, axes=axes, input_scale=in_q[0], input_zero_point=in_q[1], output_scale=out_q[0],
                     output_zero_point=out_q[1], keep_dims=keep_dims)


def run_c(runtime, p: dict, x: np.ndarray, out_shape, in_place: bool = False) -> np.ndarray:
    """fn_mean_s8 on x; the output bytes reshaped to out_shape."""
    ffi, lib = runtime.ffi, runtime.lib
    x = np.ascontiguousarray(x, dtype=np.int8)
    n_out = int(np.prod([1 if r else d for d, r in zip(p["dims"], p["reduce"])]))
    if in_place:
        buf = x.copy().reshape(-1)
        src, out = buf, buf
    else:
        src, out = x, np.full(n_out, 99, np.int8)
    status = lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", p), ffi.cast("int8_t *", ffi.from_buffer(src)),
                            ffi.cast("int8_t *", ffi.from_buffer(out)))
    assert status == FN_OK, f"fn_mean_s8 returned {status} for {p}"
    return out.reshape(-1)[:n_out].reshape(out_shape)


def check_c_equals_reference(runtime, x: np.ndarray, axes, in_q, out_q, keep_dims: bool = True) -> np.ndarray:
    """fn_mean_s8 with the builder's struct == the reference from the quantizations."""
    p = P.mean_s8_params(x.shape, axes, *in_q, *out_q)
    ref = mean(x, axes, in_q, out_q, keep_dims)
    assert ref.dtype == np.int8
    assert_array_equal_first(run_c(runtime, p, x, ref.shape), ref, f"mean {p}")
    assert_array_equal_first(run_c(runtime, p, x, ref.shape, in_place=True), ref, f"mean in place {p}")
    return ref


@st.composite
def mean_cases(draw, max_dim: int = 7):
    rank = draw(st.integers(1, 4))
    shape = draw(st.lists(st.integers(1, max_dim), min_size=rank, max_size=rank))
    if draw(st.booleans()):     # one long axis: large n, 1/n folded with less precision
        shape[draw(st.integers(0, rank - 1))] = draw(st.integers(1, 40 * max_dim))
    shape = tuple(shape)
    axes = draw(st.lists(st.integers(-rank, rank - 1), max_size=rank + 1))
    keep_dims = draw(st.booleans())
    in_q = (float(np.float32(2.0 ** draw(st.floats(-20, 10)))), draw(st.integers(-128, 127)))
    same = draw(st.booleans())
    out_q = in_q if same else (float(np.float32(2.0 ** draw(st.floats(-20, 10)))), draw(st.integers(-128, 127)))
    kind = draw(st.sampled_from(["random", "random", "min", "max", "narrow"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "random":
        x = rng.integers(-128, 128, size=shape)
    elif kind == "narrow":
        lo = draw(st.integers(-128, 120))
        x = rng.integers(lo, lo + 8, size=shape)
    else:
        x = np.full(shape, -128 if kind == "min" else 127)
    return x.astype(np.int8), tuple(axes), keep_dims, in_q, out_q


def params_or_refusal(x, axes, in_q, out_q):
    try:
        return P.mean_s8_params(x.shape, axes, *in_q, *out_q)
    except ValueError as e:
        assert "too large" in str(e) and in_q[0] / out_q[0] > 2.0**12, e
        return None


@settings(max_examples=1000, deadline=None)
@given(mean_cases())
@example((np.full((1, 3, 3, 2), -128, np.int8), (1, 2), True, (2.0**-20, 127), (2.0**10, -128)))
@example((np.full((2, 5), 127, np.int8), (), False, (0.1, -128), (0.1, -128)))
def test_mean_c_equals_reference(runtime, case):
    x, axes, keep_dims, in_q, out_q = case
    if params_or_refusal(x, axes, in_q, out_q) is not None:
        check_c_equals_reference(runtime, x, axes, in_q, out_q, keep_dims)


def test_mean_wrapping_sum_c_equals_reference(runtime):
    """More than 2^31 / 255 reduced elements: the int32 sum wraps around (as TFLM's does)."""
    x = np.full((1, 9_000_000, 1, 1), -128, np.int8)
    assert 9_000_000 * 255 > 2**31
    ref = check_c_equals_reference(runtime, x, (1,), (0.5, 127), (1.0, 0))
    assert ref.item() != -128      # the true mean saturates; the wrapped sum does not


def test_mean_global_average_pool_meaning():
    """Within half an output step (plus the multiplier's error) of the float mean."""
    rng = np.random.default_rng(1)
    for in_q, out_q in [((0.05, -3), (0.02, 10)), ((0.1, 0), (0.1, 0)), ((0.003, 120), (0.004, -100))]:
        x = rng.integers(-128, 128, size=(2, 7, 5, 6)).astype(np.int8)
        got = mean(x, (1, 2), in_q, out_q)
        real = (x.astype(np.float64) - in_q[1]).mean(axis=(1, 2), keepdims=True) * np.float32(in_q[0])
        want = np.clip(real / np.float32(out_q[0]) + out_q[1], -128, 127)
        assert np.abs(got - want).max() <= 0.5 + 1e-6


# ---------------------------------------------------------------- parameters and refusals

def test_params_have_exactly_the_struct_fields(runtime):
    p = P.mean_s8_params((1, 4, 4, 3), (1, 2), 0.1, 0, 0.05, 3)
    # the table (a float activation of the input, ort mode) is added by ops/reduce.py where it is used
    assert set(p) | {"table"} == {name for name, _ in runtime.ffi.typeof("fn_mean_s8_params").fields}
    assert all(isinstance(v, int) for k, v in p.items() if k not in ("dims", "reduce", "input_scale", "output_scale"))
    assert (p["input_scale"], p["output_scale"]) == (float(np.float32(0.1)), float(np.float32(0.05)))
    assert all(isinstance(v, int) for v in p["dims"] + p["reduce"])


def test_params_values():
    # equal scales: QuantizeMultiplier(1.0) = (2^30, 1); n = 4 folds k = 2: (2^30 * 4 / 4, 1 - 2)
    p = P.mean_s8_params((1, 2, 2, 1), (1, 2), 0.1, 5, 0.1, 5)
    assert p == {"dims": [1, 2, 2, 1], "reduce": [0, 1, 1, 0], "input_zero_point": 5, "output_zero_point": 5,
                 "multiplier": 2**30, "shift": -1, "requant_mode": 0, "count": 4, "compute_sum": 0, "ort_rows": 0,
                 "input_scale": float(np.float32(0.1)), "output_scale": float(np.float32(0.1))}
    # SUM leaves 1/n out: QuantizeMultiplier(1.0) = (2^30, 1) as it is
    p = P.mean_s8_params((1, 2, 2, 1), (1, 2), 0.1, 5, 0.1, 5, compute_sum=True)
    assert (p["multiplier"], p["shift"], p["compute_sum"]) == (2**30, 1, 1)
    # n = 3: k = 1, multiplier floor(2^31 / 3), shift 0; rank 2 padded with leading 1s
    p = P.mean_s8_params((5, 3), (-1, 1), 0.1, 0, 0.1, 0)
    assert (p["dims"], p["reduce"], p["multiplier"], p["shift"]) == ([1, 1, 5, 3], [0, 0, 0, 1], 715827882, 0)
    # ratio 2^-25 (shift -24) over n = 1000: k = min(9, 32, 31 - 24) = 7, precision traded away
    p = P.mean_s8_params((1, 1000), (1,), 2.0**-20, 0, 2.0**5, 0)
    assert (p["multiplier"], p["shift"]) == ((2**30 << 7) // 1000, -31)
    # ratio below 2^-32: QuantizeMultiplier flushes to (0, 0)
    p = P.mean_s8_params((1, 10), (1,), 2.0**-20, 0, 2.0**15, 0)
    assert (p["multiplier"], p["shift"]) == (0, -3)
    # no axis: a requantization (n = 1)
    assert P.mean_s8_params((2, 3), (), 0.1, 0, 0.1, 0)["reduce"] == [0, 0, 0, 0]
    assert R.mean_output_shape((2, 3, 4, 5), (1, -2, 1), keep_dims=False) == (2, 5)
    assert R.mean_output_shape((2, 3, 4, 5), (3,), keep_dims=True) == (2, 3, 4, 1)


@pytest.mark.parametrize("args, message", [
    (((1, 2, 2, 2, 2), (1,), 0.1, 0, 0.1, 0), "rank 1..4"),
    (((), (), 0.1, 0, 0.1, 0), "rank 1..4"),
    (((1, 0, 3), (1,), 0.1, 0, 0.1, 0), ">= 1"),
    (((1, 4, 4, 3), (4,), 0.1, 0, 0.1, 0), "out of range"),
    (((1, 4, 4, 3), (-5,), 0.1, 0, 0.1, 0), "out of range"),
    (((1, 4, 4, 3), (1,), 0.0, 0, 0.1, 0), "scale"),
    (((1, 4, 4, 3), (1,), 0.1, 0, float("inf"), 0), "scale"),
    (((1, 4, 4, 3), (1,), 0.1, 128, 0.1, 0), "zero point"),
    (((1, 4, 4, 3), (1,), 0.1, 0, 0.1, -129), "zero point"),
    (((1, 65536, 65536), (1,), 0.1, 0, 0.1, 0), "more than 2"),
    (((1, 4, 4, 3), (1, 2), 1.0, 0, 2.0**-26, 0), "too large"),
])
def test_params_refuse_with_clear_message(args, message):
    with pytest.raises(ValueError, match=message):
        P.mean_s8_params(*args)


def test_kernel_refuses_bad_arguments(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    buf = ffi.new("int8_t[64]")
    good = P.mean_s8_params((1, 4, 4, 4), (1, 2), 0.1, 0, 0.05, 3)
    assert lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", good), buf, buf) == FN_OK
    assert lib.fn_mean_s8(ffi.NULL, buf, buf) == FN_ERR_ARG
    assert lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", good), ffi.NULL, buf) == FN_ERR_ARG
    assert lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", good), buf, ffi.NULL) == FN_ERR_ARG
    for change in [{"dims": [1, 0, 4, 4]}, {"dims": [65536, 65536, 1, 1]}, {"reduce": [0, 2, 1, 0]},
                   {"reduce": [0, -1, 1, 0]}, {"input_zero_point": 128}, {"output_zero_point": -129},
                   {"multiplier": -1}, {"shift": 31}, {"shift": -32}, {"shift": 21}]:
        assert lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", {**good, **change}), buf, buf) == FN_ERR_ARG, change


# ---------------------------------------------------------------- against TensorFlow Lite Micro

@settings(max_examples=600, deadline=None)
@given(mean_cases(max_dim=6))
def test_reference_equals_tflite_micro(case):
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x, axes, keep_dims, in_q, out_q = case
    if params_or_refusal(x, axes, in_q, out_q) is not None:
        assert_array_equal_first(mean(x, axes, in_q, out_q, keep_dims), tflm_mean(x, axes, keep_dims, in_q, out_q),
                                 f"mean vs TFLM {x.shape} {axes} {keep_dims} {in_q} {out_q}")


# (input quantization, output quantization): equal, converter-like, extreme ratios
GAP_QUANTS = [((0.05, -3), (0.05, -3)), ((0.05, -3), (0.02, 10)), ((0.1, -128), (0.01, 127)),
              ((2.0**-20, 127), (2.0**5, -128)), ((2.0**-20, 0), (2.0**15, 0)), ((1.0, 0), (2.0**-11, -5)),
              ((0.0078125, 0), (0.0039, -128)), ((3.7, 100), (0.9, -100))]


@pytest.mark.parametrize("shape", [(1, 7, 7, 16), (2, 5, 3, 4), (1, 1, 1, 8), (1, 33, 31, 2)])
def test_global_average_pool_equals_tflite_micro(runtime, shape):
    """MEAN over axes [1, 2], keep_dims (the converter's global average pooling): C ==
    reference == TFLM on random and extreme data, over GAP_QUANTS."""
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    rng = np.random.default_rng(sum(shape))
    for in_q, out_q in GAP_QUANTS:
        for x in (rng.integers(-128, 128, size=shape), np.full(shape, -128), np.full(shape, 127)):
            x = x.astype(np.int8)
            ref = check_c_equals_reference(runtime, x, (1, 2), in_q, out_q)
            assert_array_equal_first(ref, tflm_mean(x, (1, 2), True, in_q, out_q), f"GAP vs TFLM {in_q} {out_q}")


def test_tflite_micro_rounds_equal_quantizations():
    """TFLM takes QuantizedMeanOrSum for equal quantizations too (older releases divided
    the raw sum with truncation): mean(-2, -2, -2, -1) = -1.75 gives -2, not -1."""
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x = np.array([[-2, -2, -2, -1]], np.int8)
    assert mean(x, (1,), (0.1, 0), (0.1, 0)).tolist() == [[-2]]
    assert tflm_mean(x, (1,), True, (0.1, 0), (0.1, 0)).tolist() == [[-2]]


def test_wrapping_sum_equals_tflite_micro():
    import tflite_micro  # noqa: F401  (a test dependency: the TFLM oracle)
    x = np.full((1, 9_000_000, 1, 1), -128, np.int8)
    assert_array_equal_first(mean(x, (1,), (0.5, 127), (1.0, 0)), tflm_mean(x, (1,), True, (0.5, 127), (1.0, 0)),
                             "wrapped sum")

"""fn_strided_copy (Slice, Split, Gather) and fn_reduce_f32 / fn_reduce_minmax_s8 / fn_mean_s8
(Reduce*) against the numpy references, and the int8 reductions against TFLM.

- strided copy: random bytes of 1..8-byte elements, hypothesis-drawn shapes (rank 1..6),
  starts, negative and positive steps and gather indices (repeats included); exact bytes.
  The reference itself is checked against Python's own slicing and numpy.take.
- float reduce: C vs reference (float64 then rounded) within n * 2^-24 * sum|x| (float32
  additions in another order); max and min exact.
- int8: C == reference with np.array_equal for max/min and for mean/sum in every requant
  mode; reference == TFLM (tflite-micro package) for SUM, REDUCE_MAX and REDUCE_MIN.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmnet.kernels import params_layout as layout
from firmnet.reference import reduce as ref_reduce
from firmnet.kernels import params_reduce_s8 as P
from firmnet.reference import reduce_s8 as R
from firmnet.reference.tensor import strided_slice

from support.compare import assert_array_equal_first
from support.byte_tensors import assert_bytes_equal, buf, random_elems
from support.tflite_models import tflite_one_op_model
from support.tflite_oracle import tflm_run

FN_OK, FN_ERR_ARG = 0, 1


# ---------------------------------------------------------------- strided copy

def run_copy(runtime, params, x, out_shape):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.zeros(out_shape, x.dtype)
    p = dict(params)
    keep = ffi.new("int32_t[]", p["table"]) if p["table"] is not None else ffi.NULL
    p["table"] = keep
    assert lib.fn_strided_copy(ffi.new("fn_strided_copy_params *", p), buf(ffi, x), buf(ffi, out)) == FN_OK
    return out


@st.composite
def copy_cases(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    starts, steps, out = [], [], []
    for n in shape:
        step = draw(st.sampled_from([1, 1, 1, 2, 3, -1, -2]))
        start = draw(st.integers(0, n - 1))
        room = start // -step + 1 if step < 0 else (n - 1 - start) // step + 1
        starts.append(start)
        steps.append(step)
        out.append(draw(st.integers(1, room)))
    gather = draw(st.integers(-1, len(shape) - 1))
    indices = ()
    if gather >= 0:
        indices = tuple(draw(st.lists(st.integers(0, shape[gather] - 1), min_size=1, max_size=6)))
        out[gather] = len(indices)
    return tuple(shape), starts, steps, tuple(out), gather, indices


@settings(max_examples=400, deadline=None)
@given(case=copy_cases(), elem_size=st.sampled_from([1, 2, 4, 8, 3]), seed=st.integers(0, 2**32 - 1))
@example(case=((1, 8, 4, 4), [0, 4, 0, 0], [1, 1, 1, 1], (1, 4, 4, 4), -1, ()), elem_size=1, seed=0)  # channel split
@example(case=((1, 4, 4, 8), [0, 0, 0, 1], [1, 1, 1, 2], (1, 4, 4, 4), -1, ()), elem_size=4, seed=0)  # NHWC odd chans
@example(case=((5, 6), [4, 5], [-1, -2], (5, 3), -1, ()), elem_size=4, seed=0)                         # reversed
@example(case=((3, 4, 5), [0, 0, 0], [1, 1, 1], (3, 1, 5), 1, (2,)), elem_size=4, seed=0)              # scalar gather
def test_strided_copy(runtime, case, elem_size, seed):
    shape, starts, steps, out_shape, gather, indices = case
    x = random_elems(np.random.default_rng(seed), shape, elem_size)
    ref = strided_slice(x, starts, steps, out_shape, gather, indices)
    params = layout.strided_copy_params(shape, starts, steps, out_shape, elem_size, gather, indices)
    assert_bytes_equal(run_copy(runtime, params, x, ref.shape), ref, f"strided copy {case}")


@settings(max_examples=200, deadline=None)
@given(case=copy_cases())
def test_strided_slice_reference_is_python_slicing(case):
    shape, starts, steps, out_shape, gather, indices = case
    x = np.arange(math.prod(shape)).reshape(shape)
    want = x
    for d, (s, st_, n) in enumerate(zip(starts, steps, out_shape)):
        if d == gather:
            want = np.take(want, indices, axis=d)
        else:
            stop = s + n * st_
            want = want[(slice(None),) * d + (slice(s, stop if stop >= 0 else None, st_),)]
    assert np.array_equal(strided_slice(x, starts, steps, out_shape, gather, indices), want)


def test_strided_copy_params_merge():
    # a channel half of NCHW [1, 8, 4, 4] float: one contiguous run of 64 bytes at byte 256
    p = layout.strided_copy_params((1, 8, 4, 4), (0, 4, 0, 0), (1, 1, 1, 1), (1, 4, 4, 4), 4)
    assert (p["ndim"], p["out_shape"][0], p["in_offset"], p["block_bytes"], p["table"]) == (1, 1, 256, 256, None)
    # odd channels of NHWC [1, 2, 2, 6] int8: pixels and channels merge into 12 bytes, stride 2
    p = layout.strided_copy_params((1, 2, 2, 6), (0, 0, 0, 1), (1, 1, 1, 2), (1, 2, 2, 3), 1)
    assert (p["ndim"], p["out_shape"][0], p["in_stride"][0], p["in_offset"], p["block_bytes"]) == (1, 12, 2, 1, 1)
    # first half of the channels: 4 pixels (merged, stride 6 bytes) of 3-byte blocks
    p = layout.strided_copy_params((1, 2, 2, 6), (0, 0, 0, 0), (1, 1, 1, 1), (1, 2, 2, 3), 1)
    assert (p["ndim"], p["out_shape"][0], p["in_stride"][0], p["in_offset"], p["block_bytes"]) == (1, 4, 6, 0, 3)
    with pytest.raises(ValueError, match="reads indices 2..6 of 5"):
        layout.strided_copy_params((5,), (2,), (2,), (3,), 4)
    with pytest.raises(ValueError, match="do not fit dim 0"):
        layout.strided_copy_params((5,), (0,), (1,), (3,), 4, 0, (0, 2, 5))


def test_strided_copy_argument_checks(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    p = layout.strided_copy_params((4,), (0,), (1,), (4,), 1)
    x, out = np.zeros(4, np.int8), np.zeros(4, np.int8)
    for field, value in (("ndim", 0), ("ndim", 7), ("block_bytes", 0), ("in_offset", -1), ("table_dim", 0)):
        bad = dict(p, table=ffi.NULL, **{field: value})
        assert lib.fn_strided_copy(ffi.new("fn_strided_copy_params *", bad), buf(ffi, x), buf(ffi, out)) == FN_ERR_ARG


# ---------------------------------------------------------------- reductions

@st.composite
def reduce_cases(draw, dtype=np.float32):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=6)))
    axes = tuple(sorted(set(draw(st.lists(st.integers(0, len(shape) - 1), max_size=len(shape))))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype == np.float32:
        x = (rng.standard_normal(shape) * 10.0 ** draw(st.integers(-3, 3))).astype(np.float32)
    else:
        x = rng.integers(-128, 128, size=shape).astype(np.int8)
    return x, axes, draw(st.booleans())


def params_or_skip_rank(shape, axes, kind):
    """reduce_params, or None where more than 4 kept or reduced runs remain (then the
    refusal must say so)."""
    try:
        return layout.reduce_params(shape, axes, kind)
    except ValueError as e:
        assert "at most 4" in str(e)
        dims, red = layout.merge_reduce_dims(shape, axes)
        assert len(red) > 4 or len(dims) - len(red) > 4
        return None


def run_reduce(runtime, fn, p, x, n_out):
    ffi = runtime.ffi
    ctype = "float" if x.dtype == np.float32 else "int8_t"
    out = np.full(n_out, 99, x.dtype)
    status = getattr(runtime.lib, fn)(ffi.new("fn_reduce_params *", p), ffi.cast(f"{ctype} *", ffi.from_buffer(x)),
                                      ffi.cast(f"{ctype} *", ffi.from_buffer(out)))
    assert status == FN_OK
    return out


@settings(max_examples=400, deadline=None)
@given(case=reduce_cases(), kind=st.sampled_from(["mean", "sum", "max", "min"]))
@example(case=(np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4), (2, 3), True), kind="mean")   # global pool
@example(case=(np.arange(48, dtype=np.float32).reshape(1, 4, 4, 3), (1, 2), False), kind="max")   # NHWC pool
def test_reduce_f32(runtime, case, kind):
    x, axes, keep = case
    p = params_or_skip_rank(x.shape, axes, kind)
    if p is None:
        return
    ref = ref_reduce.reduce(x, kind, axes, keep)
    got = run_reduce(runtime, "fn_reduce_f32", p, x, ref.size).reshape(ref.shape)
    if kind in ("max", "min"):
        assert_array_equal_first(got, ref, f"reduce {kind} {x.shape} {axes}")
        return
    n = math.prod(x.shape[a] for a in axes)
    bound = ref_reduce.reduce(np.abs(x), "sum", axes, keep).astype(np.float64) * n * 2.0**-24
    bound = bound / (n if kind == "mean" else 1) + np.abs(ref) * 2.0**-23 + 1e-38
    err = np.abs(got.astype(np.float64) - ref)
    assert (err <= bound).all(), f"reduce {kind} {x.shape} {axes}: error {err.max()} > bound"


@settings(max_examples=300, deadline=None)
@given(case=reduce_cases(np.int8), kind=st.sampled_from(["max", "min"]))
def test_reduce_minmax_s8(runtime, case, kind):
    x, axes, keep = case
    p = params_or_skip_rank(x.shape, axes, kind)
    if p is None:
        return
    ref = ref_reduce.reduce(x, kind, axes, keep)
    assert_array_equal_first(run_reduce(runtime, "fn_reduce_minmax_s8", p, x, ref.size).reshape(ref.shape), ref)


def test_reduce_argument_checks(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.zeros(4, np.float32)
    p = layout.reduce_params((4,), (0,), "mean")
    for bad in (dict(p, op=4), dict(p, red_shape=[1, 1, 1, 0])):
        assert lib.fn_reduce_f32(ffi.new("fn_reduce_params *", bad), ffi.cast("float *", ffi.from_buffer(x)),
                                 ffi.cast("float *", ffi.from_buffer(x))) == FN_ERR_ARG
    xi = np.zeros(4, np.int8)
    assert lib.fn_reduce_minmax_s8(ffi.new("fn_reduce_params *", p), ffi.cast("int8_t *", ffi.from_buffer(xi)),
                                   ffi.cast("int8_t *", ffi.from_buffer(xi))) == FN_ERR_ARG   # op mean


# ---------------------------------------------------------------- int8 mean and sum in every mode

@settings(max_examples=400, deadline=None)
@given(case=reduce_cases(np.int8), compute_sum=st.booleans(), mode=st.sampled_from(["tflm", "single", "ort"]),
       scales=st.tuples(st.floats(-12, 4), st.floats(-12, 4)), zps=st.tuples(st.integers(-128, 127),
                                                                              st.integers(-128, 127)),
       ort_rows=st.booleans())
def test_mean_sum_s8_modes_c_equals_reference(runtime, case, compute_sum, mode, scales, zps, ort_rows):
    x, axes, keep = case
    dims, red = layout.merge_reduce_dims(x.shape, axes)
    if len(dims) > 4:
        return
    s_in, s_out = (float(np.float32(2.0 ** s)) for s in scales)
    try:
        p = P.mean_s8_params(dims or (1,), red, s_in, zps[0], s_out, zps[1], compute_sum, mode, ort_rows)
    except ValueError as e:
        assert "too large" in str(e)
        return
    # the reference reduces x's own axes: the C's merged dimensions are checked too
    ref = R.mean_s8(x, axes=axes, input_scale=s_in, input_zero_point=zps[0], output_scale=s_out,
                    output_zero_point=zps[1], compute_sum=compute_sum, mode=mode, ort_rows=ort_rows, keep_dims=False)
    ffi = runtime.ffi
    out = np.full(ref.size, 99, np.int8)
    xs = np.ascontiguousarray(x)
    assert runtime.lib.fn_mean_s8(ffi.new("fn_mean_s8_params *", p), ffi.cast("int8_t *", ffi.from_buffer(xs)),
                                  ffi.cast("int8_t *", ffi.from_buffer(out))) == FN_OK
    assert_array_equal_first(out.reshape(ref.shape), ref, f"{'sum' if compute_sum else 'mean'} {mode} {p}")


def test_eigen_row_sums_order():
    """onnxruntime's row order on sums that depend on it: around big = 2^25 float32 steps by 4,
    so big + 1 and big + 2 (a tie, to even) both round back to big."""
    big = 2.0**25
    # n = 8, row 0: lanes (big, 1, 1, 1) + (1, 1, 1, 1) = (big, 2, 2, 2); (big + 2) + 4 = big + 4,
    # where adding one by one would stay at big
    assert R.eigen_row_sums(np.array([[big, 1, 1, 1, 1, 1, 1, 1]], np.float32))[0] == big + 4
    # n = 3: no full packet, one by one from the start: big + 2 + 2 = big
    assert R.eigen_row_sums(np.array([[big, 2, 2]], np.float32))[0] == big
    # n = 7: row 0 starts aligned, packet (big, 1, 1, 1) = (big + 1) + 2 = big, tail 1, 0, 0: big;
    # row 1 starts 28 bytes in (a = 1): packet (1, 1, 1, 1) = 4, then the head big: big + 4
    row = [big, 1, 1, 1, 1, 0, 0]
    assert R.eigen_row_sums(np.array([row, row], np.float32)).tolist() == [big, big + 4]


def test_mean_ort_mode_meaning():
    """ort mode: the float mean of the dequantized inputs, quantized half to even."""
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(2, 7, 5, 6)).astype(np.int8)
    got = R.mean_s8(x, axes=(1, 2), input_scale=0.05, input_zero_point=-3, output_scale=0.02, output_zero_point=10,
                    mode="ort")
    real = (x.astype(np.float64) + 3).mean(axis=(1, 2), keepdims=True) * np.float32(0.05)
    want = np.clip(np.rint(real / np.float32(0.02)) + 10, -128, 127)
    assert np.abs(got.astype(np.float64) - want).max() <= 1
    assert np.mean(got == want) > 0.95


# ---------------------------------------------------------------- TFLM: SUM, REDUCE_MAX, REDUCE_MIN

def tflm_reduce(op, x, axes, keep_dims, in_q, out_q):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S
    options = S.ReducerOptionsT()
    options.keepDims = keep_dims
    out_shape = R.mean_output_shape(x.shape, axes, keep_dims)
    model = tflite_one_op_model(op, x.shape, out_shape, in_q, out_q, [list(axes)], ("ReducerOptions", options))
    return tflm_run(model, x, arena_size=x.size + 5 * int(np.prod(out_shape)) + 64 * 1024)


@settings(max_examples=60, deadline=None)
@given(case=reduce_cases(np.int8), op=st.sampled_from(["SUM", "REDUCE_MAX", "REDUCE_MIN"]),
       scales=st.tuples(st.floats(-8, 0), st.floats(-8, 4)), zps=st.tuples(st.integers(-128, 127),
                                                                           st.integers(-128, 127)))
def test_int8_reduce_equals_tflm(case, op, scales, zps):
    x, axes, keep = case
    if x.ndim > 4 or not axes:
        return
    in_q = (float(np.float32(2.0 ** scales[0])), zps[0])
    out_q = in_q if op != "SUM" else (float(np.float32(2.0 ** scales[1])), zps[1])
    want = tflm_reduce(op, x, axes, keep, in_q, out_q)
    if op == "SUM":
        try:
            got = R.mean_s8(x, axes=axes, input_scale=in_q[0], input_zero_point=in_q[1], output_scale=out_q[0],
                            output_zero_point=out_q[1], compute_sum=True, keep_dims=keep)
        except ValueError as e:
            assert "too large" in str(e)
            return
    else:
        got = ref_reduce.reduce(x, "max" if op == "REDUCE_MAX" else "min", axes, keep)
    assert_array_equal_first(got, want.reshape(got.shape), f"{op} {x.shape} {axes}")


@pytest.mark.parametrize("op", ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"])
@pytest.mark.parametrize("shape,axes,keep", [((1, 5, 4, 6), (1, 2), True), ((2, 3, 7), (-1,), False),
                                             ((1, 4, 4, 3), (0, 1, 2, 3), False)])
def test_tflite_reduce_compiled_equals_tflm(op, shape, axes, keep, tmp_path):
    """The TFLite loader's MEAN, SUM, REDUCE_MAX and REDUCE_MIN, compiled and run: TFLM's bytes."""
    import firmnet
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S
    rng = np.random.default_rng(len(shape) * 7 + len(op))
    x = rng.integers(-128, 128, shape).astype(np.int8)
    in_q = (0.05, -3)
    out_q = (0.4, 5) if op in ("MEAN", "SUM") else in_q
    options = S.ReducerOptionsT()
    options.keepDims = keep
    out_shape = R.mean_output_shape(shape, axes, keep)
    model = tflite_one_op_model(op, shape, out_shape, in_q, out_q, [list(axes)], ("ReducerOptions", options))
    path = tmp_path / f"{op}.tflite"
    path.write_bytes(model)
    want = tflm_run(model, x, arena_size=x.size + 5 * int(np.prod(out_shape)) + 64 * 1024)
    cm = firmnet.compile(path, tmp_path / "out", name="reduce")
    got = cm.build_host().run([x])[0]
    assert_array_equal_first(got, want.reshape(got.shape), f"{op} {shape} {axes}")


def test_gather_progressions_need_no_table():
    p = layout.strided_copy_params((1, 8, 2), (0, 0, 0), (1, 1, 1), (1, 3, 2), 1, 1, (6, 4, 2))
    assert p["table"] is None and p["table_dim"] == -1 and p["in_offset"] == 12 and p["in_stride"][0] == -4
    p = layout.strided_copy_params((1, 8, 2), (0, 0, 0), (1, 1, 1), (1, 3, 2), 1, 1, (6, 4, 3))
    assert p["table"] == [12, 8, 6] and p["table_dim"] == 0

"""fn_maxpool2d_f32 and fn_avgpool2d_f32 against the numpy reference (firmnet.reference.pool).

Max pooling is exact (a maximum and a clamp round nothing), so C and reference
must be bit-identical.

Average pooling tolerance, elementwise, with m = kernel_h * kernel_w >= the number
of summed taps and A = avgpool(|x|) (the reference on |x|, same divisor):

    |c - ref| <= (m + 1) * eps32 * A + (m + 1) * FLT_MIN

- C sums at most m float32 values (at most m - 1 roundings, Higham sec. 3.1:
  error <= gamma_{m-1} * sum|x|), then divides once by an exactly represented
  count (one more rounding, relative u = eps32 / 2).
- the reference sums in float64 (error ~ m * 2**-53, negligible), divides, and
  rounds once to float32 (relative u).
- dividing by the count turns the sum's bound into one on the mean; the clamp is
  1-Lipschitz. Total <= ((m - 1) * 1.01 + 2.001) * u * A <= (m + 1) * eps32 * A.
- values below FLT_MIN lose relative accuracy (subnormals or flush-to-zero): each
  rounding then errs by < FLT_MIN absolutely, hence the absolute term.
Clamping is checked exactly (every output in [act_min, act_max]).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_pool_f32 import avgpool2d_f32_params, maxpool2d_f32_params
from firmnet.reference.pool import avgpool2d_f32, maxpool2d_f32
from support.f32_bounds import EPS32, FLT_MIN, INF, NO_CLAMP, assert_clamped
from support.pool_geometry import pool_axis


def assert_within(actual, expected, bound, what="output"):
    """|actual - expected| <= bound elementwise, or equal values if bound is None
    (infinities included); names the first violation."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if bound is None:
        bad = ~(actual == expected)
    else:
        bad = ~(np.abs(actual.astype(np.float64) - expected.astype(np.float64)) <= bound)   # NaN is bad
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        limit = "exact" if bound is None else f"bound {np.broadcast_to(bound, actual.shape)[idx]:.3g}"
        raise AssertionError(f"{what}: first violation at {idx}: got {actual[idx]!r}, "
                             f"reference {expected[idx]!r}, {limit} ({int(bad.sum())} elements)")


def run_pool(runtime, kind, params, x, fill=np.nan):
    ffi, lib = runtime.ffi, runtime.lib
    assert x.dtype == np.float32 and x.flags.c_contiguous
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["channels"]), fill, np.float32)
    fn = lib.fn_maxpool2d_f32 if kind == "max" else lib.fn_avgpool2d_f32
    status = fn(ffi.new("fn_pool2d_f32_params *", params),
                ffi.cast("float *", ffi.from_buffer(x)), ffi.cast("float *", ffi.from_buffer(out)))
    return status, out


def check_max(runtime, x, **kw):
    status, out = run_pool(runtime, "max", maxpool2d_f32_params(x.shape, **kw), x)
    assert status == runtime.lib.FN_OK
    assert_within(out, maxpool2d_f32(x, **kw), None)
    assert_clamped(out, kw.get("act", NO_CLAMP))
    return out


def check_avg(runtime, x, **kw):
    status, out = run_pool(runtime, "avg", avgpool2d_f32_params(x.shape, **kw), x)
    assert status == runtime.lib.FN_OK
    m = kw["kernel"][0] * kw["kernel"][1]
    mean_abs = avgpool2d_f32(np.abs(x), **dict(kw, act=NO_CLAMP))
    assert_within(out, avgpool2d_f32(x, **kw), (m + 1) * EPS32 * mean_abs.astype(np.float64) + (m + 1) * FLT_MIN)
    assert_clamped(out, kw.get("act", NO_CLAMP))
    return out


@st.composite
def act_ranges(draw):
    kind = draw(st.sampled_from(["none", "relu", "relu6", "finite"]))
    if kind == "none":
        return NO_CLAMP
    if kind == "relu":
        return (0.0, INF)
    if kind == "relu6":
        return (0.0, 6.0)
    lo = float(np.float32(draw(st.floats(-2, 1, width=32))))
    return (lo, float(np.float32(lo + draw(st.floats(0, 3, width=32)))))


@st.composite
def pool_cases(draw, kind):
    dil = (1, 1) if kind == "avg" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, kh, sh, pt, pb, oh = pool_axis(draw, dil[0])
    w, kw, sw, pl, pr, ow = pool_axis(draw, dil[1])
    kwargs = dict(kernel=(kh, kw), strides=(sh, sw), pads=(pt, pl, pb, pr), act=draw(act_ranges()))
    if oh is not None or ow is not None:
        fh, fw = (pt + pb + h - dil[0] * (kh - 1) - 1) // sh + 1, (pl + pr + w - dil[1] * (kw - 1) - 1) // sw + 1
        kwargs["out_size"] = (oh or fh, ow or fw)
    if kind == "max":
        kwargs["dilations"] = dil
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 9)))
    try:                                       # ceil-mode windows must still touch the input
        (maxpool2d_f32_params if kind == "max" else avgpool2d_f32_params)(shape, **kwargs)
    except ValueError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) * draw(st.sampled_from([1e-3, 1.0, 4.0]))).astype(np.float32)
    return x, kwargs


@settings(max_examples=400, deadline=None)
@given(pool_cases("max"))
def test_maxpool_matches_reference_exactly(runtime, case):
    x, kw = case
    check_max(runtime, x, **kw)


@settings(max_examples=400, deadline=None)
@given(pool_cases("avg"))
def test_avgpool_matches_reference(runtime, case):
    x, kw = case
    check_avg(runtime, x, **kw)


X16 = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)
# kernel 3, stride 2, pads 1, ceil mode: 3x3 outputs; the last row/column of windows
# covers input index 3 and one padding cell, and is cut at 4 + pad = 5 (length 2).
CEIL_KW = dict(kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), out_size=(3, 3))


def test_avgpool_ceil_mode_count_include_pad_by_hand(runtime):
    out = check_avg(runtime, X16, count_include_pad=True, **CEIL_KW)
    expected = np.array([[14 / 9, 30 / 9, 12 / 6], [57 / 9, 99 / 9, 36 / 6], [27 / 6, 45 / 6, 16 / 4]])
    np.testing.assert_array_equal(out[0, :, :, 0], expected.astype(np.float32))


def test_avgpool_ceil_mode_exclude_pad_by_hand(runtime):
    out = check_avg(runtime, X16, count_include_pad=False, **CEIL_KW)
    expected = np.array([[14 / 4, 30 / 6, 12 / 2], [57 / 6, 99 / 9, 36 / 3], [27 / 2, 45 / 3, 16 / 1]])
    np.testing.assert_array_equal(out[0, :, :, 0], expected.astype(np.float32))


def test_maxpool_padding_never_wins(runtime):
    x = -np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    out = check_max(runtime, x, kernel=(2, 2), pads=(1, 1, 1, 1))
    np.testing.assert_array_equal(out[0, :, :, 0], [[-1, -1, -2, -3], [-1, -1, -2, -3],
                                                    [-4, -4, -5, -6], [-7, -7, -8, -9]])


def test_maxpool_infinities_are_exact(runtime):
    x = np.full((1, 2, 2, 3), -INF, np.float32)
    x[0, 1, 1, 1] = INF
    out = check_max(runtime, x, kernel=(2, 2))
    np.testing.assert_array_equal(out[0, 0, 0], [-INF, INF, -INF])
    out = check_max(runtime, x, kernel=(2, 2), act=(0.0, 6.0))
    np.testing.assert_array_equal(out[0, 0, 0], [0.0, 6.0, 0.0])


@pytest.mark.parametrize("maker", [maxpool2d_f32_params, avgpool2d_f32_params])
def test_pool_params_fill_every_struct_field(runtime, maker):
    fields = {name for name, _ in runtime.ffi.typeof("fn_pool2d_f32_params").fields}
    assert set(maker((1, 4, 4, 2), kernel=(2, 2))) == fields


VALID = maxpool2d_f32_params((1, 5, 5, 3), kernel=(3, 3), pads=(1, 1, 1, 1))   # out 5x5


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("change", [
    {"pad_top": 3},                                  # top-left windows hold only padding
    {"in_h": 1, "out_h": 3, "pad_bottom": 1},        # bottom windows hold only padding
    {"kernel_w": 0}, {"stride_h": 0}, {"batch": 0}, {"channels": 0}, {"out_w": 0},
    {"pad_right": -1},
    {"stride_w": 2**30},                             # coordinates overflow int32
])
def test_pool_rejects_bad_arguments(runtime, kind, change):
    x = np.ones((1, 5, 5, 3), np.float32)
    status, out = run_pool(runtime, kind, dict(VALID, **change), x, fill=7.0)
    assert status == runtime.lib.FN_ERR_ARG
    assert np.all(out == 7.0), "arguments must be checked before any output is written"


def test_avgpool_rejects_dilation(runtime):
    x = np.ones((1, 5, 5, 3), np.float32)
    status, _ = run_pool(runtime, "avg", dict(VALID, dilation_w=2), x)
    assert status == runtime.lib.FN_ERR_ARG


def test_maxpool_rejects_dilated_window_that_skips_the_input(runtime):
    # taps at rows -2 and 1 of a 1-row input: none in bounds
    params = dict(maxpool2d_f32_params((1, 1, 4, 1), kernel=(1, 1)), kernel_h=2, dilation_h=3, pad_top=2,
                  pad_bottom=2)
    status, _ = run_pool(runtime, "max", params, np.ones((1, 1, 4, 1), np.float32))
    assert status == runtime.lib.FN_ERR_ARG
    with pytest.raises(ValueError, match="holds only padding"):
        maxpool2d_f32_params((1, 1, 4, 1), kernel=(2, 1), dilations=(3, 1), pads=(2, 0, 2, 0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernel=(3, 3), pads=(3, 0, 0, 0)), "holds only padding"),
    (dict(kernel=(3, 3), out_size=(4, 3)), "between the floor formula"),
    (dict(kernel=(6, 1)), "empty output"),
])
def test_pool_params_refuse_what_the_kernel_refuses(kwargs, message):
    with pytest.raises(ValueError, match=message):
        maxpool2d_f32_params((1, 5, 5, 3), **kwargs)


def test_pool_reference_matches_onnxruntime_ceil_mode_and_count_include_pad():
    """The divisor and ceil-mode rules are onnxruntime's (MaxPool / AveragePool, NCHW)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    def run_ort(op, x_nchw, **attrs):
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        graph = helper.make_graph([node], op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"x": x_nchw})[0]

    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 5, 6, 2)).astype(np.float32)
    x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    checked = 0
    for k, s, (pt, pl, pb, pr) in [(2, 2, (0, 0, 0, 0)), (3, 2, (1, 1, 1, 1)), (3, 2, (1, 0, 0, 1)),
                                   (2, 3, (1, 1, 0, 0)), (3, 3, (0, 2, 2, 0))]:
        pads = (pt, pl, pb, pr)
        onnx_pads = [pt, pl, pb, pr]
        for ceil in (0, 1):
            for cip in (0, 1):
                y = run_ort("AveragePool", x_nchw, kernel_shape=[k, k], strides=[s, s], pads=onnx_pads,
                            ceil_mode=ceil, count_include_pad=cip)
                ref = avgpool2d_f32(x, kernel=(k, k), strides=(s, s), pads=pads, count_include_pad=bool(cip),
                                    out_size=y.shape[2:])
                # float vs float (onnxruntime's summation order): |a - b| <= 1e-6 + 1e-5 |b|
                assert np.all(np.abs(ref.transpose(0, 3, 1, 2) - y) <= 1e-6 + 1e-5 * np.abs(y))
                checked += 1
            for d in (1, 2):
                y = run_ort("MaxPool", x_nchw, kernel_shape=[k, k], strides=[s, s], pads=onnx_pads,
                            ceil_mode=ceil, dilations=[d, d])
                try:
                    ref = maxpool2d_f32(x, kernel=(k, k), strides=(s, s), dilations=(d, d), pads=pads,
                                        out_size=y.shape[2:])
                except ValueError:      # onnxruntime accepts a window of padding only; we refuse it
                    continue
                np.testing.assert_array_equal(ref.transpose(0, 3, 1, 2), y)
                checked += 1
    assert checked >= 35

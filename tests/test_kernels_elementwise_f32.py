"""fn_binary_f32, fn_unary_f32, fn_softmax_f32 and fn_expf/fn_tanhf/fn_sigmoidf
against the numpy reference (firmnet.reference.elementwise), parameters built by
firmnet.kernels.params_layout as the compiler builds them. The math kinds (pow, min, max, prelu;
exp, log, erf, gelu...), log-softmax and where: tests/test_kernels_math_f32.py.

Exactness and tolerances (u = 2**-24, the float32 unit roundoff):

- add/sub/mul/div: one IEEE float32 operation per element, then a clamp to float32
  bounds. The reference computes in float64 and rounds once; for these four
  operations that is the correctly rounded float32 result, so C must be EXACT, and
  also exactly numpy's own float32 arithmetic. Inputs include random bit patterns
  (NaN, inf, subnormals); NaNs compare equal to NaNs.
- identity and leaky_relu: exact (alpha * x has a 48-bit product, exact in float64).
- hard_sigmoid: C rounds alpha*x and then +beta (2 roundings), the reference once:
  |c - r| <= 2**-22 * (1 + |beta|) (when the result is inside (0, 1), |alpha*x| <= |beta| + 1).
- hard_swish: C uses x * (1/6)f + 0.5 (1/6 rounded, 3 roundings, |h error| < 2**-23) then x*h:
  |c - r| <= 2**-22 * |x| + 2**-23 * |r|.
- fn_expf, fn_tanhf, fn_sigmoidf: error in ulps of the float32 result against float64
  libm, over a dense sweep of all float bit patterns. Exhaustive measurement over all
  2^32 inputs (a C driver against glibc double exp/tanh) gave max 1.03 ulp (exp),
  1.50 ulp (tanh), 2.40 ulp (sigmoid); the assertions allow 1.5 / 2 / 3 ulp.
- softmax, per element j of a lane of n: C rounds d = x_j - max (relative error of
  exp(d) <= |d| u), fn_expf (<= 1.03 ulp <= 2.06 u), n - 1 float32 additions, the
  reciprocal and the product; the reference rounds once. First order:
      |c - r| <= r * (1.5 n + 8 + |x_j - max|) * u + 4 * 2**-149
  (the absolute term covers results in the subnormal range).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import BroadcastableShapes, mutually_broadcastable_shapes

from firmnet.kernels import params_layout as layout
from firmnet.ops import binary as binary_op
from firmnet.reference.elementwise import binary_f32, softmax_f32, unary_f32
from support.f32_bounds import INF, NO_CLAMP
from support.f32_ulp import fbuf, first_bad, float32_sweep, random_f32, ulp_error

U = 2.0 ** -24
ACTS = [NO_CLAMP, (0.0, INF), (0.0, 6.0), (-1.0, 1.0), (-0.5, 0.25),
        (0.1, 1e-3 + 1 / 3), (2.0, 1.0)]          # (2, 1): min > max gives max, as numpy.clip
FN_OK = 0
FN_ERR_ARG = 1


# ---------------------------------------------------------------- helpers


def assert_exact(actual, expected, what="output"):
    """Bitwise equal values, except that any NaN equals any NaN and -0 == +0."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    bad = ~((actual == expected) | (np.isnan(actual) & np.isnan(expected)))
    first_bad(bad, actual, expected, what)


def assert_within(actual, expected, bound, what="output"):
    """|actual - expected| <= bound, equal infinities and NaN positions accepted."""
    with np.errstate(invalid="ignore"):              # signalling NaNs in casts
        a64, e64 = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
        assert a64.shape == e64.shape, f"{what}: shape {a64.shape} != {e64.shape}"
        ok = (a64 == e64) | (np.isnan(a64) & np.isnan(e64)) | (np.abs(a64 - e64) <= bound)
    first_bad(~ok, actual, expected, what, "tolerance")


def call_binary(runtime, params, a, b, out=None):
    ffi, lib = runtime.ffi, runtime.lib
    shape = np.broadcast_shapes(a.shape, b.shape)
    if out is None:
        out = np.full(shape, np.nan, np.float32)
    p = ffi.new("fn_binary_f32_params *", params)
    kind = {code: name for name, code in layout.BINARY_OPS.items()}[params["op"]]
    status = getattr(lib, binary_op.float_kernel(kind))(p, fbuf(ffi, a), fbuf(ffi, b), fbuf(ffi, out))
    assert status == FN_OK
    return out


def call_unary(runtime, params, x, out=None):
    ffi, lib = runtime.ffi, runtime.lib
    if out is None:
        out = np.full(x.shape, np.nan, np.float32)
    status = lib.fn_unary_f32(ffi.new("fn_unary_f32_params *", params), fbuf(ffi, x), fbuf(ffi, out))
    assert status == FN_OK
    return out


def call_softmax(runtime, x, axis, out=None):
    ffi, lib = runtime.ffi, runtime.lib
    if out is None:
        out = np.full(x.shape, np.nan, np.float32)
    p = ffi.new("fn_softmax_f32_params *", layout.softmax_params(x.shape, axis))
    assert lib.fn_softmax_f32(p, fbuf(ffi, x), fbuf(ffi, out)) == FN_OK
    return out


# ---------------------------------------------------------------- tables

def test_enum_tables_match_headers(runtime):
    lib = runtime.lib
    assert layout.FN_MAX_DIMS == lib.FN_MAX_DIMS
    for name, code in layout.BINARY_OPS.items():
        assert getattr(lib, f"FN_BINARY_{name.upper()}") == code
    for name, code in layout.UNARY_OPS.items():
        assert getattr(lib, f"FN_UNARY_{name.upper()}") == code
    p = runtime.ffi.new("fn_binary_f32_params *")
    assert len(p.out_shape) == len(p.a_strides) == len(p.b_strides) == layout.FN_MAX_DIMS


# ---------------------------------------------------------------- binary

FLOAT32_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
EXACT_BINARY = ("add", "sub", "mul", "div", "min", "max", "prelu")     # pow: test_kernels_math_f32.py
ARITH_UNARY = ("identity", "leaky_relu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish")


@settings(max_examples=300, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6, min_side=1, max_side=4),
       op=st.sampled_from(EXACT_BINARY), act=st.sampled_from(ACTS),
       kind=st.sampled_from(["bits", "normal", "mixed"]), seed=st.integers(0, 2**32 - 1))
@example(shapes=BroadcastableShapes(((), ()), ()), op="div", act=NO_CLAMP, kind="mixed", seed=0)
@example(shapes=BroadcastableShapes(((3, 5), (3, 5)), (3, 5)), op="add", act=(0.0, 6.0), kind="bits", seed=1)
def test_binary_exact(runtime, shapes, op, act, kind, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a, b = random_f32(rng, a_shape, kind), random_f32(rng, b_shape, kind)
    params = layout.binary_params(a_shape, b_shape, op, act)
    assert 1 <= params["ndim"] <= layout.FN_MAX_DIMS
    out = call_binary(runtime, params, a, b)
    ref = binary_f32(a, b, op, act)
    assert_exact(out, ref, f"{op} {a_shape} {b_shape} vs reference")
    if op not in FLOAT32_OPS:
        return
    with np.errstate(all="ignore"):
        y32 = FLOAT32_OPS[op](a, b)
        y32 = np.minimum(np.maximum(y32, np.float32(act[0])), np.float32(act[1]))
    assert y32.dtype == np.float32
    assert_exact(out, y32, f"{op} {a_shape} {b_shape} vs numpy float32")


@settings(max_examples=150, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6, min_side=1, max_side=3),
       op=st.sampled_from(EXACT_BINARY), seed=st.integers(0, 2**32 - 1))
def test_binary_unmerged_strides(runtime, shapes, op, seed):
    """The kernel's general path: numpy's own strides, size-1 dims kept, no merging."""
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    out_shape = shapes.result_shape or (1,)
    a, b = random_f32(rng, a_shape, "mixed"), random_f32(rng, b_shape, "mixed")
    sa = [s // 4 for s in np.broadcast_to(a, out_shape).strides]
    sb = [s // 4 for s in np.broadcast_to(b, out_shape).strides]
    pad = [0] * (layout.FN_MAX_DIMS - len(out_shape))
    params = {"op": layout.BINARY_OPS[op], "ndim": len(out_shape), "out_shape": list(out_shape) + pad,
              "a_strides": sa + pad, "b_strides": sb + pad, "act_min": -INF, "act_max": INF}
    out = call_binary(runtime, params, a, b, np.full(out_shape, np.nan, np.float32))
    assert_exact(out, binary_f32(a, b, op).reshape(out_shape), f"{op} {a_shape} {b_shape}")


@pytest.mark.parametrize("a_shape,b_shape,in_place", [
    ((2, 3, 4), (2, 3, 4), "a"), ((2, 3, 4), (2, 3, 4), "b"), ((2, 3, 4), (), "a"), ((), (5, 7), "b"),
    ((3, 4, 5), (5,), "a"), ((5,), (3, 4, 5), "b"), ((3, 4, 5), (3, 1, 5), "a")])
def test_binary_in_place(runtime, a_shape, b_shape, in_place):
    """out may be the full-shape operand itself."""
    rng = np.random.default_rng(1)
    a, b = random_f32(rng, a_shape, "normal"), random_f32(rng, b_shape, "normal")
    ref = binary_f32(a, b, "sub", (-1.0, 2.0))
    target = a if in_place == "a" else b
    call_binary(runtime, layout.binary_params(a_shape, b_shape, "sub", (-1.0, 2.0)), a, b, out=target)
    assert_exact(target, ref)


@pytest.mark.parametrize("a_shape,b_shape,expect", [
    ((2, 3, 4), (2, 3, 4), ([24], [1], [1])),                      # same shape: one flat loop
    ((2, 3, 4), (), ([24], [1], [0])),                             # scalar operand
    ((1,), (1, 1, 1), ([1], [0], [0])),                            # everything size 1
    ((8, 6, 6, 16), (16,), ([288, 16], [16, 1], [0, 1])),          # per-channel bias, NHWC
    ((8, 16, 6, 6), (16, 1, 1), ([8, 16, 36], [576, 36, 1], [0, 1, 0])),   # per-channel, NCHW
    ((5, 1, 3), (1, 4, 1), ([5, 4, 3], [3, 0, 1], [0, 1, 0])),     # outer product style
    ((2,) * 8, (2,) * 8, ([256], [1], [1])),                       # rank 8 collapses to 1
])
def test_binary_params_merge(a_shape, b_shape, expect):
    p = layout.binary_params(a_shape, b_shape, "add")
    n = p["ndim"]
    assert (p["out_shape"][:n], p["a_strides"][:n], p["b_strides"][:n]) == expect
    assert p["out_shape"][n:] == [0] * (layout.FN_MAX_DIMS - n)
    assert (p["act_min"], p["act_max"]) == NO_CLAMP


def test_binary_params_errors():
    with pytest.raises(ValueError, match=r"shapes \[2, 3\] and \[4\] do not broadcast \(dimension -1: 3 vs 4\)"):
        layout.binary_params((2, 3), (4,), "add")
    with pytest.raises(ValueError, match=r"needs 8 dimensions after merging, the kernel supports at most 6"):
        layout.binary_params((2, 1) * 4, (1, 2) * 4, "mul")
    with pytest.raises(ValueError, match=r"op 'mod' unknown \(supported: add, sub, mul, div, pow, min, max, prelu\)"):
        layout.binary_params((2,), (2,), "mod")
    with pytest.raises(ValueError, match=r"has a NaN bound"):
        layout.binary_params((2,), (2,), "add", (0.0, math.nan))


# ---------------------------------------------------------------- unary

def unary_bound(op, x, ref, alpha, beta):
    """Allowed |c - r| per element (0 = exact); see the module docstring."""
    with np.errstate(invalid="ignore"):
        x64 = np.asarray(x, np.float64)
    if op in ("identity", "leaky_relu"):
        return 0.0
    if op == "hard_sigmoid":
        return 2.0 ** -22 * (1.0 + abs(float(np.float32(beta))))
    if op == "hard_swish":
        with np.errstate(invalid="ignore"):
            return 2.0 ** -22 * np.abs(x64) + 2.0 ** -23 * np.abs(ref.astype(np.float64))
    raise AssertionError(op)


@settings(max_examples=300, deadline=None)
@given(count=st.integers(1, 3000), op=st.sampled_from(ARITH_UNARY),
       alpha=st.sampled_from([0.0, 0.01, 0.2, -1.5, 1 / 6]), beta=st.sampled_from([0.0, 0.5, -0.25, 3.0]),
       act=st.sampled_from(ACTS), kind=st.sampled_from(["bits", "normal", "mixed"]),
       in_place=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_unary(runtime, count, op, alpha, beta, act, kind, in_place, seed):
    rng = np.random.default_rng(seed)
    x = random_f32(rng, (count,), kind)
    if kind == "normal":
        x *= np.float32(rng.choice([0.01, 1.0, 30.0]))
    ref = unary_f32(x, op, alpha, beta, act)
    params = layout.unary_params(count, op, alpha, beta, act)
    out = call_unary(runtime, params, x, out=x.copy() if in_place else None)
    what = f"{op} alpha={alpha} beta={beta} act={act}"
    if op in ("sigmoid", "tanh"):
        # ulp distance on the float32 grid; act bounds are float32 values, so clamping
        # can only shrink it
        with np.errstate(invalid="ignore"):
            err = ulp_error(out, ref.astype(np.float64))
        ok = (out == ref) | (np.isnan(out) & np.isnan(ref)) | (err <= 3.0)
        first_bad(~ok, out, ref, what, "3 ulp")
    else:
        assert_within(out, ref, unary_bound(op, x, ref, alpha, beta), what)
    hi = np.float32(act[1])
    lo = min(np.float32(act[0]), hi)
    finite = ~np.isnan(out)
    assert np.all(out[finite] >= lo) and np.all(out[finite] <= hi), "clamp range violated"
    assert np.array_equal(np.isnan(out), np.isnan(x) | np.isnan(ref)), "NaN must pass through, nowhere else"


def test_unary_params():
    p = layout.unary_params(10, "leaky_relu", alpha=0.1, act=(0.0, 6.0))
    assert p == {"op": 1, "count": 10, "alpha": float(np.float32(0.1)), "beta": 0.0,
                 "act_min": 0.0, "act_max": 6.0}
    with pytest.raises(ValueError, match=r"op 'cos' unknown \(supported: identity, leaky_relu, sigmoid"):
        layout.unary_params(3, "cos")
    with pytest.raises(ValueError, match=r"element count must be in 1..2\^31-1, got 0"):
        layout.unary_params(0, "tanh")


# ---------------------------------------------------------------- exp, tanh, sigmoid

def sweep_inputs() -> np.ndarray:
    core = np.linspace(-110.0, 95.0, 400_001).astype(np.float32)     # where exp is neither 0 nor inf
    return np.concatenate([float32_sweep(10), core])                  # 4.2M bit patterns + core


def test_expf_ulp_sweep(runtime):
    f = runtime.lib.fn_expf
    x = sweep_inputs()
    c = np.fromiter(map(f, x.tolist()), dtype=np.float32, count=x.size)
    with np.errstate(over="ignore"):
        truth = np.exp(x.astype(np.float64))
        overflow = np.isinf(truth.astype(np.float32))                    # rounds to +inf
    assert np.all(np.isposinf(c[overflow])), "exp must saturate to +inf"
    err = ulp_error(c[~overflow], truth[~overflow])
    worst = int(np.argmax(err))
    assert err[worst] <= 1.5, f"fn_expf: {err[worst]:.3f} ulp at x={x[~overflow][worst]!r}"


def sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("op,fn", [("tanh", np.tanh), ("sigmoid", sigmoid64)])
def test_tanh_sigmoid_ulp_sweep(runtime, op, fn):
    x = sweep_inputs()
    c = call_unary(runtime, layout.unary_params(x.size, op), x)
    truth = fn(x.astype(np.float64))
    err = ulp_error(c, truth)
    worst = int(np.argmax(err))
    bound = {"tanh": 2.0, "sigmoid": 3.0}[op]
    assert err[worst] <= bound, f"{op}: {err[worst]:.3f} ulp at x={x[worst]!r}"


def test_math_special_values(runtime):
    lib = runtime.lib
    f32 = np.float32
    inf, nan = float("inf"), float("nan")
    assert lib.fn_expf(0.0) == 1.0 and lib.fn_expf(-0.0) == 1.0
    assert lib.fn_expf(1e-30) == 1.0 and lib.fn_expf(-1e-30) == 1.0
    assert lib.fn_expf(float(f32(88.72283172607421875))) == pytest.approx(3.4027e38, rel=1e-4)
    assert lib.fn_expf(float(np.nextafter(f32(88.72283172607421875), f32(100)))) == inf
    assert lib.fn_expf(inf) == inf and lib.fn_expf(1000.0) == inf
    assert lib.fn_expf(-inf) == 0.0 and lib.fn_expf(-104.0) == 0.0 and lib.fn_expf(-1000.0) == 0.0
    assert lib.fn_expf(-103.0) == pytest.approx(math.exp(-103.0), abs=2.0 ** -149)   # subnormal result
    assert 0 < lib.fn_expf(-100.0) < 2.0 ** -126
    assert math.isnan(lib.fn_expf(nan)) and math.isnan(lib.fn_tanhf(nan)) and math.isnan(lib.fn_sigmoidf(nan))
    assert math.copysign(1.0, lib.fn_tanhf(-0.0)) == -1.0 and lib.fn_tanhf(0.0) == 0.0
    assert lib.fn_tanhf(1e-40) == float(f32(1e-40))
    assert lib.fn_tanhf(inf) == 1.0 and lib.fn_tanhf(-inf) == -1.0 and lib.fn_tanhf(20.0) == 1.0
    assert lib.fn_sigmoidf(0.0) == 0.5 and lib.fn_sigmoidf(inf) == 1.0 and lib.fn_sigmoidf(-inf) == 0.0
    assert lib.fn_sigmoidf(200.0) == 1.0 and lib.fn_sigmoidf(-200.0) == 0.0
    assert lib.fn_sigmoidf(-100.0) == pytest.approx(math.exp(-100.0), abs=2.0 ** -149)  # no flush to 0


# ---------------------------------------------------------------- softmax

def softmax_bound(x, ref, axis):
    x64 = x.astype(np.float64)
    n = x.shape[axis]
    spread = np.max(x64, axis=axis, keepdims=True) - x64
    return ref.astype(np.float64) * (1.5 * n + 8 + spread) * U + 4 * 2.0 ** -149


@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=6).filter(lambda s: math.prod(s) <= 5000),
       data=st.data(), scale=st.sampled_from([1e-3, 1.0, 10.0, 60.0]), in_place=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_softmax(runtime, shape, data, scale, in_place, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    ref = softmax_f32(x, axis)
    out = call_softmax(runtime, x, axis, out=x.copy() if in_place else None)
    assert_within(out, ref, softmax_bound(x, ref, axis), f"softmax shape {shape} axis {axis}")


def test_softmax_long_axis(runtime):
    """One long lane (summation error grows with n) and a wide dynamic range."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((3, 4000)) * 20).astype(np.float32)
    ref = softmax_f32(x, 1)
    assert_within(call_softmax(runtime, x, 1), ref, softmax_bound(x, ref, 1))
    x = np.array([[0.0, -90.0, -100.0, -110.0, 5.0]], np.float32)    # subnormal and zero outputs
    ref = softmax_f32(x, 1)
    assert_within(call_softmax(runtime, x, 1), ref, softmax_bound(x, ref, 1))


def test_softmax_params():
    assert layout.softmax_params((2, 3, 4, 5), 1) == {"outer": 2, "axis_len": 3, "inner": 20}
    assert layout.softmax_params((2, 3, 4, 5), -1) == {"outer": 24, "axis_len": 5, "inner": 1}
    with pytest.raises(ValueError, match=r"axis 4 is out of range for shape \[2, 3, 4, 5\]"):
        layout.softmax_params((2, 3, 4, 5), 4)


# ---------------------------------------------------------------- argument checks

def test_bad_arguments_rejected(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.zeros(8, np.float32)
    buf = fbuf(ffi, x)
    good = layout.binary_params((8,), (8,), "add")
    for change in ({"op": 8}, {"op": -1}, {"ndim": 0}, {"ndim": 7}, {"out_shape": [0, 0, 0, 0, 0, 0]},
                   {"a_strides": [-1, 0, 0, 0, 0, 0]}):
        p = ffi.new("fn_binary_f32_params *", {**good, **change})
        assert lib.fn_binary_f32(p, buf, buf, buf) == FN_ERR_ARG, change
    assert lib.fn_binary_f32(ffi.new("fn_binary_f32_params *", good), ffi.NULL, buf, buf) == FN_ERR_ARG
    for change in ({"op": 20}, {"count": 0}):
        p = ffi.new("fn_unary_f32_params *", {**layout.unary_params(8, "tanh"), **change})
        assert lib.fn_unary_f32(p, buf, buf) == FN_ERR_ARG, change
    for bad in ({"outer": 1, "axis_len": 0, "inner": 1}, {"outer": 0, "axis_len": 8, "inner": 1}):
        assert lib.fn_softmax_f32(ffi.new("fn_softmax_f32_params *", bad), buf, buf) == FN_ERR_ARG

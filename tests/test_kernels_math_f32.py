"""The float32 math kernels: fn_unary_f32's math kinds, fn_binary_f32's pow/min/max/prelu,
fn_log_softmax_f32, fn_where_f32 and the libm-free functions under them (fn_math_f32.c,
fn_erf_f32.c, fn_pow_f32.c), against the numpy reference (firmnet.reference.elementwise)
and float64 numpy / Python math.

Tolerances, in float32 ulps of the true (float64) result (u = 2**-24; the subnormal
ulp is 2**-149). Measured maxima over the sweeps below (every 2^10-th float bit
pattern, NaNs aside, plus 600,001 points on [-30, 30]) are printed by
`pytest tests/test_kernels_math_f32.py -s -k sweep`:

- exact: sqrt, reciprocal, abs, neg, pow with exponent 2, 0.5, 1, -1 (correctly
  rounded or a selection), min, max, prelu, where.
- exp 1.5, log 1, erf 2.5, elu/selu 2.5 (expm1 ~1.7, then one or two products),
  softplus 2, gelu 4.5, pow (other exponents, double inside) 1.
- silu = x * sigmoid(x): 4 ulp (sigmoid's 2.4 and the product), plus |x| * 2**-149 where
  sigmoid(x) is subnormal.
- gelu_tanh = x * sigmoid(v), v = 2 sqrt(2/pi) (x + 0.044715 x^3) rounded 5 times
  (relative error <= 6u, no cancellation: both terms have x's sign), which sigmoid
  amplifies by |v| (1 - sigmoid(v)) <= |v|: (8 + 12 |v|) ulp. (The tanh form in float,
  as onnxruntime computes it, returns 0 for x < -9: this is more accurate.)
- log-softmax: |c - r| <= 2u (|x - max| + |r| + n + 4) for a lane of n (the rounding of
  x - max, the sum of n exponentials, the log and the last subtraction).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from firmnet.kernels import params_layout as layout
from firmnet.ops.unary import float_kernel
from firmnet.reference import elementwise as E
from support.f32_ulp import fbuf, first_bad, float32_sweep, random_f32, ulp_error

U = 2.0 ** -24
TINY = 2.0 ** -149
EXACT_UNARY = ("sqrt", "reciprocal", "abs", "neg", "sign", "bipolar")
ULP_BOUNDS = {"exp": 1.5, "log": 1.0, "erf": 2.5, "elu": 2.5, "selu": 2.5, "softplus": 2.0, "gelu": 4.5,
              "pow": 1.0, "silu": 4.0}
EXACT_POW = (2.0, 0.5, 1.0, -1.0)


def call_math(runtime, x, op, alpha=0.0, beta=0.0, act=(-math.inf, math.inf), out=None):
    """The kernel the compiler picks for this kind (ops.unary.float_kernel), on x."""
    function, c_op = float_kernel(op, alpha)
    ffi = runtime.ffi
    out = np.full(x.shape, np.nan, np.float32) if out is None else out
    p = ffi.new("fn_unary_f32_params *", layout.unary_params(x.size, c_op, alpha, beta, act))
    assert getattr(runtime.lib, function)(p, fbuf(ffi, x), fbuf(ffi, out)) == 0
    return out


def call_pow(runtime, a, b):
    ffi = runtime.ffi
    out = np.full(np.broadcast_shapes(a.shape, b.shape), np.nan, np.float32)
    p = ffi.new("fn_binary_f32_params *", layout.binary_params(a.shape, b.shape, "pow"))
    assert runtime.lib.fn_binary_pow_f32(p, fbuf(ffi, a), fbuf(ffi, b), fbuf(ffi, out)) == 0
    return out


def truth64(op, x, alpha=0.0, beta=0.0):
    """The float64 value (the reference before its final rounding)."""
    with np.errstate(all="ignore"):
        return E._UNARY_MATH[op](np.asarray(x, np.float32).astype(np.float64), float(np.float32(alpha)),
                                 float(np.float32(beta)))


def check_unary(out, x, op, alpha=0.0, beta=0.0, what=""):
    """out (the C) against the reference: exact kinds bitwise, the others within their ulp bound."""
    ref = E.unary_f32(x, op, alpha, beta)
    same = (out == ref) | (np.isnan(out) & np.isnan(ref))
    assert np.array_equal(np.isnan(out), np.isnan(ref)), f"{what}: NaN positions differ"
    if op in EXACT_UNARY or (op == "pow" and float(np.float32(alpha)) in EXACT_POW):
        first_bad(~same, out, ref, what)
        return 0.0
    t = truth64(op, x, alpha, beta)
    with np.errstate(all="ignore"):
        err = np.where(same | (np.isinf(out) & (out == ref)), 0.0, ulp_error(out, t))
        x64 = np.abs(np.asarray(x, np.float64))
        if op == "gelu_tanh":
            v = np.abs(2 * E.GELU_TANH_C * (x64 + 0.044715 * x64 ** 3))
            bound = 8 + 12 * v
        elif op == "silu":
            bound = ULP_BOUNDS[op] + x64 * TINY / np.ldexp(1.0, np.maximum(np.frexp(np.abs(t))[1] - 24, -149))
        else:
            bound = ULP_BOUNDS[op]
    first_bad(err > bound, out, ref, what, f"{op} bound")
    return float(np.max(err, initial=0.0))


# ---------------------------------------------------------------- sweeps over the float range

def sweep_points():
    return np.concatenate([float32_sweep(10), np.linspace(-30.0, 30.0, 600_001).astype(np.float32)])


SWEEP_KINDS = [("exp", 0, 0), ("log", 0, 0), ("sqrt", 0, 0), ("reciprocal", 0, 0), ("abs", 0, 0), ("neg", 0, 0),
               ("erf", 0, 0), ("gelu", 0, 0), ("gelu_tanh", 0, 0), ("elu", 1.0, 0), ("elu", 0.3, 0),
               ("selu", 1.67326319217681884765625, 1.05070102214813232421875), ("softplus", 0, 0), ("silu", 0, 0),
               ("pow", 2.0, 0), ("pow", 0.5, 0), ("pow", 3.0, 0), ("pow", -1.5, 0), ("pow", 1 / 3, 0),
               ("pow", -1.0, 0), ("pow", 1.7, 0)]


@pytest.mark.parametrize("op,alpha,beta", SWEEP_KINDS, ids=[f"{o}-{a:.3g}" for o, a, _ in SWEEP_KINDS])
def test_unary_sweep(runtime, op, alpha, beta):
    x = sweep_points()
    out = call_math(runtime, x, op, alpha, beta)
    worst = check_unary(out, x, op, alpha, beta, f"{op} alpha={alpha}")
    print(f"{op} alpha={alpha:.4g}: max error {worst:.3f} ulp")


def test_expm1_log1p_sweep(runtime):
    """fn_expm1f (under elu/selu) and fn_log1pf (under softplus) directly, <= 2 ulp."""
    lib = runtime.lib
    x = np.concatenate([float32_sweep(14), np.linspace(-20.0, 20.0, 40_001).astype(np.float32)])
    for f, g, domain in ((lib.fn_expm1f, np.expm1, np.isfinite(x)), (lib.fn_log1pf, np.log1p, x > -1)):
        xs = x[domain]
        c = np.fromiter(map(f, xs.tolist()), np.float32, count=xs.size)
        with np.errstate(over="ignore"):
            t = g(xs.astype(np.float64))
            ok = np.isinf(c) & (c == t.astype(np.float32))
        err = np.where(ok, 0.0, ulp_error(c, t))
        k = int(np.argmax(err))
        assert err[k] <= 2.0, f"{g.__name__}: {err[k]:.3f} ulp at {xs[k]!r}"


def test_special_values(runtime):
    lib = runtime.lib
    inf, nan = math.inf, math.nan
    assert lib.fn_logf(0.0) == -inf and lib.fn_logf(-0.0) == -inf and lib.fn_logf(inf) == inf
    assert math.isnan(lib.fn_logf(-1.0)) and math.isnan(lib.fn_logf(-inf)) and math.isnan(lib.fn_logf(nan))
    assert lib.fn_logf(1.0) == 0.0 and lib.fn_logf(2.0 ** -149) == pytest.approx(-149 * math.log(2), rel=1e-7)
    assert math.copysign(1, lib.fn_sqrtf(-0.0)) == -1 and lib.fn_sqrtf(inf) == inf
    assert math.isnan(lib.fn_sqrtf(-1e-45)) and lib.fn_sqrtf(2.0 ** -149) == float(np.sqrt(np.float32(2.0 ** -149)))
    assert lib.fn_erff(inf) == 1.0 and lib.fn_erff(-inf) == -1.0 and math.copysign(1, lib.fn_erff(-0.0)) == -1
    assert lib.fn_geluf(inf) == inf and math.isnan(lib.fn_geluf(-inf))    # x/2 * (1 + erf) at -inf: -inf * 0
    assert lib.fn_geluf(-20.0) == 0.0 and lib.fn_expm1f(-inf) == -1.0 and lib.fn_expm1f(inf) == inf
    assert lib.fn_log1pf(-1.0) == -inf and lib.fn_log1pf(inf) == inf and lib.fn_log1pf(1e-30) == float(np.float32(1e-30))


def test_pow_special_values(runtime):
    """C99's pow special cases, as numpy's float64 power gives them for array exponents."""
    v = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, -2.5, 1e-40, -1e-40, 1e30, -1e30,
                  2.0 ** 24, -(2.0 ** 24) - 2, math.inf, -math.inf, math.nan], np.float32)
    x, y = np.meshgrid(v, v, indexing="ij")
    x, y = x.ravel().copy(), y.ravel().copy()
    c = np.fromiter((runtime.lib.fn_powf(float(a), float(b)) for a, b in zip(x, y)), np.float32, count=x.size)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    same = (c == want) & (np.signbit(c) == np.signbit(want)) | (np.isnan(c) & np.isnan(want))
    first_bad(~same, c, want, "pow(x, y) special values")


# ---------------------------------------------------------------- kernels, hypothesis

UNARY_MATH = sorted(E._UNARY_MATH)


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 2000), op=st.sampled_from(UNARY_MATH),
       alpha=st.sampled_from([0.5, 1.0, 2.0, 3.0, -1.0, -0.5, 0.3, 1.67326319217681884765625]),
       beta=st.sampled_from([1.0, 1.05070102214813232421875, 0.5]),
       kind=st.sampled_from(["bits", "normal", "mixed"]), in_place=st.booleans(), seed=st.integers(0, 2**32 - 1),
       act=st.sampled_from([(-math.inf, math.inf), (0.0, 6.0), (-1.0, 1.0)]))
def test_unary_math(runtime, count, op, alpha, beta, kind, in_place, seed, act):
    x = random_f32(np.random.default_rng(seed), (count,), kind)
    out = call_math(runtime, x, op, alpha, beta, act, out=x.copy() if in_place else None)
    if act == (-math.inf, math.inf):
        check_unary(out, x, op, alpha, beta, f"{op} alpha={alpha} beta={beta}")
    else:   # the clamp is exact and monotonic: clamping both sides keeps the bound
        free = call_math(runtime, x, op, alpha, beta)
        check_unary(free, x, op, alpha, beta, f"{op} alpha={alpha} beta={beta}")
        want = np.minimum(np.maximum(free, np.float32(act[0])), np.float32(act[1]))
        same = (out == want) | (np.isnan(out) & np.isnan(want))
        first_bad(~same, out, want, f"{op} clamp {act}")


@settings(max_examples=200, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, min_side=1, max_side=4),
       kind=st.sampled_from(["bits", "normal", "mixed", "positive"]), seed=st.integers(0, 2**32 - 1))
def test_binary_pow(runtime, shapes, kind, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    if kind == "positive":
        a = np.abs(random_f32(rng, a_shape, "normal")) + np.float32(1e-3)
        b = np.round(random_f32(rng, b_shape, "normal") * 2) / np.float32(2)     # halves: odd/even integers too
    else:
        a, b = random_f32(rng, a_shape, kind), random_f32(rng, b_shape, kind)
    out = call_pow(runtime, a, b)
    ref = E.binary_f32(a, b, "pow")
    with np.errstate(all="ignore"):
        t = np.power(a.astype(np.float64), b.astype(np.float64))
        same = (out == ref) | (np.isnan(out) & np.isnan(ref))
        err = np.where(same, 0.0, ulp_error(out, np.broadcast_to(t, out.shape)))
    first_bad(err > 1.0, out, ref, f"pow {a_shape} {b_shape}", "1 ulp")


def call_log_softmax(runtime, x, axis, out=None):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.full(x.shape, np.nan, np.float32) if out is None else out
    p = ffi.new("fn_softmax_f32_params *", layout.softmax_params(x.shape, axis))
    assert lib.fn_log_softmax_f32(p, fbuf(ffi, x), fbuf(ffi, out)) == 0
    return out


@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=5).filter(lambda s: math.prod(s) <= 4000),
       data=st.data(), scale=st.sampled_from([1e-3, 1.0, 10.0, 80.0]), in_place=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_log_softmax(runtime, shape, data, scale, in_place, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
    ref = E.log_softmax_f32(x, axis)
    out = call_log_softmax(runtime, x, axis, out=x.copy() if in_place else None)
    x64 = x.astype(np.float64)
    bound = 2 * U * (np.max(x64, axis=axis, keepdims=True) - x64 + np.abs(ref) + x.shape[axis] + 4)
    first_bad(~(np.abs(out.astype(np.float64) - ref) <= bound), out, ref, f"log-softmax {shape} axis {axis}",
              "tolerance")


@settings(max_examples=200, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=6, min_side=1, max_side=3),
       seed=st.integers(0, 2**32 - 1), in_place=st.booleans())
def test_where(runtime, shapes, seed, in_place):
    rng = np.random.default_rng(seed)
    c_shape, a_shape, b_shape = shapes.input_shapes
    out_shape = shapes.result_shape
    cond = rng.random(c_shape) < 0.5
    a, b = random_f32(rng, a_shape, "mixed"), random_f32(rng, b_shape, "mixed")
    ffi, lib = runtime.ffi, runtime.lib
    p = ffi.new("fn_where_f32_params *", layout.where_params(a_shape, b_shape, out_shape))
    mask = np.ascontiguousarray(np.broadcast_to(cond, out_shape).astype(np.uint8))
    out = np.full(out_shape, np.nan, np.float32)
    if in_place and a_shape == out_shape:
        out = a.copy()
        assert lib.fn_where_f32(p, ffi.from_buffer("uint8_t[]", mask.reshape(-1)), fbuf(ffi, out), fbuf(ffi, b),
                                fbuf(ffi, out)) == 0
    else:
        assert lib.fn_where_f32(p, ffi.from_buffer("uint8_t[]", mask.reshape(-1)), fbuf(ffi, a), fbuf(ffi, b),
                                fbuf(ffi, out)) == 0
    ref = E.where_f32(cond, a, b)
    same = (out.view(np.uint32) == ref.view(np.uint32)) | (np.isnan(out) & np.isnan(ref))
    first_bad(~same, out, ref, f"where {c_shape} {a_shape} {b_shape}")


def test_where_params_and_errors(runtime):
    assert layout.where_params((4,), (3, 1), (3, 4)) == {
        "ndim": 2, "out_shape": [3, 4, 0, 0, 0, 0], "a_strides": [0, 1, 0, 0, 0, 0], "b_strides": [1, 0, 0, 0, 0, 0]}
    with pytest.raises(ValueError, match=r"where: shapes \[2\] and \[3\] do not broadcast to \[3\]"):
        layout.where_params((2,), (3,), (3,))
    ffi, lib = runtime.ffi, runtime.lib
    buf = fbuf(ffi, np.zeros(4, np.float32))
    mask = ffi.new("uint8_t[4]")
    p = ffi.new("fn_where_f32_params *", {**layout.where_params((4,), (4,), (4,)), "ndim": 0})
    assert lib.fn_where_f32(p, mask, buf, buf, buf) == 1
    p = ffi.new("fn_where_f32_params *", layout.where_params((4,), (4,), (4,)))
    assert lib.fn_where_f32(p, ffi.NULL, buf, buf, buf) == 1
    bad = ffi.new("fn_softmax_f32_params *", {"outer": 1, "axis_len": 0, "inner": 1})
    assert lib.fn_log_softmax_f32(bad, buf, buf) == 1


def test_kernels_refuse_each_others_ops(runtime):
    """The three unary and three binary functions share parameter structs; each refuses the
    ops that are not its own (the compiler never sends them)."""
    ffi, lib = runtime.ffi, runtime.lib
    buf = fbuf(ffi, np.ones(4, np.float32))
    for function, ops in (("fn_unary_f32", range(6)), ("fn_unary_math_f32", [*range(6, 18), 19, 20, 21, 22]),
                          ("fn_unary_pow_f32", [18])):
        for op in range(-1, 24):
            p = ffi.new("fn_unary_f32_params *", {"op": op, "count": 4, "alpha": 2.0, "beta": 1.0,
                                                  "act_min": -math.inf, "act_max": math.inf})
            assert getattr(lib, function)(p, buf, buf) == (0 if op in ops else 1), (function, op)
    for op in range(-1, 9):
        p = ffi.new("fn_binary_f32_params *", {**layout.binary_params((4,), (4,), "add"), "op": op})
        assert lib.fn_binary_f32(p, buf, buf, buf) == (0 if op in (0, 1, 2, 3) else 1), op
        assert lib.fn_binary_select_f32(p, buf, buf, buf) == (0 if op in (5, 6, 7) else 1), op
        assert lib.fn_binary_pow_f32(p, buf, buf, buf) == (0 if op == 4 else 1), op


def test_kernel_choice():
    assert float_kernel("pow", 2.0) == ("fn_unary_math_f32", "square")
    assert float_kernel("pow", 0.5) == ("fn_unary_math_f32", "sqrt")
    assert float_kernel("pow", -1.0) == ("fn_unary_math_f32", "reciprocal")
    assert float_kernel("pow", 3.0) == ("fn_unary_pow_f32", "pow")
    assert float_kernel("gelu", 0.0) == ("fn_unary_math_f32", "gelu")
    assert float_kernel("sigmoid", 0.0) == ("fn_unary_f32", "sigmoid")


@settings(max_examples=200, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=6, min_side=1, max_side=4),
       op=st.sampled_from(sorted(layout.COMPARE_OPS)), kind=st.sampled_from(["bits", "mixed", "ties"]),
       seed=st.integers(0, 2**32 - 1))
def test_compare(runtime, shapes, op, kind, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    if kind == "ties":    # few distinct values: equal pairs exercise <= and >=
        a = rng.choice(np.array([-1.0, 0.0, -0.0, 1.0, np.nan], np.float32), a_shape)
        b = rng.choice(np.array([-1.0, 0.0, 1.0, np.inf], np.float32), b_shape)
    else:
        a, b = random_f32(rng, a_shape, kind), random_f32(rng, b_shape, kind)
    a, b = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32)
    ffi = runtime.ffi
    out = np.full(shapes.result_shape, 7, np.uint8)
    p = ffi.new("fn_binary_f32_params *", layout.compare_params(a_shape, b_shape, op))
    assert runtime.lib.fn_compare_f32(p, fbuf(ffi, a), fbuf(ffi, b), ffi.from_buffer("uint8_t[]", out.reshape(-1))) == 0
    want = E.compare_f32(a, b, op)
    with np.errstate(invalid="ignore"):
        numpy_own = {"less": np.less, "less_equal": np.less_equal, "greater": np.greater,
                     "greater_equal": np.greater_equal}[op](a, b)
    assert np.array_equal(want, numpy_own)
    first_bad(out != want.astype(np.uint8), out, want.astype(np.uint8), f"{op} {a_shape} {b_shape}")


def test_silu_equals_sigmoid_then_mul(runtime):
    """The fused kind (passes/silu.py) is bit-identical to the pair it replaces: fn_unary_f32's
    sigmoid, then a float32 multiply."""
    x = sweep_points()
    fused = call_math(runtime, x, "silu")
    ffi = runtime.ffi
    sig = np.full_like(x, np.nan)
    p = ffi.new("fn_unary_f32_params *", layout.unary_params(x.size, "sigmoid"))
    assert runtime.lib.fn_unary_f32(p, fbuf(ffi, x), fbuf(ffi, sig)) == 0
    with np.errstate(all="ignore"):
        pair = x * sig
    same = (fused.view(np.uint32) == pair.view(np.uint32)) | (np.isnan(fused) & np.isnan(pair))
    first_bad(~same, fused, pair, "silu vs sigmoid then mul")

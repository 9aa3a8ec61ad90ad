"""fn_norm_f32 (Layer/Instance/GroupNormalization) and fn_rsqrtf against the numpy
reference (firmnet.reference.normalization), and compiled models against onnxruntime.

fn_rsqrtf: within 2 ulp of the correctly rounded 1/sqrt(x) (relative error <= 2^-22)
over every float32 exponent, subnormals included; the special values as documented.

fn_norm_f32 tolerance, per element, derived from the kernel's operation order (u = 2^-24;
n elements per group; blocks of B = 32; k = 2B + ceil(n / B) + 1 bounds how often a term
is rounded in the kernel's blocked sum (fn_norm_f32.h); A = mean |x| of the group; sigma = sqrt(var + epsilon);
z = (x - mean) / sigma; s, t the channel's scale and bias):
  mean:     |dm| <= (k + 1) u A                        (sum, then one division)
  variance: relative (k + 4) u, plus dm^2 / sigma^2     (differences, squares, sum, division)
  rsqrt:    relative 4 u (2 ulp) after var + epsilon (one more rounding)
  so 1/sigma is off by a relative r = ((k + 5) / 2 + 6) u + D^2 / 2 with D = |dm| / sigma,
  |z_c - z| <= D + (|z| + D) r, and y = z * s + t adds 2 u (|z s| + |t|); the reference
  (float64, rounded once) adds u |y|. The test allows twice the sum of these first-order
  terms (the factor 2 covers the products of small terms the list leaves out):
      |c - ref| <= 2 (|s| (D + (|z| + D) r) + 3 u (|z s| + |t|)) + 4 FLT_MIN.
Against onnxruntime (its own summation order; LayerNormalization's variance as
E[x^2] - mean^2, which loses n u E[x^2] / sigma^2 relative) the bound uses the sequential
sum's n in place of k and adds that cancellation term: see ort_bound below.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.kernels.params_norm_f32 import norm_f32_params
from firmnet.reference.normalization import norm_f32_stats
from support.f32_bounds import FLT_MIN, assert_within, fptr
from support.ffi import struct_fields
from support.oracles import onnxruntime_outputs

U = 2.0 ** -24
BLOCK = 32


def _group_terms(x, scale, bias, view, groups, eps, k_of_n):
    b, o, c, i = view
    cg = c // groups
    xv = x.astype(np.float64).reshape(b, o, groups, cg, i)
    axes = (1, 3, 4)
    n = o * cg * i
    mean = xv.mean(axis=axes, keepdims=True)
    var = ((xv - mean) ** 2).mean(axis=axes, keepdims=True)
    sigma = np.sqrt(var + float(np.float32(eps)))
    a = np.abs(xv).mean(axis=axes, keepdims=True)
    sq = (xv ** 2).mean(axis=axes, keepdims=True)
    z = (xv - mean) / sigma
    s = np.asarray(scale, np.float64).reshape(1, 1, groups, cg, 1)
    t = np.zeros_like(s) if bias is None else np.asarray(bias, np.float64).reshape(1, 1, groups, cg, 1)
    return n, k_of_n(n), a, sigma, sq, z, s, t


def norm_bound(x, scale, bias, view, groups, eps):
    n, k, a, sigma, _, z, s, t = _group_terms(x, scale, bias, view, groups, eps,
                                              lambda n: 2 * BLOCK + math.ceil(n / BLOCK) + 1)
    d = (k + 1) * U * a / sigma
    r = ((k + 5) / 2 + 6) * U + d * d / 2
    bound = 2 * (np.abs(s) * (d + (np.abs(z) + d) * r) + 3 * U * (np.abs(z * s) + np.abs(t))) + 4 * FLT_MIN
    return bound.reshape(x.shape)


def ort_bound(x, scale, bias, view, groups, eps):
    """The same derivation with a sequential sum (k = n) and the one-pass variance's cancellation."""
    n, k, a, sigma, sq, z, s, t = _group_terms(x, scale, bias, view, groups, eps, lambda n: n)
    d = (k + 1) * U * a / sigma
    r = ((k + 5) / 2 + 6) * U + d * d / 2 + k * U * sq / sigma ** 2
    bound = 2 * (np.abs(s) * (d + (np.abs(z) + d) * r) + 3 * U * (np.abs(z * s) + np.abs(t))) + 4 * FLT_MIN
    return bound.reshape(x.shape)


def run_norm(runtime, x, scale, bias, view, groups, eps, stats=False):
    ffi, lib = runtime.ffi, runtime.lib
    p = norm_f32_params(view, groups, eps)
    out = np.full(x.shape, np.nan, np.float32)
    mean = np.full(view[0] * groups, np.nan, np.float32) if stats else None
    inv = np.full(view[0] * groups, np.nan, np.float32) if stats else None
    status = lib.fn_norm_f32(ffi.new("fn_norm_f32_params *", p), fptr(ffi, x), fptr(ffi, scale), fptr(ffi, bias),
                             fptr(ffi, out), fptr(ffi, mean), fptr(ffi, inv))
    return status, out, mean, inv


@st.composite
def norm_cases(draw):
    b, o, i = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    groups, cg = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    if draw(st.booleans()):   # long groups: several summation blocks
        o = draw(st.integers(8, 40))
    c = groups * cg
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from([0.0, 1.0, -30.0, 100.0]))
    spread = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    x = (offset + spread * rng.standard_normal((b, o, c, i))).astype(np.float32)
    if draw(st.booleans()):
        x[..., 0] = np.float32(offset)   # some constant runs
    scale = rng.standard_normal(c).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32) if draw(st.booleans()) else None
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.25]))
    return x, scale, bias, (b, o, c, i), groups, eps


@settings(max_examples=300, deadline=None)
@given(norm_cases(), st.booleans())
def test_norm_matches_reference(runtime, case, stats):
    x, scale, bias, view, groups, eps = case
    status, out, mean, inv = run_norm(runtime, x, scale, bias, view, groups, eps, stats)
    assert status == runtime.lib.FN_OK
    y, ref_mean, ref_inv = norm_f32_stats(x, scale, bias, view, groups, eps)
    assert_within(out, y, norm_bound(x, scale, bias, view, groups, eps))
    if stats:
        n, k, a, sigma, *_ = _group_terms(x, scale, bias, view, groups, eps,
                                          lambda n: 2 * BLOCK + math.ceil(n / BLOCK) + 1)
        d = ((k + 1) * U * a / sigma).reshape(view[0], groups)
        assert_within(mean.reshape(view[0], groups), ref_mean, 2 * (k + 1) * U * a.reshape(view[0], groups)
                      + U * np.abs(ref_mean), "mean")
        r = ((k + 5) / 2 + 6) * U + d * d / 2
        assert_within(inv.reshape(view[0], groups), ref_inv, 2 * r * np.abs(ref_inv) + FLT_MIN, "inv_std")


def test_norm_hand_computed(runtime):
    """[1, 2, 3, 4] in two groups of two: means 1.5 and 3.5, var 0.25, epsilon 0 -> -1, 1, -1, 1,
    then scale 2 and bias 0.5 (the kernel's rsqrt of 0.25 is exactly 2)."""
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 4, 1)
    scale = np.full(4, 2, np.float32)
    bias = np.full(4, 0.5, np.float32)
    status, out, mean, inv = run_norm(runtime, x, scale, bias, (1, 1, 4, 1), 2, 0.0, stats=True)
    assert status == runtime.lib.FN_OK
    np.testing.assert_array_equal(out.ravel(), [-1.5, 2.5, -1.5, 2.5])
    np.testing.assert_array_equal(mean, [1.5, 3.5])
    np.testing.assert_array_equal(inv, [2, 2])


def test_rsqrt_within_two_ulp(runtime):
    """Every exponent (subnormals included) with 2^12 significands each, and the special values."""
    lib = runtime.lib
    rng = np.random.default_rng(0)
    exps = np.repeat(np.arange(0, 255, dtype=np.uint32), 4096)
    mant = rng.integers(0, 2**23, exps.size, dtype=np.uint32)
    xs = ((exps << 23) | mant).view(np.float32)
    xs = xs[xs > 0]
    got = np.array([lib.fn_rsqrtf(float(v)) for v in xs], np.float32)
    exact = 1.0 / np.sqrt(xs.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - exact) / ulp
    assert err.max() <= 2.0, (err.max(), xs[err.argmax()])
    assert lib.fn_rsqrtf(0.0) == np.inf and lib.fn_rsqrtf(-0.0) == np.inf and lib.fn_rsqrtf(np.inf) == 0.0
    assert np.isnan(lib.fn_rsqrtf(-1.0)) and np.isnan(lib.fn_rsqrtf(np.nan)) and np.isnan(lib.fn_rsqrtf(-np.inf))


def test_params_fill_every_struct_field(runtime):
    assert set(norm_f32_params((1, 2, 6, 3), 3, 1e-5)) == struct_fields(runtime.ffi, "fn_norm_f32_params")


@pytest.mark.parametrize("change", [{"batch": 0}, {"outer": 0}, {"channels": 0}, {"inner": 0}, {"groups": 0},
                                    {"groups": 4}, {"outer": 2**16, "inner": 2**15}])
def test_norm_rejects_bad_arguments(runtime, change):
    ffi, lib = runtime.ffi, runtime.lib
    x, scale = np.ones((1, 2, 6, 3), np.float32), np.ones(6, np.float32)
    out = np.full(x.shape, 7.0, np.float32)
    p = dict(norm_f32_params((1, 2, 6, 3), 3, 1e-5), **change)
    assert lib.fn_norm_f32(ffi.new("fn_norm_f32_params *", p), fptr(ffi, x), fptr(ffi, scale), ffi.NULL,
                           fptr(ffi, out), ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG
    assert np.all(out == 7.0)
    p = ffi.new("fn_norm_f32_params *", norm_f32_params((1, 2, 6, 3), 3, 1e-5))
    assert lib.fn_norm_f32(p, fptr(ffi, x), ffi.NULL, ffi.NULL, fptr(ffi, out), ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG


# ------------------------------------------------------------------ compiled models vs onnxruntime

def _model(nodes, inits, shape, opset):
    graph = helper.make_graph(nodes, "norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _norm_case(op, rng, after_conv):
    """(model, the normalization's own view, groups, epsilon, scale, bias per view channel)."""
    c, h, w = 6, 5, 4
    inits = {"wc": (rng.standard_normal((c, 3, 3, 3)) * 0.5).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["a"], pads=[1, 1, 1, 1])] if after_conv else []
    src = "a" if after_conv else "x"
    eps = 1e-3
    opset = 17
    if op == "layer_last":
        inits.update(s=rng.standard_normal(w).astype(np.float32), b=rng.standard_normal(w).astype(np.float32))
        nodes.append(helper.make_node("LayerNormalization", [src, "s", "b"], ["y"], axis=-1, epsilon=eps))
        view, groups, s, t = (c * h, 1, w, 1), 1, np.tile(inits["s"], 1), inits["b"]
    elif op == "layer_chw":
        inits.update(s=rng.standard_normal((c, h, w)).astype(np.float32), b=rng.standard_normal((c, h, w)).astype(np.float32))
        nodes.append(helper.make_node("LayerNormalization", [src, "s", "b"], ["y"], axis=1, epsilon=eps))
        view, groups, s, t = (1, 1, c * h * w, 1), 1, inits["s"].ravel(), inits["b"].ravel()
    elif op == "instance":
        inits.update(s=rng.standard_normal(c).astype(np.float32), b=rng.standard_normal(c).astype(np.float32))
        nodes.append(helper.make_node("InstanceNormalization", [src, "s", "b"], ["y"], epsilon=eps))
        view, groups, s, t = (1, 1, c, h * w), c, inits["s"], inits["b"]
    else:   # group norm, opset 18 (per-group parameters) or 21 (per channel)
        opset = 18 if op == "group18" else 21
        n_params = 3 if op == "group18" else c
        inits.update(s=rng.standard_normal(n_params).astype(np.float32),
                     b=rng.standard_normal(n_params).astype(np.float32))
        nodes.append(helper.make_node("GroupNormalization", [src, "s", "b"], ["y"], epsilon=eps, num_groups=3))
        reps = c // n_params
        view, groups, s, t = (1, 1, c, h * w), 3, np.repeat(inits["s"], reps), np.repeat(inits["b"], reps)
    if not after_conv:
        del inits["wc"]
    return _model(nodes, inits, [1, 3 if after_conv else c, h, w], opset), view, groups, eps, s, t


@pytest.mark.parametrize("op", ["layer_last", "layer_chw", "instance", "group18", "group21"])
@pytest.mark.parametrize("after_conv", [False, True])
def test_compiled_norm_matches_onnxruntime(tmp_path, op, after_conv):
    """C and reference against onnxruntime (ort_bound); after a conv, instance/group norm and the C,H,W layer
    norm run on the NHWC-stored tensor (no transpose between the conv and the norm)."""
    rng = np.random.default_rng(11)
    model, view, groups, eps, s, t = _norm_case(op, rng, after_conv)
    # the direct conv: the norm's bound is taken on the reference's (direct) conv output
    cm = firmnet.compile(model, tmp_path, name="norm", winograd="off")
    shape = [1, 3 if after_conv else 6, 5, 4]
    x = (1.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
    (want,) = onnxruntime_outputs(model, [x])
    got = cm.build_host().run([x])[0]
    ops = [n.op for n in cm.lowered_graph.nodes]
    if after_conv and op != "layer_last":
        assert ops == ["transpose", "conv2d", "normalization", "transpose"], ops
    norm_in = firmnet.reference.run(cm.graph, [x], trace=True)[1]
    (node,) = [n for n in cm.graph.nodes if n.op == "normalization"]
    xin = norm_in[node.inputs[0]]
    bound = ort_bound(xin.reshape(view), s, t, view, groups, eps)
    assert_within(got, want, bound.reshape(want.shape), "C vs onnxruntime")
    (ref,) = firmnet.reference.run(cm.graph, [x])
    assert_within(ref, want, bound.reshape(want.shape), "reference vs onnxruntime")


def test_group_norm_with_wrong_parameter_count_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)]
    inits = {"s": rng.standard_normal(6).astype(np.float32), "b": rng.standard_normal(6).astype(np.float32)}
    with pytest.raises(firmnet.FirmnetError, match="opset 18 GroupNormalization takes one per group"):
        firmnet.compile(_model(nodes, inits, [1, 6, 2, 2], 18), tmp_path, name="gn")

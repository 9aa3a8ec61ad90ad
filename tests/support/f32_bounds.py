"""float32 kernels that sum products (conv, fc, normalization, resize): the summation error
bound (derived in test_kernels_conv_f32.py's docstring), clamp checks, buffers, data."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


EPS32 = float(np.finfo(np.float32).eps)
FLT_MIN = float(np.finfo(np.float32).tiny)
INF = float("inf")
NO_CLAMP = (-INF, INF)


def f32_sum_bound(n_terms, abs_sum):
    """Elementwise bound on |float32 sum - float64 sum rounded to float32| (module docstring)."""
    return n_terms * EPS32 * np.asarray(abs_sum, np.float64) + n_terms * FLT_MIN


def assert_within(actual, expected, bound, what="output"):
    """|actual - expected| <= bound elementwise; names the first violating index."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    bad = ~(err <= bound)                       # also catches NaN
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: first violation at {idx}: got {actual[idx]!r}, "
                             f"reference {expected[idx]!r}, |diff| {err[idx]:.3g} > bound "
                             f"{np.broadcast_to(bound, err.shape)[idx]:.3g} ({int(bad.sum())} elements)")


def assert_clamped(out, act):
    lo, hi = np.float32(act[0]), np.float32(act[1])
    assert np.all(out >= lo) and np.all(out <= hi), \
        f"outputs {out.min()}..{out.max()} leave the clamp range [{lo}, {hi}]"


def fptr(ffi, array):
    if array is None:
        return ffi.NULL
    assert array.dtype == np.float32 and array.flags.c_contiguous
    return ffi.cast("float *", ffi.from_buffer(array))


# Clamp ranges: none, ReLU, ReLU6, one-sided, and arbitrary float32 intervals.
@st.composite
def act_ranges(draw):
    kind = draw(st.sampled_from(["none", "relu", "relu6", "upper", "finite"]))
    if kind == "none":
        return NO_CLAMP
    if kind == "relu":
        return (0.0, INF)
    if kind == "relu6":
        return (0.0, 6.0)
    if kind == "upper":
        return (-INF, float(np.float32(draw(st.floats(-2, 2, width=32)))))
    lo = float(np.float32(draw(st.floats(-3, 1, width=32))))
    hi = float(np.float32(lo + draw(st.floats(0, 4, width=32))))
    return (lo, hi)


def random_f32(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)

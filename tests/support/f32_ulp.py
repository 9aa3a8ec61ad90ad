"""float32 element-wise kernels: bit-pattern test data, sweeps over the float32 range,
errors in ulps, buffers."""
from __future__ import annotations

import numpy as np

from support.f32_bounds import INF


def random_f32(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    """float32 test data: 'bits' = uniform random bit patterns (NaN, inf, subnormals
    included), 'normal' = N(0, 3), 'mixed' = normal values with some specials."""
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "bits":
        x = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        x = (rng.standard_normal(n) * 3).astype(np.float32)
        if kind == "mixed" and n:
            specials = np.array([0.0, -0.0, INF, -INF, np.nan, 1e-45, -1e-40, 3e38, 1.0, -1.0], np.float32)
            pick = rng.random(n) < 0.2
            x[pick] = rng.choice(specials, size=int(pick.sum()))
    return x.reshape(shape)


def fbuf(ffi, x: np.ndarray):
    """float * to a C-contiguous float32 array (0-d arrays included)."""
    assert x.dtype == np.float32 and x.flags.c_contiguous
    return ffi.from_buffer("float[]", x.reshape(-1), require_writable=False)


def first_bad(bad: np.ndarray, actual, expected, what, limit="exact"):
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: first mismatch at {idx}: got {actual[idx]!r}, expected "
                             f"{expected[idx]!r} ({limit}; {int(bad.sum())} of {bad.size} elements)")


def ulp_error(c: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|c - truth| in units of the float32 ulp at truth (subnormal ulp 2**-149 at the bottom)."""
    _, e = np.frexp(np.abs(truth))
    e = np.where(truth == 0, -1000, e)
    ulp = np.ldexp(1.0, np.maximum(e - 24, -149))
    return np.abs(c.astype(np.float64) - truth) / ulp


def float32_sweep(step_log2: int) -> np.ndarray:
    """Every 2**step_log2-th float32 bit pattern (both signs, every binade), NaNs removed."""
    x = np.arange(0, 2**32, 2**step_log2, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return x[~np.isnan(x)]

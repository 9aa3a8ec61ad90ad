"""Kernels that move bytes (transpose, concat, pad, slice): data of any element size,
buffers, and a byte-exact comparison."""
from __future__ import annotations

import math

import numpy as np


def random_elems(rng: np.random.Generator, shape, elem_size: int) -> np.ndarray:
    """Random bytes viewed as an array of elem_size-byte elements ('V<n>' dtype)."""
    n = math.prod(shape) * elem_size
    raw = rng.integers(0, 256, size=n, dtype=np.uint8)
    return raw.view(f"V{elem_size}").reshape(shape)


def buf(ffi, x: np.ndarray):
    assert x.flags.c_contiguous
    return ffi.from_buffer("uint8_t[]", x.reshape(-1).view(np.uint8), require_writable=False)


def assert_bytes_equal(actual: np.ndarray, expected: np.ndarray, what: str):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    a = actual.reshape(-1).view(np.uint8).reshape(actual.size, -1) if actual.size else actual
    e = expected.reshape(-1).view(np.uint8).reshape(expected.size, -1) if expected.size else expected
    if not np.array_equal(a, e):
        flat = int(np.argwhere(np.any(a != e, axis=1))[0][0])
        idx = np.unravel_index(flat, actual.shape)
        raise AssertionError(f"{what}: first mismatch at {tuple(int(i) for i in idx)}: got "
                             f"{bytes(a[flat]).hex()}, expected {bytes(e[flat]).hex()}")

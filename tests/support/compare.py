"""Comparisons that name the first mismatching element."""
from __future__ import annotations

import numpy as np

from firmnet.verify import compare


def assert_array_equal_first(actual, expected, what="output"):
    """Exact comparison that names the first mismatching index (integer paths)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if not np.array_equal(actual, expected):
        idx = tuple(int(i) for i in np.argwhere(actual != expected)[0])
        raise AssertionError(f"{what}: first mismatch at {idx}: got {actual[idx]}, expected {expected[idx]}")


def assert_close(actual, expected, what):
    ok, diff, where = compare(np.asarray(actual), np.asarray(expected))
    assert ok, f"{what}: max |diff| {diff:.3g} at {where} (shape {np.shape(actual)} vs {np.shape(expected)})"

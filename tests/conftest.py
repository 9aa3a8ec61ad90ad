import numpy as np
import pytest

from firmnet import cbuild


@pytest.fixture(scope="session")
def runtime():
    """All runtime_c kernels in one cffi module, compiled once per session (cached by content)."""
    return cbuild.runtime_extension()


def assert_array_equal_first(actual, expected, what="output"):
    """Exact comparison that names the first mismatching index (integer paths)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if not np.array_equal(actual, expected):
        idx = tuple(int(i) for i in np.argwhere(actual != expected)[0])
        raise AssertionError(f"{what}: first mismatch at {idx}: got {actual[idx]}, expected {expected[idx]}")

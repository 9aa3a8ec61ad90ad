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


def assert_same_as_ort(ours, theirs, what):
    """int8 outputs byte-equal to onnxruntime's; else how many bytes differ and by how much."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs onnxruntime {theirs.shape}"
    diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
    assert not diff.any(), (f"{what}: {int((diff > 0).sum())} of {diff.size} bytes differ from onnxruntime, "
                            f"max difference {int(diff.max())} LSB")


def assert_every_step_traced(result, compiled):
    """Every lowered step was compared, except the producers writing strided slices of an elided
    Concat's output (their bytes are not one run; the Concat's step checks the joined output)."""
    strided = [p for v in compiled.report["concat_views"]["elided"] if v["layout"] == "strided"
               for p in v["producers"]]
    assert sorted(result.untraced) == sorted(strided), result.summary()
    assert result.steps_checked == len(compiled.lowered_graph.nodes) - len(strided), result.summary()

"""Numpy reference of the layout kernels (runtime_c/include/fn_tensor.h).

They move bytes and never look at values, so C and reference are compared bit for
bit. Results are C-contiguous arrays of the input dtype.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def transpose(x, perm: Sequence[int]) -> np.ndarray:
    """numpy.transpose(x, perm), contiguous."""
    return np.ascontiguousarray(np.transpose(np.asarray(x), tuple(int(p) for p in perm)))


def concat(xs: Sequence, axis: int) -> np.ndarray:
    """numpy.concatenate(xs, axis)."""
    return np.ascontiguousarray(np.concatenate([np.asarray(x) for x in xs], axis=axis))


def pad_constant(x, pads_before: Sequence[int], pads_after: Sequence[int], value) -> np.ndarray:
    """x padded with `value` (cast to x's dtype) before and after each dim."""
    x = np.asarray(x)
    out_shape = tuple(n + int(b) + int(a) for n, b, a in zip(x.shape, pads_before, pads_after))
    out = np.empty(out_shape, dtype=x.dtype)
    out[...] = np.asarray(value, dtype=x.dtype)   # also keeps NaN payloads, unlike np.pad
    inside = tuple(slice(int(b), int(b) + n) for n, b in zip(x.shape, pads_before))
    out[inside] = x
    return out


def strided_slice(x, starts: Sequence[int], steps: Sequence[int], shape: Sequence[int],
                  gather_axis: int = -1, indices: Sequence[int] = ()) -> np.ndarray:
    """out[i] = x[starts[d] + i_d * steps[d] for each dim d], except along gather_axis
    (>= 0), where out takes x's entries at `indices` in order. Contiguous."""
    x = np.asarray(x)
    index = []
    for d in range(x.ndim):
        if d == gather_axis:
            index.append(np.asarray(indices, dtype=np.int64))
        else:
            index.append(int(starts[d]) + int(steps[d]) * np.arange(int(shape[d]), dtype=np.int64))
    return np.ascontiguousarray(x[np.ix_(*index)]) if x.ndim else x.copy()

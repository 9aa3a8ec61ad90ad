"""Numpy reference of the float32 reductions (runtime_c/include/fn_reduce.h) and of int8
max/min, which only pick stored values.

float32 mean and sum are computed in float64 and rounded once to float32; the C adds in
float32 (in its own order), so tests compare them with a tolerance. max and min are exact.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

KINDS = ("mean", "sum", "max", "min")


def reduce(x, kind: str, axes: Sequence[int], keep_dims: bool) -> np.ndarray:
    """ONNX Reduce{Mean,Sum,Max,Min} over `axes` (non-negative, may be empty: a copy)."""
    x = np.asarray(x)
    axes = tuple(sorted(set(int(a) for a in axes)))
    if kind in ("max", "min"):
        out = (np.max if kind == "max" else np.min)(x, axis=axes, keepdims=keep_dims) if axes else x.copy()
    elif kind in ("mean", "sum"):
        wide = x.astype(np.float64)
        out = (np.mean if kind == "mean" else np.sum)(wide, axis=axes, keepdims=keep_dims) if axes else wide
        out = out.astype(x.dtype)
    else:
        raise ValueError(f"reduce: kind {kind!r} unknown (supported: {', '.join(KINDS)})")
    return np.ascontiguousarray(np.asarray(out, dtype=x.dtype))

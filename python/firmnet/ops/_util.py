"""Small checks shared by op modules."""
from __future__ import annotations

import math

from ..ir import FirmnetError, TensorType

NO_CLAMP = (-math.inf, math.inf)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FirmnetError(message)


def require_float32(*types: TensorType | None) -> None:
    for t in types:
        if t is not None and t.dtype != "float32":
            raise FirmnetError(f"dtype {t.dtype} is not supported here yet (float32 only)")


def normalize_axis(axis: int, rank: int) -> int:
    require(-rank <= axis < rank, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def require_act(act: tuple[float, float]) -> None:
    """The IR invariant of fused clamps: lo <= hi (the front end rewrites Clip(min > max))."""
    require(len(act) == 2 and act[0] <= act[1], f"activation range {act} is not an interval (need lo <= hi)")


def intersect(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """The clamp range of applying clamp a then clamp b (b is applied last); both are intervals."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    if lo > hi:   # b lies entirely outside a: the result is the constant b-bound
        lo = hi = b[0] if a[1] < b[0] else b[1]
    return (lo, hi)

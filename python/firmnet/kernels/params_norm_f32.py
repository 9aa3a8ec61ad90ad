"""fn_norm_f32_params (runtime_c/include/fn_norm_f32.h) for a (batch, outer, channels, inner)
view of the tensor (reference/normalization.py norm_view)."""
from __future__ import annotations

import numpy as np


def norm_f32_params(view, groups: int, epsilon: float) -> dict:
    """fn_norm_f32_params for a (batch, outer, channels, inner) view."""
    b, o, c, i = (int(v) for v in view)
    if min(b, o, c, i) < 1:
        raise ValueError(f"normalization: every size must be >= 1, got view {view}")
    if groups < 1 or c % groups:
        raise ValueError(f"normalization: {groups} groups do not divide {c} channels")
    if b * o * c * i > 2**31 - 1:
        raise ValueError("normalization: tensor of 2^31 or more elements")
    return {"batch": b, "outer": o, "channels": c, "inner": i, "groups": int(groups),
            "epsilon": float(np.float32(epsilon))}

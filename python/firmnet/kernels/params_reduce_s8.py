"""fn_mean_s8_params (runtime_c/include/fn_reduce_s8.h): the input shape padded to rank 4
with leading 1s (``dims``), a 0/1 flag per axis (``reduce``), the requant mode as the C
enum, and the count, zero points, scales and folded (multiplier, shift) of
reference/reduce_s8.py mean_constants. ValueError where the kernel cannot run the layer
(rank above 4 included)."""
from __future__ import annotations

from typing import Sequence

from ..reference.reduce_s8 import mean_constants, resolve_axes
from .params_requant import REQUANT_MODE

MAX_RANK = 4                         # fn_mean_s8 works on 4 dims


def mean_s8_params(shape: Sequence[int], axes: Sequence[int], input_scale: float, input_zero_point: int,
                   output_scale: float, output_zero_point: int, compute_sum: bool = False,
                   mode: str = "tflm", ort_rows: bool = False) -> dict:
    """fn_mean_s8_params for MEAN (or SUM) over `axes` of an int8 tensor of `shape` (rank 1..4)."""
    shape = tuple(shape)
    if not 1 <= len(shape) <= MAX_RANK:
        raise ValueError(f"int8 mean: the input must have rank 1..{MAX_RANK}, got shape {list(shape)}")
    constants = mean_constants(shape, axes, input_scale, input_zero_point, output_scale, output_zero_point,
                               compute_sum, mode)
    reduced = resolve_axes(len(shape), axes)
    pad = MAX_RANK - len(shape)
    c = constants
    return {"dims": [1] * pad + [int(d) for d in shape],
            "reduce": [0] * pad + [1 if k in reduced else 0 for k in range(len(shape))],
            "input_zero_point": c["input_zero_point"], "output_zero_point": c["output_zero_point"],
            "multiplier": c["multiplier"], "shift": c["shift"], "requant_mode": REQUANT_MODE[mode],
            "count": c["count"], "compute_sum": int(bool(compute_sum)),
            "ort_rows": int(bool(ort_rows) and mode == "ort"),
            "input_scale": c["input_scale"], "output_scale": c["output_scale"]}

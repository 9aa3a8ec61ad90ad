"""Parameter structs of onnxruntime's int8 lookup-table and softmax kernels
(runtime_c/include/fn_activation_ort_s8.h): the 256-entry table or the softmax lane layout
with its float table. Keys are the C struct fields; ValueError where a kernel cannot run
the layer."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .params_layout import softmax_params as softmax_layout
from ..reference.ort_s8 import ort_softmax_table, softmax_y_steps
from ..reference.quantize_s8 import check_quant


def lut_s8_params(count: int, table) -> dict:
    """fn_lut_s8_params: count and the 256-entry int8 table (a numpy array here)."""
    table = np.asarray(table)
    if table.shape != (256,) or table.dtype != np.int8:
        raise ValueError(f"lookup table must be 256 int8 values, got {table.dtype} {table.shape}")
    if not 0 <= int(count) <= 2**31 - 1:
        raise ValueError(f"lookup table kernel: element count must be in 0..2^31-1, got {count}")
    return {"count": int(count), "table": table}


def softmax_ort_s8_params(shape: Sequence[int], axis: int, x_q, y_q) -> dict:
    """fn_softmax_ort_s8_params for softmax along `axis` of a tensor of `shape`: the lanes
    [outer, axis_len, inner], the output step count and zero point, QLinearSoftmax's table."""
    what = "int8 softmax (onnxruntime)"
    s_in, _ = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    p = softmax_layout(shape, axis)
    p.update(y_steps=softmax_y_steps(s_out), output_zero_point=zp_out, table=ort_softmax_table(s_in, p["axis_len"]))
    return p

"""fn_add_s8_params and fn_mul_s8_params (runtime_c/include/fn_elementwise_s8.h): the
broadcast walk (layout.binary_params' merged output shape and strides), the method as the
fn_eltwise_s8_method enum, the requant mode, and the method's constants
(reference/elementwise_s8.py add_constants / mul_constants). ValueError where a kernel
cannot run the layer.

fn_add_s8_table_params: TFLM's add/sub with each operand's rescaling as a 256-entry int32
table (add_s8_table_params), 2 KB of flash per layer for two varying operands."""
from __future__ import annotations

import numpy as np

from ..lowering import c_enum
from .params_layout import binary_params
from .params_requant import REQUANT_MODE
from ..reference.elementwise_s8 import add_constants, mul_constants
from ..reference.fixedpoint import mul_by_quantized_mul_tflm
from ..reference.quantize_s8 import check_mode

ELTWISE_S8 = {"tflm": 0, "ort_qlinear": 1, "ort_float": 2}      # fn_eltwise_s8_method
_METHOD = c_enum(ELTWISE_S8, "FN_ELTWISE_S8_")


def _walk(a_shape, b_shape) -> dict:
    lay = binary_params(a_shape, b_shape, "add")
    return {"ndim": lay["ndim"], "out_shape": lay["out_shape"], "a_strides": lay["a_strides"],
            "b_strides": lay["b_strides"]}


def _struct(a_shape, b_shape, constants: dict, mode: str, what: str) -> dict:
    rest = {k: v for k, v in constants.items() if k != "method"}
    check_mode(mode, what)
    return {**_walk(a_shape, b_shape), "method": _METHOD[constants["method"]],
            "requant_mode": REQUANT_MODE[mode], **rest}


def add_s8_params(a_shape, b_shape, a_q, b_q, y_q, *, op: str = "add", mode: str = "tflm",
                  act: tuple[int, int] = (-128, 127), ort_unfused: bool = False) -> dict:
    """fn_add_s8_params for y = a OP b (op 'add' or 'sub'), numpy broadcasting."""
    constants = add_constants(a_q, b_q, y_q, op=op, mode=mode, act=act, ort_unfused=ort_unfused)
    return _struct(a_shape, b_shape, constants, mode, f"int8 {op}")


def mul_s8_params(a_shape, b_shape, a_q, b_q, y_q, *, mode: str = "tflm", act: tuple[int, int] = (-128, 127),
                  ort_unfused: bool = False, ort_uint8: bool = False) -> dict:
    """fn_mul_s8_params for y = a * b, numpy broadcasting."""
    constants = mul_constants(a_q, b_q, y_q, mode=mode, act=act, ort_unfused=ort_unfused, ort_uint8=ort_uint8)
    return _struct(a_shape, b_shape, constants, mode, "int8 mul")


TABLE_BOUND = 2 ** 29        # fn_add_s8_table: every entry in [-2^29, 2^29]


def _operand_table(offset: int, left_shift: int, multiplier: int, shift: int, sign: int) -> np.ndarray:
    """256 int32: entry k = sign * 2 * rq((int8(k) + offset) * 2^left_shift, multiplier, shift),
    k the byte read as uint8 (TFLM's first rescaling of one operand, fixedpoint.py)."""
    q = np.arange(256, dtype=np.int64).astype(np.uint8).view(np.int8).astype(np.int64)
    v = sign * 2 * np.asarray(mul_by_quantized_mul_tflm((q + offset) << left_shift, multiplier, shift), np.int64)
    if np.abs(v).max() > TABLE_BOUND:
        raise ValueError("int8 add table entries exceed 2^29")
    return v.astype(np.int32)


def add_s8_table_params(a_shape, b_shape, a_q, b_q, y_q, *, op: str = "add", mode: str = "tflm",
                        act: tuple[int, int] = (-128, 127)) -> dict:
    """fn_add_s8_table_params for y = a OP b in TFLM mode: the walk, the two operand tables
    (numpy int32 arrays, the sub's b table negated) and the output requantization.
    ValueError where the table kernel cannot run the layer (another mode, an output shift
    of 0)."""
    if mode != "tflm":
        raise ValueError(f"the int8 {op} table kernel follows TFLM's rounding only (mode {mode})")
    c = add_constants(a_q, b_q, y_q, op=op, mode=mode, act=act)
    if not -31 <= c["output_shift"] <= -1:
        raise ValueError(f"int8 {op} table kernel: output shift {c['output_shift']} outside [-31, -1]")
    return {**_walk(a_shape, b_shape),
            "a_table": _operand_table(c["a_offset"], c["left_shift"], c["a_multiplier"], c["a_shift"], 1),
            "b_table": _operand_table(c["b_offset"], c["left_shift"], c["b_multiplier"], c["b_shift"],
                                      -1 if c["subtract"] else 1),
            "output_multiplier": c["output_multiplier"], "output_shift": c["output_shift"],
            "output_offset": c["output_offset"], "act_min": c["act_min"], "act_max": c["act_max"]}

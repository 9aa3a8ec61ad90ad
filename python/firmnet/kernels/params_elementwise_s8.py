"""fn_add_s8_params and fn_mul_s8_params (runtime_c/include/fn_elementwise_s8.h): the
broadcast walk (layout.binary_params' merged output shape and strides), the method as the
fn_eltwise_s8_method enum, the requant mode, and the method's constants
(reference/elementwise_s8.py add_constants / mul_constants). ValueError where a kernel
cannot run the layer."""
from __future__ import annotations

from ..lowering import c_enum
from .params_layout import binary_params
from .params_requant import REQUANT_MODE
from ..reference.elementwise_s8 import add_constants, mul_constants
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

"""Parameter structs of the int8 softmax, logistic, tanh and hard swish kernels
(runtime_c/include/fn_activation_s8.h): the tensor's layout (the softmax axis split), the
element count, the kernels' limits, and TFLM's Prepare integers (reference/activation_s8.py
*_scaling, checked against TFLM there). Keys are exactly the C struct fields; ValueError
where a kernel cannot run the layer."""
from __future__ import annotations

from typing import Sequence

from .params_layout import softmax_params as softmax_layout
from ..reference.activation_s8 import (INT32_MAX, LOGISTIC_OUTPUT, SOFTMAX_OUTPUT, TANH_OUTPUT, hard_swish_scaling,
                                       radius_scaling, require_output, softmax_scaling)

SOFTMAX_MAX_AXIS = 4095          # FN_SOFTMAX_S8_MAX_AXIS


def _count(count: int, what: str) -> int:
    if not 1 <= int(count) <= INT32_MAX:
        raise ValueError(f"{what}: element count must be in 1..2^31-1, got {count}")
    return int(count)


def softmax_s8_params(shape: Sequence[int], axis: int, input_scale: float, output_scale: float,
                      output_zero_point: int, beta: float = 1.0) -> dict:
    """fn_softmax_s8_params for softmax along `axis` of an int8 tensor (TFLM CalculateSoftmaxParams)."""
    require_output("softmax", output_scale, output_zero_point, SOFTMAX_OUTPUT, "TFLite requires it")
    layout = softmax_layout(shape, axis)
    if layout["axis_len"] > SOFTMAX_MAX_AXIS:
        raise ValueError(f"int8 softmax: the softmax axis has {layout['axis_len']} elements; at most "
                         f"{SOFTMAX_MAX_AXIS} keep TFLite's Q12.19 sum of exponentials from overflowing")
    return {**layout, **softmax_scaling(input_scale, beta)}


def logistic_s8_params(count: int, input_scale: float, input_zero_point: int, output_scale: float,
                       output_zero_point: int) -> dict:
    """fn_logistic_s8_params (TFLM CalculateArithmeticOpDataLogistic)."""
    require_output("logistic", output_scale, output_zero_point, LOGISTIC_OUTPUT,
                   "TFLite checks the zero point and its kernel assumes the scale")
    return {"count": _count(count, "int8 logistic"), **radius_scaling("logistic", input_scale, input_zero_point)}


def tanh_s8_params(count: int, input_scale: float, input_zero_point: int, output_scale: float,
                   output_zero_point: int) -> dict:
    """fn_tanh_s8_params (TFLM tanh.cc CalculateArithmeticOpData)."""
    require_output("tanh", output_scale, output_zero_point, TANH_OUTPUT, "TFLite's kernel assumes both")
    return {"count": _count(count, "int8 tanh"), **radius_scaling("tanh", input_scale, input_zero_point)}


def hard_swish_s8_params(count: int, input_scale: float, input_zero_point: int, output_scale: float,
                         output_zero_point: int) -> dict:
    """fn_hard_swish_s8_params (TFLM HardSwishPrepare)."""
    return {"count": _count(count, "int8 hard swish"),
            **hard_swish_scaling(input_scale, input_zero_point, output_scale, output_zero_point)}

"""fn_relu_s8_params (runtime_c/include/fn_relu_s8.h): the element count and TFLM's
Prepare constants of RELU, RELU6 or RELU_N1_TO_1 (reference/relu_s8.py relu_constants,
checked against TFLM there). ValueError where the kernel cannot run the layer."""
from __future__ import annotations

from functools import partial

from ..reference.relu_s8 import RELU_OPS, relu_constants

INT32_MAX = 2**31 - 1


def relu_params(kind: str, count: int, input_scale: float, input_zero_point: int, output_scale: float,
                output_zero_point: int) -> dict:
    """fn_relu_s8_params for `count` elements of the int8 `kind` (relu, relu6, relu_n1_to_1)."""
    if int(count) != count or not 1 <= int(count) <= INT32_MAX:
        raise ValueError(f"int8 {kind}: element count must be in 1..2^31-1, got {count}")
    return {"count": int(count),
            **relu_constants(kind, input_scale, input_zero_point, output_scale, output_zero_point)}


relu_s8_params = partial(relu_params, "relu")
relu6_s8_params = partial(relu_params, "relu6")
relu_n1_to_1_s8_params = partial(relu_params, "relu_n1_to_1")
RELU_PARAMS = {kind: partial(relu_params, kind) for kind in RELU_OPS}

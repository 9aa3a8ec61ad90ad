"""fn_pool2d_s8_params (runtime_c/include/fn_pool_s8.h) for fn_maxpool2d_s8 and
fn_avgpool2d_s8: the geometry, method, count rule and integers of reference/pool_s8.py
(maxpool_constants / avgpool_constants), with the method, count rule and requant mode as
the C enums. Keys are exactly the C struct fields; ValueError where a kernel cannot run
the layer."""
from __future__ import annotations

from ..lowering import c_enum
from ..reference.pool_s8 import avgpool_constants, maxpool_constants
from .params_requant import REQUANT_MODE

POOL_S8 = {"same_quant": 0, "requant": 1, "ort": 2, "ort_global": 3}     # fn_pool_s8_method
COUNT_RULE = {"valid": 0, "pad_cut": 1, "kernel": 2}                     # fn_pool_count_rule
_METHOD, _COUNT_RULE = c_enum(POOL_S8, "FN_POOL_S8_"), c_enum(COUNT_RULE, "FN_POOL_COUNT_")


def _struct(constants: dict) -> dict:
    return {**constants, "method": _METHOD[constants["method"]], "count_rule": _COUNT_RULE[constants["count_rule"]],
            "requant_mode": REQUANT_MODE[constants["requant_mode"]], "out_stride": 0}


def maxpool2d_s8_params(x_shape, **quantities) -> dict:
    """fn_pool2d_s8_params for fn_maxpool2d_s8 (maxpool_constants' keywords)."""
    return _struct(maxpool_constants(x_shape, **quantities))


def avgpool2d_s8_params(x_shape, **quantities) -> dict:
    """fn_pool2d_s8_params for fn_avgpool2d_s8 (avgpool_constants' keywords)."""
    return _struct(avgpool_constants(x_shape, **quantities))


def global_avgpool_s8_params(x_shape, *, x_q=(1.0, 0), y_q=None, mode: str = "tflm",
                             act: tuple[int, int] = (-128, 127)) -> dict:
    """fn_pool2d_s8_params for global average pooling: one window over the whole plane."""
    if len(x_shape) != 4:
        raise ValueError(f"int8 global average pooling: x must be NHWC, got {tuple(x_shape)}")
    return avgpool2d_s8_params(x_shape, kernel=(int(x_shape[1]), int(x_shape[2])), x_q=x_q, y_q=y_q,
                               mode=mode, act=act)

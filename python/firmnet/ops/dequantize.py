"""dequantize: int8 (or int32 bias) → float32, real = (q - zero_point) * scale.

Around compute ops the QDQ pass turns dequantize → op → quantize into one integer op;
what remains (model boundaries, float islands) runs as a kernel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import QuantParams, TensorType
from ..lowering import KernelCall, params_of
from ..kernels import params_quantize_s8
from ._util import require


@dataclass(frozen=True)
class Attrs:
    quant: QuantParams


def _broadcast(values, attrs, rank, dtype):
    if attrs.quant.axis is None:
        return np.array(values[0], dtype)
    shape = [1] * rank
    shape[attrs.quant.axis] = -1
    return np.array(values, dtype).reshape(shape)


def infer(attrs, in_types):
    (x,) = in_types
    require(x.dtype in ("int8", "int32"), f"dequantize: input must be int8 or int32, got {x.dtype}")
    q = attrs.quant
    if q.axis is not None:
        require(0 <= q.axis < len(x.shape) and x.shape[q.axis] == len(q.scale),
                f"dequantize: {len(q.scale)} scales do not fit axis {q.axis} of {x}")
    require(x.quant is None or x.quant == q, f"dequantize: input is quantized as {x.quant}, node says {q}")
    return [TensorType(x.shape, "float32")]


def reference(attrs, x):
    scale = _broadcast(attrs.quant.scale, attrs, x.ndim, np.float32)
    zp = _broadcast(attrs.quant.zero_point, attrs, x.ndim, np.int64)
    return [((x.astype(np.int64) - zp).astype(np.float32) * scale).astype(np.float32)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    q = node.attrs.quant
    require(q.axis is None and graph.types[node.inputs[0]].dtype == "int8",
            f"{node.describe()}: only per-tensor int8 dequantization runs on the device")
    params = params_quantize_s8.dequantize_s8_f32_params(graph.types[node.inputs[0]].size,
                                                         (q.scale[0], q.zero_point[0]))
    return KernelCall("fn_dequantize_s8_f32", "fn_elementwise_s8.h", "fn_dequantize_s8_f32_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="int8 → float")

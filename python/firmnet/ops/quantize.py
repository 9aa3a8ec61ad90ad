"""quantize: float32 → int8, q = clamp(round(x / scale) + zero_point, -128, 127).

x / scale is a float32 division; the rounding follows the requantization mode:
TFLite rounds half away from zero (also in single mode), onnxruntime half to even.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import QuantParams, TensorType
from ..kernels import params_quantize_s8
from ..lowering import KernelCall, params_of
from ..reference import quantize_s8
from ..reference.fixedpoint import REQUANT_MODES
from ._util import require


@dataclass(frozen=True)
class Attrs:
    quant: QuantParams
    mode: str = "tflm"


def infer(attrs, in_types):
    (x,) = in_types
    require(x.dtype == "float32", f"quantize: input must be float32, got {x.dtype}")
    require(attrs.quant.axis is None, "quantize: per-channel quantization of activations is not supported")
    require(attrs.mode in REQUANT_MODES, f"quantize: unknown mode {attrs.mode} (modes: {', '.join(REQUANT_MODES)})")
    return [TensorType(x.shape, "int8", attrs.quant)]


def _params(attrs, count):
    q = attrs.quant
    return params_quantize_s8.quantize_f32_s8_params(count, (q.scale[0], q.zero_point[0]), attrs.mode)


def reference(attrs, x):
    q = attrs.quant
    return [quantize_s8.quantize_f32_s8(x, scale=q.scale[0], zero_point=q.zero_point[0], mode=attrs.mode)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    params = _params(node.attrs, graph.types[node.inputs[0]].size)
    return KernelCall("fn_quantize_f32_s8", "fn_elementwise_s8.h", "fn_quantize_f32_s8_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="float → int8")

"""quantize: float32 → int8, q = clamp(round(x / scale) + zero_point, -128, 127).

The rounding follows the requantization mode: TFLite rounds half away from zero,
onnxruntime half to even; the single-rounding mode uses TFLite's rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import QuantParams, TensorType
from ..lowering import KernelCall, params_of
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


def reference(attrs, x):
    v = (x.astype(np.float32) / np.float32(attrs.quant.scale[0])).astype(np.float64)   # float32 division
    r = np.rint(v) if attrs.mode == "ort" else np.trunc(v + np.copysign(0.5, v))      # exact in float64
    q = np.clip(r + attrs.quant.zero_point[0], -128, 127)
    return [q.astype(np.int8)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    q = node.attrs.quant
    params = {"count": graph.types[node.inputs[0]].size, "scale": float(np.float32(q.scale[0])),
              "zero_point": int(q.zero_point[0]), "mode": REQUANT_MODES[node.attrs.mode]}
    return KernelCall("fn_quantize_f32_s8", "fn_quantize_s8.h", "fn_quantize_f32_s8_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="float → int8")

"""fn_softmax_s8 (runtime_c/src/fn_softmax_s8.c): int8 softmax with TFLM's fixed-point
arithmetic (--requant tflm or single), output scale 1/256 and zero point -128."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _softmax
from ._check import refusal
from .params_activation_s8 import softmax_s8_params

NAME = "fn_softmax_s8"


def _params(node, graph) -> dict:
    shape, axis = _softmax.shape_axis(node, graph)
    (x_scale, _), (y_scale, y_zero_point) = _softmax.quantities(node)
    return softmax_s8_params(shape, axis, x_scale, y_scale, y_zero_point, beta=node.attrs.beta)


def supports(node, graph, target) -> str | None:
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if node.attrs.quant.mode == "ort":
        return "onnxruntime's arithmetic (--requant ort): fn_softmax_ort_s8"
    return refusal(lambda: _params(node, graph))


def why(node, graph, target) -> str:
    return f"int8, TFLM arithmetic ({node.attrs.quant.mode})"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_activation_s8.h", "fn_softmax_s8_params", params_of(_params(node, graph)),
                      (node.inputs[0], node.outputs[0]), description="int8 softmax (TFLM arithmetic)")

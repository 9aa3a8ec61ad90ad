"""fn_softmax_ort_s8 (runtime_c/src/fn_softmax_ort_s8.c): int8 softmax as onnxruntime's
QLinearSoftmax computes it (--requant ort), any output quantization, over a 256-entry float
table built at compile time."""
from __future__ import annotations

from ..lowering import KernelCall, params_of, with_arrays
from . import _softmax
from ._check import refusal
from .params_ort_s8 import softmax_ort_s8_params

NAME = "fn_softmax_ort_s8"


def _params(node, graph) -> dict:
    shape, axis = _softmax.shape_axis(node, graph)
    return softmax_ort_s8_params(shape, axis, *_softmax.quantities(node))


def supports(node, graph, target) -> str | None:
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if node.attrs.quant.mode != "ort":
        return f"{node.attrs.quant.mode} arithmetic (onnxruntime's only, --requant ort)"
    return refusal(lambda: _params(node, graph))


def why(node, graph, target) -> str:
    return "int8, onnxruntime's arithmetic (ort)"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    p = _params(node, graph)
    scalars = {k: v for k, v in p.items() if k != "table"}
    return KernelCall(NAME, "fn_activation_ort_s8.h", "fn_softmax_ort_s8_params",
                      params_of(with_arrays(scalars, {"table": p["table"]})), (node.inputs[0], node.outputs[0]),
                      description="int8 softmax (onnxruntime's QLinearSoftmax, 1 KB float table)")

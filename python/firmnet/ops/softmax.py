"""softmax along one axis (ONNX opset-13 semantics; older opsets are rewritten on import)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import OpQuant
from ..layout import softmax_params
from ..lowering import KernelCall, params_of
from ..reference import elementwise as ref
from ._util import check_types, normalize_axis, output_type


@dataclass(frozen=True)
class Attrs:
    axis: int = -1
    beta: float = 1.0
    quant: OpQuant | None = None


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    normalize_axis(attrs.axis, len(x.shape))
    return [output_type(attrs, x.shape)]


def reference(attrs, x):
    return [ref.softmax_f32(x, normalize_axis(attrs.axis, x.ndim))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    shape = graph.types[node.inputs[0]].shape
    params = softmax_params(shape, normalize_axis(node.attrs.axis, len(shape)))
    return KernelCall("fn_softmax_f32", "fn_elementwise_f32.h", "fn_softmax_f32_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="float softmax")

"""mean: average over some axes (TFLite MEAN; int8 only, TFLM's QuantizedMeanOrSum arithmetic).

Current TFLM sends every int8 MEAN through QuantizedMeanOrSum (rounding, not the older
truncating Mean for axes {1, 2}); we match that.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import FirmnetError, OpQuant
from ..lowering import KernelCall, params_of
from ..reference import reduce_s8
from ._util import check_types, output_type, require


@dataclass(frozen=True)
class Attrs:
    axes: tuple[int, ...]
    keep_dims: bool = True
    quant: OpQuant | None = None


def _params(attrs, shape):
    q = attrs.quant
    try:
        return reduce_s8.mean_s8_params(shape, attrs.axes, q.inputs[0].scale[0], q.inputs[0].zero_point[0],
                                        q.output.scale[0], q.output.zero_point[0])
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    require(attrs.quant is not None, "float MEAN is not supported (int8 only)")
    check_types(attrs, in_types)
    _params(attrs, x.shape)
    return [output_type(attrs, reduce_s8.mean_output_shape(x.shape, attrs.axes, attrs.keep_dims))]


def reference(attrs, x):
    return [reduce_s8.mean_s8(x, _params(attrs, x.shape), keep_dims=attrs.keep_dims)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    params = _params(node.attrs, graph.types[node.inputs[0]].shape)
    return KernelCall("fn_mean_s8", "fn_reduce_s8.h", "fn_mean_s8_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="int8 mean (TFLM arithmetic)")

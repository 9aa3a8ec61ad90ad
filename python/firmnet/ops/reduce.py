"""reduce: mean, sum, max or min over any axes (ONNX Reduce*, TFLite MEAN/SUM/REDUCE_MAX/
REDUCE_MIN), float32 or int8.

int8 mean and sum follow TFLM's QuantizedMeanOrSum (fn_mean_s8, reference/reduce_s8.py)
in tflm and single mode, and onnxruntime's float graph DequantizeLinear -> Reduce ->
QuantizeLinear in ort mode (fn_reduce_s8.h says how close that is). int8 max and min pick
stored values and need the output quantized as the input (TFLM requires it; the QDQ pass
commutes them with a dequantize and requantizes separately where scales differ).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import FirmnetError, OpQuant
from ..layout import merge_reduce_dims, reduce_params
from ..lowering import KernelCall, params_of
from ..reference import reduce as ref
from ..reference import reduce_s8
from ._util import check_types, output_type, require

KINDS = ("mean", "sum", "max", "min")


@dataclass(frozen=True)
class Attrs:
    kind: str
    axes: tuple[int, ...]             # non-negative, sorted; empty: nothing reduced (a copy)
    keep_dims: bool = True
    quant: OpQuant | None = None
    # int8 mean/sum in ort mode: the output elements are onnxruntime's rows in its order and the
    # storage visits each row's inputs in its order (reduced axes trailing in the model's own
    # layout), so the C adds the dequantized values as onnxruntime does (fn_reduce_s8.h)
    ort_rows: bool = False


def output_shape(shape, axes, keep_dims):
    if keep_dims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def _mean_params(attrs, shape):
    q = attrs.quant
    dims, axes = merge_reduce_dims(shape, attrs.axes)
    try:
        return reduce_s8.mean_s8_params(dims or (1,), axes, q.inputs[0].scale[0], q.inputs[0].zero_point[0],
                                        q.output.scale[0], q.output.zero_point[0], attrs.kind == "sum", q.mode,
                                        attrs.ort_rows)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def _params(attrs, shape):
    try:
        return reduce_params(shape, attrs.axes, attrs.kind)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    require(attrs.kind in KINDS, f"reduce: kind {attrs.kind!r} unknown (supported: {', '.join(KINDS)})")
    require(tuple(sorted(set(attrs.axes))) == tuple(attrs.axes) and all(0 <= a < len(x.shape) for a in attrs.axes),
            f"reduce: axes {attrs.axes} must be sorted, distinct and within the rank of {x}")
    require(min(x.shape, default=1) >= 1, f"reduce: empty input {x} (firmnet plans no empty tensors)")
    check_types(attrs, in_types)
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        _mean_params(attrs, x.shape)
    else:
        if attrs.quant is not None:
            require(attrs.quant.inputs[0] == attrs.quant.output,
                    f"int8 reduce {attrs.kind} needs the output quantized as the input")
        _params(attrs, x.shape)
    return [output_type(attrs, output_shape(x.shape, attrs.axes, attrs.keep_dims))]


def reference(attrs, x):
    out_shape = output_shape(x.shape, attrs.axes, attrs.keep_dims)
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        p = _mean_params(attrs, x.shape)
        return [reduce_s8.mean_s8(x.reshape(p["dims"]), p).reshape(out_shape)]
    return [ref.reduce(x, attrs.kind, attrs.axes, attrs.keep_dims).reshape(out_shape)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    attrs, shape = node.attrs, graph.types[node.inputs[0]].shape
    args = (node.inputs[0], node.outputs[0])
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        return KernelCall("fn_mean_s8", "fn_reduce_s8.h", "fn_mean_s8_params",
                          params_of(_mean_params(attrs, shape)), args,
                          description=f"int8 {attrs.kind} ({attrs.quant.mode} arithmetic)")
    if attrs.quant is not None:
        return KernelCall("fn_reduce_minmax_s8", "fn_reduce.h", "fn_reduce_params",
                          params_of(_params(attrs, shape)), args, description=f"int8 {attrs.kind}")
    return KernelCall("fn_reduce_f32", "fn_reduce.h", "fn_reduce_params", params_of(_params(attrs, shape)), args,
                      description=f"float {attrs.kind}")

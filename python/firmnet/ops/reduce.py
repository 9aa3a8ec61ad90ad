"""reduce: mean, sum, max or min over any axes (ONNX Reduce*, TFLite MEAN/SUM/REDUCE_MAX/
REDUCE_MIN), float32 or int8.

int8 mean and sum follow TFLM's QuantizedMeanOrSum (fn_mean_s8, reference/reduce_s8.py)
in tflm and single mode, and onnxruntime's float graph DequantizeLinear -> Reduce ->
QuantizeLinear in ort mode (fn_reduce_s8.h says how close that is). int8 max and min pick
stored values and need the output quantized as the input (TFLM requires it; the QDQ pass
commutes them with a dequantize and requantizes separately where scales differ).

int8 mean and sum with quant.output None have a float32 output: DequantizeLinear -> ReduceMean
where the model quantizes nothing after it (a float graph output), computed as the exact
integer sum of x - zp times s_in (/ n) in float (fn_mean_s8_f32; onnxruntime's float sum
with ort_rows in ort mode). `pre` (ort mode, mean and sum) is a float activation of the
dequantized input that the model leaves unquantized before the reduction (DequantizeLinear ->
HardSwish -> ReduceMean): its 256 values are onnxruntime's float results, a table computed at
compile time (reference/ort_s8.py ort_float_table), and the kernel adds table entries.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..ir import FirmnetError, OpQuant, TensorType
from ..kernels.params_layout import merge_reduce_dims, reduce_params
from ..lowering import KernelCall, params_of, with_arrays
from ..reference import ort_s8, reduce_s8
from ..reference import reduce as ref
from ..kernels import params_reduce_s8
from . import unary
from ._util import check_types, output_type, require, require_int8

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
    pre: unary.Attrs | None = None    # int8 mean/sum in ort mode: a float activation of the dequantized input


def float_output(attrs) -> bool:
    """An int8 mean/sum whose output is the float32 result (quant.output None)."""
    return attrs.quant is not None and attrs.quant.output is None


def output_shape(shape, axes, keep_dims):
    if keep_dims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def _pre_table(attrs):
    """onnxruntime's float results of the input activation `pre` for the 256 int8 inputs, or None."""
    if attrs.pre is None:
        return None
    pre, q_in = attrs.pre, attrs.quant.inputs[0]
    return ort_s8.ort_float_table(pre.kind, (q_in.scale[0], q_in.zero_point[0]), pre.alpha, pre.beta, pre.act)


def _mean_params(attrs, shape):
    """fn_mean_s8_params; a float output leaves the output fields out (fn_mean_s8_f32 reads none),
    a table (`pre`) is a numpy float32 array under "table"."""
    q = attrs.quant
    dims, axes = merge_reduce_dims(shape, attrs.axes)
    q_in = q.inputs[0]
    q_out = q_in if q.output is None else q.output
    try:
        p = params_reduce_s8.mean_s8_params(dims or (1,), axes, q_in.scale[0], q_in.zero_point[0],
                                            q_out.scale[0], q_out.zero_point[0], attrs.kind == "sum", q.mode,
                                            attrs.ort_rows)
        if q.output is None:
            require(p["count"] * 255 < 2**24, f"int8 {attrs.kind} with a float output: {p['count']} reduced "
                    "elements; the integer sum is exact in float only below 2^24 / 255 = 65793")
            p = {k: v for k, v in p.items() if k not in ("output_zero_point", "multiplier", "shift", "output_scale")}
        table = _pre_table(attrs)
        if table is not None:
            p["table"] = table
        return p
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
    if attrs.pre is not None:
        require(attrs.quant is not None and attrs.quant.mode == "ort" and attrs.kind in ("mean", "sum")
                and attrs.pre.quant is None and attrs.pre.kind in ort_s8.ORT_TABLE_KINDS,
                f"reduce: an input activation ({attrs.pre.kind}) needs an int8 mean or sum in ort mode and a "
                f"float kind of {', '.join(ort_s8.ORT_TABLE_KINDS)}")
    out_shape = output_shape(x.shape, attrs.axes, attrs.keep_dims)
    if float_output(attrs):
        require(attrs.kind in ("mean", "sum"), f"int8 reduce {attrs.kind} with a float output: only mean and sum")
        # the input side of the int8 contract (the output is float: nothing to clamp)
        require_int8(dataclasses.replace(attrs, quant=dataclasses.replace(attrs.quant, output=attrs.quant.inputs[0])),
                     in_types)
        return [TensorType(out_shape, "float32")]
    check_types(attrs, in_types)
    if attrs.quant is not None and attrs.kind in ("max", "min"):
        require(attrs.quant.inputs[0] == attrs.quant.output,
                f"int8 reduce {attrs.kind} needs the output quantized as the input")
    return [output_type(attrs, out_shape)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when no kernel takes this reduction (rank, axes, quantization) (until
    kernels/ selection states it)."""
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        _mean_params(attrs, in_types[0].shape)
    else:
        _params(attrs, in_types[0].shape)


def reference(attrs, x):
    out_shape = output_shape(x.shape, attrs.axes, attrs.keep_dims)
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        q = attrs.quant
        q_in = q.inputs[0]
        common = dict(axes=attrs.axes, input_scale=q_in.scale[0], input_zero_point=q_in.zero_point[0],
                      compute_sum=attrs.kind == "sum", ort_rows=attrs.ort_rows, table=_pre_table(attrs))
        if float_output(attrs):
            return [reduce_s8.mean_s8_f32(x, mode=q.mode, **common).reshape(out_shape)]
        y = reduce_s8.mean_s8(x, output_scale=q.output.scale[0], output_zero_point=q.output.zero_point[0],
                              mode=q.mode, **common)
        return [y.reshape(out_shape)]
    return [ref.reduce(x, attrs.kind, attrs.axes, attrs.keep_dims).reshape(out_shape)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    attrs, shape = node.attrs, graph.types[node.inputs[0]].shape
    args = (node.inputs[0], node.outputs[0])
    if attrs.quant is not None and attrs.kind in ("mean", "sum"):
        p = _mean_params(attrs, shape)
        table = p.pop("table", None)
        if table is not None:
            p = with_arrays(p, {"table": table})
        pre = f" of onnxruntime's float {attrs.pre.kind} (a table)" if attrs.pre is not None else ""
        if float_output(attrs):
            return KernelCall("fn_mean_s8_f32", "fn_reduce_s8.h", "fn_mean_s8_params", params_of(p), args,
                              description=f"int8 {attrs.kind}{pre} with a float output "
                                          f"({attrs.quant.mode} arithmetic)")
        return KernelCall("fn_mean_s8", "fn_reduce_s8.h", "fn_mean_s8_params", params_of(p), args,
                          description=f"int8 {attrs.kind}{pre} ({attrs.quant.mode} arithmetic)")
    if attrs.quant is not None:
        return KernelCall("fn_reduce_minmax_s8", "fn_reduce.h", "fn_reduce_params",
                          params_of(_params(attrs, shape)), args, description=f"int8 {attrs.kind}")
    return KernelCall("fn_reduce_f32", "fn_reduce.h", "fn_reduce_params", params_of(_params(attrs, shape)), args,
                      description=f"float {attrs.kind}")

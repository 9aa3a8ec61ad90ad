"""softmax along one axis (ONNX opset-13 semantics; older opsets are rewritten on import),
and with log=True log-softmax, (x - max) - log(sum(exp(x - max))) (float only).

int8: TFLM's gemmlowp fixed-point softmax, output scale 1/256 and zero point -128 (other
output quantizations stay float islands in QDQ models). Where TFLM aborts (a lane whose
sum of exponentials reaches 512 in Q12.19) ours continues with the same rounding division.
In ort mode: onnxruntime's QLinearSoftmax (reference/ort_s8.py), any output quantization,
its 256-entry float table built at compile time.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import FirmnetError, OpQuant
from ..kernels import params_activation_s8, params_ort_s8
from ..kernels.params_layout import softmax_params
from ..lowering import KernelCall, params_of, with_arrays
from ..reference import activation_s8, ort_s8
from ..reference import elementwise as ref
from ._util import check_types, normalize_axis, output_type, require


@dataclass(frozen=True)
class Attrs:
    axis: int = -1
    beta: float = 1.0
    quant: OpQuant | None = None
    log: bool = False                 # LogSoftmax (float only: an int8 model keeps it as a float island)


def _int8_params(attrs, shape):
    q_in, q_out = attrs.quant.inputs[0], attrs.quant.output
    if attrs.quant.mode == "ort":
        try:
            return params_ort_s8.softmax_ort_s8_params(shape, normalize_axis(attrs.axis, len(shape)),
                                                       (q_in.scale[0], q_in.zero_point[0]),
                                                       (q_out.scale[0], q_out.zero_point[0]))
        except ValueError as exc:
            raise FirmnetError(str(exc)) from None
    try:
        return params_activation_s8.softmax_s8_params(shape, normalize_axis(attrs.axis, len(shape)), q_in.scale[0],
                                                      q_out.scale[0], q_out.zero_point[0], beta=attrs.beta)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    normalize_axis(attrs.axis, len(x.shape))
    require(attrs.quant is not None or attrs.beta == 1.0, "float softmax with beta != 1 is not supported")
    require(not (attrs.log and attrs.quant is not None), "int8 log-softmax is not supported (float only)")
    require(attrs.quant is None or attrs.quant.mode != "ort" or attrs.beta == 1.0,
            "int8 softmax with beta != 1 follows TFLite (--requant tflm or single); onnxruntime's Softmax has no beta")
    return [output_type(attrs, x.shape)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when no int8 softmax kernel takes this quantization (until kernels/ selection states it)."""
    if attrs.quant is not None:
        _int8_params(attrs, in_types[0].shape)


def reference(attrs, x):
    if attrs.quant is not None:
        q_in, q_out = attrs.quant.inputs[0], attrs.quant.output
        axis = normalize_axis(attrs.axis, x.ndim)
        if attrs.quant.mode == "ort":
            return [ort_s8.softmax_ort_s8(x, axis=axis, x_q=(q_in.scale[0], q_in.zero_point[0]),
                                          y_q=(q_out.scale[0], q_out.zero_point[0]))]
        return [activation_s8.softmax_s8(x, axis=axis, input_scale=q_in.scale[0], beta=attrs.beta,
                                         output_scale=q_out.scale[0], output_zero_point=q_out.zero_point[0])]
    if attrs.log:
        return [ref.log_softmax_f32(x, normalize_axis(attrs.axis, x.ndim))]
    return [ref.softmax_f32(x, normalize_axis(attrs.axis, x.ndim))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    shape = graph.types[node.inputs[0]].shape
    if node.attrs.quant is not None and node.attrs.quant.mode == "ort":
        p = _int8_params(node.attrs, shape)
        scalars = {k: v for k, v in p.items() if k != "table"}
        return KernelCall("fn_softmax_ort_s8", "fn_activation_ort_s8.h", "fn_softmax_ort_s8_params",
                          params_of(with_arrays(scalars, {"table": p["table"]})), (node.inputs[0], node.outputs[0]),
                          description="int8 softmax (onnxruntime's QLinearSoftmax, 1 KB float table)")
    if node.attrs.quant is not None:
        return KernelCall("fn_softmax_s8", "fn_activation_s8.h", "fn_softmax_s8_params",
                          params_of(_int8_params(node.attrs, shape)), (node.inputs[0], node.outputs[0]),
                          description="int8 softmax (TFLM arithmetic)")
    params = softmax_params(shape, normalize_axis(node.attrs.axis, len(shape)))
    function = "fn_log_softmax_f32" if node.attrs.log else "fn_softmax_f32"
    return KernelCall(function, "fn_elementwise_f32.h", "fn_softmax_f32_params", params_of(params),
                      (node.inputs[0], node.outputs[0]),
                      description="float log-softmax" if node.attrs.log else "float softmax")

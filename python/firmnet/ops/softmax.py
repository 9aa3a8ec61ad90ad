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

from ..ir import OpQuant
from ..reference import activation_s8, ort_s8
from ..reference import elementwise as ref
from ._util import check_types, normalize_axis, output_type, require


@dataclass(frozen=True)
class Attrs:
    axis: int = -1
    beta: float = 1.0
    quant: OpQuant | None = None
    log: bool = False                 # LogSoftmax (float only: an int8 model keeps it as a float island)


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    normalize_axis(attrs.axis, len(x.shape))
    require(attrs.quant is not None or attrs.beta == 1.0, "float softmax with beta != 1 is not supported")
    require(not (attrs.log and attrs.quant is not None), "int8 log-softmax is not supported (float only)")
    require(attrs.quant is None or attrs.quant.mode != "ort" or attrs.beta == 1.0,
            "int8 softmax with beta != 1 follows TFLite (--requant tflm or single); onnxruntime's Softmax has no beta")
    return [output_type(attrs, x.shape)]


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

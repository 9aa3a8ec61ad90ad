"""binary: Add, Sub, Mul, Div with numpy broadcasting and a fused clamp; in float also
Pow (tensor exponent), Min, Max (NaN-propagating, as numpy.minimum/maximum) and PRelu
(a < 0 ? a * b : a, b the slope).

int8 (add, sub, mul): TFLM's fixed-point arithmetic in tflm/single modes. TFLM computes
SUB's scale ratios in float32 (ADD's in double, as TFLite does for both): we follow TFLM.
In ort mode, add and mul follow onnxruntime's QLinearAdd/QLinearMul kernels, and sub its
float path (onnxruntime does not fuse DequantizeLinear → Sub → QuantizeLinear).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError, OpQuant
from ..kernels.params_layout import binary_params
from ..lowering import KernelCall, params_of
from ..reference import elementwise as ref
from ..reference import elementwise_s8 as ref_s8
from ._util import NO_CLAMP, check_types, output_type, require

KINDS = ("add", "sub", "mul", "div", "pow", "min", "max", "prelu")


def float_kernel(kind: str) -> str:
    """The C function of a float kind: pow and the selections are in files of their own,
    so that models with only add/sub/mul/div link neither."""
    return {"pow": "fn_binary_pow_f32", "min": "fn_binary_select_f32", "max": "fn_binary_select_f32",
            "prelu": "fn_binary_select_f32"}.get(kind, "fn_binary_f32")


@dataclass(frozen=True)
class Attrs:
    kind: str
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None


def _int8_params(attrs, a_shape, b_shape):
    q = attrs.quant
    a_q, b_q, y_q = ((p.scale[0], p.zero_point[0]) for p in (*q.inputs, q.output))
    require(attrs.kind in ("add", "sub", "mul"), f"int8 {attrs.kind} is not supported (int8: add, sub, mul)")
    try:
        if attrs.kind == "mul":
            return ref_s8.mul_s8_params(a_shape, b_shape, a_q, b_q, y_q, mode=q.mode, act=attrs.act,
                                        ort_uint8=q.output.uint8)
        # onnxruntime fuses DQ→Add→Q into QLinearAdd but runs DQ→Sub→Q in float
        return ref_s8.add_s8_params(a_shape, b_shape, a_q, b_q, y_q, op=attrs.kind, mode=q.mode, act=attrs.act,
                                    ort_unfused=attrs.kind == "sub")
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    a, b = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"binary kind {attrs.kind} unknown (supported: {KINDS})")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        require(False, f"{attrs.kind}: shapes {a.shape} and {b.shape} do not broadcast")
    if attrs.quant is not None:
        _int8_params(attrs, a.shape, b.shape)
    return [output_type(attrs, (int(d) for d in shape))]


def reference(attrs, a, b):
    if attrs.quant is not None:
        params = _int8_params(attrs, a.shape, b.shape)
        result = ref_s8.mul_s8(a, b, params) if attrs.kind == "mul" else ref_s8.add_s8(a, b, params)
        return [result.reshape(np.broadcast_shapes(a.shape, b.shape))]
    return [ref.binary_f32(a, b, attrs.kind, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    a, b = (graph.types[i].shape for i in node.inputs)
    if node.attrs.quant is not None:
        kernel = "mul" if node.attrs.kind == "mul" else "add"
        return KernelCall(f"fn_{kernel}_s8", "fn_elementwise_s8.h", f"fn_{kernel}_s8_params",
                          params_of(_int8_params(node.attrs, a, b)), (node.inputs[0], node.inputs[1], node.outputs[0]),
                          description=f"int8 {node.attrs.kind}")
    params = binary_params(a, b, node.attrs.kind, node.attrs.act)
    return KernelCall(float_kernel(node.attrs.kind), "fn_elementwise_f32.h", "fn_binary_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], node.outputs[0]),
                      description=f"float {node.attrs.kind} (broadcast)" if a != b else f"float {node.attrs.kind}")

"""binary: Add, Sub, Mul, Div with numpy broadcasting and a fused clamp; in float also
Pow (tensor exponent), Min, Max (NaN-propagating, as numpy.minimum/maximum) and PRelu
(a < 0 ? a * b : a, b the slope).

int8 (add, sub, mul): TFLM's fixed-point arithmetic in tflm/single modes; in tflm mode add
and sub run fn_add_s8_table (each operand's rescaling a 256-entry int32 table built at
compile time, 2 KB of flash per layer; 13.5 instructions per element on the M4 against
131 for fn_add_s8's generic loop, bench/elementwise.py) unless TFLM's output shift is 0
(fn_add_s8 then). TFLM computes SUB's scale ratios in float32 (ADD's in double, as TFLite
does for both): we follow TFLM. In ort mode, add and mul follow onnxruntime's
QLinearAdd/QLinearMul kernels, and sub its float path (onnxruntime does not fuse
DequantizeLinear → Sub → QuantizeLinear).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError, OpQuant
from ..kernels import params_elementwise_s8
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


def _int8_quantities(attrs) -> dict:
    """The quantizations, clamp and mode of an int8 add/sub/mul (onnxruntime fuses DQ→Add→Q
    into QLinearAdd but runs DQ→Sub→Q in float)."""
    q = attrs.quant
    require(attrs.kind in ("add", "sub", "mul"), f"int8 {attrs.kind} is not supported (int8: add, sub, mul)")
    a_q, b_q, y_q = ((p.scale[0], p.zero_point[0]) for p in (*q.inputs, q.output))
    kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, mode=q.mode, act=attrs.act)
    if attrs.kind == "mul":
        return dict(kw, ort_uint8=q.output.uint8)
    return dict(kw, op=attrs.kind, ort_unfused=attrs.kind == "sub")


def _int8_params(attrs, a_shape, b_shape):
    kw = _int8_quantities(attrs)
    build = params_elementwise_s8.mul_s8_params if attrs.kind == "mul" else params_elementwise_s8.add_s8_params
    try:
        return build(a_shape, b_shape, kw.pop("a_q"), kw.pop("b_q"), kw.pop("y_q"), **kw)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def _int8_table_params(attrs, a_shape, b_shape):
    """fn_add_s8_table's parameters for an int8 add/sub in TFLM mode, or None where it cannot
    run the layer (another mode or an output shift of 0: fn_add_s8 then)."""
    if attrs.kind not in ("add", "sub") or attrs.quant.mode != "tflm":
        return None
    kw = _int8_quantities(attrs)
    try:
        return params_elementwise_s8.add_s8_table_params(a_shape, b_shape, kw["a_q"], kw["b_q"], kw["y_q"],
                                                         op=attrs.kind, mode="tflm", act=attrs.act)
    except ValueError:
        return None


def infer(attrs, in_types):
    a, b = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"binary kind {attrs.kind} unknown (supported: {KINDS})")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        require(False, f"{attrs.kind}: shapes {a.shape} and {b.shape} do not broadcast")
    return [output_type(attrs, (int(d) for d in shape))]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when no int8 kernel takes this kind and quantization (until kernels/ selection states it)."""
    if attrs.quant is not None:
        _int8_params(attrs, in_types[0].shape, in_types[1].shape)


def reference(attrs, a, b):
    if attrs.quant is not None:
        result = (ref_s8.mul_s8 if attrs.kind == "mul" else ref_s8.add_s8)(a, b, **_int8_quantities(attrs))
        return [result.reshape(np.broadcast_shapes(a.shape, b.shape))]
    return [ref.binary_f32(a, b, attrs.kind, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return 0


def int8_call(node, graph):
    """The generic int8 kernel's call (fn_add_s8 / fn_mul_s8, any mode and broadcast): what the
    table Add falls back to, and the parameters fn_add_s8_mve shares."""
    a, b = (graph.types[i].shape for i in node.inputs)
    kernel = "mul" if node.attrs.kind == "mul" else "add"
    return KernelCall(f"fn_{kernel}_s8", "fn_elementwise_s8.h", f"fn_{kernel}_s8_params",
                      params_of(_int8_params(node.attrs, a, b)), (node.inputs[0], node.inputs[1], node.outputs[0]),
                      description=f"int8 {node.attrs.kind}")


def lower(node, graph):
    a, b = (graph.types[i].shape for i in node.inputs)
    if node.attrs.quant is not None:
        table = _int8_table_params(node.attrs, a, b)
        if table is not None:
            return KernelCall("fn_add_s8_table", "fn_elementwise_s8.h", "fn_add_s8_table_params",
                              params_of(table), (node.inputs[0], node.inputs[1], node.outputs[0]),
                              description=f"int8 {node.attrs.kind} (TFLM's arithmetic, operand rescalings as two "
                                          f"256-entry int32 tables, 2,048 bytes)")
        return int8_call(node, graph)
    params = binary_params(a, b, node.attrs.kind, node.attrs.act)
    return KernelCall(float_kernel(node.attrs.kind), "fn_elementwise_f32.h", "fn_binary_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], node.outputs[0]),
                      description=f"float {node.attrs.kind} (broadcast)" if a != b else f"float {node.attrs.kind}")

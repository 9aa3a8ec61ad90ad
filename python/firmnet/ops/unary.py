"""unary: element-wise activation followed by a clamp.

Relu and Clip are `identity` with a clamp range; the other kinds are ONNX's
LeakyRelu, Sigmoid, Tanh, HardSigmoid and HardSwish, and (float only) Exp, Log, Sqrt,
Reciprocal, Abs, Neg, Erf, Gelu (erf and tanh forms), Elu (alpha), Selu (alpha, gamma
as beta), Softplus, Pow by a constant scalar exponent (alpha) and SiLU (x * sigmoid(x)).
The float kinds' definitions and accuracies: reference/elementwise.py and
runtime_c/include/fn_elementwise_f32.h.

int8: identity is a requantization (TFLM's QUANTIZE int8 → int8); sigmoid, tanh and
hard_swish are TFLM's kernels, run as a 256-entry table of their integer function built at
compile time (fn_lut_s8: about 4 instructions per element on the M4 against ~110 for the
computed hard swish, bench/elementwise.py; 256 bytes of flash per layer), as is every
requantization that changes bytes; relu, relu6 and relu_n1_to_1 are TFLite's standalone RELU
ops; identity with a clamp (DequantizeLinear → Relu/Clip → QuantizeLinear) is the requantized
byte clamped, as a 256-entry table. In ort mode sigmoid, tanh, leaky_relu, hard_sigmoid and hard_swish are onnxruntime's
results as a 256-entry table built at compile time (reference/ort_s8.py), with any
quantization and a fused clamp folded into the table. Where TFLM rounds unlike the rest of TFLite we follow TFLM: its RELU6 clamps the
input bytes to [zp_in, q(6)] without requantizing to the output's quantization (TFLite
requantizes); TFLM has no RELU_N1_TO_1 kernel, so ours uses RELU's arithmetic (double
rounding, while TFLite computes that ratio in float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError, OpQuant
from ..kernels import params_activation_s8 as pa
from ..kernels import params_ort_s8, params_quantize_s8, params_relu_s8
from ..kernels.params_layout import unary_params
from ..lowering import KernelCall, params_of, with_arrays
from ..reference import activation_s8, ort_s8, quantize_s8, relu_s8
from ..reference import elementwise as ref
from ._util import NO_CLAMP, check_types, output_type, require

MATH_KINDS = ("exp", "log", "sqrt", "reciprocal", "abs", "neg", "erf", "gelu", "gelu_tanh", "elu", "selu",
              "softplus", "pow", "silu", "sign", "bipolar")   # float only: an int8 model keeps them as float islands
KINDS = ("identity", "leaky_relu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish", *MATH_KINDS,
         "relu", "relu6", "relu_n1_to_1")   # the last three: int8 only, TFLM's RELU kernels (float: identity+clamp)
RELU_KINDS = ("relu", "relu6", "relu_n1_to_1")
# exponents with an exact float kernel (no double arithmetic linked): as numpy computes x ** scalar
POW_SPECIAL = {2.0: "square", 0.5: "sqrt", -1.0: "reciprocal"}


def float_kernel(kind: str, alpha: float) -> tuple[str, str]:
    """(C function, fn_unary_op name) of a float kind: the math kinds are in their own
    files (fn_unary_math_f32, fn_unary_pow_f32) so that other models do not link them."""
    if kind not in MATH_KINDS:
        return "fn_unary_f32", kind
    if kind == "pow":
        special = POW_SPECIAL.get(float(np.float32(alpha)))
        return ("fn_unary_math_f32", special) if special else ("fn_unary_pow_f32", "pow")
    return "fn_unary_math_f32", kind


@dataclass(frozen=True)
class Attrs:
    kind: str = "identity"
    alpha: float = 0.0
    beta: float = 0.0
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None     # int8: identity is a requantization, the others TFLite's int8 kernels


# int8 kinds → (C function, params struct, params builder, reference) following TFLM's int8 kernels
INT8_KERNELS = {
    "sigmoid": ("fn_logistic_s8", "fn_logistic_s8_params", pa.logistic_s8_params, activation_s8.logistic_s8),
    "tanh": ("fn_tanh_s8", "fn_tanh_s8_params", pa.tanh_s8_params, activation_s8.tanh_s8),
    "hard_swish": ("fn_hard_swish_s8", "fn_hard_swish_s8_params", pa.hard_swish_s8_params, activation_s8.hard_swish_s8),
}


def _quant_pairs(attrs):
    q_in, q_out = attrs.quant.inputs[0], attrs.quant.output
    return (q_in.scale[0], q_in.zero_point[0]), (q_out.scale[0], q_out.zero_point[0])


def _is_copy(attrs) -> bool:
    """An int8 identity that changes no byte (the same quantization, no clamp): fn_requantize_s8's copy."""
    (s_in, zp_in), (s_out, zp_out) = _quant_pairs(attrs)
    return tuple(attrs.act) == (-128, 127) and float(s_in) == float(s_out) and int(zp_in) == int(zp_out)


def _is_table(attrs) -> bool:
    """int8 kinds computed as a 256-entry table: onnxruntime's activations in ort mode, TFLM's
    logistic, tanh and hard swish otherwise (their integer function on every byte, at compile
    time), and a requantization that changes bytes, with or without a clamp
    (TFLM's QUANTIZE int8 -> int8, DequantizeLinear -> Relu/Clip -> QuantizeLinear)."""
    if attrs.quant.mode == "ort" and attrs.kind in ort_s8.ORT_TABLE_KINDS:
        return True
    return attrs.kind in INT8_KERNELS or (attrs.kind == "identity" and not _is_copy(attrs))


def _int8_table(attrs):
    """The 256 int8 outputs of a table kind for the inputs -128..127 (the arithmetic, reference/)."""
    x_q, y_q = _quant_pairs(attrs)
    if attrs.kind == "identity":
        lo, hi = quantize_s8.check_act(attrs.act, "int8 clamp")
        return np.clip(quantize_s8.requantize_values(np.arange(-128, 128), x_q, y_q, attrs.quant.mode),
                       lo, hi).astype(np.int8)
    if attrs.quant.mode != "ort" and attrs.kind in INT8_KERNELS:
        # TFLM's kernel: its parameters checked as the kernel's builder checks them, then its
        # integer function (reference/activation_s8.py) on every byte
        require(tuple(attrs.act) == (-128, 127), f"int8 {attrs.kind} takes no clamp narrower than the int8 range")
        (s_in, zp_in), (s_out, zp_out) = x_q, y_q
        _, _, build, function = INT8_KERNELS[attrs.kind]
        build(256, s_in, zp_in, s_out, zp_out)
        return function(np.arange(-128, 128, dtype=np.int8), input_scale=s_in, input_zero_point=zp_in,
                        output_scale=s_out, output_zero_point=zp_out).astype(np.int8)
    return ort_s8.ort_activation_table(attrs.kind, x_q, y_q, attrs.alpha, attrs.beta, attrs.act)


def _int8(attrs, count):
    """(function, params type, params dict) of an int8 unary's kernel; FirmnetError if unsupported.
    int8 identity is a requantization (TFLM's QUANTIZE int8 → int8)."""
    try:
        if _is_table(attrs):
            return "fn_lut_s8", "fn_lut_s8_params", params_ort_s8.lut_s8_params(count, _int8_table(attrs))
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None
    kinds = ("identity", *INT8_KERNELS, *RELU_KINDS)
    require(attrs.kind in kinds, f"int8 {attrs.kind} is not supported (int8 kinds: {', '.join(kinds)}; "
            f"with --requant ort also {', '.join(k for k in ort_s8.ORT_TABLE_KINDS if k not in kinds)})")
    require(tuple(attrs.act) == (-128, 127), f"int8 {attrs.kind} takes no clamp narrower than the int8 range")
    (s_in, zp_in), (s_out, zp_out) = x_q, y_q = _quant_pairs(attrs)
    try:
        if attrs.kind in RELU_KINDS:
            return "fn_relu_s8", "fn_relu_s8_params", params_relu_s8.relu_params(attrs.kind, count, s_in, zp_in,
                                                                                 s_out, zp_out)
        if attrs.kind == "identity":
            return ("fn_requantize_s8", "fn_requantize_s8_params",
                    params_quantize_s8.requantize_s8_params(count, x_q, y_q, attrs.quant.mode))
        function, ptype, build, _ = INT8_KERNELS[attrs.kind]
        return function, ptype, build(count, s_in, zp_in, s_out, zp_out)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    check_types(attrs, in_types)
    require(attrs.kind in KINDS, f"unary kind {attrs.kind} unknown (supported: {KINDS})")
    require(attrs.kind not in RELU_KINDS or attrs.quant is not None,
            f"{attrs.kind} is an int8 kind; float clamps are identity with a range")
    return [output_type(attrs, x.shape)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when no int8 kernel takes this kind and quantization (until kernels/ selection states it)."""
    if attrs.quant is not None:
        _int8(attrs, in_types[0].size)


def _int8_reference(attrs, x):
    """The int8 arithmetic from the tensors' quantizations (reference/)."""
    if _is_table(attrs) and not (attrs.quant.mode != "ort" and attrs.kind in INT8_KERNELS):
        return ort_s8.lut_s8(x, _int8_table(attrs))
    (s_in, zp_in), (s_out, zp_out) = x_q, y_q = _quant_pairs(attrs)
    if attrs.kind == "identity":
        return quantize_s8.requantize_s8(x, x_q=x_q, y_q=y_q, mode=attrs.quant.mode)
    quantities = dict(input_scale=s_in, input_zero_point=zp_in, output_scale=s_out, output_zero_point=zp_out)
    if attrs.kind in RELU_KINDS:
        return relu_s8.relu_s8(x, attrs.kind, **quantities)
    require(attrs.kind in INT8_KERNELS, f"int8 {attrs.kind} has no integer arithmetic here")
    return INT8_KERNELS[attrs.kind][3](x, **quantities)


def reference(attrs, x):
    if attrs.quant is not None:
        return [_int8_reference(attrs, x)]
    return [ref.unary_f32(x, attrs.kind, alpha=attrs.alpha, beta=attrs.beta, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return 0


def _table_description(attrs) -> str:
    if attrs.kind == "identity":
        return "int8 requantization" + (" and clamp" if tuple(attrs.act) != (-128, 127) else "") + \
            " (256-byte lookup table)"
    whose = "onnxruntime's" if attrs.quant.mode == "ort" else "TFLM's"
    return f"int8 {attrs.kind} ({whose} arithmetic as a 256-byte lookup table)"


def lower(node, graph):
    a = node.attrs
    count = graph.types[node.inputs[0]].size
    if a.quant is not None:
        function, ptype, params = _int8(a, count)
        if function == "fn_lut_s8":
            return KernelCall(function, "fn_activation_ort_s8.h", ptype,
                              params_of(with_arrays({"count": params["count"]}, {"table": params["table"]})),
                              (node.inputs[0], node.outputs[0]),
                              description=_table_description(a))
        header = {"identity": "fn_elementwise_s8.h", "relu": "fn_relu_s8.h", "relu6": "fn_relu_s8.h",
                  "relu_n1_to_1": "fn_relu_s8.h"}.get(a.kind, "fn_activation_s8.h")
        return KernelCall(function, header, ptype, params_of(params), (node.inputs[0], node.outputs[0]),
                          description="int8 requantization" if a.kind == "identity" else f"int8 {a.kind}")
    function, c_op = float_kernel(a.kind, a.alpha)
    params = unary_params(count, c_op, a.alpha, a.beta, a.act)
    what = f"float pow {a.alpha:g}" if a.kind == "pow" else f"float {a.kind}"
    return KernelCall(function, "fn_elementwise_f32.h", "fn_unary_f32_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description=what)

"""What the convolution and fully connected variants share: the layer seen as an NHWC/OHWI
convolution (a dense layer [N,K] x [M,K] is a 1x1 convolution of N one-pixel images), its
bias argument, the int8 parameter structs, and the cost of a call from measured figures.

Cost coefficients are instructions on mps2-an386 (Cortex-M4F, arm-none-eabi-gcc 12.2 -O2),
printed by `python bench/kernels_qemu.py` for the KWS and AD01 layers: a portable variant's
and a DSP-extension variant's (fn_s8_dsp.h) figures on the same CPU. Other targets use the
same figures: only their ratios decide between candidates.
"""
from __future__ import annotations

from ..lowering import params_of
from . import params_conv_s8 as kp
from .params_requant import nest

AS_CONV = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1)   # a dense layer


def accumulates_only(node) -> bool:
    """An integer op without an output stage (ONNX ConvInteger/MatMulInteger): its output is
    the int32 accumulator."""
    q = node.attrs.quant
    return q is not None and q.output is None


def has_weight_zero_point(node) -> bool:
    q = node.attrs.quant
    return q is not None and any(q.inputs[1].zero_point)


def shapes(node, graph) -> tuple[tuple, tuple]:
    """(input NHWC, filter OHWI) of a conv2d node (NCHW/OIHW before the layout pass) or a dense node."""
    x, w = (graph.types[i].shape for i in node.inputs[:2])
    if node.op == "dense":
        return (x[0], 1, 1, x[1]), (w[0], 1, 1, w[1])
    if node.attrs.layout == "NCHW":
        return tuple(x[i] for i in (0, 2, 3, 1)), tuple(w[i] for i in (0, 2, 3, 1))
    return tuple(x), tuple(w)


def geometry(node) -> dict:
    if node.op == "dense":
        return AS_CONV
    a = node.attrs
    return dict(strides=a.strides, dilations=a.dilations, pads=a.pads, groups=a.groups)


def bias(node):
    return node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None


def tensor_args(node, weights=None) -> tuple:
    """input, filter (or its repacked constant), bias or NULL, output."""
    return (node.inputs[0], node.inputs[1] if weights is None else weights, bias(node), node.outputs[0])


def macs(node, graph) -> int:
    (_, _, _, _), (_, kh, kw, cg) = shapes(node, graph)
    return graph.types[node.outputs[0]].size * kh * kw * cg


def outputs(node, graph) -> int:
    return graph.types[node.outputs[0]].size


def estimate(node, graph, per_mac: float, per_output: float = 0.0) -> int:
    """Instructions from a variant's measured coefficients per MAC and per output (a variant is
    either portable C or a DSP-extension variant, so one figure each)."""
    return round(per_mac * macs(node, graph) + per_output * outputs(node, graph))


def requant_quantities(node) -> dict:
    """The int8 layer's quantities its output stage is built from (the params builders' keyword
    arguments): input scale and zero point, weight scales, output scale and zero point, fused
    activation and requantization mode."""
    q = node.attrs.quant
    return dict(input_scale=q.inputs[0].scale[0], input_zero_point=q.inputs[0].zero_point[0],
                weight_scales=q.inputs[1].scale, output_scale=q.output.scale[0],
                output_zero_point=q.output.zero_point[0], act=node.attrs.act, mode=q.mode)


def general_params(node, graph) -> tuple[dict, dict]:
    """fn_conv2d_s8_params (scalar fields, arrays) of fn_conv2d_s8, fn_conv2d_s8_s32 and fn_conv2d_1x1_s8."""
    q = node.attrs.quant
    x_shape, w_shape = shapes(node, graph)
    q_in, q_w = q.inputs[0], q.inputs[1]
    if q.output is None:
        return kp.conv2d_s32_params(x_shape, w_shape, input_zero_point=q_in.zero_point[0],
                                        weight_zero_points=q_w.zero_point, **geometry(node))
    return kp.conv2d_s8_params(x_shape, w_shape, weight_zero_points=q_w.zero_point, **requant_quantities(node),
                               **geometry(node))


def general_struct(node, graph) -> tuple:
    """KernelCall.params of fn_conv2d_s8_params."""
    return params_of(nest(*general_params(node, graph)))


def what(node) -> str:
    """The layer in words, for the generated code's comment."""
    if node.op == "dense":
        return "fully connected as a 1x1 conv"
    if node.attrs.groups > 1 and not (accumulates_only(node) or has_weight_zero_point(node)):
        return "conv (grouped)"
    return "conv"

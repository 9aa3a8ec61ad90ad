"""fn_conv2d_f32_codebook (runtime_c/src/fn_conv2d_f32_codebook.c, contract in
fn_conv2d_f32_codebook.h): float convolutions (one group, any filter size, stride, dilation
and padding) with palettized weights, each weight looked up in the inner loop, added in
fn_conv2d_f32's order. 1x1 unpadded stride-1 layers are fc_f32_codebook's.

Cost: codebook_costs.py (measured by bench/codebook.py) times _codebook.conv_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _codebook, _conv
# (dense, codebook) weight bytes, why, scratch: the codebook variants'
from ._codebook import flash, scratch_bytes, why  # noqa: F401
from ._check import refusal
from .params_codebook import conv2d_f32_codebook_params

NAME = "fn_conv2d_f32_codebook"
CODEBOOK = True


def _params(node, graph):
    a = node.attrs
    x_shape, _ = _conv.shapes(node, graph)
    return conv2d_f32_codebook_params(x_shape, graph.constants[node.inputs[1]], strides=a.strides,
                                      dilations=a.dilations, pads=a.pads, act=a.act)


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return _codebook.conv_refusal(node, graph) or refusal(lambda: _params(node, graph))


def terms(node, graph) -> tuple:
    return _codebook.conv_terms(node, graph)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def call(node, graph) -> KernelCall:
    params, p = _params(node, graph)
    return KernelCall(NAME, "fn_conv2d_f32_codebook.h", "fn_conv2d_f32_codebook_params", params_of(params),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/codebook", p.codebook),
                       ConstArg(f"{node.inputs[1]}/indices", p.indices), _conv.bias(node), node.outputs[0]),
                      description=f"float conv with codebook weights (K={p.used}, {p.bits}-bit indices)")

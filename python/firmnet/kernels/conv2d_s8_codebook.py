"""fn_conv2d_s8_codebook (runtime_c/src/fn_conv2d_s8_codebook.c, contract in
fn_conv2d_s8_codebook.h): int8 convolutions (one group, any filter size, stride, dilation
and padding; weights without zero points) with palettized weights, each weight looked up
in the inner loop; fn_conv2d_s8's accumulator and output stage. 1x1 unpadded stride-1
layers are fc_s8_codebook's.

Cost: codebook_costs.py (measured by bench/codebook.py) times _codebook.conv_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _codebook, _conv
# (dense, codebook) weight bytes, why, scratch: the codebook variants'
from ._codebook import flash, scratch_bytes, why  # noqa: F401
from ._check import refusal
from .params_codebook import conv2d_s8_codebook_params
from .params_requant import nest

NAME = "fn_conv2d_s8_codebook"
CODEBOOK = True


def _params(node, graph):
    a = node.attrs
    x_shape, _ = _conv.shapes(node, graph)
    return conv2d_s8_codebook_params(x_shape, graph.constants[node.inputs[1]], strides=a.strides,
                                     dilations=a.dilations, pads=a.pads, **_conv.requant_quantities(node))


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    return _codebook.conv_refusal(node, graph) or refusal(lambda: _params(node, graph))


def terms(node, graph) -> tuple:
    return _codebook.conv_terms(node, graph)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def call(node, graph) -> KernelCall:
    params, arrays, p = _params(node, graph)
    return KernelCall(NAME, "fn_conv2d_s8_codebook.h", "fn_conv2d_s8_codebook_params",
                      params_of(nest(params, arrays)),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/codebook", p.codebook),
                       ConstArg(f"{node.inputs[1]}/indices", p.indices), _conv.bias(node), node.outputs[0]),
                      description=f"int8 conv with codebook weights (K={p.used}, {p.bits}-bit indices)")

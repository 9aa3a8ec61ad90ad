"""fn_conv2d_f32_csr (runtime_c/src/fn_conv2d_f32_csr.c, contract in fn_conv2d_f32_csr.h): float
convolutions (one group, any filter size, stride, dilation and padding) with CSR weights, in
fn_conv2d_f32's order; 1x1 unpadded stride-1 layers are fc_f32_csr's.

Cost: csr_costs.py (per board, measured by bench/sparse.py) times _csr.conv_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv, _csr
# why, (dense, CSR) weight bytes, density, scratch, cost terms: the CSR convolutions'
from ._csr import conv_flash as flash, conv_terms as terms, conv_why as why, density, scratch_bytes  # noqa: F401
from ._check import refusal
from .params_csr import conv2d_f32_csr_params, stored

NAME = "fn_conv2d_f32_csr"
SPARSE = True


def _params(node, graph):
    a = node.attrs
    x_shape, _ = _conv.shapes(node, graph)
    return conv2d_f32_csr_params(x_shape, graph.constants[node.inputs[1]], strides=a.strides,
                                 dilations=a.dilations, pads=a.pads, act=a.act)


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return _csr.conv_refusal(node, graph) or refusal(lambda: _params(node, graph))


def cost(node, graph, target) -> int:
    return _csr.estimate(NAME, terms(node, graph), target)


def call(node, graph) -> KernelCall:
    params, m = _params(node, graph)
    return KernelCall(NAME, "fn_conv2d_f32_csr.h", "fn_conv2d_f32_csr_params", params_of(params),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/csr", stored(m.values)), _conv.bias(node),
                       node.outputs[0]),
                      description=f"float conv with CSR weights ({m.nonzeros:,} nonzeros, (tap, channel) offsets)")

"""fn_conv2d_s8_csr (runtime_c/src/fn_conv2d_s8_csr.c, contract in fn_conv2d_s8_csr.h): int8
convolutions (one group, any filter size, stride, dilation and padding; weights without zero
points) with CSR weights: per output channel its nonzero weights with their (tap, channel)
input offsets; 4 neighbouring windows inside the input share each decoded entry, windows
reaching into the padding skip those taps exactly. 1x1 unpadded stride-1 layers are
fc_s8_csr's.

Cost: csr_costs.py (per board, measured by bench/sparse.py) times _csr.conv_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv, _csr
# why, (dense, CSR) weight bytes, density, scratch: the CSR convolutions'
from ._csr import conv_flash as flash, conv_why as why, density, scratch_bytes  # noqa: F401
from ._check import refusal
from .params_requant import nest
from .params_csr import conv2d_s8_csr_params, stored

NAME = "fn_conv2d_s8_csr"
SPARSE = True


def _params(node, graph):
    a = node.attrs
    x_shape, _ = _conv.shapes(node, graph)
    bias = _conv.bias(node)
    return conv2d_s8_csr_params(x_shape, graph.constants[node.inputs[1]],
                                None if bias is None else graph.constants[bias], strides=a.strides,
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
    return _csr.conv_refusal(node, graph) or refusal(lambda: _params(node, graph))


def terms(node, graph) -> tuple:
    """The cost model's terms (_csr.py)."""
    return _csr.conv_terms(node, graph, blocked=True)


def cost(node, graph, target) -> int:
    return _csr.estimate(NAME, terms(node, graph), target)


def call(node, graph) -> KernelCall:
    params, arrays, m, bias = _params(node, graph)
    return KernelCall(NAME, "fn_conv2d_s8_csr.h", "fn_conv2d_s8_csr_params", params_of(nest(params, arrays)),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/csr", stored(m.values)),
                       ConstArg(f"{node.inputs[1]}/csr_bias", bias), node.outputs[0]),
                      description=f"int8 conv with CSR weights ({m.nonzeros:,} nonzeros, (tap, channel) offsets)")

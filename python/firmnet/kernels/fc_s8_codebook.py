"""fn_fc_s8_codebook (runtime_c/src/fn_fc_s8_codebook.c, contract in fn_fc_s8_codebook.h):
int8 fully connected layers and 1x1 convolutions (stride 1, no padding, one group) with
palettized weights: packed 2/4/8-bit indices into an int8 codebook, each weight looked up
in the inner loop; the input offset is folded into the bias, the output stage is the dense
kernels' (the same bytes as fn_fc_s8 / fn_conv2d_1x1_s8 on the decoded weights).

Cost: codebook_costs.py (measured by bench/codebook.py) times _codebook.fc_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _codebook, _conv, _csr
# (dense, codebook) weight bytes, why, scratch: the codebook variants'
from ._codebook import flash, scratch_bytes, why  # noqa: F401
from ._check import refusal
from .params_codebook import fc_s8_codebook_params
from .params_requant import nest

NAME = "fn_fc_s8_codebook"
CODEBOOK = True


def _params(node, graph):
    bias = _conv.bias(node)
    w = _codebook.matrix(node, graph)
    return fc_s8_codebook_params((_csr.rows_in(node, graph), w.shape[1]), w,
                                 None if bias is None else graph.constants[bias], **_conv.requant_quantities(node))


def supports(node, graph, target) -> str | None:
    if node.op not in ("dense", "conv2d"):
        return "fully connected and 1x1 convolutions only"
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    return _codebook.fc_refusal(node, graph) or refusal(lambda: _params(node, graph))


def terms(node, graph) -> tuple:
    return _codebook.fc_terms(node, graph)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def call(node, graph) -> KernelCall:
    params, arrays, p, bias = _params(node, graph)
    return KernelCall(NAME, "fn_fc_s8_codebook.h", "fn_fc_s8_codebook_params", params_of(nest(params, arrays)),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/codebook", p.codebook),
                       ConstArg(f"{node.inputs[1]}/indices", p.indices),
                       ConstArg(f"{node.inputs[1]}/codebook_bias", bias), node.outputs[0]),
                      description=f"int8 {_conv.what(node)} with codebook weights (K={p.used}, {p.bits}-bit indices)")

"""fn_fc_f32_codebook (runtime_c/src/fn_fc_f32_codebook.c, contract in fn_fc_f32_codebook.h):
float fully connected layers and 1x1 convolutions (stride 1, no padding, one group) with
palettized weights, each weight looked up in the inner loop, added in fn_fc_f32's order.

Cost: codebook_costs.py (measured by bench/codebook.py) times _codebook.fc_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _codebook, _conv, _csr
# (dense, codebook) weight bytes, why, scratch: the codebook variants'
from ._codebook import flash, scratch_bytes, why  # noqa: F401
from ._check import refusal
from .params_codebook import fc_f32_codebook_params

NAME = "fn_fc_f32_codebook"
CODEBOOK = True


def _params(node, graph):
    w = _codebook.matrix(node, graph)
    return fc_f32_codebook_params((_csr.rows_in(node, graph), w.shape[1]), w, act=node.attrs.act)


def supports(node, graph, target) -> str | None:
    if node.op not in ("dense", "conv2d"):
        return "fully connected and 1x1 convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return _codebook.fc_refusal(node, graph) or refusal(lambda: _params(node, graph))


def terms(node, graph) -> tuple:
    return _codebook.fc_terms(node, graph)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def call(node, graph) -> KernelCall:
    params, p = _params(node, graph)
    return KernelCall(NAME, "fn_fc_f32_codebook.h", "fn_fc_f32_codebook_params", params_of(params),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/codebook", p.codebook),
                       ConstArg(f"{node.inputs[1]}/indices", p.indices), _conv.bias(node), node.outputs[0]),
                      description=f"float {_conv.what(node)} with codebook weights (K={p.used}, {p.bits}-bit indices)")

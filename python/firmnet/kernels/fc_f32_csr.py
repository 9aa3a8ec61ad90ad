"""fn_fc_f32_csr (runtime_c/src/fn_fc_f32_csr.c, contract in fn_fc_f32_csr.h): float fully
connected layers and 1x1 convolutions (stride 1, no padding, one group) with CSR weights:
only the nonzeros are stored and multiplied, in fn_fc_f32's order.

Cost: csr_costs.py (per board, measured by bench/sparse.py; the model in _csr.py)."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv, _csr
# why, cost terms, (dense, CSR) weight bytes, density, scratch: the fully connected CSR variants'
from ._csr import density, flash, scratch_bytes, terms, why  # noqa: F401
from .params_csr import fc_f32_csr_params, stored

NAME = "fn_fc_f32_csr"
SPARSE = True


def supports(node, graph, target) -> str | None:
    if node.op not in ("dense", "conv2d"):
        return "fully connected and 1x1 convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return _csr.shape_refusal(node, graph)


def cost(node, graph, target) -> int:
    return _csr.estimate(NAME, terms(node, graph), target)


def call(node, graph) -> KernelCall:
    w = _csr.matrix(node, graph)
    params, m = fc_f32_csr_params((_csr.rows_in(node, graph), w.shape[1]), w, act=node.attrs.act)
    return KernelCall(NAME, "fn_fc_f32_csr.h", "fn_fc_f32_csr_params", params_of(params),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/csr", stored(m.values)), _conv.bias(node),
                       node.outputs[0]),
                      description=f"float {_conv.what(node)} with CSR weights ({m.nonzeros:,} nonzeros)")

"""fn_fc_s8_csr (runtime_c/src/fn_fc_s8_csr.c, contract in fn_fc_s8_csr.h): int8 fully
connected layers and 1x1 convolutions (stride 1, no padding, one group) with CSR weights:
only the nonzeros are stored and multiplied; the input offset is folded into the bias, the
output stage is the dense kernels' (the same bytes as fn_fc_s8 / fn_conv2d_1x1_s8).

Cost: csr_costs.py (per board, measured by bench/sparse.py; the model in _csr.py)."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv, _csr
# why, cost terms, (dense, CSR) weight bytes, density, scratch: the fully connected CSR variants'
from ._csr import density, flash, scratch_bytes, terms, why  # noqa: F401
from ._check import refusal
from .params_requant import nest
from .params_csr import fc_s8_csr_params, stored

NAME = "fn_fc_s8_csr"
SPARSE = True


def _params(node, graph):
    bias = _conv.bias(node)
    w = _csr.matrix(node, graph)
    return fc_s8_csr_params((_csr.rows_in(node, graph), w.shape[1]), w,
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
    return _csr.shape_refusal(node, graph) or refusal(lambda: _params(node, graph))


def cost(node, graph, target) -> int:
    return _csr.estimate(NAME, terms(node, graph), target)


def call(node, graph) -> KernelCall:
    params, arrays, m, bias = _params(node, graph)
    return KernelCall(NAME, "fn_fc_s8_csr.h", "fn_fc_s8_csr_params", params_of(nest(params, arrays)),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/csr", stored(m.values)),
                       ConstArg(f"{node.inputs[1]}/csr_bias", bias), node.outputs[0]),
                      description=f"int8 {_conv.what(node)} with CSR weights ({m.nonzeros:,} nonzeros)")

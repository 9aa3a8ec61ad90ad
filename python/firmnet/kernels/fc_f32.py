"""fn_fc_f32 (runtime_c/src/fn_fc_f32.c): float fully connected layer, dense; its CSR
variant is fc_f32_csr.py.

Cost (instructions, bench/sparse.py on mps2-an386, --sparse off): AD01's 640 -> 128 layer,
81,920 MACs: 309,160 (3.774 per MAC)."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _conv
from .params_conv_f32 import fc_f32_params

NAME = "fn_fc_f32"
_PER_MAC = 3.774


def supports(node, graph, target) -> str | None:
    if node.op != "dense":
        return "fully connected layers only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return None


def why(node, graph, target) -> str:
    return "float"


def cost(node, graph, target) -> int:
    return _conv.estimate(node, graph, _PER_MAC)


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    x, w = (graph.types[i].shape for i in node.inputs[:2])
    return KernelCall(NAME, "fn_fc_f32.h", "fn_fc_f32_params", params_of(fc_f32_params(x, w, act=node.attrs.act)),
                      _conv.tensor_args(node), description="dense float fully connected")

"""fn_fc_s8 (runtime_c/src/fn_fc_s8.c): int8 fully connected layer, weights without zero points,
portable C; its DSP variant is fc_s8_dsp.py.

Cost (instructions, bench/kernels_qemu.py on mps2-an386), per MAC and per output fitted to
AD01's 640 -> 128 and 128 -> 128 layers (81,920 and 16,384 MACs, 128 outputs each):
376,680 and 81,760 (4.500 per MAC + 62.8 per output)."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _conv
from ._check import refusal
from . import params_conv_s8 as kp
from .params_requant import nest

NAME = "fn_fc_s8"
_PER_MAC, _PER_OUTPUT = 4.500, 62.8


def _params(node, graph) -> tuple[dict, dict]:
    x, w = (graph.types[i].shape for i in node.inputs[:2])
    return kp.fc_s8_params(x, w, **_conv.requant_quantities(node))


def supports(node, graph, target) -> str | None:
    if node.op != "dense":
        return "fully connected layers only"
    if node.attrs.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    return refusal(lambda: _params(node, graph))


def why(node, graph, target) -> str:
    return "fully connected"


def cost(node, graph, target) -> int:
    return _conv.estimate(node, graph, _PER_MAC, _PER_OUTPUT)


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_fc_s8.h", "fn_fc_s8_params", params_of(nest(*_params(node, graph))),
                      _conv.tensor_args(node), description="int8 fully connected")

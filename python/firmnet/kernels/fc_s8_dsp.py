"""fn_fc_s8_dsp (runtime_c/src/fn_fc_s8_dsp.c, contract in fn_s8_dsp.h): fn_fc_s8's layers (the
same bytes) on CPUs with the DSP extension: 4 weight rows per pass, each word of 4 inputs
widened once for the 4 rows, two MACs per SMLAD. No scratch.

Cost (instructions, bench/kernels_qemu.py on mps2-an386), per MAC and per output fitted to
AD01's 640 -> 128 and 128 -> 128 layers (81,920 and 16,384 MACs, 128 outputs each): 142,920
and 34,360 (1.657 per MAC + 56.4 per output)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, fc_s8

NAME = "fn_fc_s8_dsp"
_PER_MAC, _PER_OUTPUT = 1.657, 56.4


def supports(node, graph, target) -> str | None:
    return _s8_dsp.refuse_target(target) or fc_s8.supports(node, graph, target)


def why(node, graph, target) -> str:
    return "fully connected, DSP"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph) + _PER_OUTPUT * _conv.outputs(node, graph))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    base = fc_s8.call(node, graph)
    return KernelCall(NAME, "fn_s8_dsp.h", base.params_type, base.params, base.args,
                      description="int8 fully connected (DSP: SMLAD)")

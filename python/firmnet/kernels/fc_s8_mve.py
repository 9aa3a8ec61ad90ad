"""fn_fc_s8_mve (runtime_c/src/fn_fc_s8_mve.c, contract in fn_s8_mve.h): fn_fc_s8's layers (the
same bytes) on CPUs with MVE (Helium): per block of 4 weight rows their output-stage table
on the stack (the weight sums for the input offset included), then each input row, 16 MACs
per VMLADAVA.S8, the output stage 4 outputs per vector. No scratch.

Cost (instructions, bench/mve.py on mps3-an547), per MAC and per output fitted to AD01's
640 -> 128 and 128 -> 128 layers (81,920 and 16,384 MACs, 128 outputs each): 36,031 and
15,562 (0.3123 per MAC + 81.6 per output: the weight sums and the output stage).
fn_fc_s8_dsp stays cheaper on layers of few inputs (AD01's 8 -> 128: 5,687 there)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_mve, fc_s8

NAME = "fn_fc_s8_mve"
_PER_MAC, _PER_OUTPUT = 0.3123, 81.6


def supports(node, graph, target) -> str | None:
    return fc_s8.supports(node, graph, target) or _s8_mve.refuse_target(target)


def why(node, graph, target) -> str:
    return "fully connected, MVE"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph) + _PER_OUTPUT * _conv.outputs(node, graph))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    base = fc_s8.call(node, graph)
    return KernelCall(NAME, "fn_s8_mve.h", base.params_type, base.params, base.args,
                      description="int8 fully connected (MVE: VMLADAVA)")

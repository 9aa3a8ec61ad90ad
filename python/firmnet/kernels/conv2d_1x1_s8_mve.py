"""fn_conv2d_1x1_s8_mve (runtime_c/src/fn_conv2d_1x1_s8_mve.c, contract in fn_s8_mve.h):
fn_conv2d_1x1_s8's layers (the same bytes) on CPUs with MVE (Helium): per pixel 4 output
channels at a time, 16 MACs per VMLADAVA.S8, the output stage 4 channels per vector.

Cost (instructions, bench/mve.py on mps3-an547): KWS's 1x1 layer, 512,000 MACs and 8,000
outputs: 191,906 (0.375 per MAC)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_mve, conv2d_1x1_s8

NAME = "fn_conv2d_1x1_s8_mve"
_PER_MAC = 0.375


def supports(node, graph, target) -> str | None:
    return conv2d_1x1_s8.supports(node, graph, target) or _s8_mve.refuse_target(target)


def why(node, graph, target) -> str:
    return "1x1, stride 1, MVE"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph))


def scratch_bytes(node, graph) -> int:
    return _s8_mve.conv2d_1x1_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_s8_mve.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node),
                      description="int8 1x1 conv as a matrix product (MVE: VMLADAVA, 16 MACs per instruction)")

"""fn_conv2d_1x1_s8_dsp (runtime_c/src/fn_conv2d_1x1_s8_dsp.c, contract in fn_s8_dsp.h):
fn_conv2d_1x1_s8's layers (the same bytes) on CPUs with the DSP extension: 2 output channels
x 2 or 3 pixels per inner loop, the pixels' inputs widened once into the scratch, two MACs
per SMLAD.

Cost (instructions, bench/kernels_qemu.py on mps2-an386): KWS's 1x1 layer, 512,000 MACs:
730,240 (1.426 per MAC; 767,120 before its three-pixel path took fn_out6_s8)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, conv2d_1x1_s8

NAME = "fn_conv2d_1x1_s8_dsp"
_PER_MAC = 1.426


def supports(node, graph, target) -> str | None:
    return _s8_dsp.refuse_target(target) or conv2d_1x1_s8.supports(node, graph, target)


def why(node, graph, target) -> str:
    return "1x1, stride 1, DSP"


def cost(node, graph, target) -> int:
    return round(_PER_MAC * _conv.macs(node, graph))


def scratch_bytes(node, graph) -> int:
    return _s8_dsp.conv2d_1x1_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_s8_dsp.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node),
                      description="int8 1x1 conv as a matrix product (DSP: SMLAD, 2 MACs per instruction)")

"""fn_conv2d_1x1_s8_dsp (runtime_c/src/fn_conv2d_1x1_s8_dsp.c, contract in fn_s8_dsp.h):
fn_conv2d_1x1_s8's layers (the same bytes) on CPUs with the DSP extension: 2 output channels
x 2 or 3 pixels per inner loop, the pixels' inputs widened once into the scratch, two MACs
per SMLAD.

Cost (instructions), fitted (least squares on relative error) to `python bench/kernels_qemu.py`
on mps2-an386, its ten fn_conv2d_1x1_s8_dsp rows (KWS's 1x1 64->64: 730,240, 1.426 per MAC;
VWW-shaped's pointwise layers 48x48 8->16 to 3x3 256->256: 3.31 to 1.42 per MAC), each estimate
within 9 % of the measured figure:
    1.353 M + 1.969 M' + 9.049 O + 105.3 P
with M the MACs of layers whose inputs it widens into the scratch (in_c <= FN_1X1_XBUF), M' those
of wider ones (widened per channel pair), O the outputs and P the pixels. The per-MAC figure alone
(1.426, KWS's) had put VWW's narrow layers far below their cost (8->16: 1.43 estimated, 3.31
measured per MAC), so the wrong kernel ran them."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _conv, _s8_dsp, conv2d_1x1_s8

NAME = "fn_conv2d_1x1_s8_dsp"
COEFFICIENTS = (1.353, 1.969, 9.049, 105.3)   # (M, M', O, P): module docstring


def supports(node, graph, target) -> str | None:
    return _s8_dsp.refuse_target(target) or conv2d_1x1_s8.supports(node, graph, target)


def why(node, graph, target) -> str:
    return "1x1, stride 1, DSP"


def cost(node, graph, target) -> int:
    p, _ = _conv.general_params(node, graph)
    macs = _conv.macs(node, graph)
    widened = p["in_c"] <= _s8_dsp.FN_1X1_XBUF
    pixels = p["batch"] * p["in_h"] * p["in_w"]
    terms = (macs if widened else 0, 0 if widened else macs, pixels * p["out_c"], pixels)
    return round(sum(c * t for c, t in zip(COEFFICIENTS, terms, strict=True)))


def scratch_bytes(node, graph) -> int:
    return _s8_dsp.conv2d_1x1_scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    return KernelCall(NAME, "fn_s8_dsp.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node),
                      description="int8 1x1 conv as a matrix product (DSP: SMLAD, 2 MACs per instruction)")

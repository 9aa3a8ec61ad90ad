"""fn_conv2d_f32 (runtime_c/src/fn_conv2d_f32.c): float direct convolution (any stride, pad,
dilation and groups), dense; fc_f32_csr.py runs its 1x1 layers with CSR weights.

Cost (instructions, bench/sparse.py on mps2-an386, --sparse off, "dense float kernels"): per
MAC, per output and per output x filter tap, solved from its three float convolutions:
KWS's 1x1 64 -> 64 (512,000 MACs, 8,000 outputs, 1 tap) 2,138,616; KWS's first 10x4 1 -> 64
(320,000 MACs, 8,000 outputs, 40 taps) 2,654,384; 3x3 64 -> 64 on 10 x 16 (5,898,240 MACs,
10,240 outputs, 9 taps) 20,452,632: 3.321 per MAC + 51.08 per output + 3.697 per output and
tap (the per-tap loop overhead dominates layers with few input channels). The same run's
3x3 64 -> 64 on 25 x 5 (15,090,760) is estimated within 1.4 %; LeNet-5's first layer (5x5, one
input channel) is underestimated by a third (1,065,597 against 1,571,840 measured)."""
from __future__ import annotations

from ..lowering import KernelCall, params_of
from . import _conv
from .params_conv_f32 import conv2d_f32_params

NAME = "fn_conv2d_f32"
_PER_MAC, _PER_OUTPUT, _PER_TAP = 3.321, 51.08, 3.697


def supports(node, graph, target) -> str | None:
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.quant is not None:
        return "int8 layer (float kernel)"
    return None


def why(node, graph, target) -> str:
    return "float"


def cost(node, graph, target) -> int:
    _, (_, kh, kw, _) = _conv.shapes(node, graph)
    return round(_conv.estimate(node, graph, _PER_MAC, _PER_OUTPUT) + _PER_TAP * kh * kw * _conv.outputs(node, graph))


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    a = node.attrs
    x, w = _conv.shapes(node, graph)
    params = conv2d_f32_params(x, w, strides=a.strides, dilations=a.dilations, pads=a.pads, groups=a.groups,
                                   act=a.act)
    kind = "depthwise" if a.groups == x[3] and a.groups > 1 else "grouped" if a.groups > 1 else "dense"
    return KernelCall(NAME, "fn_conv_f32.h", "fn_conv2d_f32_params", params_of(params), _conv.tensor_args(node),
                      description=f"direct float conv ({kind})")

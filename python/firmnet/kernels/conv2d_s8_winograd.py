"""fn_conv2d_s8_winograd and fn_conv2d_s8_winograd_dsp (runtime_c/src/fn_conv2d_s8_winograd*.c,
contract in fn_conv2d_s8_winograd.h and fn_s8_dsp.h): int8 3x3 stride-1 convolutions (one group,
symmetric weights, in_c <= 1827) by Winograd F(2x2, 3x3), the bytes of fn_conv2d_s8; 16 products
per 2x2 output tile and channel pair instead of 36, for weights in int16 (32 bytes per filter
channel against 9). One frozen dataclass per variant (the DSP one: two channels per SMLAD).

Cost (instructions), fitted (least squares) to the figures `python bench/kernels_qemu.py` prints
for its five "ResNet-8 3x3" layers on mps2-an386 (32x32 3->16, 32x32 16->16, 16x16 32->32, 8x8
64->64, 8x8 16->24; each estimate within 3.1 % (DSP) and 0.2 % (portable) of the measured
figure), with S the product steps (tile pairs x output channel pairs x 16 positions x input
channel pairs: 8 products each), C the channel transforms (tiles x in_c) and F the tile outputs
finished (tile pairs x output channel pairs x 4):
    DSP:      9.976 S + 172.0 C + 197.1 F
    portable: 29.98 S + 158.4 C + 267.0 F
"""
from __future__ import annotations

from dataclasses import dataclass

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv, _s8_dsp, params_winograd
from ._check import refusal
from .params_requant import nest

COEFFICIENTS = {False: (29.98, 158.4, 267.0), True: (9.976, 172.0, 197.1)}   # (S, C, F), docstring


def _params(node, graph) -> tuple[dict, dict]:
    x_shape, w_shape = _conv.shapes(node, graph)
    q = node.attrs.quant
    return params_winograd.winograd_s8_params(x_shape, w_shape, weight_zero_points=q.inputs[1].zero_point,
                                              **_conv.geometry(node), **_conv.requant_quantities(node))


def terms(node, graph) -> tuple[int, int, int]:
    """(S, C, F) of the cost model (module docstring)."""
    (n, _, _, cin), (oc, _, _, _) = _conv.shapes(node, graph)
    _, oh, ow, _ = graph.types[node.outputs[0]].shape
    tile_pairs = n * -(-oh // 2) * -(-ow // 4)
    channel_pairs = -(-oc // 2)
    steps = tile_pairs * channel_pairs * 16 * (params_winograd.in_c_pad(cin) // 2)
    return steps, tile_pairs * 2 * cin, tile_pairs * channel_pairs * 4


def flash(node, graph) -> tuple[int, int]:
    """(direct, Winograd) bytes of the layer's weights."""
    return params_winograd.flash(_conv.shapes(node, graph)[1])


@dataclass(frozen=True)
class _Winograd:
    dsp: bool
    WINOGRAD = True   # noqa: N815  (select.py: --winograd decides whether it competes)

    @property
    def NAME(self) -> str:   # noqa: N802  (a variant's NAME)
        return "fn_conv2d_s8_winograd_dsp" if self.dsp else "fn_conv2d_s8_winograd"

    def supports(self, node, graph, target) -> str | None:
        if self.dsp and _s8_dsp.refuse_target(target):
            return _s8_dsp.refuse_target(target)
        if node.op != "conv2d":
            return "convolutions only"
        if node.attrs.quant is None:
            return "float layer (int8 kernel)"
        if _conv.accumulates_only(node):
            return "int32 accumulator output (no output stage)"
        if node.attrs.layout != "NHWC":
            return "NCHW layout (runs after the layout pass)"
        if not graph.is_constant(node.inputs[1]):
            return "weights are not a constant (transformed at compile time)"
        return refusal(lambda: _params(node, graph))

    def why(self, node, graph, target) -> str:
        direct, wino = flash(node, graph)
        dsp = ", DSP" if self.dsp else ""
        return f"3x3 stride 1, Winograd F(2x2,3x3){dsp}, weights {wino:,} B (direct {direct:,} B)"

    def cost(self, node, graph, target) -> int:
        return round(sum(c * t for c, t in zip(COEFFICIENTS[self.dsp], terms(node, graph), strict=True)))

    def scratch_bytes(self, node, graph) -> int:
        return params_winograd.scratch_bytes(_params(node, graph)[0])

    def flash(self, node, graph) -> tuple[int, int]:
        return flash(node, graph)

    def call(self, node, graph) -> KernelCall:
        params, arrays = _params(node, graph)
        u = params_winograd.transform_filter(graph.constants[node.inputs[1]])
        header = "fn_s8_dsp.h" if self.dsp else "fn_conv2d_s8_winograd.h"
        return KernelCall(self.NAME, header, "fn_conv2d_s8_params", params_of(nest(params, arrays)),
                          _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/winograd", u)),
                          description="int8 conv 3x3 by Winograd F(2x2,3x3)" + (", DSP (SMLAD)" if self.dsp else ""))


CONV2D_S8_WINOGRAD = _Winograd(dsp=False)
CONV2D_S8_WINOGRAD_DSP = _Winograd(dsp=True)

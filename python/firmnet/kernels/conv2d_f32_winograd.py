"""fn_conv2d_f32_winograd_f2 / fn_conv2d_f32_winograd_f4 (runtime_c/src/fn_conv2d_f32_winograd_f2.c,
_f4.c, contract and measured accuracy in fn_conv2d_f32_winograd.h): float 3x3 convolutions with
stride 1, dilation 1 and one group by Winograd F(2x2,3x3) and F(4x4,3x3). The filters are
transformed at compile time (params_winograd_f32.filter_transform): 16 (F2) or 36 (F4) floats per
filter-channel instead of 9. WINOGRAD = True: --winograd (select.py) decides whether they compete
(auto: where estimated cheaper and the board's flash holds the transformed weights).

Cost (instructions, mps2-an386, bench/winograd_float.py's per-layer QEMU profile of its VGG-style
model, the same measurement as conv2d_f32.py's): least-squares fits over the model's six 3x3
layers of per tile x input channel (input transform), per tile x output channel (output
transform, bias, clamp, store) and per tile x a^2 x input x output channel (products):
_COSTS below (written by `bench/winograd_float.py --write`; largest misfit 0.3 % on those six
layers, 3->16 on 32x32 to 64->64 on 8x8)."""
from __future__ import annotations

from dataclasses import dataclass

from ..lowering import ConstArg, KernelCall, params_of
from . import _conv
from ._check import refusal
from .params_winograd_f32 import F2, F4, Transform, filter_transform, flash_bytes, scratch_size, winograd_f32_params

# tile -> (per tile x in_c, per tile x out_c, per tile x a^2 x in_c x out_c) instructions
_COSTS = {2: (172.712, 258.305, 3.052), 4: (557.055, 779.649, 3.045)}


@dataclass(frozen=True)
class _Winograd:
    t: Transform
    WINOGRAD = True

    @property
    def NAME(self) -> str:   # noqa: N802  (a variant's NAME)
        return f"fn_conv2d_f32_winograd_f{self.t.tile}"

    def _params(self, node, graph) -> dict:
        a = node.attrs
        x, w = _conv.shapes(node, graph)
        return winograd_f32_params(x, w, strides=a.strides, dilations=a.dilations, pads=a.pads, groups=a.groups,
                                   act=a.act)

    def supports(self, node, graph, target) -> str | None:
        if node.op != "conv2d":
            return "convolutions only"
        if node.attrs.quant is not None:
            return "int8 layer (float kernel)"
        if node.attrs.layout != "NHWC":
            return "NCHW layout (runs after the layout pass)"
        if not graph.is_constant(node.inputs[1]):
            return "weights are not a constant (transformed at compile time)"
        return refusal(lambda: self._params(node, graph))

    def why(self, node, graph, target) -> str:
        direct, wino = self.flash(node, graph)
        return f"3x3 stride 1, Winograd F({self.t.tile}x{self.t.tile},3x3), weights {wino:,} B (direct {direct:,} B)"

    def tiles(self, node, graph) -> int:
        n, oh, ow, _ = graph.types[node.outputs[0]].shape
        m = self.t.tile
        return n * -(-oh // m) * -(-ow // m)

    def terms(self, node, graph) -> tuple:
        """The cost model's terms: tiles x in_c, tiles x out_c, tiles x a^2 x in_c x out_c."""
        (_, _, _, c), (oc, _, _, _) = _conv.shapes(node, graph)
        tiles = self.tiles(node, graph)
        return (tiles * c, tiles * oc, tiles * self.t.a ** 2 * c * oc)

    def cost(self, node, graph, target) -> int:
        return round(sum(k * v for k, v in zip(_COSTS[self.t.tile], self.terms(node, graph), strict=True)))

    def flash(self, node, graph) -> tuple[int, int]:
        """(direct, Winograd) bytes of the float weights."""
        _, w = _conv.shapes(node, graph)
        return flash_bytes(w, None), flash_bytes(w, self.t)

    def scratch_bytes(self, node, graph) -> int:
        return scratch_size(self._params(node, graph), self.t)

    def call(self, node, graph) -> KernelCall:
        params = self._params(node, graph)
        u = filter_transform(graph.constants[node.inputs[1]], self.t)
        m = self.t.tile
        return KernelCall(self.NAME, "fn_conv2d_f32_winograd.h", "fn_conv2d_f32_winograd_params", params_of(params),
                          _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/winograd_f{m}", u)),
                          description=f"float 3x3 conv, Winograd F({m}x{m},3x3)")


WINOGRAD_F2 = _Winograd(F2)
WINOGRAD_F4 = _Winograd(F4)

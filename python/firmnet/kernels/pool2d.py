"""fn_maxpool2d_s8, fn_avgpool2d_s8, fn_maxpool2d_f32, fn_avgpool2d_f32 (one C file each):
max and average pooling, int8 and float; each is the only kernel of its layers, so they
share this module (one instance per C function) and need no cost figure."""
from __future__ import annotations

from dataclasses import dataclass

from ..lowering import KernelCall, params_of
from ._check import refusal
from .params_pool_f32 import avgpool2d_f32_params, maxpool2d_f32_params
from .params_pool_s8 import avgpool2d_s8_params, maxpool2d_s8_params


def _params(node, graph) -> dict:
    from ..ops import pool2d as op   # ops imports kernels: the op's geometry, imported when used
    a = node.attrs
    n, h, w, c = op.nhwc(a, graph.types[node.inputs[0]].shape)
    out_hw = op.out_hw(a, h, w)
    if a.quant is not None:
        build = maxpool2d_s8_params if a.kind == "max" else avgpool2d_s8_params
        return build((n, h, w, c), **op.int8_quantities(a, out_hw))
    common = dict(kernel=a.kernel, strides=a.strides, pads=a.pads, out_size=tuple(out_hw), act=a.act)
    if a.kind == "max":
        return maxpool2d_f32_params((n, h, w, c), dilations=a.dilations, **common)
    return avgpool2d_f32_params((n, h, w, c), count_include_pad=a.count_include_pad, **common)


@dataclass(frozen=True)
class _Pool:
    kind: str        # "max" or "avg"
    int8: bool

    @property
    def NAME(self) -> str:   # noqa: N802  (a variant's NAME)
        return f"fn_{self.kind}pool2d_{'s8' if self.int8 else 'f32'}"

    def supports(self, node, graph, target) -> str | None:
        if (node.attrs.quant is not None) != self.int8:
            return "float layer (int8 kernel)" if self.int8 else "int8 layer (float kernel)"
        if node.attrs.kind != self.kind:
            return f"{node.attrs.kind} pooling ({self.kind} only)"
        return refusal(lambda: _params(node, graph))

    def why(self, node, graph, target) -> str:
        return "int8" if self.int8 else "float"

    def cost(self, node, graph, target) -> int:
        return 0

    def scratch_bytes(self, node, graph) -> int:
        return 0

    def call(self, node, graph) -> KernelCall:
        header, ptype, what = ("fn_pool_s8.h", "fn_pool2d_s8_params", "int8") if self.int8 else \
            ("fn_pool_f32.h", "fn_pool2d_f32_params", "float")
        return KernelCall(self.NAME, header, ptype, params_of(_params(node, graph)), (node.inputs[0], node.outputs[0]),
                          description=f"{what} {self.kind} pooling")


POOL2D = tuple(_Pool(kind, int8) for int8 in (True, False) for kind in ("max", "avg"))

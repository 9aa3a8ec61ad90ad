"""fn_softmax_f32 and fn_log_softmax_f32 (runtime_c/src/fn_softmax_f32.c, fn_log_softmax_f32.c):
float softmax and log-softmax over one axis; each is the only kernel of its layers."""
from __future__ import annotations

from dataclasses import dataclass

from ..lowering import KernelCall, params_of
from . import _softmax
from .params_layout import softmax_params


@dataclass(frozen=True)
class _Float:
    log: bool

    @property
    def NAME(self) -> str:   # noqa: N802  (a variant's NAME)
        return "fn_log_softmax_f32" if self.log else "fn_softmax_f32"

    def supports(self, node, graph, target) -> str | None:
        if node.attrs.quant is not None:
            return "int8 layer (float kernel)"
        if node.attrs.log != self.log:
            return "softmax (log-softmax only)" if self.log else "log-softmax (softmax only)"
        return None

    def why(self, node, graph, target) -> str:
        return "float"

    def cost(self, node, graph, target) -> int:
        return 0

    def scratch_bytes(self, node, graph) -> int:
        return 0

    def call(self, node, graph) -> KernelCall:
        params = softmax_params(*_softmax.shape_axis(node, graph))
        return KernelCall(self.NAME, "fn_elementwise_f32.h", "fn_softmax_f32_params", params_of(params),
                          (node.inputs[0], node.outputs[0]),
                          description="float log-softmax" if self.log else "float softmax")


SOFTMAX_F32 = _Float(log=False)
LOG_SOFTMAX_F32 = _Float(log=True)

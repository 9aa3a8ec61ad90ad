"""unbinarize: b1 -> float32 +1.0 / -1.0, for a float consumer of a binary layer's bits.
Kernel: fn_unbinarize_f32."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import TensorType
from ..kernels.params_binary import binarize_params
from ..lowering import KernelCall, params_of
from ..reference import binary as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    layout: str = "NCHW"


def infer(attrs, in_types):
    (x,) = in_types
    require(x.dtype == "b1", f"unbinarize: a b1 input, got {x}")
    return [TensorType(x.shape, "float32")]


def reference(attrs, x):
    return [ref.unbinarize(x)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    shape = graph.types[node.inputs[0]].shape
    return KernelCall("fn_unbinarize_f32", "fn_binary_b1.h", "fn_binarize_params", params_of(binarize_params(shape)),
                      (node.inputs[0], node.outputs[0]), description="bits to float +-1")

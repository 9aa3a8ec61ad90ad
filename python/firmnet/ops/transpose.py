"""transpose: permute axes (any dtype: the kernel moves bytes)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DTYPES, TensorType
from ..kernels.params_layout import transpose_params
from ..lowering import KernelCall, params_of
from ..reference import tensor as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    perm: tuple[int, ...]


def infer(attrs, in_types):
    (x,) = in_types
    require(sorted(attrs.perm) == list(range(len(x.shape))), f"transpose: perm {attrs.perm} does not fit {x}")
    return [TensorType(tuple(x.shape[p] for p in attrs.perm), x.dtype, x.quant)]


def reference(attrs, x):
    return [ref.transpose(x, attrs.perm)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    t = graph.types[node.inputs[0]]
    params = transpose_params(t.shape, node.attrs.perm, DTYPES[t.dtype].itemsize)
    return KernelCall("fn_transpose", "fn_tensor.h", "fn_transpose_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="layout transpose")

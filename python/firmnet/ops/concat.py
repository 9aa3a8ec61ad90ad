"""concat: join tensors along one axis (any dtype: the kernel moves bytes)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DTYPES, TensorType
from ..layout import concat_params
from ..lowering import CArray, KernelCall, TensorList, params_of
from ..reference import tensor as ref
from ._util import normalize_axis, require


@dataclass(frozen=True)
class Attrs:
    axis: int


def infer(attrs, in_types):
    first = in_types[0]
    axis = normalize_axis(attrs.axis, len(first.shape))
    for t in in_types[1:]:
        same = len(t.shape) == len(first.shape) and all(
            a == b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis)
        require(same and t.dtype == first.dtype, f"concat: inputs {first} and {t} differ outside axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in in_types)
    return [TensorType(tuple(shape), first.dtype)]


def reference(attrs, *xs):
    return [ref.concat(list(xs), normalize_axis(attrs.axis, xs[0].ndim))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    types = [graph.types[i] for i in node.inputs]
    axis = normalize_axis(node.attrs.axis, len(types[0].shape))
    params = concat_params([t.shape for t in types], axis, DTYPES[types[0].dtype].itemsize)
    params["in_block_bytes"] = CArray("int32_t", tuple(int(v) for v in params["in_block_bytes"]))
    return KernelCall("fn_concat", "fn_tensor.h", "fn_concat_params", params_of(params),
                      (TensorList(tuple(node.inputs)), node.outputs[0]), description="byte copy concat")

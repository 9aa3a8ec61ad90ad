"""slice: a strided view of a tensor copied out (ONNX Slice, Split, Gather with constant
indices; any dtype: the kernel moves bytes). Where the output's bytes are one contiguous
run of the input's (a channel half of an NCHW tensor, a batch entry), it is a zero-copy
view at that byte offset instead (memory.py).

Per dim d, out[.., i, ..] = x[.., starts[d] + i * steps[d], ..] (steps may be negative);
along gather_axis (>= 0) out takes x's entries at `indices` instead. The frontend resolves
ONNX's clamping and negative indices, so every index here is in range.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DTYPES, FirmnetError, TensorType
from ..kernels.params_layout import strided_copy_params
from ..lowering import Alias, CArray, KernelCall, params_of
from ..reference import tensor as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    starts: tuple[int, ...]
    steps: tuple[int, ...]
    shape: tuple[int, ...]            # the output's
    gather_axis: int = -1
    indices: tuple[int, ...] = ()


def _params(attrs, x: TensorType) -> dict:
    try:
        return strided_copy_params(x.shape, attrs.starts, attrs.steps, attrs.shape, DTYPES[x.dtype].itemsize,
                                   attrs.gather_axis, attrs.indices)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    rank = len(x.shape)
    require(len(attrs.starts) == len(attrs.steps) == len(attrs.shape) == rank,
            f"slice: starts {attrs.starts}, steps {attrs.steps} and shape {attrs.shape} do not fit {x}")
    require(all(s != 0 for s in attrs.steps), f"slice: steps {attrs.steps} must be non-zero")
    require(-1 <= attrs.gather_axis < rank, f"slice: gather axis {attrs.gather_axis} out of range for {x}")
    require(min(attrs.shape, default=1) >= 1, f"slice: empty output {attrs.shape} (firmnet plans no empty tensors)")
    for d, (n, start, step, m) in enumerate(zip(x.shape, attrs.starts, attrs.steps, attrs.shape)):
        if d == attrs.gather_axis:
            require(len(attrs.indices) == m and all(0 <= i < n for i in attrs.indices),
                    f"slice: indices {list(attrs.indices)[:8]} do not fit dim {d} of size {n} of {x}")
        else:
            last = start + (m - 1) * step
            require(0 <= start < n and 0 <= last < n, f"slice: dim {d} reads indices {start}..{last} of {n} of {x}")
    return [TensorType(tuple(attrs.shape), x.dtype, x.quant)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when fn_strided_copy cannot run this slice (its rank after merging; until
    kernels/ selection states it)."""
    _params(attrs, in_types[0])


def reference(attrs, x):
    return [ref.strided_slice(x, attrs.starts, attrs.steps, attrs.shape, attrs.gather_axis, attrs.indices)]


def macs(attrs, in_types, out_types):
    return 0


def is_whole(attrs, x: TensorType) -> bool:
    """The output is the input unchanged (same bytes, same order)."""
    return tuple(attrs.shape) == tuple(x.shape) and attrs.gather_axis < 0 and \
        all(n == 1 or (s == 0 and st == 1) for n, s, st in zip(x.shape, attrs.starts, attrs.steps))


def lower(node, graph):
    x = graph.types[node.inputs[0]]
    if is_whole(node.attrs, x):
        return Alias()
    p = _params(node.attrs, x)
    if p["ndim"] == 1 and p["out_shape"][0] == 1 and p["table"] is None:
        return Alias(offset=p["in_offset"])   # one contiguous run: a view, no copy
    table = p.pop("table")
    p["table"] = CArray("int32_t", tuple(table)) if table is not None else None
    return KernelCall("fn_strided_copy", "fn_tensor.h", "fn_strided_copy_params", params_of(p),
                      (node.inputs[0], node.outputs[0]), description="strided copy (slice, split, gather)")

"""ONNX reductions and slicing operators → IR nodes: Reduce{Mean,Sum,Max,Min} (the `reduce`
op) and Slice, Split, Gather with constant indices (the `slice` op, a strided copy).

Same conventions as onnx_ops.py: one function per ONNX op, keyword arguments are the
op's attributes with the spec's defaults. Where an operand moved from attribute to input
between opsets (Reduce* axes, Split's split), the attribute arrives as a list under the
input's name and the input as a tensor name.
"""
from __future__ import annotations

import numpy as np

from ..ir import UnsupportedError
from ..ops import reduce, reshape
from ..ops import slice as slice_op


def _const_ints(b, name, what):
    """A constant integer operand: an attribute's list, or a constant input tensor's values."""
    if name is None or (isinstance(name, str) and not name):
        return None
    if not isinstance(name, str):
        return [int(v) for v in name]
    value = b.value(name)
    if value is None:
        raise UnsupportedError(f"its {what} ('{name}') must be a constant (an initializer, or computable from "
                               "constants and static shapes), but it is computed at run time")
    return [int(v) for v in np.asarray(value).ravel()]


def _resolve_axes(axes, rank, what="axes"):
    if any(not -rank <= a < rank for a in axes):
        raise UnsupportedError(f"{what} {axes} are out of range for a rank-{rank} tensor")
    resolved = [a % rank for a in axes]
    if len(set(resolved)) != len(resolved):
        raise UnsupportedError(f"{what} {axes} name a dimension twice")
    return resolved


def _reduce(b, n, data, axes, kind, keepdims, noop_with_empty_axes):
    shape = b.types[data].shape
    axes = _const_ints(b, axes, "axes")
    if not axes:
        if noop_with_empty_axes:
            b.add("reshape", [data], reshape.Attrs(shape), outputs=[n.output[0]], name=n.name)
            return
        axes = list(range(len(shape)))
    axes = tuple(sorted(_resolve_axes(axes, len(shape))))
    roles = [d in axes for d, size in enumerate(shape) if size > 1]
    rows = roles == sorted(roles)     # onnxruntime's contiguous-row case: reduced dims after kept ones
    b.add("reduce", [data], reduce.Attrs(kind, axes, bool(keepdims), ort_rows=rows), outputs=[n.output[0]],
          name=n.name)


def ReduceMean(b, n, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    _reduce(b, n, data, axes, "mean", keepdims, noop_with_empty_axes)


def ReduceSum(b, n, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    _reduce(b, n, data, axes, "sum", keepdims, noop_with_empty_axes)


def ReduceMax(b, n, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    _reduce(b, n, data, axes, "max", keepdims, noop_with_empty_axes)


def ReduceMin(b, n, data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
    _reduce(b, n, data, axes, "min", keepdims, noop_with_empty_axes)


def _add_slice(b, data, starts, steps, shape, out, name, gather_axis=-1, indices=()):
    if min(shape, default=1) < 1:
        raise UnsupportedError(f"the output '{out}' would be empty (shape {list(shape)}); firmnet plans no "
                               "empty tensors")
    attrs = slice_op.Attrs(tuple(starts), tuple(steps), tuple(shape), gather_axis, tuple(indices))
    return b.add("slice", [data], attrs, outputs=[out] if out else None, name=name)[0]


def Slice(b, n, data, starts, ends, axes=None, steps=None):
    shape = b.types[data].shape
    rank = len(shape)
    starts_v = _const_ints(b, starts, "starts")
    ends_v = _const_ints(b, ends, "ends")
    axes_v = _const_ints(b, axes, "axes")
    axes_v = list(range(len(starts_v))) if axes_v is None else axes_v
    steps_v = _const_ints(b, steps, "steps") or [1] * len(starts_v)
    if not len(starts_v) == len(ends_v) == len(axes_v) == len(steps_v):
        raise UnsupportedError(f"starts {starts_v}, ends {ends_v}, axes {axes_v} and steps {steps_v} differ "
                               "in length")
    first, step, size = [0] * rank, [1] * rank, list(shape)
    for a, s, e, st in zip(_resolve_axes(axes_v, rank), starts_v, ends_v, steps_v):
        dim = shape[a]
        if st == 0:
            raise UnsupportedError("a step of 0")
        s, e = s + dim if s < 0 else s, e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        first[a], step[a], size[a] = s, st, max(0, -(-(e - s) // st))
    _add_slice(b, data, first, step, size, n.output[0], n.name)


def Split(b, n, input, split=None, *, axis=0, num_outputs=None):
    shape = b.types[input].shape
    (axis,) = _resolve_axes([axis], len(shape), "axis")
    dim, count = shape[axis], len(n.output)
    sizes = _const_ints(b, split, "split")
    if sizes is None:
        parts = num_outputs if num_outputs is not None else count
        if num_outputs is not None and num_outputs != count:
            raise UnsupportedError(f"num_outputs={num_outputs} but the node has {count} outputs")
        chunk = -(-dim // parts)
        sizes = [min(chunk, dim - k * chunk) for k in range(parts)]
    if len(sizes) != count or sum(sizes) != dim or min(sizes) < 0:
        raise UnsupportedError(f"split sizes {sizes} do not divide dimension {axis} of size {dim} into "
                               f"{count} outputs")
    begin = 0
    for k, (size, out) in enumerate(zip(sizes, n.output)):
        if out:
            starts = [begin if d == axis else 0 for d in range(len(shape))]
            out_shape = [size if d == axis else s for d, s in enumerate(shape)]
            _add_slice(b, input, starts, [1] * len(shape), out_shape, out, n.name if k == 0 else f"{n.name}/{k}")
        begin += size


def Gather(b, n, data, indices, *, axis=0):
    shape = b.types[data].shape
    (axis,) = _resolve_axes([axis], len(shape), "axis")
    index = b.value(indices)
    if index is None:
        raise UnsupportedError(f"its indices ('{indices}') must be constant: firmnet gathers activations at "
                               "indices known at compile time")
    index = np.asarray(index).astype(np.int64)
    dim = shape[axis]
    if index.size and not ((-dim <= index) & (index < dim)).all():
        raise UnsupportedError(f"indices {index.ravel()[:8].tolist()} are out of range for dimension {axis} "
                               f"of size {dim}")
    flat = [int(i) % dim for i in index.ravel()]
    out_shape = list(shape[:axis]) + list(index.shape) + list(shape[axis + 1:])
    copy_shape = [len(flat) if d == axis else s for d, s in enumerate(shape)]
    same = index.ndim == 1
    y = _add_slice(b, data, [0] * len(shape), [1] * len(shape), copy_shape, n.output[0] if same else None,
                   n.name, axis, flat)
    if not same:
        b.add("reshape", [y], reshape.Attrs(tuple(out_shape)), outputs=[n.output[0]], name=f"{n.name}/shape")


CONVERTERS = {f.__name__: f for f in (ReduceMean, ReduceSum, ReduceMax, ReduceMin, Slice, Split, Gather)}

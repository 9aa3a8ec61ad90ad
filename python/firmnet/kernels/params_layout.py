"""Parameter structs of the element-wise and layout kernels, computed in one place.

Each function returns a dict whose keys are exactly the field names of the C
struct in runtime_c/include/fn_elementwise_f32.h or fn_tensor.h, with fixed-size
arrays given in full (FN_MAX_DIMS entries, unused ones 0), so that
`ffi.new("fn_binary_f32_params *", binary_params(...))` and the code generator fill
the same struct. The functions also simplify the problem where that is free:
size-1 dimensions are dropped and adjacent dimensions that stay adjacent are merged,
which lowers the rank (the kernels accept at most FN_MAX_DIMS) and lengthens the
contiguous innermost runs the kernels copy or compute in one loop.

They raise ValueError with the reason when the kernel cannot do the job.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..lowering import CEnum, c_enum

FN_MAX_DIMS = 6          # fn_common.h
INT32_MAX = 2**31 - 1

BINARY_OPS = {"add": 0, "sub": 1, "mul": 2, "div": 3,                      # fn_binary_op
              "pow": 4, "min": 5, "max": 6, "prelu": 7}
UNARY_OPS = {"identity": 0, "leaky_relu": 1, "sigmoid": 2, "tanh": 3,       # fn_unary_op
             "hard_sigmoid": 4, "hard_swish": 5, "exp": 6, "log": 7, "sqrt": 8, "reciprocal": 9,
             "abs": 10, "neg": 11, "erf": 12, "gelu": 13, "gelu_tanh": 14, "elu": 15, "selu": 16,
             "softplus": 17, "pow": 18, "silu": 19, "square": 20, "sign": 21, "bipolar": 22}
COMPARE_OPS = {"less": 0, "less_equal": 1, "greater": 2, "greater_equal": 3}   # fn_compare_op
_BINARY, _UNARY, _COMPARE = (c_enum(BINARY_OPS, "FN_BINARY_"), c_enum(UNARY_OPS, "FN_UNARY_"),
                             c_enum(COMPARE_OPS, "FN_COMPARE_"))
TRANSPOSE_ELEM_SIZES = (1, 2, 4, 8)


def _padded(values: Sequence[int]) -> list[int]:
    return [int(v) for v in values] + [0] * (FN_MAX_DIMS - len(values))


def _shape(shape: Sequence[int], what: str, min_dim: int = 1) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if any(d < min_dim for d in shape):
        raise ValueError(f"{what}: every dimension must be >= {min_dim}, got shape {list(shape)}")
    if math.prod(shape) > INT32_MAX:
        raise ValueError(f"{what}: shape {list(shape)} has more than 2^31-1 elements")
    return shape


def _op(table: dict[str, CEnum], op: str, what: str) -> CEnum:
    if op not in table:
        raise ValueError(f"{what}: op {op!r} unknown (supported: {', '.join(table)})")
    return table[op]


def _act(act: tuple[float, float], what: str) -> dict:
    """The clamp bounds as the float32 values the C struct will hold.

    min > max is accepted and, as in numpy.clip and ONNX Clip, gives max everywhere
    (NaN excepted): the kernels apply max(., min) first, then min(., max).
    """
    lo, hi = (float(np.float32(v)) for v in act)
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"{what}: activation range {tuple(act)} has a NaN bound")
    return {"act_min": lo, "act_max": hi}


def _elem_size(elem_size: int, allowed: Sequence[int], what: str) -> int:
    if int(elem_size) not in allowed:
        raise ValueError(f"{what}: element size {elem_size} unsupported (supported: {list(allowed)} bytes)")
    return int(elem_size)


def _strides(full: Sequence[int]) -> list[int]:
    """Element strides of a contiguous tensor of shape full, 0 where a dim is 1 (broadcast)."""
    s, acc = [0] * len(full), 1
    for d in range(len(full) - 1, -1, -1):
        s[d] = acc if full[d] > 1 else 0
        acc *= full[d]
    return s


def _merged_broadcast(out: Sequence[int], operand_strides: list[list[int]], what: str, doing: str) -> list[tuple]:
    """(size, stride of each operand) per output dim: size-1 dims dropped, adjacent dims merged
    when every operand steps through them contiguously (or broadcasts both)."""
    dims = [(n, *xs) for n, *xs in zip(out, *operand_strides) if n > 1]
    merged: list[tuple] = []
    for n, *xs in dims:
        if merged:
            pn, *pxs = merged[-1]
            if all(px == x * n for px, x in zip(pxs, xs)):
                merged[-1] = (pn * n, *xs)
                continue
        merged.append((n, *xs))
    if not merged:
        merged = [(1,) + (0,) * len(operand_strides)]
    if len(merged) > FN_MAX_DIMS:
        raise ValueError(f"{what}: {doing} needs {len(merged)} dimensions after merging, the kernel supports "
                         f"at most {FN_MAX_DIMS}")
    return merged


def binary_params(a_shape: Sequence[int], b_shape: Sequence[int], op: str,
                  act: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """fn_binary_f32_params for `a OP b` with numpy broadcasting (shapes right-aligned).

    Output dims of size 1 are dropped; adjacent dims are merged when both operands
    step through them contiguously (or both broadcast them). A scalar output gives
    ndim 1, out_shape [1].
    """
    what = f"binary {op}"
    code = _op(_BINARY, op, what)
    a_shape, b_shape = _shape(a_shape, what), _shape(b_shape, what)
    rank = max(len(a_shape), len(b_shape))
    a_full = (1,) * (rank - len(a_shape)) + a_shape
    b_full = (1,) * (rank - len(b_shape)) + b_shape
    out = []
    for d, (x, y) in enumerate(zip(a_full, b_full)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{what}: shapes {list(a_shape)} and {list(b_shape)} do not broadcast "
                             f"(dimension {d - rank}: {x} vs {y})")
        out.append(max(x, y))
    _shape(out, what)
    merged = _merged_broadcast(out, [_strides(a_full), _strides(b_full)], what,
                               f"broadcasting {list(a_shape)} with {list(b_shape)}")
    return {
        "op": code,
        "ndim": len(merged),
        "out_shape": _padded([m[0] for m in merged]),
        "a_strides": _padded([m[1] for m in merged]),
        "b_strides": _padded([m[2] for m in merged]),
        **_act(act, what),
    }


def compare_params(a_shape: Sequence[int], b_shape: Sequence[int], op: str) -> dict:
    """fn_binary_f32_params for fn_compare_f32 (op: a fn_compare_op code, no clamp)."""
    params = binary_params(a_shape, b_shape, "add")
    params["op"] = _op(_COMPARE, op, f"compare {op}")
    return params


def where_params(a_shape: Sequence[int], b_shape: Sequence[int], out_shape: Sequence[int]) -> dict:
    """fn_where_f32_params: a and b broadcast to out_shape (the shape of the condition
    after broadcasting, which the kernel reads one byte per output element)."""
    what = "where"
    out_shape = _shape(out_shape, what)
    try:
        fits = tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape), out_shape)) == out_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{what}: shapes {list(a_shape)} and {list(b_shape)} do not broadcast to {list(out_shape)}")
    rank = len(out_shape)
    a_full = (1,) * (rank - len(a_shape)) + tuple(int(d) for d in a_shape)
    b_full = (1,) * (rank - len(b_shape)) + tuple(int(d) for d in b_shape)
    merged = _merged_broadcast(out_shape, [_strides(a_full), _strides(b_full)], what,
                               f"broadcasting {list(a_shape)} and {list(b_shape)} to {list(out_shape)}")
    return {"ndim": len(merged), "out_shape": _padded([m[0] for m in merged]),
            "a_strides": _padded([m[1] for m in merged]), "b_strides": _padded([m[2] for m in merged])}


def unary_params(count: int, op: str, alpha: float = 0.0, beta: float = 0.0,
                 act: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """fn_unary_f32_params for `count` elements."""
    what = f"unary {op}"
    code = _op(_UNARY, op, what)
    if not 1 <= int(count) <= INT32_MAX:
        raise ValueError(f"{what}: element count must be in 1..2^31-1, got {count}")
    return {"op": code, "count": int(count), "alpha": float(np.float32(alpha)),
            "beta": float(np.float32(beta)), **_act(act, what)}


def softmax_params(shape: Sequence[int], axis: int) -> dict:
    """fn_softmax_f32_params: the tensor viewed as [outer, axis_len, inner]."""
    shape = _shape(shape, "softmax")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"softmax: axis {axis} is out of range for shape {list(shape)}")
    axis %= len(shape)
    return {"outer": math.prod(shape[:axis]), "axis_len": shape[axis], "inner": math.prod(shape[axis + 1:])}


def transpose_params(shape: Sequence[int], perm: Sequence[int], elem_size: int) -> dict:
    """fn_transpose_params for numpy.transpose(x, perm).

    Size-1 input dims are dropped, and runs of input dims that stay adjacent and in
    order in the output are merged into one; an identity permutation becomes a copy
    (ndim 1).
    """
    shape = _shape(shape, "transpose")
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(len(shape))):
        raise ValueError(f"transpose: perm {list(perm)} is not a permutation of the {len(shape)} axes "
                         f"of shape {list(shape)}")
    es = _elem_size(elem_size, TRANSPOSE_ELEM_SIZES, "transpose")
    kept = [d for d in range(len(shape)) if shape[d] > 1]
    renum = {d: i for i, d in enumerate(kept)}
    s = [shape[d] for d in kept]
    p = [renum[d] for d in perm if d in renum]
    # Groups of consecutive input dims, in output order.
    groups: list[list[int]] = []
    for d in p:
        if groups and groups[-1][-1] + 1 == d:
            groups[-1].append(d)
        else:
            groups.append([d])
    by_input = sorted(range(len(groups)), key=lambda g: groups[g][0])
    new_shape = [math.prod(s[d] for d in groups[g]) for g in by_input]
    position = {g: i for i, g in enumerate(by_input)}
    new_perm = [position[g] for g in range(len(groups))]
    if not new_shape:
        new_shape, new_perm = [1], [0]
    if len(new_shape) > FN_MAX_DIMS:
        raise ValueError(f"transpose: shape {list(shape)} with perm {list(perm)} needs {len(new_shape)} "
                         f"dimensions after merging, the kernel supports at most {FN_MAX_DIMS}")
    return {"ndim": len(new_shape), "in_shape": _padded(new_shape), "perm": _padded(new_perm), "elem_size": es}


def concat_params(shapes: Sequence[Sequence[int]], axis: int, elem_size: int) -> dict:
    """fn_concat_params for numpy.concatenate(xs, axis); in_block_bytes is a list.

    Inputs may have size 0 along the axis (their blocks are empty), nowhere else.
    """
    if not shapes:
        raise ValueError("concat: needs at least one input")
    shapes = [tuple(int(d) for d in s) for s in shapes]
    rank = len(shapes[0])
    if rank == 0:
        raise ValueError("concat: inputs must have rank >= 1")
    if not -rank <= axis < rank:
        raise ValueError(f"concat: axis {axis} is out of range for rank {rank}")
    axis %= rank
    for s in shapes:
        if len(s) != rank or any(a != b for d, (a, b) in enumerate(zip(s, shapes[0])) if d != axis):
            raise ValueError(f"concat: shapes {[list(t) for t in shapes]} differ outside axis {axis}")
        _shape(s[:axis] + s[axis + 1:], "concat")
        if s[axis] < 0:
            raise ValueError(f"concat: negative dimension in shape {list(s)}")
    if int(elem_size) < 1:
        raise ValueError(f"concat: element size must be >= 1, got {elem_size}")
    inner = math.prod(shapes[0][axis + 1:]) * int(elem_size)
    blocks = [s[axis] * inner for s in shapes]
    outer = math.prod(shapes[0][:axis])
    if max(blocks) > INT32_MAX or outer * sum(blocks) > INT32_MAX:
        raise ValueError(f"concat: output of {outer * sum(blocks)} bytes is too large for int32 sizes")
    return {"n_inputs": len(shapes), "outer": outer, "in_block_bytes": blocks}


def pad_params(shape: Sequence[int], before: Sequence[int], after: Sequence[int], elem_size: int,
               value_bytes: bytes) -> dict:
    """fn_pad_params for constant padding with the element whose bytes are value_bytes.

    Size-1 dims without padding are dropped and a dim without padding is merged into
    the dim before it (its rows become part of longer rows), so the rank drops and
    memcpy runs get longer.
    """
    shape = _shape(shape, "pad")
    before, after = [int(v) for v in before], [int(v) for v in after]
    if len(before) != len(shape) or len(after) != len(shape):
        raise ValueError(f"pad: {len(before)} pads before and {len(after)} after do not fit "
                         f"rank {len(shape)} (shape {list(shape)})")
    if min(before + after, default=0) < 0:
        raise ValueError(f"pad: negative pads (cropping) are not supported: before {before}, after {after}")
    es = _elem_size(elem_size, range(1, 9), "pad")
    value_bytes = bytes(value_bytes)
    if len(value_bytes) != es:
        raise ValueError(f"pad: the padding value has {len(value_bytes)} bytes, elements have {es}")
    out_shape = [n + b + a for n, b, a in zip(shape, before, after)]
    _shape(out_shape, "pad (output)")
    # Drop size-1 dims without padding, then merge from the inside: dim d+1 without
    # padding folds into dim d.
    dims = [[n, b, a] for n, b, a in zip(shape, before, after) if (n, b, a) != (1, 0, 0)] or [[1, 0, 0]]
    merged = [dims[-1]]
    for n, b, a in reversed(dims[:-1]):
        inner = merged[0]
        if inner[1] == 0 and inner[2] == 0:
            k = inner[0]
            merged[0] = [n * k, b * k, a * k]
        else:
            merged.insert(0, [n, b, a])
    if len(merged) > FN_MAX_DIMS:
        raise ValueError(f"pad: shape {list(shape)} with pads {before}/{after} needs {len(merged)} "
                         f"dimensions after merging, the kernel supports at most {FN_MAX_DIMS}")
    return {
        "ndim": len(merged),
        "in_shape": _padded([m[0] for m in merged]),
        "pad_before": _padded([m[1] for m in merged]),
        "pad_after": _padded([m[2] for m in merged]),
        "elem_size": es,
        "value": list(value_bytes) + [0] * (8 - es),
    }


def strided_copy_params(in_shape: Sequence[int], starts: Sequence[int], steps: Sequence[int],
                        out_shape: Sequence[int], elem_size: int, table_dim: int = -1,
                        indices: Sequence[int] = ()) -> dict:
    """fn_strided_copy_params for out[i] = in[starts + i * steps] per dim (and, for
    table_dim >= 0, in[indices[i]] along that dim); the table is returned as a list
    under "table" (None when unused, and for indices in arithmetic progression, which
    become a start and a step).

    Size-1 output dims are dropped, innermost dims the copy reads contiguously become
    one block of bytes, and neighbouring dims that step through the input as one are
    merged.
    """
    what = "strided copy"
    in_shape, out_shape = _shape(in_shape, what), _shape(out_shape, what)
    rank = len(in_shape)
    if not (len(starts) == len(steps) == len(out_shape) == rank) or rank == 0:
        raise ValueError(f"{what}: starts {list(starts)}, steps {list(steps)} and output shape "
                         f"{list(out_shape)} do not fit the input shape {list(in_shape)}")
    if int(elem_size) < 1:
        raise ValueError(f"{what}: element size must be >= 1, got {elem_size}")
    strides, acc = [0] * rank, int(elem_size)
    for d in range(rank - 1, -1, -1):
        strides[d], acc = acc, acc * in_shape[d]
    if table_dim >= 0:   # indices in arithmetic progression (one index included) need no table
        idx = [int(i) for i in indices]
        steps_seen = {b - a for a, b in zip(idx, idx[1:])}
        if idx and len(steps_seen) <= 1 and 0 not in steps_seen and len(idx) == out_shape[table_dim]:
            starts, steps = list(starts), list(steps)
            starts[table_dim], steps[table_dim] = idx[0], (steps_seen.pop() if steps_seen else 1)
            table_dim, indices = -1, ()
    offset = 0
    for d in range(rank):
        if d == table_dim:
            idx = [int(i) for i in indices]
            if len(idx) != out_shape[d] or not all(0 <= i < in_shape[d] for i in idx):
                raise ValueError(f"{what}: indices {idx[:8]} do not fit dim {d} of size {in_shape[d]}")
            continue
        first, last = int(starts[d]), int(starts[d]) + (out_shape[d] - 1) * int(steps[d])
        if not (0 <= first < in_shape[d] and 0 <= last < in_shape[d]):
            raise ValueError(f"{what}: dim {d} reads indices {first}..{last} of {in_shape[d]}")
        offset += first * strides[d]
    # (size, byte stride, is the table dim) per output dim, size-1 dims dropped
    dims = [(n, 0 if d == table_dim else int(steps[d]) * strides[d], d == table_dim)
            for d, n in enumerate(out_shape) if n > 1 or d == table_dim]
    table = None
    if table_dim >= 0:
        table = [i * strides[table_dim] for i in indices]
    block = int(elem_size)
    while dims and not dims[-1][2] and dims[-1][1] == block:
        block *= dims.pop()[0]
    merged: list[tuple[int, int, bool]] = []
    for n, s, is_table in dims:
        if merged and not is_table and not merged[-1][2] and merged[-1][1] == s * n:
            merged[-1] = (merged[-1][0] * n, s, False)
            continue
        merged.append((n, s, is_table))
    if not merged:
        merged = [(1, 0, False)]
    if len(merged) > FN_MAX_DIMS:
        raise ValueError(f"{what}: needs {len(merged)} dimensions after merging, the kernel supports at most "
                         f"{FN_MAX_DIMS}")
    tdim = next((k for k, m in enumerate(merged) if m[2]), -1)
    return {"ndim": len(merged), "out_shape": _padded([m[0] for m in merged]),
            "in_stride": _padded([m[1] for m in merged]), "in_offset": offset, "block_bytes": block,
            "table_dim": tdim, "table": table}


REDUCE_OPS = {"mean": 0, "sum": 1, "max": 2, "min": 3}      # fn_reduce_op
_REDUCE = c_enum(REDUCE_OPS, "FN_REDUCE_")
REDUCE_RANK = 4                                              # kept and reduced dims each, fn_reduce.h


def merge_reduce_dims(shape: Sequence[int], axes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape, axes) with size-1 dims dropped and neighbours of the same role (kept or
    reduced) merged: the same reduction over the same row-major bytes."""
    shape = _shape(shape, "reduce")
    flags = [d in set(axes) for d in range(len(shape))]
    merged: list[list] = []
    for n, r in zip(shape, flags):
        if n == 1:
            continue
        if merged and merged[-1][1] == r:
            merged[-1][0] *= n
        else:
            merged.append([n, r])
    return tuple(m[0] for m in merged), tuple(k for k, m in enumerate(merged) if m[1])


def reduce_params(shape: Sequence[int], axes: Sequence[int], op: str) -> dict:
    """fn_reduce_params for op over `axes` (non-negative) of a row-major tensor of `shape`."""
    what = f"reduce {op}"
    code = _op(_REDUCE, op, what)
    dims, red = merge_reduce_dims(shape, axes)
    strides, acc = [0] * len(dims), 1
    for d in range(len(dims) - 1, -1, -1):
        strides[d], acc = acc, acc * dims[d]
    kept = [(dims[d], strides[d]) for d in range(len(dims)) if d not in red]
    reduced = [(dims[d], strides[d]) for d in red]
    if len(kept) > REDUCE_RANK or len(reduced) > REDUCE_RANK:
        raise ValueError(f"{what}: axes {list(axes)} of shape {list(shape)} leave {len(kept)} kept and "
                         f"{len(reduced)} reduced runs of dimensions; the kernel takes at most {REDUCE_RANK} each")

    def four(pairs):
        pairs = [(1, 0)] * (REDUCE_RANK - len(pairs)) + pairs
        return [p[0] for p in pairs], [p[1] for p in pairs]
    out_shape, out_stride = four(kept)
    red_shape, red_stride = four(reduced)
    return {"op": code, "out_shape": out_shape, "out_stride": out_stride, "red_shape": red_shape,
            "red_stride": red_stride}

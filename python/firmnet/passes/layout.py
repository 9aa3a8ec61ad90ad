"""NCHW → NHWC inside the model, keeping the model's own layout at its inputs and outputs.

Each tensor is tracked with the permutation P of its storage: stored = transpose(logical, P).
Convolutions and pooling switch to NHWC; element-wise ops, concat, softmax, pad, slice
and reduce follow whatever layout their input has (adjusting axes); constants are permuted at
compile time; a flatten feeding fully connected layers permutes the weights' columns
instead of the activations. Anything else gets its input back in the logical
layout through an explicit transpose (which simplify_layout may later remove).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import Graph

NHWC = (0, 2, 3, 1)
# ops with a layout attribute, lowered only in NHWC (conv_transpose's filter keeps its layout)
SPATIAL_OPS = ("conv2d", "pool2d", "conv_transpose", "bconv2d", "bmaxpool", "binarize", "unbinarize")


def _identity(rank):
    return tuple(range(rank))


def _is_identity(perm):
    return perm is None or tuple(perm) == _identity(len(perm))


def memory_order_kept(shape, perm) -> bool:
    """True if transpose(x, perm) has the same bytes as x for every x of this shape
    (the dims that are not 1 keep their order)."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


class _Layouts:
    def __init__(self, graph: Graph):
        self.g = graph
        self.b = rebuild_from(graph)
        self.perm: dict[str, tuple] = {}          # tensor → storage permutation (absent = logical)
        self.columns: dict[str, np.ndarray] = {}  # flattened tensor → logical column of each stored column
        self.cache: dict[tuple, str] = {}

    def rank(self, name):
        return len(self.g.types[name].shape)

    def perm_of(self, name):
        return self.perm.get(name, _identity(self.rank(name)))

    def in_layout(self, name, target) -> str:
        """The tensor stored with permutation target (a transpose node or a permuted constant)."""
        current = self.perm_of(name)
        if tuple(current) == tuple(target):
            return name
        key = (name, tuple(target))
        if key not in self.cache:
            if name in self.g.constants:
                logical = self.g.constants[name]
                self.cache[key] = self.b.const(np.ascontiguousarray(logical.transpose(target)), f"{name}/perm")
            else:
                rel = tuple(current.index(t) for t in target)
                self.cache[key] = self.b.add("transpose", [name], _transpose(rel), name=f"{name}/to_layout")[0]
        return self.cache[key]

    def logical(self, name) -> str:
        if name in self.columns:
            raise AssertionError("a column-permuted tensor is only read by dense nodes")
        return self.in_layout(name, _identity(self.rank(name)))

    def emit(self, node, inputs, attrs=None, out_perm=None, outputs=None):
        outs = self.b.add(node.op, inputs, attrs if attrs is not None else node.attrs,
                          outputs or node.outputs, node.name)
        if out_perm is not None and not _is_identity(out_perm):
            for o in outs:
                self.perm[o] = tuple(out_perm)
        return outs


def _transpose(perm):
    from ..ops import transpose
    return transpose.Attrs(tuple(int(p) for p in perm))


def _spatial(lay, node):
    x = lay.in_layout(node.inputs[0], NHWC)
    inputs = [x]
    if node.op in ("conv2d", "bconv2d"):
        w = lay.g.constants[node.inputs[1]]
        inputs.append(lay.b.const(np.ascontiguousarray(w.transpose(NHWC)), f"{node.inputs[1]}/ohwi"))
        inputs.extend(node.inputs[2:])
    else:
        inputs.extend(node.inputs[1:])
    lay.emit(node, inputs, dataclasses.replace(node.attrs, layout="NHWC"), NHWC)


def _resize(lay, node):
    """Resize runs in whichever of NCHW and NHWC its input is stored in (the kernel takes both)."""
    x = node.inputs[0]
    if tuple(lay.perm_of(x)) == NHWC:
        lay.emit(node, [x], dataclasses.replace(node.attrs, layout="NHWC"), NHWC)
    else:
        lay.emit(node, [lay.logical(x)])


def _normalization(lay, node):
    """Instance/group norm run in NHWC when their input is stored so; layer norm runs on any
    stored layout that keeps the axes before its first normalized axis in place (the
    normalized elements are then the same trailing block), with its scale and bias permuted."""
    x, a = node.inputs[0], node.attrs
    p = tuple(lay.perm_of(x))
    if a.kind == "channels" and p == NHWC:
        lay.emit(node, [x, *node.inputs[1:]], dataclasses.replace(a, layout="NHWC"), NHWC)
    elif a.kind == "layer" and not a.stats and not _is_identity(p) and p[:a.axis] == _identity(a.axis) \
            and all(i in lay.g.constants for i in node.inputs[1:]):
        inner = [d - a.axis for d in p[a.axis:]]
        params = [lay.b.const(np.ascontiguousarray(lay.g.constants[i].transpose(inner)), f"{i}/perm")
                  for i in node.inputs[1:]]
        lay.emit(node, [x, *params], None, p)
    else:
        lay.emit(node, [lay.logical(x), *node.inputs[1:]])


def _follow(lay, node):
    """unary, softmax, pad, per-tensor (de)quantize: same layout as the input, axes adjusted."""
    x = node.inputs[0]
    p = lay.perm_of(x)
    attrs = node.attrs
    if node.op == "softmax":
        axis = node.attrs.axis % len(p)
        attrs = dataclasses.replace(attrs, axis=p.index(axis))
    elif node.op == "pad":
        attrs = dataclasses.replace(attrs, before=tuple(attrs.before[i] for i in p),
                                    after=tuple(attrs.after[i] for i in p))
    lay.emit(node, [x], attrs, p)


def _slice(lay, node):
    """slice: the same strided copy on the stored dims (stored dim j is logical dim p[j])."""
    x = node.inputs[0]
    p = lay.perm_of(x)
    a = node.attrs
    attrs = dataclasses.replace(a, starts=tuple(a.starts[i] for i in p), steps=tuple(a.steps[i] for i in p),
                                shape=tuple(a.shape[i] for i in p),
                                gather_axis=p.index(a.gather_axis) if a.gather_axis >= 0 else -1)
    lay.emit(node, [x], attrs, p)


def _reduce(lay, node):
    """reduce: the stored axes of the logical ones; without keep_dims the output's storage
    keeps the order of the remaining dims (NHWC reduced over H, W is [N, C], the logical order)."""
    x = node.inputs[0]
    p = lay.perm_of(x)
    axes = node.attrs.axes
    kept_order = [d for d in p if d not in axes]
    reduced_order = [d for d in p if d in axes]
    same_order = kept_order == sorted(kept_order) and reduced_order == sorted(reduced_order)
    attrs = dataclasses.replace(node.attrs, axes=tuple(sorted(p.index(a) for a in axes)),
                                ort_rows=node.attrs.ort_rows and same_order)
    if node.attrs.keep_dims:
        out_perm = p
    else:
        rest = [d for d in p if d not in axes]
        out_perm = tuple(sorted(rest).index(d) for d in rest)
    lay.emit(node, [x], attrs, out_perm)


def _operand(lay, name, rank, perm):
    """A binary operand in layout perm, broadcast to the output rank if constant."""
    if name in lay.g.constants:
        value = lay.g.constants[name]
        value = value.reshape((1,) * (rank - value.ndim) + value.shape)
        if _is_identity(perm):
            return name
        return lay.b.const(np.ascontiguousarray(value.transpose(perm)), f"{name}/perm")
    return lay.in_layout(name, perm) if lay.rank(name) == rank else lay.logical(name)


def _binary(lay, node):
    rank = len(lay.g.types[node.outputs[0]].shape)
    candidates = [lay.perm_of(i) for i in node.inputs if i not in lay.g.constants and lay.rank(i) == rank]
    perm = next((p for p in candidates if not _is_identity(p)), _identity(rank))
    lower_rank_dynamic = any(i not in lay.g.constants and lay.rank(i) < rank for i in node.inputs)
    if lower_rank_dynamic:
        perm = _identity(rank)
    lay.emit(node, [_operand(lay, i, rank, perm) for i in node.inputs], None, perm)


def _concat(lay, node):
    perm = lay.perm_of(node.inputs[0])
    axis = node.attrs.axis % len(perm)
    inputs = [_operand(lay, i, len(perm), perm) for i in node.inputs]
    lay.emit(node, inputs, dataclasses.replace(node.attrs, axis=perm.index(axis)), perm)


def _transpose_node(lay, node):
    x = node.inputs[0]
    current = lay.perm_of(x)
    rel = tuple(current.index(t) for t in node.attrs.perm)
    lay.emit(node, [x], _transpose(rel))


def _flatten_columns(lay, node, consumers):
    """Flatten [N, ...] → [N, K] of a permuted tensor read only by dense nodes: keep the
    stored order and permute the dense weights' columns instead. Returns True if done."""
    x, out = node.inputs[0], node.outputs[0]
    p, logical = lay.perm_of(x), lay.g.types[x].shape
    new = node.attrs.shape
    users = consumers.get(out, [])
    if (len(new) != 2 or p[0] != 0 or new[0] != logical[0] or out in lay.g.outputs or not users
            or any(u.op != "dense" or u.inputs[0] != out or u.inputs[1] not in lay.g.constants for u in users)):
        return False
    index = np.arange(int(np.prod(logical[1:]))).reshape(logical[1:])
    lay.columns[out] = index.transpose([d - 1 for d in p[1:]]).ravel()
    lay.emit(node, [x])
    return True


def _reshape(lay, node, consumers):
    x = node.inputs[0]
    p = lay.perm_of(x)
    if _is_identity(p) or memory_order_kept(lay.g.types[x].shape, p):
        lay.emit(node, [x])
    elif not _flatten_columns(lay, node, consumers):
        lay.emit(node, [lay.logical(x)])


def _dense(lay, node):
    x = node.inputs[0]
    inputs = list(node.inputs)
    if x in lay.columns:
        w = lay.g.constants[node.inputs[1]]
        inputs[1] = lay.b.const(np.ascontiguousarray(w[:, lay.columns[x]]), f"{node.inputs[1]}/cols")
    else:
        inputs[0] = lay.logical(x)
    lay.emit(node, inputs)


def to_nhwc(graph: Graph) -> Graph:
    """Run convolutions and pooling in NHWC. Does not fire on graphs without 4-D NCHW SPATIAL_OPS."""
    if not any(n.op in SPATIAL_OPS and n.attrs.layout == "NCHW" for n in graph.nodes):
        return graph
    lay = _Layouts(graph)
    consumers = graph.consumers()
    for node in graph.nodes:
        if node.op in SPATIAL_OPS:
            _spatial(lay, node)
        elif node.op in ("unary", "softmax", "pad") or (
                node.op in ("quantize", "dequantize") and node.attrs.quant.axis is None):
            _follow(lay, node)
        elif node.op == "resize":
            _resize(lay, node)
        elif node.op == "normalization":
            _normalization(lay, node)
        elif node.op in ("binary", "where", "compare"):
            _binary(lay, node)
        elif node.op == "concat":
            _concat(lay, node)
        elif node.op == "slice":
            _slice(lay, node)
        elif node.op == "reduce":
            _reduce(lay, node)
        elif node.op == "transpose":
            _transpose_node(lay, node)
        elif node.op == "reshape":
            _reshape(lay, node, consumers)
        elif node.op == "dense":
            _dense(lay, node)
        else:
            lay.emit(node, [lay.logical(i) if i else i for i in node.inputs])
    # graph outputs leave in the model's own layout
    renamed = {}
    for out in graph.outputs:
        if not _is_identity(lay.perm_of(out)):
            renamed[out] = f"{out}#stored"
    if renamed:
        lay.b.nodes = [dataclasses.replace(n, inputs=tuple(renamed.get(i, i) for i in n.inputs),
                                           outputs=tuple(renamed.get(o, o) for o in n.outputs))
                       for n in lay.b.nodes]
        for old, new in renamed.items():
            lay.b.types[new] = lay.b.types.pop(old)
            p = lay.perm.pop(old)
            lay.b.add("transpose", [new], _transpose(tuple(np.argsort(p))), [old], f"{old}/to_model_layout")
    return lay.b.build(graph.outputs)

"""Concat producers write straight into their slice of the output: the Concat emits no code.

A Concat (fn_concat, the byte copy: inputs and output of one quantization) copies each input
into its slice of the output. When every input is written by a kernel for this Concat only,
the producers can write their outputs into those slices directly and the copy goes away:
each input becomes a *view* of the output's buffer (memory.analyse joins it into the
output's alias group at the slice's byte offset), and the Concat is lowered as an Alias. The
output's buffer then lives from the first producer's write to the output's last read, which
the schedule's live-set model (schedule.problem_of) and the planner both see, so the bound
the report prints stays the bound of what runs.

Exactness. The producers compute the same values; only where they store them changes. Two
layouts are possible:

* contiguous: every axis before the concat axis has size 1 (e.g. NHWC rows, H, batch 1, or
  any axis of a [1, ..., 1, K, ...] tensor). Input i is then one contiguous run of the
  output's bytes, at (sum of the earlier inputs' sizes along the axis) x (bytes per index of
  the axis); any kernel writes it unchanged.
* strided: the concat axis is the last one (NHWC channels) and some earlier axis is larger
  than 1. Input i's rows (its last axis, e.g. one pixel's channels) are then out_c_i elements
  every out_c elements of the output: the producer must write its rows out_c elements apart.
  Only the kernels in ``STRIDED`` can (they take an ``out_stride`` parameter: elements from
  one output row to the next, 0 = dense); a Concat with another producer keeps its copy.

A Concat is turned into views only when all its inputs qualify: each is produced by a
kernel call (not a reshape or slice view, nor another elided Concat) with one output, read
by this Concat only and only once, and none is a graph input, output or constant; the
Concat's output is no graph output (interface tensors are never aliased). The producers get
no in-place tie (memory._ties: the overlap declarations of in_place.py assume a dense output
of their own, not a slice of a larger buffer), and the trace build skips their steps (their bytes are not one run); the
Concat's own step traces the joined output.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .ir import DTYPES, Graph
from .lowering import Alias, KernelCall

__all__ = ["STRIDED", "View", "find", "apply", "slice_offsets"]

# Kernels whose parameter struct has `int32_t out_stride` (elements from one row of the output's
# last axis to the next; 0 = the last axis' size, dense), added for this module.
STRIDED = frozenset({
    "fn_fc_f32_csr",                 # output rows (pixels of a 1x1 convolution)
    "fn_conv2d_f32_winograd_f2",     # output pixels
    "fn_conv2d_f32_winograd_f4",
    "fn_maxpool2d_f32",
    "fn_avgpool2d_f32",
    "fn_maxpool2d_s8",
    "fn_avgpool2d_s8",
})


@dataclass(frozen=True)
class View:
    concat: str                 # the Concat node (now an Alias)
    inputs: tuple[str, ...]     # its input tensors, each a view of the output
    producers: tuple[str, ...]  # the nodes that write them
    strided: bool               # True: rows out_stride elements apart (see the module docstring)
    out_stride: int = 0         # elements between rows (strided only)


def _axis(node, ndim: int) -> int:
    axis = int(node.attrs.axis)
    return axis + ndim if axis < 0 else axis


def slice_offsets(graph: Graph, node) -> tuple[list[int], bool]:
    """(byte offset of each input's first element inside the Concat's output, strided): the
    offset is the earlier inputs' extent along the axis times the bytes of one index of it."""
    out = graph.types[node.outputs[0]]
    axis = _axis(node, len(out.shape))
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    per_index = out.nbytes // max(1, outer * int(out.shape[axis]))
    offsets, at = [], 0
    for t in node.inputs:
        offsets.append(at * per_index)
        at += int(graph.types[t].shape[axis])
    return offsets, outer > 1


def _view_of(graph: Graph, lowered: dict, node, producer: dict, readers: dict) -> View | None:
    call = lowered.get(node.name)
    if not isinstance(call, KernelCall) or call.function != "fn_concat" or len(node.outputs) != 1:
        return None
    out = node.outputs[0]
    interface = set(graph.inputs) | set(graph.outputs)
    if out in interface or len(set(node.inputs)) != len(node.inputs):
        return None
    out_t = graph.types[out]
    axis = _axis(node, len(out_t.shape))
    outer = int(np.prod(out_t.shape[:axis], dtype=np.int64))
    strided = outer > 1
    if strided and axis != len(out_t.shape) - 1:
        return None      # rows of another axis: no kernel writes such a layout
    item = DTYPES.get(out_t.dtype)
    if item is None or out_t.nbytes != out_t.size * np.dtype(item).itemsize:
        return None      # packed (sub-byte) tensors: no per-element layout
    producers = []
    for t in node.inputs:
        if not t or t in interface or t in graph.constants or t not in producer or readers.get(t, 0) != 1:
            return None
        p = producer[t]
        pcall = lowered.get(p.name)
        if not isinstance(pcall, KernelCall) or len(p.outputs) != 1:
            return None
        if strided and (pcall.function not in STRIDED or dict(pcall.params).get("out_stride", 0)):
            return None
        if graph.types[t].nbytes * out_t.shape[axis] != out_t.nbytes * graph.types[t].shape[axis]:
            return None  # not a plain slice of the output's bytes
        producers.append(p.name)
    return View(node.name, tuple(node.inputs), tuple(producers), strided,
                int(out_t.shape[axis]) if strided else 0)


def find(graph: Graph, lowered: dict) -> list[View]:
    """The Concats whose inputs can all be written in place (graph order); a Concat's input made
    by a Concat turned into views keeps its copy (views do not nest)."""
    producer = {t: n for n in graph.nodes for t in n.outputs}
    readers: dict = {}
    for n in graph.nodes:
        for t in n.inputs:
            if t:
                readers[t] = readers.get(t, 0) + 1
    views, current = [], dict(lowered)
    for node in graph.nodes:
        if node.op != "concat":
            continue
        view = _view_of(graph, current, node, producer, readers)
        if view is not None:
            views.append(view)
            current[node.name] = Alias()
    return views


def apply(graph: Graph, lowered: dict, only=None) -> tuple[dict, list[View]]:
    """(lowered with every viewable Concat an Alias and its strided producers given their
    out_stride, the Views); only: the names of the Concats to turn into views (default all)."""
    views = [v for v in find(graph, lowered) if only is None or v.concat in only]
    lowered = dict(lowered)
    for view in views:
        lowered[view.concat] = Alias()
        for p in view.producers:
            call = lowered[p]
            where = f"; writes into its slice of {view.concat}"
            params = call.params
            if view.strided:
                params = tuple((k, v) for k, v in params if k != "out_stride") + (("out_stride", view.out_stride),)
            lowered[p] = replace(call, params=params, description=call.description + where)
    return lowered, views


def describe(views: list[View]) -> list[dict]:
    """report["concat_views"]: one entry per elided Concat."""
    return [{"concat": v.concat, "inputs": list(v.inputs), "producers": list(v.producers),
             "layout": "strided" if v.strided else "contiguous", "out_stride": v.out_stride} for v in views]

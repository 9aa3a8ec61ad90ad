"""Int8 dead filters that stay (at a graph output, before a padded depthwise conv, kept for
alignment) get a requantization the kernels' fast output stage takes, with the same output.

Quantizers give an all-zero filter weight scale 1.0 (onnxruntime's quantize_static), so
s_in * s_w / s_out is usually above 0.5 and its shift >= 0: fn_fast_out_s8_init
(runtime_c/include/fn_fixedpoint.h) then sends the whole layer to the general output stage.
The filter's output is the constant output_stage(bias) whatever its scale, so it gets a live
filter's scale and the bias that gives the same constant, checked with the reference's output
stage (bench/dead_filters.py: the MobileNet-style model's instructions 1,825,320 -> 1,289,120
with channel_align=4).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import Graph
from ..reference.conv_s8 import output_stage_s8, requantizer
from ..reference.fixedpoint import quantize_multiplier
from .dead_channels import INT32_MAX, INT32_MIN, dead_filters, is_depthwise, is_matmul_like


def _constant_out(q, act, bias: int, weight_scale: float) -> int:
    """The int8 output of a dead filter: the layer's output stage of its bias alone."""
    requant = requantizer(q.inputs[0].scale[0], [weight_scale], q.output.scale[0], q.mode)
    return int(output_stage_s8(np.array([[bias]]), requant, q.output.zero_point[0], act)[0, 0])


def _fast_stage_scale(q, rows) -> float | None:
    """A weight scale of the layer whose requantization shift is negative (the kernels' fast
    output stage needs that of every channel), if the live rows have one."""
    for o, s in enumerate(q.inputs[1].scale):
        if o not in rows and quantize_multiplier(q.inputs[0].scale[0] * s / q.output.scale[0])[1] < 0:
            return s
    return None


def _normalize_one(graph, node, b) -> bool:
    q = getattr(node.attrs, "quant", None) if node.op in ("conv2d", "dense") else None
    if q is None or q.output is None or q.mode not in ("tflm", "single") or not q.inputs[1].per_channel \
            or not (is_matmul_like(graph, node) or is_depthwise(graph, node)) or len(node.inputs) < 3 \
            or not node.inputs[2]:
        return False
    dead = dead_filters(graph, node)
    scales, bias = list(q.inputs[1].scale), np.array(graph.constants[node.inputs[2]])
    slow = {o for o in dead if quantize_multiplier(q.inputs[0].scale[0] * scales[o] / q.output.scale[0])[1] >= 0}
    new_scale = _fast_stage_scale(q, dead) if slow else None
    if new_scale is None:
        return False
    changed = False
    for o in sorted(slow):
        want = _constant_out(q, node.attrs.act, int(bias[o]), scales[o])
        guess = round((want - q.output.zero_point[0]) * q.output.scale[0] / (q.inputs[0].scale[0] * new_scale))
        for b_new in (guess + d for d in (0, -1, 1, -2, 2, -3, 3)):
            if INT32_MIN <= b_new <= INT32_MAX and _constant_out(q, node.attrs.act, b_new, new_scale) == want:
                scales[o], bias[o], changed = new_scale, b_new, True
                break
    if not changed:
        return False
    weights = dataclasses.replace(q.inputs[1], scale=tuple(scales))
    attrs = dataclasses.replace(node.attrs, quant=dataclasses.replace(q, inputs=(q.inputs[0], weights, *q.inputs[2:])))
    inputs = (*node.inputs[:2], b.const(bias, f"{node.name}/bias_fast"), *node.inputs[3:])
    b.add(node.op, inputs, attrs, node.outputs, node.name)
    return True


def normalize_dead_requant(graph: Graph) -> Graph:
    """Module docstring. Does not fire without int8 dead filters whose shift is >= 0 in a
    tflm/single layer having a live filter with a negative shift."""
    b = rebuild_from(graph)
    changed = False
    for node in graph.nodes:
        if not _normalize_one(graph, node, b):
            b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
        else:
            changed = True
    return b.build(graph.outputs) if changed else graph

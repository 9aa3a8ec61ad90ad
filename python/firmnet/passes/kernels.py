"""Kernel selection: per layer, the fastest kernel the target supports (explained in the report)."""
from __future__ import annotations

import dataclasses

from ..ir import Graph


def select_kernels(graph: Graph, dsp: bool = False) -> Graph:
    """int8 1x1 convolutions (stride 1, no padding, one group) use fn_conv2d_1x1_s8 on CPUs
    with the DSP extension (two MACs per SMLAD). Does not fire without DSP, where the
    general kernel's blocking is faster than the 1x1 kernel's portable path.

    The depthwise and fully connected kernels need no selection: fn_depthwise_conv2d_s8
    (depth multiplier 1 or a multiple of 4, up to 64 taps) and fn_fc_s8 carry their own DSP
    paths under __ARM_FEATURE_DSP, with the same bytes as their portable paths
    (tests/test_dsp_kernels.py)."""
    if not dsp:
        return graph
    nodes = []
    for node in graph.nodes:
        a = node.attrs
        if (node.op == "conv2d" and a.quant is not None and a.layout == "NHWC" and a.groups == 1
                and a.strides == (1, 1) and a.pads == (0, 0, 0, 0)
                and graph.types[node.inputs[1]].shape[1:3] == (1, 1)):
            node = dataclasses.replace(node, attrs=dataclasses.replace(a, variant="1x1_dsp"))
        nodes.append(node)
    return graph.replace(nodes=tuple(nodes))

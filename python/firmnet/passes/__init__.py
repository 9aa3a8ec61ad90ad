"""Graph → graph passes, run in this order; the IR is verified after each one."""
from __future__ import annotations

from ..ir import Graph, verify
from .activation import fuse_activations
from .batchnorm import batchnorm_to_affine, fold_batchnorm
from .constants import fold_constants
from .layout import to_nhwc
from .simplify import remove_dead_nodes, simplify_layout

PIPELINE = (
    remove_dead_nodes,
    fold_constants,
    fold_batchnorm,
    batchnorm_to_affine,
    fuse_activations,
    to_nhwc,
    simplify_layout,
    fold_constants,
    remove_dead_nodes,
)


def run_pipeline(graph: Graph, passes=PIPELINE) -> Graph:
    verify(graph)
    for p in passes:
        graph = p(graph)
        verify(graph)
    return graph

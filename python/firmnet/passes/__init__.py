"""Graph → graph passes, run in this order; the IR is verified after each one."""
from __future__ import annotations

from functools import partial

from ..ir import Graph
from .check import verify
from .activation import fuse_activations
from .batchnorm import batchnorm_to_affine, fold_batchnorm
from .binarize import binarize_layers
from .constants import fold_constants
from .dead_channels import remove_dead_channels  # noqa: F401  (compile runs these two after PIPELINE)
from .dead_requant import normalize_dead_requant  # noqa: F401
from .layout import to_nhwc
from .qdq import fuse_qdq
from .quant_chains import fold_quant_chains  # noqa: F401  (also run alone by tests)
from .silu import fuse_silu
from .simplify import remove_dead_nodes, simplify_layout

PIPELINE = (
    remove_dead_nodes,
    fold_quant_chains,
    fuse_qdq,
    simplify_layout,
    fold_constants,
    binarize_layers,
    fold_batchnorm,
    batchnorm_to_affine,
    fuse_silu,
    fuse_activations,
    to_nhwc,
    simplify_layout,
    fold_constants,
    remove_dead_nodes,
)


def pipeline(requant: str = "tflm") -> tuple:
    """The passes for one requantization mode (the QDQ pass depends on it). compile() then runs
    remove_dead_channels and normalize_dead_requant (unless dead_channels=False), comparing
    the graphs for the report;
    kernel selection follows (kernels/select.py)."""
    return tuple(partial(fuse_qdq, mode=requant) if p is fuse_qdq else p for p in PIPELINE)


def run_pipeline(graph: Graph, passes=PIPELINE) -> Graph:
    verify(graph)
    for p in passes:
        graph = p(graph)
        verify(graph)
    return graph

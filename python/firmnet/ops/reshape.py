"""reshape: a new shape over the same bytes (Reshape, Flatten, Squeeze, Unsqueeze).

No code and no memory: the planner gives the output the input's place.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import TensorType
from ..lowering import Alias
from ._util import require


@dataclass(frozen=True)
class Attrs:
    shape: tuple[int, ...]


def infer(attrs, in_types):
    (x,) = in_types
    out = TensorType(tuple(attrs.shape), x.dtype, x.quant)
    require(min(attrs.shape, default=1) >= 0 and out.size == x.size,
            f"reshape: cannot view {x} as shape {attrs.shape}")
    return [out]


def reference(attrs, x):
    return [x.reshape(attrs.shape)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    return Alias()

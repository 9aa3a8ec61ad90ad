"""pad: constant padding of any rank (any dtype: the kernel moves bytes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import DTYPES, TensorType
from ..kernels.params_layout import pad_params
from ..lowering import KernelCall, params_of
from ..reference import tensor as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    before: tuple[int, ...]
    after: tuple[int, ...]
    value: float = 0.0


def infer(attrs, in_types):
    (x,) = in_types
    rank = len(x.shape)
    require(len(attrs.before) == rank and len(attrs.after) == rank, f"pad: pads do not fit {x}")
    require(min(attrs.before + attrs.after, default=0) >= 0, "pad: negative pads (cropping) are not supported")
    shape = tuple(d + b + a for d, b, a in zip(x.shape, attrs.before, attrs.after))
    return [TensorType(shape, x.dtype, x.quant)]


def reference(attrs, x):
    return [ref.pad_constant(x, attrs.before, attrs.after, np.array(attrs.value, dtype=x.dtype))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    t = graph.types[node.inputs[0]]
    dtype = DTYPES[t.dtype]
    value = np.array(node.attrs.value, dtype=dtype).tobytes()
    params = pad_params(t.shape, node.attrs.before, node.attrs.after, dtype.itemsize, value)
    return KernelCall("fn_pad", "fn_tensor.h", "fn_pad_params", params_of(params),
                      (node.inputs[0], node.outputs[0]), description="constant pad")

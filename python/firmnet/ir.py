"""The intermediate representation: a small immutable graph of typed tensors.

A Graph holds nodes in a valid execution order, the type of every tensor, the
constant tensors (read-only numpy arrays) and the names of the graph's inputs and
outputs. Passes never mutate a graph: they build a new one (`Graph.replace`).
passes/check.py verifies the invariants after every pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from .dtypes import NUMPY_DTYPES as DTYPES   # numpy dtype of each byte type (the one table: dtypes.py)
from .dtypes import TABLE as _DTYPE_TABLE


MAX_TENSOR_BYTES = 2**31 - 1   # offsets into the one arena are int32 in the generated C


class FirmnetError(Exception):
    """An error the user can act on: printed as one message, exit code 2."""


class UnsupportedError(FirmnetError):
    """The model uses something firmnet does not (yet) support."""


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel along axis."""
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None
    # the model's tensor is uint8 (carried as int8: value - 128, zero point - 128). Not part of
    # equality: the real values are the same. onnxruntime adds a uint8 zero point in float in
    # QLinearMul and QLinearAveragePool, which --requant ort follows.
    uint8: bool = field(default=False, compare=False)

    def __post_init__(self):
        if len(self.scale) != len(self.zero_point) or not self.scale:
            raise FirmnetError(f"quantization with {len(self.scale)} scales and {len(self.zero_point)} zero points")
        if self.axis is None and len(self.scale) != 1:
            raise FirmnetError("per-tensor quantization needs exactly one scale")
        if not all(s > 0 and np.isfinite(s) for s in self.scale):
            raise UnsupportedError(f"quantization scales must be positive and finite, got {self.scale[:4]}")

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    def __str__(self) -> str:
        if self.per_channel:
            return f"q(axis {self.axis}, {len(self.scale)} scales)"
        return f"q({self.scale[0]:.6g}, {self.zero_point[0]})"


@dataclass(frozen=True)
class OpQuant:
    """How an integer op reads and writes: the quantization of each input (None for an
    int32 bias or an absent input), of its output, and the requantization mode. A conv
    or dense op with output None writes its int32 accumulators (ONNX ConvInteger,
    MatMulInteger)."""
    inputs: tuple[QuantParams | None, ...]
    output: QuantParams | None
    mode: str = "tflm"


@dataclass(frozen=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None   # int8 activations carry their scale and zero point

    def __post_init__(self):
        if self.dtype not in _DTYPE_TABLE:
            raise UnsupportedError(f"dtype {self.dtype} is not supported (supported: {', '.join(_DTYPE_TABLE)})")
        if any(d < 0 for d in self.shape):
            raise FirmnetError(f"shape {list(self.shape)} has a negative dimension")
        if self.nbytes > MAX_TENSOR_BYTES:   # before anything allocates it
            raise UnsupportedError(f"a tensor of shape {list(self.shape)} ({self.dtype}) needs {self.nbytes:,} bytes, "
                                   f"more than the {MAX_TENSOR_BYTES:,} one arena can address")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes in memory; a packed type (dtypes.py) pads each row along the last axis to a byte."""
        return _DTYPE_TABLE[self.dtype].nbytes(self.shape)

    def holds(self, array: np.ndarray) -> bool:
        """Whether a constant's array is a value of this type: its shape, its dtype's numpy dtype
        (a packed type's constant holds its values unpacked; codegen packs them), no quantization."""
        return (tuple(array.shape) == self.shape and array.dtype == _DTYPE_TABLE[self.dtype].numpy
                and self.quant is None)

    def __str__(self) -> str:
        text = f"{self.dtype}[{','.join(map(str, self.shape))}]"
        return f"{text} {self.quant}" if self.quant else text


def type_of(array: np.ndarray) -> TensorType:
    return TensorType(tuple(int(d) for d in array.shape), str(array.dtype))


@dataclass(frozen=True)
class Node:
    op: str                      # a key of firmnet.ops.OPS
    name: str                    # unique, from the model where possible
    inputs: tuple[str, ...]      # tensor names; "" marks an absent optional input
    outputs: tuple[str, ...]
    attrs: Any                   # the op's frozen Attrs dataclass

    def describe(self) -> str:
        return f"node '{self.name}' ({self.op})"


def frozen_array(array) -> np.ndarray:
    a = np.array(array, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[Node, ...]
    types: Mapping[str, TensorType]          # every tensor: inputs, constants, node outputs
    constants: Mapping[str, np.ndarray] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def replace(self, **changes) -> "Graph":
        return replace(self, **changes)

    def producers(self) -> dict[str, Node]:
        return {out: n for n in self.nodes for out in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    users.setdefault(i, []).append(n)
        return users

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def with_nodes(self, nodes, constants=None, extra_types=None) -> "Graph":
        """A new graph with these nodes; types and constants pruned to what is still used."""
        constants = dict(self.constants if constants is None else constants)
        types = dict(self.types)
        types.update(extra_types or {})
        used = set(self.inputs) | set(self.outputs)
        for n in nodes:
            used.update(i for i in n.inputs if i)
            used.update(n.outputs)
        return Graph(self.name, tuple(nodes), {k: v for k, v in types.items() if k in used},
                     {k: v for k, v in constants.items() if k in used}, self.inputs, self.outputs)

"""What a lowered node is: one call of a runtime_c kernel with its parameter struct.

Op modules turn IR nodes into KernelCall values; the emitter only lays them out.
Tensor arguments are tensor names; the emitter resolves each to a pointer into
the arena, a weight array or a user buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .dtypes import c_type


@dataclass(frozen=True)
class CArray:
    """A constant array referenced by pointer from a parameter struct."""
    ctype: str                   # element type, e.g. "int32_t"
    values: tuple


@dataclass(frozen=True)
class TensorList:
    """Several tensors passed as one `const <ctype> *const *` argument (concat)."""
    names: tuple[str, ...]
    ctype: str = "void"


@dataclass(frozen=True)
class CStruct:
    """A nested struct value: ((field, value), ...) emitted as a designated initializer."""
    fields: tuple


class CEnum(int):
    """A member of a C enum: its value to Python (arithmetic, cffi structs, JSON), emitted in the
    generated C by its name (FN_REQUANT_TFLM, not 0)."""

    def __new__(cls, name: str, value: int):
        member = super().__new__(cls, value)
        member.name = name
        return member

    def __repr__(self) -> str:
        return f"CEnum({self.name!r}, {int(self)})"


def c_enum(mirror: dict[str, int], prefix: str) -> dict[str, CEnum]:
    """{key: CEnum} of a Python mirror of a C enum whose members are <prefix><KEY> (the naming
    tests/test_c_mirrors.py checks against the headers)."""
    return {key: CEnum(prefix + key.upper(), value) for key, value in mirror.items()}


class ConstArg:
    """A constant the lowering derives from the graph's (e.g. weights repacked for a kernel)."""

    def __init__(self, hint: str, array: np.ndarray):
        self.hint, self.array = hint, array


Arg = Union[str, None, TensorList, ConstArg]   # tensor name, NULL, tensors, or a derived constant


@dataclass(frozen=True)
class KernelCall:
    function: str                 # C function, e.g. "fn_conv2d_f32"
    header: str                   # header that declares it
    params_type: str              # its parameter struct type
    params: tuple                 # ((field, value), ...) in any order; values: int, float, list, CArray
    args: tuple[Arg, ...]         # tensor arguments in C order (after the params pointer)
    scratch_bytes: int = 0        # working memory the planner places in the arena
    description: str = ""         # what the call computes, one line (the generated code's comment)
    kernel: str = ""              # the selected variant (kernels/), set by the selection step
    reason: str = ""              # why it was selected
    rejected: tuple = ()          # ((variant, why not, could run it), ...) the other candidates
    sparse: tuple = ()            # a layer a sparse (CSR) variant can run: ((key, value), ...) with density,
                                  # dense and sparse = (variant, est. instructions, weight matrix bytes)
    winograd: tuple = ()          # a layer a Winograd variant can run: (("direct", option), ("winograd", option)),
                                  # option = (variant, est. instructions, weight bytes)


@dataclass(frozen=True)
class Alias:
    """The node's output is its first input's bytes from `offset` on, reinterpreted (reshape;
    a slice whose bytes are one contiguous run): no code, no memory."""
    offset: int = 0


def c_array(values) -> CArray:
    values = np.asarray(values)
    return CArray(c_type(values.dtype), tuple(values.ravel().tolist()))


def with_arrays(params: dict, arrays: dict) -> dict:
    """Scalar fields plus per-channel arrays (numpy or None → NULL) as one params dict."""
    merged = dict(params)
    for name, values in arrays.items():
        merged[name] = None if values is None else c_array(values)
    return merged


def params_of(d: dict[str, Any]) -> tuple:
    """Freeze a params dict into KernelCall.params, converting numpy scalars; a nested dict
    is a nested struct (CStruct), a numpy array at any depth a constant array (CArray)."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return c_array(v)
        if isinstance(v, dict):
            return CStruct(tuple((k, plain(x)) for k, x in v.items()))
        if isinstance(v, (list, tuple)):
            return tuple(plain(x) for x in v)
        if isinstance(v, np.generic):
            return v.item()
        return v
    return tuple((k, plain(v)) for k, v in d.items())

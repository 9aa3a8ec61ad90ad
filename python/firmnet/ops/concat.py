"""concat: join tensors along one axis (any dtype: the kernel moves bytes)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DTYPES, FirmnetError, OpQuant, TensorType
from ..kernels import params_quantize_s8
from ..kernels.params_layout import concat_params
from ..lowering import CArray, KernelCall, TensorList, params_of
from ..reference import quantize_s8 as ref_s8
from ..reference import tensor as ref
from ._util import normalize_axis, require, require_int8


@dataclass(frozen=True)
class Attrs:
    axis: int
    quant: OpQuant | None = None


def _int8_params(attrs, shapes, axis):
    q = attrs.quant
    try:
        return params_quantize_s8.concat_s8_params(shapes, axis, [(p.scale[0], p.zero_point[0]) for p in q.inputs],
                                       (q.output.scale[0], q.output.zero_point[0]), q.mode)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def _is_copy(attrs) -> bool:
    return attrs.quant is None or all(p == attrs.quant.output for p in attrs.quant.inputs)


def infer(attrs, in_types):
    first = in_types[0]
    axis = normalize_axis(attrs.axis, len(first.shape))
    for t in in_types[1:]:
        same = len(t.shape) == len(first.shape) and all(
            a == b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis)
        require(same and t.dtype == first.dtype, f"concat: inputs {first} and {t} differ outside axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in in_types)
    if attrs.quant is not None:   # int8 inputs of different quantizations, requantized to the output's
        require_int8(attrs, in_types)
        return [TensorType(tuple(shape), "int8", attrs.quant.output)]
    same = all(t.quant == first.quant for t in in_types)
    require(same, "concat: int8 inputs with different quantizations need the op's quant attributes")
    return [TensorType(tuple(shape), first.dtype, first.quant)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when fn_concat_s8 cannot requantize these inputs (until kernels/ selection states it)."""
    if attrs.quant is not None:
        _int8_params(attrs, [t.shape for t in in_types], normalize_axis(attrs.axis, len(in_types[0].shape)))


def reference(attrs, *xs):
    axis = normalize_axis(attrs.axis, xs[0].ndim)
    if not _is_copy(attrs):
        q = attrs.quant
        return [ref_s8.concat_s8(list(xs), axis, x_qs=[(p.scale[0], p.zero_point[0]) for p in q.inputs],
                                 y_q=(q.output.scale[0], q.output.zero_point[0]), mode=q.mode)]
    return [ref.concat(list(xs), axis)]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    types = [graph.types[i] for i in node.inputs]
    axis = normalize_axis(node.attrs.axis, len(types[0].shape))
    if not _is_copy(node.attrs):
        p = _int8_params(node.attrs, [t.shape for t in types], axis)
        p["in_block_elems"] = CArray("int32_t", tuple(int(v) for v in p["in_block_elems"]))
        p["requant"] = CArray("fn_requant_s8", tuple(params_of({"s": r})[0][1] for r in p["requant"]))
        return KernelCall("fn_concat_s8", "fn_elementwise_s8.h", "fn_concat_s8_params", params_of(p),
                          (TensorList(tuple(node.inputs), "int8_t"), node.outputs[0]),
                          description="int8 concat, requantizing")
    params = concat_params([t.shape for t in types], axis, DTYPES[types[0].dtype].itemsize)
    params["in_block_bytes"] = CArray("int32_t", tuple(int(v) for v in params["in_block_bytes"]))
    return KernelCall("fn_concat", "fn_tensor.h", "fn_concat_params", params_of(params),
                      (TensorList(tuple(node.inputs)), node.outputs[0]), description="byte copy concat")

"""Small checks shared by op modules."""
from __future__ import annotations

import math

import numpy as np

from ..ir import FirmnetError, QuantParams, TensorType

NO_CLAMP = (-math.inf, math.inf)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise FirmnetError(message)


def require_float32(*types: TensorType | None) -> None:
    for t in types:
        if t is not None and t.dtype != "float32":
            raise FirmnetError(f"dtype {t.dtype} is not supported here yet (float32 only)")


def require_int8(attrs, in_types, weight_indices=()) -> None:
    """The input side of an integer op: int8 activations quantized as the op expects
    (weights int8, the conv/dense bias int32) and an integer clamp range."""
    q = attrs.quant
    require(len(q.inputs) == len(in_types), f"{len(q.inputs)} input quantizations for {len(in_types)} inputs")
    for k, (t, tq) in enumerate(zip(in_types, q.inputs)):
        if t is None:
            continue
        if tq is None:
            require(t.dtype == "int32", f"input {k} must be an int32 bias, got {t}")
            continue
        require(t.dtype == "int8", f"input {k} must be int8, got {t}")
        # constants carry no quantization in their type (the op's attrs hold it)
        if k not in weight_indices and t.quant is not None:
            require(t.quant == tq, f"input {k} is quantized as {t.quant}, the op expects {tq}")
    act = getattr(attrs, "act", (-128, 127))
    if q.output is None:   # int32 accumulators out (ConvInteger, MatMulInteger): nothing to clamp
        require(act == NO_CLAMP, f"an op with int32 accumulator outputs cannot clamp them (got {act})")
        return
    require(q.output.axis is None, "per-channel quantization of activations is not supported")
    require(-128 <= act[0] <= act[1] <= 127 and all(float(a).is_integer() for a in act),
            f"integer clamp range {act} must lie in [-128, 127]")


def check_types(attrs, in_types, weight_indices=()) -> None:
    """float32 everywhere with a float clamp, or the int8 contract of require_int8."""
    if getattr(attrs, "quant", None) is None:
        require_float32(*in_types)
        if hasattr(attrs, "act"):
            require_act(attrs.act)
    else:
        require_int8(attrs, in_types, weight_indices)


def output_type(attrs, shape) -> TensorType:
    quant = getattr(attrs, "quant", None)
    if quant is None:
        return TensorType(tuple(shape), "float32")
    if quant.output is None:   # int32 accumulators (OpQuant docs)
        return TensorType(tuple(shape), "int32")
    return TensorType(tuple(shape), "int8", quant.output)


def normalize_axis(axis: int, rank: int) -> int:
    require(-rank <= axis < rank, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def require_act(act: tuple[float, float]) -> None:
    """The IR invariant of fused clamps: lo <= hi (the front end rewrites Clip(min > max))."""
    require(len(act) == 2 and act[0] <= act[1], f"activation range {act} is not an interval (need lo <= hi)")


def intersect(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """The clamp range of applying clamp a then clamp b (b is applied last); both are intervals."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    if lo > hi:   # b lies entirely outside a: the result is the constant b-bound
        lo = hi = b[0] if a[1] < b[0] else b[1]
    return (lo, hi)


def quantize_value(real: float, q: QuantParams) -> float:
    """TFLite's QuantizeValue: zero_point + round(real / scale), half away from zero (float32 division)."""
    if math.isinf(real):
        return real
    v = float(np.float32(real) / np.float32(q.scale[0]))
    return q.zero_point[0] + math.copysign(math.floor(abs(v) + 0.5), v)


def integer_range(act, q: QuantParams) -> tuple[int, int]:
    """A real clamp range as the int8 range of q (TFLite's CalculateActivationRangeQuantized)."""
    lo, hi = (quantize_value(a, q) for a in act)
    return int(max(-128, lo)), int(min(127, hi))

"""Checks of an ONNX model before the loader converts it, so that each refusal names the
node or tensor that is wrong (not a node downstream where ONNX shape inference noticed).

- `check_structure`: one default opset import, then `onnx.checker` (attribute types and
  counts, input/output counts per op schema, single assignment, duplicate attributes).
- `check_attributes`: attribute facts that shape inference takes on trust (kernel_shape).
- `check_values`: every float initializer and float attribute is finite.
- `infer_shapes`: ONNX shape inference in strict mode; when it fails, the node blamed is the
  first one (in graph order) whose output shape cannot be computed from known input shapes.
"""
from __future__ import annotations

import math
import re

import numpy as np
import onnx
from onnx import numpy_helper

from ..ir import MAX_TENSOR_BYTES, FirmnetError, UnsupportedError


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip() and not line.startswith("==>")]
    return " ".join(lines)[:400]


# Operators the checker calls deprecated below an opset although onnxruntime runs them and
# firmnet converts them: GroupNormalization-18 (per-group scale and bias, replaced in opset 21).
# The checker sees them as an Identity of their first input.
DEPRECATED_BUT_CONVERTED = {"GroupNormalization": 21}


def _without_deprecated(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    if not any(n.op_type in DEPRECATED_BUT_CONVERTED and opset < DEPRECATED_BUT_CONVERTED[n.op_type] and
               n.domain in ("", "ai.onnx") for n in model.graph.node):
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for node in model.graph.node:
        if node.op_type in DEPRECATED_BUT_CONVERTED and opset < DEPRECATED_BUT_CONVERTED[node.op_type] \
                and node.domain in ("", "ai.onnx"):
            node.op_type = "Identity"
            del node.input[1:], node.output[1:], node.attribute[:]
    return model


def check_structure(model: onnx.ModelProto) -> None:
    defaults = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if len(defaults) > 1:
        raise FirmnetError(f"the model imports the default ONNX opset {len(defaults)} times "
                           f"(versions {', '.join(map(str, defaults))}); a model imports each domain once")
    model = _without_deprecated(model, defaults[0] if defaults else 0)
    # The checker wants a shape on every graph input and output; onnxruntime and firmnet accept
    # an output declared without one (shape inference gives it), so the checker sees a copy with
    # an empty shape there.
    if any(not vi.type.tensor_type.HasField("shape") for vi in [*model.graph.input, *model.graph.output]
           if vi.type.HasField("tensor_type")):
        model = onnx.ModelProto.FromString(model.SerializeToString())
        for vi in [*model.graph.input, *model.graph.output]:
            if vi.type.HasField("tensor_type") and not vi.type.tensor_type.HasField("shape"):
                vi.type.tensor_type.shape.SetInParent()
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        context = re.search(r"Name: (.*?) OpType: (\w+)", str(exc))
        where = f"node '{context.group(1)}' ({context.group(2)}): " if context else ""
        raise FirmnetError(f"{where}invalid ONNX model: {_one_line(str(exc).split('==> Context')[0])}") from None
    except UnicodeDecodeError as exc:   # protobuf parsed the bytes, but a name or string is not UTF-8
        raise FirmnetError(f"invalid ONNX model: a name or string field is not valid UTF-8 ({exc.reason} at byte "
                           f"{exc.start}); the file is damaged") from None


def check_attributes(model: onnx.ModelProto) -> None:
    """Facts ONNX shape inference takes on trust and then fails on downstream: a Conv's input
    rank and kernel_shape must fit its filter."""
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in model.graph.input
             if vi.type.tensor_type.HasField("shape")}
    for index, node in enumerate(model.graph.node):
        if node.op_type not in ("Conv", "ConvInteger", "QLinearConv") or len(node.input) < 2:
            continue
        w = node.input[3 if node.op_type == "QLinearConv" else 1]
        x = node.input[0]
        if w in weights and x in ranks and ranks[x] != len(weights[w]):
            raise FirmnetError(f"node '{node.name or f'#{index}'}' ({node.op_type}): input '{x}' has rank {ranks[x]}, "
                               f"but its filter '{w}' of shape {list(weights[w])} needs a rank-{len(weights[w])} "
                               "input [N, C, spatial...]")
        kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
        if kernel is not None and w in weights and tuple(kernel) != weights[w][2:]:
            raise FirmnetError(f"node '{node.name or f'#{index}'}' ({node.op_type}): attribute kernel_shape {kernel} "
                               f"differs from the filter '{w}' of shape {list(weights[w])}")


def _non_finite(array: np.ndarray) -> str | None:
    if array.dtype.kind != "f" or np.all(np.isfinite(array)):
        return None
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    return f"{array[bad] if array.ndim else array} at index {bad}"


def check_values(model: onnx.ModelProto) -> None:
    for init in model.graph.initializer:
        try:
            value = numpy_helper.to_array(init)
        except Exception:   # element types numpy cannot hold: the loader refuses them by name
            continue
        bad = _non_finite(value)
        if bad:
            raise UnsupportedError(f"initializer '{init.name}' holds a non-finite value ({bad}); firmnet compiles "
                                   "finite weights only: check the training run or the export")
    for index, node in enumerate(model.graph.node):
        for a in node.attribute:
            values = []
            if a.type == onnx.AttributeProto.FLOAT:
                values = [a.f]
            elif a.type == onnx.AttributeProto.FLOATS:
                values = list(a.floats)
            elif a.type == onnx.AttributeProto.TENSOR:
                bad = _non_finite(numpy_helper.to_array(a.t))
                values = [math.nan] if bad else []
            if any(not math.isfinite(v) for v in values):
                raise UnsupportedError(f"node '{node.name or f'#{index}'}' ({node.op_type}): attribute '{a.name}' "
                                       f"holds a non-finite value; firmnet compiles finite values only")


def _shape_of(vi) -> tuple | None:
    t = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return None if any(d is None or d <= 0 for d in dims) else tuple(dims)


def _blame(model: onnx.ModelProto) -> str | None:
    """The first node whose inputs all have static shapes but whose output does not."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    shapes = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        shapes[vi.name] = _shape_of(vi)
    for init in model.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    for index, node in enumerate(model.graph.node):
        ins = [i for i in node.input if i]
        if any(shapes.get(i) is None for i in ins):
            return None   # an earlier problem ONNX did not name; keep its own message
        outs = [o for o in node.output if o]
        huge = [o for o in outs if shapes.get(o) is not None and math.prod(shapes[o]) * 4 > MAX_TENSOR_BYTES]
        if huge:
            return (f"node '{node.name or f'#{index}'}' ({node.op_type}): its output '{huge[0]}' of shape "
                    f"{list(shapes[huge[0]])} is larger than one arena can hold ({MAX_TENSOR_BYTES:,} bytes): check "
                    "the node's attributes (pads, strides, sizes)")
        if any(shapes.get(o) is None for o in outs):
            shown = ", ".join(f"{i} {list(shapes[i])}" for i in ins)
            return (f"node '{node.name or f'#{index}'}' ({node.op_type}): its output shape cannot be computed from "
                    f"its inputs ({shown}) and attributes: check the node's attributes and its input ranks")
    return None


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:
        message = _one_line(str(exc))
        own = re.search(r"\(op_type:(\w+), node name: ([^)]*)\): (?:\[\w+\] )?([^(]*)", message)
        try:
            blamed = _blame(model)
        except Exception:   # the non-strict run can fail on the same model
            blamed = None
        if blamed and own and f"'{own.group(2)}'" in blamed:
            raise FirmnetError(f"node '{own.group(2)}' ({own.group(1)}): {own.group(3).strip()}") from None
        if blamed:
            raise FirmnetError(blamed) from None
        if own:
            raise FirmnetError(f"node '{own.group(2)}' ({own.group(1)}): {own.group(3).strip()} "
                               "(found by ONNX shape inference)") from None
        raise FirmnetError(f"ONNX shape inference rejected the model: {message}") from None

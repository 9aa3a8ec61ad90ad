"""Read a TFLite flatbuffer into the IR, with the maintained `tflite` schema package.

TFLite models are NHWC already, so convolutions and pooling are built in NHWC and no
layout pass fires. Quantized tensors keep the file's scales and zero points; every int8
op records them (OpQuant, TFLite's double rounding), so the generated C follows
TensorFlow Lite Micro's arithmetic.

Sparse constants (the converter's sparsity option: a tensor's `sparsity` field, read by a
DENSIFY op or directly by FULLY_CONNECTED) are decoded to dense arrays here
(tflite_sparsity.py) and DENSIFY folds away: the compiler sees ordinary dense weights with
their zeros, and kernel selection packs a layer into a sparse kernel where that pays.
Keeping the file's sparse form would tie the compiler to TFLite's traversal and block
layout, which is not the layout a kernel wants; decoding then repacking is exact and
leaves one path for pruned weights from any front end.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tflite

from ..ir import FirmnetError, Graph, QuantParams, TensorType, UnsupportedError
from .builder import GraphBuilder
from .tflite_lce import CONVERTERS as LCE_CONVERTERS
from .tflite_ops import CONVERTERS as BUILTIN_CONVERTERS
from .tflite_sparsity import densify, read_sparsity
from .tflite_verify import OP_NAMES, check_model, tensor_name, verify_flatbuffer

CONVERTERS = {**BUILTIN_CONVERTERS, **LCE_CONVERTERS}   # custom operators as "CUSTOM (name)"
DTYPES = {
    tflite.TensorType.FLOAT32: "float32", tflite.TensorType.INT8: "int8", tflite.TensorType.INT32: "int32",
    tflite.TensorType.UINT8: "uint8", tflite.TensorType.INT16: "int16", tflite.TensorType.INT64: "int64",
    tflite.TensorType.BOOL: "bool",
}


class _Converter:
    """What op converters see: file types, constants, weight quantizations, and `add`."""

    def __init__(self, b: GraphBuilder):
        self.b = b
        self.types: dict[str, TensorType] = {}
        self.weight_quant: dict[str, QuantParams] = {}
        self.op_label = ""

    def constant(self, name) -> np.ndarray:
        value = self.b.value(name)
        if value is None:
            raise UnsupportedError(f"tensor '{name}' must be a constant (weights, paddings), but it is computed")
        return value

    def const_like(self, name, array, suffix, axis):
        """A derived constant (e.g. a re-laid-out filter) keeping name's quantization on `axis`."""
        new = self.b.const(np.ascontiguousarray(array), f"{name}/{suffix}")
        self.types[new] = self.b.types[new]
        q = self.weight_quant.get(name)
        if q is not None:
            self.weight_quant[new] = QuantParams(q.scale, q.zero_point, axis if q.axis is not None else None)
        return new

    def add(self, op, inputs, attrs, outputs, index, suffix=None, out_type=None):
        name = f"{self.op_label}/{suffix}" if suffix else self.op_label
        result = self.b.add(op, inputs, attrs, outputs, name)
        for out in outputs or ():
            if out in self.types and self.b.types[out] != self.types[out]:
                raise FirmnetError(f"output '{out}': the file says {self.types[out]}, but the operator computes "
                                   f"{self.b.types[out]} from its inputs and options (a damaged file?)")
        return result


def _read(source) -> tuple[bytes, object]:
    path = Path(source)
    if not path.is_file():
        raise FirmnetError(f"{path}: no such file")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise FirmnetError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    verify_flatbuffer(data, path)   # after this, every field the loader reads lies in the file
    return data, tflite.Model.GetRootAsModel(data, 0)


def _quant_params(t) -> QuantParams | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scales = tuple(float(s) for s in q.ScaleAsNumpy())
    zps = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scales)
    axis = q.QuantizedDimension() if len(scales) > 1 else None
    return QuantParams(scales, zps, axis)


def _buffer(model, data, t, name, dtype):
    """A constant tensor's value (dense, a sparse one decoded), or None for a computed tensor."""
    buf = model.Buffers(t.Buffer())
    if buf is not None and buf.Offset() > 1:   # data stored after the flatbuffer (large models)
        raw = data[buf.Offset():buf.Offset() + buf.Size()]
    elif buf is not None and buf.DataLength():
        raw = buf.DataAsNumpy().tobytes()
    elif t.Sparsity() is not None:            # no value stored: all zeros
        raw = b""
    else:
        return None
    value = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if t.Sparsity() is not None:
        value = densify(read_sparsity(t.Sparsity(), name), shape, value, name)
    value = value.reshape(shape)
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        bad = np.argwhere(~np.isfinite(value))[0]
        raise UnsupportedError(f"tensor '{name}' holds a non-finite value "
                               f"({value[tuple(bad)]} at index {tuple(int(i) for i in bad)}); firmnet compiles "
                               "finite weights only")
    return value


def load_tflite(source, input_shapes=None) -> Graph:
    data, model = _read(source)
    if model.SubgraphsLength() != 1:
        raise UnsupportedError(f"the model has {model.SubgraphsLength()} subgraphs; control flow (WHILE, IF, "
                               "CALL_ONCE) is not supported")
    if input_shapes:
        raise FirmnetError("--input-shape applies to ONNX models; a TFLite model's shapes are fixed in the file")
    check_model(model, data, DTYPES)
    sg = model.Subgraphs(0)
    b = GraphBuilder((model.Description() or b"model").decode(errors="replace"))
    c = _Converter(b)
    names = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        base = tensor_name(t, i)
        names.append(base if base not in names else f"{base}#{i}")
    inputs = set(int(i) for i in sg.InputsAsNumpy())
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        name = names[i]
        if t.Type() not in DTYPES:
            raise UnsupportedError(f"tensor '{name}' has an unsupported type ({t.Type()})")
        if t.IsVariable():
            raise UnsupportedError(f"tensor '{name}' is a variable (stateful models are not supported)")
        dtype, quant = DTYPES[t.Type()], _quant_params(t)
        value = None if i in inputs else _buffer(model, data, t, name, dtype)
        if i in inputs and t.Sparsity() is not None:
            raise FirmnetError(f"graph input '{name}' has sparsity parameters; only constant tensors (weights) "
                               "can be stored sparse")
        if value is not None:
            b.const(value, name)
            c.types[name] = b.types[name]
            if quant is not None:
                c.weight_quant[name] = quant
            continue
        if dtype not in ("int8", "float32", "int32"):
            raise UnsupportedError(f"tensor '{name}' is {dtype}; firmnet computes int8 and float32 TFLite models")
        shape = tuple(int(d) for d in t.ShapeAsNumpy())
        c.types[name] = TensorType(shape, dtype, quant if dtype == "int8" else None)
        if i in inputs:
            b.add_input(name, c.types[name])
    errors = []
    for index in range(sg.OperatorsLength()):
        op = sg.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        op_name = OP_NAMES.get(builtin, f"builtin {builtin}")
        if builtin == tflite.BuiltinOperator.CUSTOM:
            op_name = f"CUSTOM ({(code.CustomCode() or b'').decode()})"
        ins = [names[i] if i >= 0 else "" for i in op.InputsAsNumpy()]
        outs = [names[i] for i in op.OutputsAsNumpy()]
        convert = CONVERTERS.get(op_name)
        table = op.BuiltinOptions()
        if builtin == tflite.BuiltinOperator.CUSTOM:   # custom operators get their custom_options bytes
            table = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
        if convert is None:
            errors.append((index, op_name, UnsupportedError("operator is not supported")))
        else:
            c.op_label = f"op{index}/{op_name}"
            try:
                convert(c, index, ins, outs, table)
            except FirmnetError as exc:
                errors.append((index, op_name, exc))
            else:
                continue
        for o in outs:   # go on: later operators read these with the file's own types
            b.types.setdefault(o, c.types[o])
    if errors:
        raise _collected(errors)
    return b.build([names[i] for i in sg.OutputsAsNumpy()])


def _collected(errors) -> FirmnetError:
    """One error naming every operator that cannot be compiled (each with its reason)."""
    def line(index, op_name, exc):
        if str(exc) == "operator is not supported":
            return f"operator #{index} ({op_name}) is not supported"
        return f"operator #{index} ({op_name}): {exc}"
    supported = f"supported operators: {', '.join(sorted(CONVERTERS))}"
    cls = UnsupportedError if all(isinstance(e, UnsupportedError) for *_, e in errors) else FirmnetError
    if len(errors) == 1:
        text = line(*errors[0])
        return cls(f"{text}; {supported}" if text.endswith("is not supported") else text)
    lines = [f"{len(errors)} operators cannot be compiled:"] + [f"  {line(*e)}" for e in errors]
    if any(str(e) == "operator is not supported" for *_, e in errors):
        lines.append(supported)
    return cls("\n".join(lines))

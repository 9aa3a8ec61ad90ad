"""Checks of a TFLite file before the loader reads a field of it.

The `tflite` package reads flatbuffers without bounds checks (a flipped byte gives
`struct.error`, a negative offset silently reads from the end of the file). Two steps
make every later read safe and every index meaningful:

1. `verify_flatbuffer`: the structure. Every table's vtable and inline data, every
   vector, string and nested table the loader reads lies inside the file, for the
   parts of the schema firmnet uses (unknown tables are checked as tables).
2. `check_model`: the meaning. Operator, opcode, tensor and buffer indices in range,
   buffer sizes equal to shape × element size, each tensor produced once and read
   after it is produced, graph outputs computed, quantization arrays that fit the
   quantized dimension, finite positive scales, finite float weights.

Each failure is one FirmnetError naming the table or tensor, the field, the value and
what was expected.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import tflite

from ..ir import FirmnetError

# Per table: field id → what its offset points to. A field not listed is an inline scalar.
# ("vector", n): a vector of n-byte scalars; ("tables", T): a vector of tables T;
# ("table", T): a table T; "string": a string; ("union", f, {type: T}): a table whose kind
# is the ubyte field f of the same table. T "any" is a table checked by shape only.
SPARSE_INDEX_VECTORS = {1: "Int32Vector", 2: "Uint16Vector", 3: "Uint8Vector"}
SCHEMA = {
    "Model": {1: ("tables", "OperatorCode"), 2: ("tables", "SubGraph"), 3: "string", 4: ("tables", "Buffer"),
              5: ("vector", 4), 6: ("tables", "any"), 7: ("tables", "any")},
    "OperatorCode": {1: "string"},
    "SubGraph": {0: ("tables", "Tensor"), 1: ("vector", 4), 2: ("vector", 4), 3: ("tables", "Operator"),
                 4: "string"},
    "Tensor": {0: ("vector", 4), 3: "string", 4: ("table", "QuantizationParameters"),
               6: ("table", "SparsityParameters"), 7: ("vector", 4), 9: ("tables", "any")},
    "QuantizationParameters": {0: ("vector", 4), 1: ("vector", 4), 2: ("vector", 4), 3: ("vector", 8),
                               5: ("table", "any")},
    "Operator": {1: ("vector", 4), 2: ("vector", 4), 4: ("table", "options"), 5: ("vector", 1),
                 7: ("vector", 1), 8: ("vector", 4), 12: ("table", "any")},
    "Buffer": {0: ("vector", 1)},
    "SparsityParameters": {0: ("vector", 4), 1: ("vector", 4), 2: ("tables", "DimensionMetadata")},
    # array_segments (3) and array_indices (5): unions whose type is the field before
    "DimensionMetadata": {3: ("union", 2, SPARSE_INDEX_VECTORS), 5: ("union", 4, SPARSE_INDEX_VECTORS)},
    "Int32Vector": {0: ("vector", 4)},
    "Uint16Vector": {0: ("vector", 2)},
    "Uint8Vector": {0: ("vector", 1)},
    # the builtin options firmnet reads that hold a vector (the others hold scalars only)
    "ReshapeOptions": {0: ("vector", 4)},
    "SqueezeOptions": {0: ("vector", 4)},
    "any": {},
}
OPTIONS_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}


class _Flatbuffer:
    def __init__(self, data: bytes, path):
        self.data, self.path = data, path

    def fail(self, where, what):
        raise FirmnetError(f"{self.path}: corrupt TFLite file: {where}: {what} (the file is damaged or truncated; "
                           "re-export it)")

    def need(self, pos, size, where):
        if pos < 0 or size < 0 or pos + size > len(self.data):
            self.fail(where, f"{size} bytes at offset {pos} lie outside the file ({len(self.data)} bytes)")

    def read(self, fmt, pos, where):
        self.need(pos, struct.calcsize(fmt), where)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def target(self, pos, where):
        """Where the uoffset stored at pos points."""
        return pos + self.read("<I", pos, where)

    def table(self, pos, kind, where, option_kinds=None):
        """Check the table at pos and everything it references (see SCHEMA)."""
        vtable = pos - self.read("<i", pos, where)
        vsize = self.read("<H", vtable, f"{where} vtable")
        osize = self.read("<H", vtable + 2, f"{where} vtable")
        if vsize < 4 or vsize % 2:
            self.fail(where, f"vtable size {vsize} (must be even and at least 4)")
        self.need(vtable, vsize, f"{where} vtable")
        self.need(pos, max(osize, 4), where)
        schema = SCHEMA[kind]
        for field in range((vsize - 4) // 2):
            offset = self.read("<H", vtable + 4 + 2 * field, f"{where} vtable")
            if offset == 0:
                continue
            if offset >= osize:
                self.fail(where, f"field {field} at offset {offset} lies outside the table ({osize} bytes)")
            spec = schema.get(field)
            if spec is None:
                continue
            if offset + 4 > osize:
                self.fail(where, f"field {field} at offset {offset} lies outside the table ({osize} bytes)")
            at = self.target(pos + offset, where)
            label = f"{where}.field{field}"
            if spec == "string":
                self.vector(at, 1, label, terminated=True)
            elif spec[0] == "vector":
                self.vector(at, spec[1], label)
            elif spec[0] == "union":
                self.table(at, spec[2].get(self.ubyte_field(pos, vtable, vsize, spec[1], where), "any"), label)
            elif spec[0] == "tables":
                for k in range(self.vector(at, 4, label)):
                    self.table(self.target(at + 4 + 4 * k, label), spec[1], f"{label}[{k}]")
            elif spec[1] == "options":
                self.table(at, option_kinds if option_kinds in SCHEMA else "any", label)
            else:
                self.table(at, spec[1], label)

    def ubyte_field(self, pos, vtable, vsize, field, where) -> int:
        """An inline ubyte field of the table at pos (0 when absent; its place was checked)."""
        if 4 + 2 * field + 2 > vsize:
            return 0
        offset = self.read("<H", vtable + 4 + 2 * field, f"{where} vtable")
        return self.read("<B", pos + offset, where) if offset else 0

    def vector(self, pos, elem_size, where, terminated=False) -> int:
        n = self.read("<I", pos, where)
        self.need(pos + 4, n * elem_size + (1 if terminated else 0), where)
        return n


def verify_flatbuffer(data: bytes, path) -> None:
    fb = _Flatbuffer(data, path)
    root = fb.target(0, "root offset")
    model = tflite.Model.GetRootAsModel(data, 0)
    # the operators' options tables are checked by the kind their union type names
    fb.table(root, "Model", "model", None)
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            kind = OPTIONS_NAMES.get(op.BuiltinOptionsType())
            table = op.BuiltinOptions()
            if kind in SCHEMA and table is not None:
                fb.table(table.Pos, kind, f"subgraph {s} operator #{i} options")


def tensor_name(t, i) -> str:
    """A tensor's name in the file, or tensor<i> where it has none."""
    return (t.Name() or b"").decode(errors="replace") or f"tensor{i}"


def _check_quantization(t, name, shape) -> None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return
    scales = q.ScaleAsNumpy()
    where = f"tensor '{name}' quantization"
    if q.ZeroPointLength() not in (0, len(scales)):
        raise FirmnetError(f"{where}: {len(scales)} scales but {q.ZeroPointLength()} zero points (must be equal)")
    if not np.all(np.isfinite(scales)) or not np.all(scales > 0):
        raise FirmnetError(f"{where}: scales must be finite and positive, got {scales[:4].tolist()}")
    if len(scales) > 1:
        axis = q.QuantizedDimension()
        if not 0 <= axis < len(shape):
            raise FirmnetError(f"{where}: quantized_dimension {axis} is outside the tensor's rank {len(shape)}")
        if shape[axis] != len(scales):
            raise FirmnetError(f"{where}: {len(scales)} scales along dimension {axis}, which has size {shape[axis]}")
    if q.ZeroPointLength():
        zps = q.ZeroPointAsNumpy()
        lo, hi = {tflite.TensorType.INT8: (-128, 127), tflite.TensorType.UINT8: (0, 255)}.get(t.Type(), (-2**31, 2**31 - 1))
        if zps.min() < lo or zps.max() > hi:
            raise FirmnetError(f"{where}: zero points must lie in [{lo}, {hi}], got {zps[:4].tolist()}")


def _check_buffer(model, data, t, name, shape, itemsize) -> bool:
    """True if the tensor holds data (a constant); checks its size and place. A sparse
    tensor is a constant even with no stored value (all zeros); it holds whole values, whose
    count the loader checks against its sparsity metadata."""
    index = t.Buffer()
    if index >= model.BuffersLength():
        raise FirmnetError(f"tensor '{name}': buffer index {index} is out of range ({model.BuffersLength()} buffers)")
    buf = model.Buffers(index)
    if buf is None:
        return t.Sparsity() is not None
    if buf.Offset() > 1:
        size, where = buf.Size(), f"bytes {buf.Offset()}..{buf.Offset() + buf.Size()} of the file"
        if buf.Offset() + buf.Size() > len(data):
            raise FirmnetError(f"tensor '{name}': its data ({where}) lies beyond the end of the file "
                               f"({len(data)} bytes)")
    else:
        size, where = buf.DataLength(), f"buffer {index}"
        if size == 0 and t.Sparsity() is None:
            return False
    if t.Sparsity() is not None:
        if size % itemsize:
            raise FirmnetError(f"tensor '{name}': {where} holds {size} bytes, not a whole number of "
                               f"{itemsize}-byte values")
        return True
    expected = math.prod(shape) * itemsize
    if size != expected:
        raise FirmnetError(f"tensor '{name}': {where} holds {size} bytes, its shape {list(shape)} needs {expected}")
    return True


# The options table each operator firmnet reads must carry (or none, where it has defaults).
OPTIONS = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
           "FULLY_CONNECTED": "FullyConnectedOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
           "MAX_POOL_2D": "Pool2DOptions", "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
           "RESHAPE": "ReshapeOptions", "SQUEEZE": "SqueezeOptions", "SOFTMAX": "SoftmaxOptions",
           "CONCATENATION": "ConcatenationOptions", "PAD": "PadOptions", "MEAN": "ReducerOptions"}
OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def _check_operator_codes(model) -> None:
    for k in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(k)
        old, new = code.DeprecatedBuiltinCode(), code.BuiltinCode()
        if old < 0 or new < 0:
            raise FirmnetError(f"operator code {k}: negative builtin code ({old}, {new})")
        if old != PLACEHOLDER_FOR_GREATER_OP_CODES and new not in (0, old):
            raise FirmnetError(f"operator code {k}: builtin_code {new} contradicts deprecated_builtin_code {old} "
                               "(they must name the same operator)")


def _check_options(op, index, op_name) -> None:
    expected = OPTIONS.get(op_name)
    kind = op.BuiltinOptionsType()
    if kind != 0 and expected is not None and OPTIONS_NAMES.get(kind) != expected:
        raise FirmnetError(f"operator #{index} ({op_name}) carries {OPTIONS_NAMES.get(kind, f'options type {kind}')}; "
                           f"it needs {expected}")


def check_model(model, data, dtypes: dict) -> None:
    """Indices, sizes and dataflow of subgraph 0 (the loader refuses other subgraph counts)."""
    _check_operator_codes(model)
    sg = model.Subgraphs(0)
    count = sg.TensorsLength()
    constant, produced = set(), set()
    for i in range(count):
        t = sg.Tensors(i)
        name = tensor_name(t, i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape):
            raise FirmnetError(f"tensor '{name}' has a dynamic shape {list(shape)}; firmnet needs static shapes "
                               "(re-convert the model with fixed input sizes)")
        itemsize = np.dtype(dtypes[t.Type()]).itemsize if t.Type() in dtypes else 1
        if _check_buffer(model, data, t, name, shape, itemsize):
            constant.add(i)
        _check_quantization(t, name, shape)

    def tensor_index(i, what, optional=False):
        if optional and i == -1:
            return
        if not 0 <= i < count:
            raise FirmnetError(f"{what}: tensor index {i} is out of range ({count} tensors)")

    inputs = [int(i) for i in sg.InputsAsNumpy()] if sg.InputsLength() else []
    for i in inputs:
        tensor_index(i, "subgraph inputs")
    available = set(inputs) | constant
    for index in range(sg.OperatorsLength()):
        op = sg.Operators(index)
        what = f"operator #{index}"
        if op.OpcodeIndex() >= model.OperatorCodesLength():
            raise FirmnetError(f"{what}: opcode index {op.OpcodeIndex()} is out of range "
                               f"({model.OperatorCodesLength()} operator codes)")
        code = model.OperatorCodes(op.OpcodeIndex())
        _check_options(op, index, OP_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), ""))
        for i in (op.InputsAsNumpy() if op.InputsLength() else []):
            tensor_index(int(i), f"{what} inputs", optional=True)
            if i != -1 and int(i) not in available:
                raise FirmnetError(f"{what} reads tensor '{tensor_name(sg.Tensors(int(i)), int(i))}' before any "
                                   "operator computes it (operators out of order, or the tensor has no data)")
        for i in (op.OutputsAsNumpy() if op.OutputsLength() else []):
            tensor_index(int(i), f"{what} outputs")
            i = int(i)
            label = f"{what} writes tensor '{tensor_name(sg.Tensors(i), i)}'"
            if i in constant or i in inputs:
                raise FirmnetError(f"{label}, which is a {'constant' if i in constant else 'graph input'}")
            if i in produced:
                raise FirmnetError(f"{label}, which an earlier operator already computes")
            produced.add(i)
            available.add(i)
    outputs = [int(i) for i in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    if not outputs:
        raise FirmnetError("the model has no outputs")
    for i in outputs:
        tensor_index(i, "subgraph outputs")
        if i not in produced:
            kind = "a graph input" if i in inputs else "a constant" if i in constant else "never computed"
            raise FirmnetError(f"graph output '{tensor_name(sg.Tensors(i), i)}' is {kind}; firmnet compiles only "
                               "outputs that operators compute")

"""Read an ONNX file into the IR.

Steps: parse and validate the file; pin input shapes (refusing dynamic ones
unless the user gives them); run ONNX shape inference; fold every node whose
inputs are known constants or static shapes with ONNX's own reference evaluator
(this removes exporter shape arithmetic such as Shape→Gather→Concat→Reshape);
convert the remaining nodes with frontend/onnx_ops.py.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..ir import FirmnetError, Graph, TensorType, UnsupportedError
from .builder import GraphBuilder
from ..ops import reshape
from . import onnx_layer_ops, onnx_math_ops, onnx_ops, onnx_quant_ops, onnx_tensor_ops, qonnx_ops
from .onnx_codebook import check_codebook, weight_gathers
from .onnx_checks import check_attributes, check_structure, check_values, infer_shapes
from .onnx_math_ops import BOOL_INPUTS
from .onnx_ops import FOLD_ONLY
from .onnx_quant_ops import INT8_DATA_MOVEMENT, MS_CONVERTERS, MS_DOMAIN, QUANTIZED_INPUTS, int8_data_movement

# The ONNX converters, one module per group of operators, each with its own CONVERTERS dict.
CONVERTER_MODULES = (
    onnx_ops,
    onnx_quant_ops,
    onnx_layer_ops,
    onnx_tensor_ops,
    onnx_math_ops,
    qonnx_ops,
)
CONVERTERS = {op: convert for module in CONVERTER_MODULES for op, convert in module.CONVERTERS.items()}

# Opset 11 is the first with today's Clip/Pad/Gemm signatures. The supported operators'
# definitions changed after 21 only by admitting new element types (bfloat16, float8,
# int4...), which the dtype check refuses; the official ONNX cases up to 28 pass.
# Older models (opset 7..10: e.g. QLinearConv, ConvInteger and MatMulInteger
# exported at their first opset, 10) are upgraded to 11 by onnx.version_converter.
MIN_OPSET, MAX_OPSET = 11, 28
OLDEST_CONVERTIBLE = 7

# Unsupported operators that have a better way in, and what to do instead.
UNSUPPORTED_HINTS = {
    "DynamicQuantizeLinear": "dynamic quantization (DynamicQuantizeLinear) computes its scale from every input "
    "at run time; firmnet needs static scales: quantize with calibration data instead (firmnet compress "
    "--quantize int8 --calib data.npz, or onnxruntime's quantize_static)",
}


def _read(source) -> onnx.ModelProto:
    if isinstance(source, onnx.ModelProto):
        return source
    path = Path(source)
    if not path.is_file():
        raise FirmnetError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types on garbage
        raise FirmnetError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc}); "
                           "check that the file is a complete .onnx export") from None
    if not model.graph.node and not model.graph.output:
        raise FirmnetError(f"{path}: not a readable ONNX model (it holds no graph)")
    return model


def _opset(model) -> int:
    versions = {o.domain: o.version for o in model.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None:
        raise UnsupportedError("the model imports no default ONNX opset")
    if not OLDEST_CONVERTIBLE <= version <= MAX_OPSET:
        raise UnsupportedError(f"opset {version} is not supported (supported: {OLDEST_CONVERTIBLE}..{MAX_OPSET}); "
                               "re-export the model with a newer opset")
    return version


def _upgrade(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    """An opset-7..10 model as opset MIN_OPSET (its Clip/Pad attributes become inputs)."""
    from onnx import version_converter
    try:
        return version_converter.convert_version(model, MIN_OPSET)
    except Exception as exc:   # the converter raises several types, with its own message
        raise UnsupportedError(f"opset {version} model could not be upgraded to opset {MIN_OPSET} by "
                               f"onnx.version_converter ({exc}); re-export it with opset {MIN_OPSET} or newer") from None


def _dtype_name(elem_type: int) -> str:
    return str(helper.tensor_dtype_to_np_dtype(elem_type))


def _pin_inputs(model, input_shapes) -> dict[str, TensorType]:
    """Static types of the graph inputs; dynamic dimensions need --input-shape."""
    input_shapes = dict(input_shapes or {})
    initializers = {t.name for t in model.graph.initializer}
    types = {}
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise UnsupportedError(f"graph input '{vi.name}' is not a tensor")
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
        if vi.name in input_shapes:
            shape = tuple(int(d) for d in input_shapes.pop(vi.name))
            if len(shape) != len(dims) or any(isinstance(d, int) and d != s for d, s in zip(dims, shape)):
                raise FirmnetError(f"--input-shape {vi.name}={','.join(map(str, shape))} does not fit the "
                                   f"model's input shape [{','.join(map(str, dims))}]")
        elif not tt.HasField("shape") or any(not isinstance(d, int) or d <= 0 for d in dims):
            shown = ",".join(map(str, dims)) if tt.HasField("shape") else "unknown rank"
            raise FirmnetError(f"graph input '{vi.name}' has a dynamic shape [{shown}]; firmnet plans memory "
                               f"statically: give it with --input-shape {vi.name}=1,... "
                               f"(Python: input_shapes={{'{vi.name}': (1, ...)}})")
        else:
            shape = tuple(dims)
        dtype = _dtype_name(tt.elem_type)
        if dtype == "uint8":   # quantized uint8 data enters as int8 (value - 128), see DequantizeLinear
            dtype = "int8"
        try:
            types[vi.name] = TensorType(shape, dtype)
        except FirmnetError as exc:
            raise type(exc)(f"graph input '{vi.name}': {exc}") from None
        del tt.shape.dim[:]
        for d in shape:
            tt.shape.dim.add().dim_value = d
    if input_shapes:
        raise FirmnetError(f"--input-shape names unknown inputs: {', '.join(input_shapes)} "
                           f"(inputs: {', '.join(types)})")
    return types


def _check_references(model) -> None:
    known = {vi.name for vi in model.graph.input} | {t.name for t in model.graph.initializer} | {""}
    for i, node in enumerate(model.graph.node):
        for name in node.input:
            if name not in known:
                raise FirmnetError(
                    f"node '{node.name or i}' ({node.op_type}) reads '{name}', which is not a graph input, an "
                    "initializer or an earlier node's output: the model's initializers are missing or its nodes "
                    "are out of order (if it was saved with external data, keep the data file beside it)")
        for name in node.output:
            if name and name in known:
                raise FirmnetError(f"node '{node.name or i}' ({node.op_type}) writes '{name}', which is already a "
                                   "graph input, an initializer or another node's output (each tensor is assigned "
                                   "once in ONNX)")
        known.update(node.output)
    for out in model.graph.output:
        if out.name not in known:
            raise FirmnetError(f"graph output '{out.name}' is never produced")


def _evaluate(node, opset, values: dict) -> list[np.ndarray]:
    """Run one node with ONNX's reference evaluator on constant inputs."""
    from onnx.reference import ReferenceEvaluator
    names = [i for i in node.input if i]
    inputs = [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(values[i].dtype), values[i].shape)
              for i in names]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    results = ReferenceEvaluator(model).run(None, {i: values[i] for i in names})
    return [np.asarray(r) for r in results]


def _attributes(node) -> dict:
    attrs = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        attrs[a.name] = v
    return attrs


def _node_label(node, index) -> str:
    return f"node '{node.name or f'#{index}'}' ({node.op_type})"


def load_onnx(source, input_shapes=None, requant: str = "ort") -> Graph:
    model = _read(source)
    opset = _opset(model)
    if opset < MIN_OPSET:
        model, opset = onnx_layer_ops.keep_legacy_resize(model, _upgrade(model, opset)), MIN_OPSET
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") and not (node.domain == MS_DOMAIN and node.op_type in MS_CONVERTERS) \
                and not (node.domain in qonnx_ops.QONNX_DOMAINS and node.op_type in qonnx_ops.CONVERTERS):
            raise UnsupportedError(f"node '{node.name}' ({node.domain}.{node.op_type}) uses a custom operator "
                                   f"domain, which is not supported (of {MS_DOMAIN}: {', '.join(MS_CONVERTERS)}; "
                                   f"of {qonnx_ops.QONNX_DOMAINS[0]}: {', '.join(qonnx_ops.CONVERTERS)})")
    _check_references(model)
    check_structure(model)
    check_attributes(model)
    check_values(model)
    input_types = _pin_inputs(model, input_shapes)
    model = infer_shapes(onnx_layer_ops.type_untyped_outputs(model))

    uint8_inputs = {vi.name for vi in model.graph.input
                    if vi.type.tensor_type.elem_type == onnx.TensorProto.UINT8}
    for node in model.graph.node:
        for name in node.input:
            if name in uint8_inputs and node.op_type not in QUANTIZED_INPUTS:
                raise UnsupportedError(f"node '{node.name}' ({node.op_type}) reads the uint8 input '{name}'; "
                                       "uint8 inputs are supported as quantized data (read by DequantizeLinear)")
    b = GraphBuilder(model.graph.name or "model")
    b.opset = opset
    b.requant = requant
    # uint8 tensors travel as int8 (value - 128); ops whose zero points default to 0 of
    # their input's type (ConvInteger, MatMulInteger) need to know which ones were uint8
    b.uint8_tensors = uint8_inputs | {vi.name for vi in model.graph.value_info
                                      if vi.type.tensor_type.elem_type == onnx.TensorProto.UINT8}
    for name, t in input_types.items():
        b.add_input(name, t)
    for init in model.graph.initializer:
        if init.name not in input_types:
            try:
                value = numpy_helper.to_array(init)
            except Exception as exc:  # onnx raises several types for element types numpy lacks
                raise UnsupportedError(f"initializer '{init.name}' has an unsupported element type "
                                       f"({onnx.TensorProto.DataType.Name(init.data_type)}): {exc}") from None
            b.const(value, init.name)

    inferred = _inferred_types(model)
    codebooks = weight_gathers(model)
    errors, unchecked = [], []
    for index, node in enumerate(model.graph.node):
        label = _node_label(node, index)
        if not node.name:   # IR nodes carry a name; make one the report can point at
            node.name = f"{node.op_type}_{index}"
        missing = [i for i in node.input if i and i not in b.types]
        if missing:   # it reads an output of a node refused above, whose type is unknown
            unchecked.append(label)
            _assume_outputs(b, node, inferred)
            continue
        try:
            if node.output and node.output[0] in codebooks:
                _check_codebook(b, node, label, *codebooks[node.output[0]])
            _convert_node(b, node, label, opset)
        except FirmnetError as exc:
            errors.append((label, exc))
            _assume_outputs(b, node, inferred)
    if errors:
        raise _collected(errors, unchecked)
    outputs = [o.name for o in model.graph.output]
    for k, o in enumerate(outputs):
        if o in input_types:   # an input passed straight through: the C copies it
            outputs[k] = b.add("reshape", [o], reshape.Attrs(input_types[o].shape), outputs=[f"{o}:output"],
                               name=f"{o}/passthrough")[0]
        if o in b.constants:
            raise UnsupportedError(f"graph output '{o}' is a constant (it does not depend on the inputs); "
                                   "firmnet compiles only computed outputs")
    return b.build(outputs)


def _check_codebook(b, node, label, layer, under_dq) -> None:
    try:
        check_codebook(b.constants, node, layer, under_dq)
    except FirmnetError as exc:
        raise type(exc)(f"{label}: {exc}") from None


def _convert_node(b, node, label, opset) -> None:
    """Fold one ONNX node into constants, or convert it into IR nodes; raises FirmnetError."""
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        raise UnsupportedError(f"{label}: control flow with subgraphs is not supported")
    inputs = list(node.input)
    foldable = all(not i or i in b.constants for i in inputs)
    if node.op_type == "Shape" and inputs[0] in b.types:
        foldable = True   # every shape is static once the inputs are pinned
    # dequantized weights stay int8: the QDQ pass turns them into integer ops
    if foldable and node.op_type not in ("Dropout", "DequantizeLinear", *qonnx_ops.CONVERTERS):
        values = dict(b.constants)
        if node.op_type == "Shape" and inputs[0] not in values:
            values[inputs[0]] = np.zeros(b.types[inputs[0]].shape, b.types[inputs[0]].dtype)
        try:
            results = _evaluate(node, opset, values)
        except Exception as exc:
            raise FirmnetError(f"{label}: folding it to a constant failed: {exc}") from None
        for out, value in zip([o for o in node.output if o], results):
            b.const(value, out)
        return
    if node.op_type in FOLD_ONLY:
        dynamic = [i for i in inputs if i and i not in b.constants]
        raise UnsupportedError(f"{label}: {node.op_type} is supported only where it folds to a constant, but "
                               f"its input '{dynamic[0]}' is computed at run time")
    convert = CONVERTERS.get(node.op_type)
    if node.op_type in UNSUPPORTED_HINTS:
        raise UnsupportedError(f"{label}: {UNSUPPORTED_HINTS[node.op_type]}")
    if convert is None:
        raise UnsupportedError(f"{label}: operator {node.op_type} is not supported; supported operators: "
                               f"{', '.join(sorted(CONVERTERS))} (and {', '.join(FOLD_ONLY)} where they fold "
                               "to constants)")
    attrs = _attributes(node)
    try:
        inspect.signature(convert).bind(b, node, *inputs, **attrs)
    except TypeError as exc:
        raise UnsupportedError(f"{label}: unsupported attributes or inputs ({exc}); the attributes firmnet "
                               f"handles are: {_accepted(convert)}") from None
    if node.op_type in INT8_DATA_MOVEMENT and inputs and inputs[0] not in b.constants \
            and b.types[inputs[0]].dtype == "int8":   # onnxruntime's QOperator format
        try:
            int8_data_movement(b, node, convert, inputs, attrs)
        except FirmnetError as exc:
            raise type(exc)(f"{label}: {exc}") from None
        return
    for k, i in enumerate(inputs) if node.op_type not in QUANTIZED_INPUTS else ():
        if i and b.types[i].dtype != "float32" and i not in b.constants \
                and not (b.types[i].dtype == "bool" and k in BOOL_INPUTS.get(node.op_type, ())):
            raise UnsupportedError(f"{label}: input '{i}' has dtype {b.types[i].dtype}; this operator "
                                   "supports float32 tensors")
    try:
        convert(b, node, *inputs, **attrs)
    except FirmnetError as exc:
        raise type(exc)(f"{label}: {exc}") from None


def _inferred_types(model) -> dict:
    """Tensor types from ONNX shape inference (value_info and graph outputs), for going on after
    a refused node: its outputs get these types so that later nodes still convert (or are refused
    for their own reasons)."""
    types = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape") or \
                any(not d.HasField("dim_value") for d in tt.shape.dim):
            continue
        try:
            dtype = _dtype_name(tt.elem_type)
            types[vi.name] = TensorType(tuple(d.dim_value for d in tt.shape.dim),
                                        "int8" if dtype == "uint8" else dtype)
        except (FirmnetError, TypeError, KeyError, ValueError):
            continue
    return types


def _assume_outputs(b, node, inferred) -> None:
    for o in node.output:
        if o and o not in b.types and o in inferred:
            b.types[o] = inferred[o]


def _collected(errors, unchecked) -> FirmnetError:
    """One error for every refused node: the message itself when there is one, else one line each."""
    if len(errors) == 1 and not unchecked:
        return errors[0][1]
    unsupported = sorted({str(e).split("operator ", 1)[1].split(" ", 1)[0] for _, e in errors
                          if " is not supported; supported operators:" in str(e)})
    lines = [f"{len(errors)} node(s) cannot be compiled:"]
    for label, exc in errors:
        lines.append(f"  {_short(label, exc)}")
    if unchecked:
        lines.append(f"  ({len(unchecked)} later node(s) read their outputs and were not checked: "
                     f"{', '.join(unchecked[:5])}{', ...' if len(unchecked) > 5 else ''})")
    if unsupported:
        lines.append(f"supported operators: {', '.join(sorted(CONVERTERS))} (and {', '.join(FOLD_ONLY)} where "
                     "they fold to constants)")
    cls = UnsupportedError if all(isinstance(e, UnsupportedError) for _, e in errors) else FirmnetError
    return cls("\n".join(lines))


def _short(label, exc) -> str:
    """label: reason, without the long list of supported operators (printed once after)."""
    text = str(exc)
    if text.startswith(label):
        text = text[len(label):].lstrip(": ")
    if "; supported operators:" in text:
        op = text.split("operator ", 1)[1].split(" ", 1)[0]
        text = text.split("; supported operators:")[0] + _closest(op)
    return f"{label}: {text}"


def _closest(op: str) -> str:
    """The supported form nearest to an unsupported operator, as advice."""
    if op in CLOSEST:
        return f"; closest supported form: {CLOSEST[op]}"
    import difflib
    near = difflib.get_close_matches(op, list(CONVERTERS), n=2, cutoff=0.6)
    return f"; similar supported operators: {', '.join(near)}" if near else ""


# Where an unsupported operator has a supported equivalent for common uses.
CLOSEST = {
    "ReduceMean": "GlobalAveragePool (a mean over H and W with keepdims=1)",
    "ReduceMax": "GlobalMaxPool (a max over H and W with keepdims=1)",
    "Gelu": "x * Sigmoid(1.702 x) (Mul and Sigmoid), or HardSwish",
    "Erf": "Tanh/Sigmoid (Gelu's tanh approximation)",
    "ConvTranspose": "Resize followed by Conv",
    "Split": "Slice of a constant, or separate Conv branches",
    "LogSoftmax": "Softmax (argmax and ranking are the same)",
    "Elu": "LeakyRelu",
    "Selu": "LeakyRelu",
    "PRelu": "LeakyRelu (one slope)",
}


def _accepted(convert) -> str:
    params = inspect.signature(convert).parameters.values()
    names = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    return ", ".join(names) or "none"

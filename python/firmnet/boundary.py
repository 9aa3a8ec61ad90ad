"""The model's own input/output types vs the C API's, for models quantized at their boundary.

A quantized model that takes float and quantizes it first (QuantizeLinear on the input) gets
an int8 C input; one that ends in a DequantizeLinear gets an int8 C output (passes/qdq.py,
rule 4). These functions convert between the two, as the model itself does: a float input
goes through the model's own quantize node (its rounding: onnxruntime's half to even for
ONNX QuantizeLinear in ort mode, saturating), an int8 output through its dequantize
(float32(q - zero_point) * scale).
"""
from __future__ import annotations

import numpy as np

from .ops import OPS
from .ops import dequantize as dequantize_op
from .ops import quantize as quantize_op
from .reference import check_input, check_inputs


def _input_quantize(compiled, name):
    """The quantize attributes the model applies to its float input `name`, or None when the C
    takes the model's own type."""
    model_t, c_t = compiled.graph.types[name], compiled.lowered_graph.types[name]
    if model_t.dtype == c_t.dtype or c_t.quant is None:
        return None
    for node in compiled.graph.nodes:
        if node.op == "quantize" and node.inputs[0] == name:
            return node.attrs
    return quantize_op.Attrs(c_t.quant, compiled.requant)


def to_c_inputs(compiled, inputs, accept_raw: bool = False) -> list[np.ndarray]:
    """Inputs in the model's own types → the C API's types. accept_raw: an int8 array for an
    input the model takes as float but the C as int8 passes as it is (already quantized)."""
    inputs = list(inputs)
    graph, c_graph = compiled.graph, compiled.lowered_graph
    if len(inputs) != len(graph.inputs):
        check_inputs(graph, inputs)   # raises the count error
    arrays = []
    for name, x in zip(graph.inputs, inputs):
        attrs = _input_quantize(compiled, name)
        if attrs is not None and accept_raw and np.asarray(x).dtype == np.int8:
            arrays.append(check_input(name, c_graph.types[name], x))
            continue
        x = check_input(name, graph.types[name], x)
        arrays.append(OPS["quantize"].reference(attrs, x)[0] if attrs is not None else x)
    return arrays


def from_c_outputs(compiled, outputs) -> list[np.ndarray]:
    """The C API's outputs → the model's own types (int8 boundaries dequantized)."""
    result = []
    for name, y in zip(compiled.lowered_graph.outputs, outputs):
        model_t, c_t = compiled.graph.types[name], compiled.lowered_graph.types[name]
        if model_t.dtype != c_t.dtype and c_t.quant is not None:
            y = OPS["dequantize"].reference(dequantize_op.Attrs(c_t.quant), y)[0]
        result.append(y)
    return result

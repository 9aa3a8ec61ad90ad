"""Float compute layers left in a quantized model, each with the reason it stayed float.

A model "is quantized" when it holds quantize/dequantize nodes as loaded (ONNX QDQ or
QLinear*, TFLite int8). After the passes, a layer that computes (not a layout change, not
a quantize/dequantize conversion) and writes float32 ran as a float kernel: compile()
names each in a warning and in report.json ("float_layers"); int8_only makes it an error.
An integer op with a float output (an int8 reduce mean whose result the model leaves float,
ops/reduce.py) reads int8 and computes on it as its int8 kernel does: not a float layer.
"""
from __future__ import annotations

import dataclasses

from .ir import FirmnetError, Graph, OpQuant
from .ops import check_supported
from .ops._util import integer_range
from .passes.qdq import COMPUTE_OPS

# Ops that only move or convert data: never "float compute" themselves.
NOT_COMPUTE = ("quantize", "dequantize", "reshape", "transpose", "pad", "slice",
               "binarize", "unbinarize", "bmaxpool", "bconv2d")   # binary layers compute on bits


class FloatLayerWarning(UserWarning):
    """A layer of a quantized model runs in float."""


def is_quantized(graph: Graph) -> bool:
    return any(n.op in ("quantize", "dequantize") for n in graph.nodes) or any(
        graph.types[t].quant is not None for t in graph.inputs + graph.outputs)


def _what(node) -> str:
    return "a quantize" if node.op == "quantize" else node.describe()


def _reason(graph: Graph, model: Graph, node, producers, consumers) -> str:
    if node.op not in COMPUTE_OPS:
        return f"firmnet has no int8 {node.op}"
    for i in node.inputs:
        if not i or i in graph.constants or graph.types[i].dtype != "float32":
            continue
        p = producers.get(i)
        if p is None:
            return f"it reads the float graph input '{i}' (no QuantizeLinear on it)"
        if p.op != "dequantize":
            return f"its input '{i}' is float: {p.describe()} computes it in float"
    for o in node.outputs:
        if o in graph.outputs:
            return f"its output '{o}' is a float graph output (no QuantizeLinear after it)"
        readers = [r for r in consumers.get(o, []) if r.op != "quantize"]
        if readers:
            return f"its output '{o}' is read in float by {readers[0].describe()} (no QuantizeLinear after it)"
    original = {n.name: n for n in model.nodes}.get(node.name)
    if original is not None:
        model_producers = model.producers()
        for k, i in enumerate(original.inputs):
            if k and i in model.constants and model.types[i].dtype == "float32" and not (
                    node.op in ("conv2d", "dense") and k == 2):
                return f"its constant input '{i}' is float (not a DequantizeLinear of int8 data)"
            p = model_producers.get(i)
            if p is not None and p.op == "dequantize" and p.attrs.quant.axis is not None and k == 0:
                return f"its input '{i}' is quantized per channel; int8 activations need one scale"
    refused = _integer_refusal(graph, node, producers, consumers)
    if refused:
        return f"the int8 {node.op} refuses these quantizations: {refused}"
    return (f"the int8 {node.op} does not take this pattern of quantizations "
            "(its inputs are dequantized and its output quantized, but no integer kernel fits)")


def _integer_refusal(graph, node, producers, consumers) -> str | None:
    """Why the op's own shape inference refuses it as an int8 op (e.g. softmax's output
    scale), when its inputs are dequantized activations and its output is quantized."""
    if not dataclasses.is_dataclass(node.attrs) or "quant" not in {f.name for f in dataclasses.fields(node.attrs)}:
        return None
    types, quants = [], []
    for i in node.inputs:
        p = producers.get(i)
        if not i or p is None or p.op != "dequantize" or p.attrs.quant.axis is not None:
            return None
        types.append(graph.types[p.inputs[0]])
        quants.append(p.attrs.quant)
    readers = consumers.get(node.outputs[0], [])
    if not readers or readers[0].op != "quantize":
        return None
    out_q = readers[0].attrs.quant
    changes = {"quant": OpQuant(tuple(quants), out_q)}
    if hasattr(node.attrs, "act"):   # the float clamp as the integer range the int8 op takes
        changes["act"] = integer_range(node.attrs.act, out_q)
    attrs = dataclasses.replace(node.attrs, **changes)
    try:
        check_supported(node.op, attrs, types)
    except FirmnetError as exc:
        return str(exc)
    return None


def float_layers(model: Graph, lowered: Graph) -> list[dict]:
    """[{name, op, reason}] for the float compute layers of a quantized model (else [])."""
    if not is_quantized(model):
        return []
    producers, consumers = lowered.producers(), lowered.consumers()
    found = []
    for node in lowered.nodes:
        if node.op in NOT_COMPUTE or all(lowered.types[o].dtype != "float32" for o in node.outputs) \
                or getattr(node.attrs, "quant", None) is not None:
            continue
        found.append({"name": node.name, "op": node.op,
                      "reason": _reason(lowered, model, node, producers, consumers)})
    return found


def message(layer: dict) -> str:
    return f"layer '{layer['name']}' ({layer['op']}) runs in float: {layer['reason']}"

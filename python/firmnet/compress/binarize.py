"""Binarization of Conv/Gemm/MatMul layers of a float model, XNOR-Net style.

A layer y = W * x + b becomes y = α ⊙ (sign(W) * Sign(x)) + b: its weight is replaced by
sign(W) (0 → +1, so every stored value is exactly ±1), α = mean |W| over each output
channel's weights, and its data input passes through a new ONNX `Sign` node. The ONNX
written is the form firmnet's compiler reads as a binary layer (README "Binary layers"):

    x ── Sign ── Conv(W = ±1 constant, groups 1, no bias) ── Mul(α) ── Add(bias) ── ...
                 Gemm(alpha 1, no C) / MatMul(2-D constant)

α has shape (1, C, 1, 1) after a 2-D conv ((1, C) + (1,) * spatial dims in general) and (C,)
after Gemm/MatMul; the bias keeps its own Add (never folded into the ±1 layer), in the
same shape as α; a Gemm's alpha is folded into α and its beta into the bias. The layer's
output tensor keeps its name, so whatever read it reads the binary layer's result.

ONNX `Sign` gives 0 for an input of exactly 0 where firmnet binarizes x ≥ 0 → +1, and the
sign of a non-negative tensor (a ReLU output) is constant: such a layer is flagged in its
row, since it then sees no information (train the binary model without that activation,
as examples/digits/binary.py does).

`auto` binarizes every Conv/Gemm/MatMul layer with a constant weight except the first and
the last (they stay float, or int8 after quantization, as is common practice); a grouped
conv (depthwise) is skipped there and refused when named. Binarize before quantizing: a
QDQ or QLinear model is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from ..ir import FirmnetError
from .measure import QUANT_OPS
from .weights import OnnxGraph, Weight, by_name, constants_to_initializers, find_weights

AUTO = "auto"
ALPHA_BYTES = 4                      # α is stored as float32, one per output channel
# ops that keep a tensor non-negative if their input is (the sign of a ReLU output passed through them is +1)
SIGN_PRESERVING = ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape",
                   "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout")
NON_NEGATIVE = ("Relu", "Sigmoid", "Softmax", "Abs", "Exp", "Softplus", "HardSigmoid")


@dataclass(frozen=True)
class BinarizedLayer:
    """One weight layer's line of the binarization report (weight bytes: float before; 1 bit per
    weight rounded up to whole bytes plus α after; the same before and after for a skipped layer)."""
    layer: str
    op: str
    shape: tuple[int, ...]
    macs: int
    bytes_before: int
    bytes_after: int
    note: str                           # "binary" or "skipped: why"
    warnings: tuple[str, ...] = ()      # what may make the binary layer useless

    @property
    def binary(self) -> bool:
        return self.note == "binary"

    @property
    def text(self) -> str:
        return "; ".join((self.note,) + tuple(f"warning: {w}" for w in self.warnings))


class _Rewrite(OnnxGraph):
    """The graph being rewritten, with the nodes made so far (placed in the node list at the end)."""

    def __init__(self, model: onnx.ModelProto):
        super().__init__(model)
        self.added: list[onnx.NodeProto] = []


def binarize(model: onnx.ModelProto, layers: list[str] | str = AUTO) -> list[BinarizedLayer]:
    """Rewrite the chosen layers of `model` in place (see the module docstring); returns one row per
    Conv/Gemm/MatMul layer with a constant weight, in graph order."""
    _refuse_quantized(model)
    constants_to_initializers(model)
    g = _Rewrite(model)
    weights = find_weights(g)
    if not weights:
        raise FirmnetError("the model has no Conv, Gemm or MatMul layer with a constant weight: nothing to binarize")
    macs = _macs(model, g, weights)
    if layers == AUTO:
        reasons = {w.layer: _skip_reason(g, w) for w in weights[1:-1]}
        chosen = {layer for layer, reason in reasons.items() if not reason}
        if not chosen:
            raise FirmnetError("--binarize auto: no layer to binarize (the first and last layers stay float"
                               + "".join(f"; {layer}: {reason}" for layer, reason in reasons.items())
                               + f"); name the layers instead, e.g. --binarize {weights[0].layer}")
    else:
        names = list(layers)
        if not names:
            raise FirmnetError("--binarize: no layer named (give layer names, or auto)")
        chosen = {w.layer for w in by_name(weights, names, what="binarizable").values()}
        for w in weights:
            reason = _skip_reason(g, w) if w.layer in chosen else ""
            if reason:
                raise FirmnetError(f"cannot binarize layer '{w.layer}' ({w.op}): {reason}")
    signs: dict[str, str] = {}
    placed: dict[int, tuple[list, list]] = {}      # id(layer node) -> (nodes before it, nodes after it)
    rows = []
    for i, w in enumerate(weights):
        shape = tuple(g.array(w.const.data).shape)
        before = g.array(w.const.data).nbytes
        if w.layer in chosen:
            warnings = [_non_negative_input(g, w.node.input[0]), _zero_weights(g.array(w.const.data))]
            placed[id(w.node)] = _rewrite(g, w, signs)
            after = -(-int(np.prod(shape)) // 8) + ALPHA_BYTES * shape[w.out_axis]
            rows.append(BinarizedLayer(w.layer, w.op, shape, macs[w.layer], before, after, "binary",
                                       tuple(filter(None, warnings))))
        else:
            rows.append(BinarizedLayer(w.layer, w.op, shape, macs[w.layer], before, before,
                                       _skip_note(g, w, i, len(weights), layers == AUTO)))
    nodes = []
    for n in model.graph.node:
        first, then = placed.get(id(n), ((), ()))
        nodes += [*first, n, *then]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return rows


def _skip_note(g: OnnxGraph, w: Weight, index: int, count: int, auto: bool) -> str:
    if not auto:
        return "skipped: not named"
    if index in (0, count - 1):
        return f"skipped: {'first' if index == 0 else 'last'} layer"
    return f"skipped: {_skip_reason(g, w)}"


def _refuse_quantized(model: onnx.ModelProto) -> None:
    node = next((n for n in model.graph.node if n.op_type in QUANT_OPS), None)
    if node is not None:
        raise FirmnetError(f"cannot binarize a quantized model (node '{node.name or node.output[0]}' is "
                           f"{node.op_type}): binarize the float model, then quantize it "
                           "(firmnet compress does both in that order: --binarize ... --quantize int8 --calib ...)")


def _attr(node: onnx.NodeProto, name: str, default):
    a = next((a for a in node.attribute if a.name == name), None)
    return default if a is None else onnx.helper.get_attribute_value(a)


def _skip_reason(g: OnnxGraph, w: Weight) -> str:
    """Why the layer cannot be binarized ('' if it can)."""
    if w.op == "Conv" and _attr(w.node, "group", 1) != 1:
        return f"groups {_attr(w.node, 'group', 1)} (a binary conv has groups 1: depthwise layers stay float)"
    data = g.producer.get(w.node.input[0])
    values = g.array(w.const.data)
    if data is not None and data.op_type == "Sign" and np.all(np.abs(values) == 1):
        return "already binary (Sign input, ±1 weight)"
    if w.op == "Gemm" and len(w.node.input) > 2 and w.node.input[2] and not g.is_const(w.node.input[2]) \
            and _attr(w.node, "beta", 1.0) != 1.0:
        return "its bias C is computed at run time and scaled by beta"
    if w.op == "Conv" and len(w.node.input) > 2 and w.node.input[2] and not g.is_const(w.node.input[2]):
        return "its bias is computed at run time"
    return ""


def _non_negative_input(g: OnnxGraph, name: str) -> str:
    """A warning if the tensor is non-negative by construction (its Sign is then +1 everywhere)."""
    node = g.producer.get(name)
    while node is not None and node.op_type in SIGN_PRESERVING:
        node = g.producer.get(node.input[0])
    if node is None or not (node.op_type in NON_NEGATIVE or _clip_min(g, node) >= 0):
        return ""
    return (f"input >= 0 ({node.op_type} '{node.name or node.output[0]}'), so its sign is +1 "
            "everywhere: train without that activation")


def _zero_weights(weight: np.ndarray) -> str:
    """A warning if many weights are 0 (pruned first?): each becomes +1, like a positive weight."""
    zeros = float(np.mean(weight == 0))
    if zeros < 0.05:
        return ""
    return f"{zeros:.0%} of the weights are 0 (pruned?) and become +1: binarization keeps no zeros"


def _clip_min(g: OnnxGraph, node: onnx.NodeProto) -> float:
    """The lower bound of a Clip (ReLU6 is Clip(0, 6)); -inf for any other node or no bound."""
    if node.op_type != "Clip":
        return -np.inf
    if len(node.input) > 1 and node.input[1]:
        return float(g.array(node.input[1])) if g.is_const(node.input[1]) else -np.inf
    return float(_attr(node, "min", -np.inf))      # opset < 11


def _fresh(g: OnnxGraph, base: str) -> str:
    """A tensor/initializer name not used in the graph yet."""
    used = g.inits.keys() | g.producer.keys() | {i.name for i in g.graph.input}
    name, k = base, 0
    while name in used:
        k += 1
        name = f"{base}_{k}"
    return name


def _fresh_node(g: _Rewrite, base: str) -> str:
    """A node name not used in the graph yet (nodes and tensors have separate names)."""
    used = {n.name for n in g.graph.node} | {n.name for n in g.added}
    name, k = base, 0
    while name in used:
        k += 1
        name = f"{base}_{k}"
    return name


def _add_init(g: OnnxGraph, base: str, value: np.ndarray) -> str:
    name = _fresh(g, base)
    g.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    g.inits[name] = g.graph.initializer[-1]
    return name


def _add_node(g: _Rewrite, op: str, inputs: list[str], output_base: str, name: str) -> onnx.NodeProto:
    """A new node (placed in the graph by the caller) writing a fresh tensor name."""
    out = _fresh(g, output_base)
    node = onnx.helper.make_node(op, inputs, [out], name=_fresh_node(g, name))
    g.added.append(node)
    g.producer[out] = node
    for i, x in enumerate(inputs):
        g.consumers.setdefault(x, []).append((node, i))
    return node


def _drop_input(g: OnnxGraph, node: onnx.NodeProto, index: int) -> None:
    """Remove node.input[index] (the last one) and its initializer if nothing else reads it."""
    name = node.input[index]
    del node.input[index]
    g.consumers[name] = [(n, i) for n, i in g.consumers.get(name, []) if not (n is node and i == index)]
    if name in g.inits and g.readers(name) == 0:
        g.graph.initializer.remove(g.inits.pop(name))


def _rewrite(g: _Rewrite, w: Weight, signs: dict[str, str]) -> tuple[list, list]:
    """Binarize one layer; returns the new nodes to place before it and after it."""
    node, layer = w.node, w.layer
    data = g.privatize(node, 1)
    weight = g.array(data)
    channel_axes = tuple(a for a in range(weight.ndim) if a != w.out_axis)
    alpha = np.mean(np.abs(weight.astype(np.float64)), axis=channel_axes)
    g.set(data, np.where(weight >= 0, 1, -1).astype(weight.dtype))
    bias, scale = None, 1.0
    if w.op == "Gemm":
        scale = float(_attr(node, "alpha", 1.0))      # alpha * (A B) = (A sign(W)) * (alpha α)
        if len(node.input) > 2 and node.input[2]:
            c_name, beta = node.input[2], float(_attr(node, "beta", 1.0))
            if g.is_const(c_name):
                c = g.array(c_name).astype(np.float64) * beta
                bias = (c.reshape(-1) if c.size == alpha.size else c).astype(weight.dtype)
            else:
                bias = c_name      # beta is 1 (_skip_reason): added as it is
            _drop_input(g, node, 2)
        for a in [a for a in node.attribute if a.name in ("alpha", "beta")]:
            node.attribute.remove(a)
    elif w.op == "Conv" and len(node.input) > 2 and node.input[2]:
        bias = g.array(node.input[2]).reshape((1, -1) + (1,) * (weight.ndim - 2))
        _drop_input(g, node, 2)
    before = []
    x = node.input[0]
    if x not in signs:        # one Sign per tensor, shared by the layers binarized on it
        sign = _add_node(g, "Sign", [x], f"{x}_sign", f"{layer}_sign")
        signs[x] = sign.output[0]
        before.append(sign)
    node.input[0] = signs[x]
    # y = α ⊙ acc (+ bias), under the layer's old output name
    y = node.output[0]
    acc = _fresh(g, f"{y}_binary")
    node.output[0] = acc
    g.producer.pop(y, None)
    g.producer[acc] = node
    shape = (1, -1) + (1,) * (weight.ndim - 2) if w.op == "Conv" else (-1,)
    alpha_name = _add_init(g, f"{layer}_alpha", (alpha * scale).astype(weight.dtype).reshape(shape))
    after = [_add_node(g, "Mul", [acc, alpha_name], y if bias is None else f"{y}_scaled",
                       f"{layer}_mul_alpha")]
    if bias is not None:
        bias_name = bias if isinstance(bias, str) else _add_init(g, f"{layer}_bias", bias)
        after.append(_add_node(g, "Add", [after[0].output[0], bias_name], y, f"{layer}_add_bias"))
    return before, after


def _macs(model: onnx.ModelProto, g: OnnxGraph, weights: list[Weight]) -> dict[str, int]:
    """Multiply-accumulates of each layer in one run of the model (a symbolic dimension counts 1)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
              if v.type.tensor_type.HasField("shape")}
    result = {}
    for w in weights:
        out = shapes.get(w.node.output[0])
        if out is None:
            raise FirmnetError(f"binarize: the shape of layer '{w.layer}''s output is unknown (give the model "
                               "input a shape)")
        weight = g.array(w.const.data)
        result[w.layer] = int(np.prod(out)) * (weight.size // weight.shape[w.out_axis])
    return result


def binary_nodes(model: onnx.ModelProto) -> list[str]:
    """The names of the nodes that make the model's binary layers: each Sign, the Conv/Gemm/MatMul
    reading a Sign output with a binary weight (a ±1 constant, or Sign of a constant as PyTorch
    exports it, either under a Transpose) with the nodes on that weight's way, and the Mul (α) and
    Add (bias) by constants right after it. int8 quantization leaves them float, so that their
    weights stay ±1."""
    g = OnnxGraph(model)
    names = []
    for node in g.graph.node:
        if node.op_type != "Sign":
            continue
        names.append(node.name)
        for layer, index in g.consumers.get(node.output[0], []):
            chain = _binary_weight(g, layer.input[1]) if index == 0 and len(layer.input) > 1 else None
            if layer.op_type not in ("Conv", "Gemm", "MatMul") or chain is None:
                continue
            names += [n.name for n in chain] + [layer.name]
            out = layer.output[0]
            for op in ("Mul", "Add"):
                readers = g.consumers.get(out, [])
                if len(readers) != 1 or readers[0][0].op_type != op or not g.is_const(readers[0][0].input[1]):
                    break
                names.append(readers[0][0].name)
                out = readers[0][0].output[0]
    return list(dict.fromkeys(n for n in names if n))


def _binary_weight(g: OnnxGraph, name: str) -> list[onnx.NodeProto] | None:
    """The Sign/Transpose nodes between a layer's weight input and its constant if the weight is
    binary (a ±1 constant, or Sign of a constant), else None."""
    chain = []
    while not g.is_const(name):
        node = g.producer.get(name)
        if node is None or node.op_type not in ("Sign", "Transpose"):
            return None
        chain.append(node)
        name = node.input[0]
    if any(n.op_type == "Sign" for n in chain) or np.all(np.abs(g.array(name)) == 1):
        return chain
    return None


def parse_layers(text: str) -> list[str] | str:
    """--binarize's value: 'auto' or comma-separated layer names."""
    text = text.strip()
    if text == AUTO:
        return AUTO
    return [s.strip() for s in text.split(",") if s.strip()]


def format_binarized(rows: list[BinarizedLayer]) -> str:
    width = max(12, *(len(r.layer) for r in rows))
    lines = [f"{'layer':{width}} {'op':6} {'weight shape':16} {'MACs':>10} {'bytes before':>12} "
             f"{'bytes after':>11}  rule"]
    for r in rows:
        shape = "x".join(map(str, r.shape))
        lines.append(f"{r.layer:{width}} {r.op:6} {shape:16} {r.macs:>10,} {r.bytes_before:>12,} "
                     f"{r.bytes_after:>11,}  {r.text}")
    binary = [r for r in rows if r.binary]
    if binary:
        before = sum(r.bytes_before for r in binary)
        after = sum(r.bytes_after for r in binary)
        lines.append(f"binary layers: {len(binary)}, weights {before:,} -> {after:,} bytes "
                     f"({before / after:.1f}x smaller), {sum(r.macs for r in binary):,} of "
                     f"{sum(r.macs for r in rows):,} MACs")
        # Signs of weights trained in float rarely keep the accuracy: say what restores it.
        lines.append("the binary weights are the float weights' signs, not retrained: fine-tune the "
                     "binarized model with a straight-through estimator (examples/digits/binary.py) "
                     "and check it with --eval")
    return "\n".join(lines)

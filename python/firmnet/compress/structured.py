"""Structured pruning: remove whole filters and neurons, and their inputs in every consumer.

Analysis follows each channel axis (axis 1) from the layer that makes it to the layers
that read it. A *space* is the output channels of one Conv/Gemm/MatMul; a tensor's
*layout* says which spaces its axis 1 is made of, in order (a Concat joins layouts), and
how many consecutive features each channel occupies (a depthwise multiplier, or H*W after
Flatten). Removing channel c of a space then means slicing, wherever the layout reaches:
the producer's weight rows and bias, BatchNorm and per-channel quantization parameters,
depthwise filters (whose own channels follow their input's), and the matching input
channels or flattened features of each consuming Conv/Gemm/MatMul. Spaces added
together (a residual Add) are merged: pruned together or not at all. A space that reaches
the model's output or an op the analysis does not know is kept whole, with the reason.

Selection: the channels with the smallest L1 norm (summed over the layers of a merged
space) go, the same fraction in every space that may shrink, so that `sparsity` of all
channels not feeding the model output directly is removed; each space keeps at least
`floor` of its channels (and one). The surgery then rewrites the initializers in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from ..ir import FirmnetError
from .prune import DEFAULT_FLOOR
from .weights import ConstInput, OnnxGraph, const_input, constants_to_initializers, layer_name, tensor_shapes

PASS_THROUGH = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu",
                "Softplus", "Identity", "Dropout", "Abs", "Neg", "Gelu", "Mish", "Celu", "Softsign",
                "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool"}
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"}
QUANT = {"QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class Segment:
    space: int | None     # None: channels no layer of the model makes (e.g. the model input), never cut
    count: int            # channels
    width: int = 1        # consecutive features per channel along axis 1


Layout = tuple  # tuple[Segment, ...]


def _features(layout: Layout) -> int:
    return sum(s.count * s.width for s in layout)


@dataclass
class Space:
    size: int
    layers: list[str]
    norms: np.ndarray
    reasons: list[str] = field(default_factory=list)
    output: bool = False      # feeds a model output directly (never counted in the target)


@dataclass(frozen=True)
class Cut:
    """Slice the constant at node.input[index] along `axis` as `layout` says."""
    node: onnx.NodeProto
    index: int
    axis: int
    layout: Layout


@dataclass(frozen=True)
class GroupResult:
    """One merged space: its layers, how many channels it had, which it keeps, why if all."""
    layers: tuple[str, ...]
    channels: int
    kept: tuple[int, ...]
    reason: str = ""


class _Analysis:
    def __init__(self, g: OnnxGraph, shapes: dict[str, list]):
        self.g, self.shapes = g, shapes
        self.spaces: list[Space] = []
        self.parent: list[int] = []
        self.layouts: dict[str, Layout] = {}
        self.cuts: list[Cut] = []
        self.group_fixes: list[tuple[onnx.NodeProto, Layout]] = []
        self.reshape_fixes: list[tuple[onnx.NodeProto, int]] = []
        # how each op carries channels from its inputs to its output (an op not listed keeps them whole)
        self.handlers = {"Conv": self._conv, "Gemm": self._gemm, "MatMul": self._mat_mul,
                         "BatchNormalization": self._batch_normalization, "PRelu": self._p_relu,
                         "Concat": self._concat, "Flatten": self._flatten, "Reshape": self._reshape,
                         "Squeeze": self._squeeze, "Unsqueeze": self._unsqueeze, "Shape": self._shape,
                         **dict.fromkeys(PASS_THROUGH, self._pass), **dict.fromkeys(ELEMENTWISE, self._elementwise),
                         **dict.fromkeys(QUANT, self._quant)}

    # union-find over spaces
    def root(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        sa, sb = self.spaces[ra], self.spaces[rb]
        sa.layers += sb.layers
        sa.norms = sa.norms + sb.norms
        sa.reasons += sb.reasons
        sa.output = sa.output or sb.output

    def pin(self, layout: Layout | None, reason: str, output: bool = False) -> None:
        for seg in layout or ():
            if seg.space is not None:
                space = self.spaces[self.root(seg.space)]
                space.reasons.append(reason)
                space.output = space.output or output

    def new_space(self, node: onnx.NodeProto, norms: np.ndarray) -> Layout:
        self.spaces.append(Space(len(norms), [layer_name(node)], norms))
        self.parent.append(len(self.parent))
        return (Segment(len(self.spaces) - 1, len(norms)),)

    def const(self, node: onnx.NodeProto, index: int) -> ConstInput | None:
        """The constant at an input, if surgery can slice it (one reader; no fake quantization)."""
        if index >= len(node.input) or not node.input[index]:
            return None
        c = const_input(self.g, node.input[index])
        if c is None or c.fake_quant or (not self.g.is_const(node.input[index])
                                        and self.g.readers(node.input[index]) > 1):
            return None
        return c

    # the walk
    def run(self) -> None:
        for node in self.g.graph.node:
            ins = [self.layouts.get(name) for name in node.input]
            if not any(ins) and node.op_type not in ("Conv", "Gemm", "MatMul"):
                continue
            handler = self.handlers.get(node.op_type)
            if handler is None:
                for layout in ins:
                    self.pin(layout, f"read by {node.op_type} node '{layer_name(node)}', which pruning does not follow")
                continue
            out = handler(node, ins)
            if out is not None:
                self.layouts[node.output[0]] = out
        for out in self.g.graph.output:
            self.pin(self.layouts.get(out.name), f"makes the model output '{out.name}'", output=True)

    def _pin_inputs(self, node, ins, why):
        for layout in ins:
            self.pin(layout, f"{node.op_type} node '{layer_name(node)}' {why}")

    def _pass(self, node, ins):
        if any(ins[1:]):
            return self._pin_inputs(node, ins, "reads channels at a second input")
        if any(self.g.readers(out) for out in node.output[1:] if out):
            return self._pin_inputs(node, ins, "has a second output (e.g. MaxPool indices) that is read")
        return ins[0]

    def _producer(self, node, weight: ConstInput, out_axis: int, bias_index: int, bias_axis_last: bool):
        values = weight.values(self.g)
        norms = np.abs(values).sum(axis=tuple(a for a in range(values.ndim) if a != out_axis))
        layout = self.new_space(node, norms)
        self.cuts.append(Cut(node, 1, out_axis, layout))
        bias = self.const(node, bias_index)
        if bias is not None:
            shape = self.g.array(bias.data).shape
            if int(np.prod(shape)) == len(norms):
                self.cuts.append(Cut(node, bias_index, len(shape) - 1 if bias_axis_last else 0, layout))
        elif bias_index < len(node.input) and node.input[bias_index]:
            self.pin(layout, f"the bias of '{layer_name(node)}' is not a constant surgery can slice")
        return layout

    def _conv(self, node, ins):
        w = self.const(node, 1)
        if w is None or ins[1] or (len(ins) > 2 and ins[2]):
            self._pin_inputs(node, ins, "has no constant weight")
            return None
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        shape = self.g.array(w.data).shape
        layout = ins[0]
        if group == 1:
            if layout is not None:
                self.cuts.append(Cut(node, 1, 1, layout))
            return self._producer(node, w, 0, 2, False)
        if layout is None:
            return None      # grouped conv on channels no layer makes: nothing to follow
        channels = _features(layout)
        if group != channels or shape[1] != 1 or shape[0] % group:
            return self._pin_inputs(node, ins, f"is a grouped conv ({group} groups) that pruning does not follow")
        # depthwise: each input channel owns `multiplier` consecutive filters and outputs
        multiplier = shape[0] // group
        out = tuple(Segment(s.space, s.count, s.width * multiplier) for s in layout)
        self.cuts.append(Cut(node, 1, 0, out))
        bias = self.const(node, 2)
        if bias is not None:
            self.cuts.append(Cut(node, 2, 0, out))
        elif len(node.input) > 2 and node.input[2]:
            return self._pin_inputs(node, ins, "has a bias surgery cannot slice")
        self.group_fixes.append((node, layout))
        return out

    def _gemm(self, node, ins):
        attrs = {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT}
        w = self.const(node, 1)
        if w is None or attrs.get("transA", 0) or ins[1] or (len(ins) > 2 and ins[2]):
            self._pin_inputs(node, ins, "has no constant weight (or transA)")
            return None
        out_axis, in_axis = (0, 1) if attrs.get("transB", 0) else (1, 0)
        if ins[0] is not None:
            self.cuts.append(Cut(node, 1, in_axis, ins[0]))
        return self._producer(node, w, out_axis, 2, True)

    def _mat_mul(self, node, ins):
        w = self.const(node, 1)
        rank = len(self.shapes.get(node.input[0]) or [])
        if w is None or self.g.array(w.data).ndim != 2 or rank != 2 or ins[1]:
            self._pin_inputs(node, ins, "is not a 2-D input times a constant matrix")
            return None
        if ins[0] is not None:
            self.cuts.append(Cut(node, 1, 0, ins[0]))
        return self._producer(node, w, 1, 99, False)

    def _batch_normalization(self, node, ins):
        if any(ins[1:]) or any(self.const(node, i) is None for i in range(1, 5)) or len(node.output) > 1:
            return self._pin_inputs(node, ins, "has parameters surgery cannot slice")
        self.cuts.extend(Cut(node, i, 0, ins[0]) for i in range(1, 5))
        return ins[0]

    def _p_relu(self, node, ins):
        slope = self.const(node, 1)
        if slope is None or ins[1]:
            return self._pin_inputs(node, ins, "has a slope surgery cannot slice")
        if self.g.array(slope.data).size > 1:
            self.cuts.append(Cut(node, 1, 0, ins[0]))   # [C, 1, 1] or [C]
        return ins[0]

    def _quant(self, node, ins):
        if any(ins[1:]):
            return self._pin_inputs(node, ins, "has computed quantization parameters")
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        for i in (1, 2):
            c = self.const(node, i)
            if i < len(node.input) and node.input[i] and c is None:
                return self._pin_inputs(node, ins, "has quantization parameters surgery cannot slice")
            if c is not None and self.g.array(c.data).size > 1:
                if axis != 1:
                    return self._pin_inputs(node, ins, f"is per-channel on axis {axis}, not the channels")
                self.cuts.append(Cut(node, i, 0, ins[0]))
        return ins[0]

    def _elementwise(self, node, ins):
        shapes = [self.shapes.get(name) for name in node.input]
        rank = max((len(s) for s in shapes if s is not None), default=0)
        dynamic = [(i, layout) for i, layout in enumerate(ins) if layout is not None]
        first = dynamic[0][1]
        for i, name in enumerate(node.input):
            if ins[i] is not None:
                continue
            shape = shapes[i]
            c = self.const(node, i)
            if shape is None:
                return self._pin_inputs(node, ins, f"has an input '{name}' of unknown shape")
            channel_dim = shape[1 - rank + len(shape)] if len(shape) >= rank - 1 and rank >= 2 else 1
            if channel_dim == 1:
                continue   # broadcast over the channels
            if c is None:
                return self._pin_inputs(node, ins, f"combines them with '{name}', which no layer's channels make")
            self.cuts.append(Cut(node, i, 1 - rank + len(shape), first))
        for _, layout in dynamic[1:]:
            if [(s.count, s.width) for s in layout] != [(s.count, s.width) for s in first] \
                    or any((a.space is None) != (b.space is None) for a, b in zip(layout, first)):
                return self._pin_inputs(node, ins, "combines channel sets of different structure")
            for a, b in zip(first, layout):
                if a.space is not None:
                    self.join(a.space, b.space)
        return first

    def _concat(self, node, ins):
        axis = next(a.i for a in node.attribute if a.name == "axis")
        rank = len(self.shapes.get(node.output[0]) or [])
        if rank == 0 or axis % rank != 1:
            return self._pin_inputs(node, ins, f"concatenates along axis {axis}, not the channels")
        out = []
        for name, layout in zip(node.input, ins):
            shape = self.shapes.get(name)
            if layout is None:
                if shape is None:
                    return self._pin_inputs(node, ins, f"has an input '{name}' of unknown shape")
                layout = (Segment(None, shape[1]),)
            out.extend(layout)
        return tuple(out)

    def _flatten_to(self, node, ins, shape_in):
        if shape_in is None or len(shape_in) < 2 or any(not isinstance(d, int) for d in shape_in[2:]):
            return self._pin_inputs(node, ins, "flattens a tensor of unknown shape")
        inner = int(np.prod(shape_in[2:], dtype=np.int64))
        return tuple(Segment(s.space, s.count, s.width * inner) for s in ins[0])

    def _flatten(self, node, ins):
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if axis != 1:
            return self._pin_inputs(node, ins, f"flattens from axis {axis}, not 1")
        return self._flatten_to(node, ins, self.shapes.get(node.input[0]))

    def _reshape(self, node, ins):
        shape_in = self.shapes.get(node.input[0])
        target = self._elements(node.input[1])
        if ins[1] or target is None or len(target) != 2 or shape_in is None or len(shape_in) < 2:
            return self._pin_inputs(node, ins, "reshapes other than [N, C, ...] -> [N, C*...]")
        batch, features = target
        known = all(isinstance(d, int) and d > 0 for d in shape_in)
        if not (batch == ("dim", 0) or (batch == 0 and not any(a.name == "allowzero" and a.i for a in node.attribute))
                or (known and batch in (shape_in[0], -1))):
            return self._pin_inputs(node, ins, "reshapes other than [N, C, ...] -> [N, C*...]")
        if features != -1:
            if not known or features != int(np.prod(shape_in[1:])) or not self.g.is_const(node.input[1]):
                return self._pin_inputs(node, ins, "reshapes other than [N, C, ...] -> [N, C*...]")
            self.reshape_fixes.append((node, shape_in[0]))     # the feature count will be -1
        return self._flatten_to(node, ins, shape_in)

    def _elements(self, name: str) -> list | None:
        """The values of a small 1-D int tensor, as exporters build Reshape targets (Concat of
        Unsqueeze'd Gathers of Shape, and constants): ints, ("dim", k) for dimension k of the
        reshaped tensor's Shape, or None if it is computed otherwise."""
        if self.g.is_const(name):
            return self.g.array(name).reshape(-1).tolist()
        node = self.g.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Unsqueeze":
            inner = self._elements(node.input[0])
            return inner if inner is not None and len(inner) == 1 else None
        if node.op_type == "Concat":
            parts = [self._elements(i) for i in node.input]
            return None if any(p is None for p in parts) else [e for p in parts for e in p]
        shape = self.g.producer.get(node.input[0]) if node.op_type == "Gather" else None
        if shape is not None and shape.op_type == "Shape" and self.g.is_const(node.input[1]):
            return [("dim", int(k)) for k in self.g.array(node.input[1]).reshape(-1)]
        return None

    def _shape(self, node, ins):
        """Shape of channels read only for its batch size (x.view(x.size(0), -1)): nothing to follow."""
        rank = len(self.shapes.get(node.input[0]) or [])
        readers = self.g.consumers.get(node.output[0], [])
        if node.attribute or not rank or node.output[0] in self.g.outputs or not all(
                r.op_type == "Gather" and i == 0 and self.g.is_const(r.input[1])
                and next((a.i for a in r.attribute if a.name == "axis"), 0) == 0
                and all(int(k) % rank != 1 for k in self.g.array(r.input[1]).reshape(-1)) for r, i in readers):
            return self._pin_inputs(node, ins, "reads the channel count")
        return None

    def _axes_after_channels(self, node, ins, rank_of: str, what: str):
        """Squeeze/Unsqueeze of axes past the channel axis: the layout stays."""
        shape = self.shapes.get(rank_of)
        axes = self.g.array(node.input[1]).tolist() if len(node.input) > 1 and self.g.is_const(node.input[1]) \
            else next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
        if any(ins[1:]) or shape is None or axes is None or any(a % len(shape) < 2 for a in axes):
            return self._pin_inputs(node, ins, f"{what} axes other than the spatial ones")
        return ins[0]

    def _squeeze(self, node, ins):
        return self._axes_after_channels(node, ins, node.input[0], "squeezes")

    def _unsqueeze(self, node, ins):
        return self._axes_after_channels(node, ins, node.output[0], "unsqueezes")


def _removals(groups: list[Space], sparsity: float, floor: float) -> list[int]:
    """Channels to remove from each group: one rate for all, the smallest that reaches the target."""
    total = sum(s.size for s in groups if not s.output)
    target = int(round(sparsity * total))
    caps = [0 if s.reasons else s.size - max(1, int(np.ceil(floor * s.size - 1e-9))) for s in groups]

    def removed(rate):
        return [min(int(round(rate * s.size)), cap) for s, cap in zip(groups, caps)]

    if sparsity > 0 and (total == 0 or sum(removed(1.0)) < target):
        pinned = "; ".join(f"{', '.join(s.layers)} ({s.reasons[0]})" for s in groups if s.reasons and not s.output)
        outputs = ", ".join(layer for s in groups if s.output for layer in s.layers)
        raise FirmnetError(
            f"--prune-structured {sparsity:g} cannot be reached: it asks to remove {target} of {total} channels, "
            f"surgery can remove at most {sum(removed(1.0))} (each layer keeps {floor:.0%} of its channels, at "
            f"least one); kept whole: {pinned or 'none'}"
            + (f". Layers feeding the model output are never removed: {outputs}" if outputs else ""))
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if sum(removed(mid)) >= target else (mid, hi)
    return removed(hi) if target else [0] * len(groups)


def _keep_indices(layout: Layout, kept: dict[int, np.ndarray], root) -> np.ndarray:
    parts, offset = [], 0
    for seg in layout:
        channels = kept.get(root(seg.space)) if seg.space is not None else None
        if channels is None:
            parts.append(offset + np.arange(seg.count * seg.width))
        else:
            parts.append(offset + (channels[:, None] * seg.width + np.arange(seg.width)).ravel())
        offset += seg.count * seg.width
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _slice(g: OnnxGraph, cut: Cut, keep: np.ndarray) -> None:
    name = cut.node.input[cut.index]
    if g.is_const(name):
        data = g.privatize(cut.node, cut.index)
        g.set(data, np.take(g.array(data), keep, axis=cut.axis))
        return
    dq = g.producer[name]       # an initializer under DequantizeLinear (checked by the analysis)
    c = const_input(g, name)
    data = g.privatize(dq, 0)
    g.set(data, np.take(g.array(data), keep, axis=cut.axis))
    if c.axis == cut.axis:
        for i in (1, 2):
            if i < len(dq.input) and dq.input[i]:
                param = g.privatize(dq, i)
                g.set(param, np.take(g.array(param), keep))


def prune_structured(model: onnx.ModelProto, sparsity: float, floor: float = DEFAULT_FLOOR) -> list[GroupResult]:
    """Remove channels from the model in place; returns each merged space's kept channels."""
    from .prune import check_sparsity
    check_sparsity(sparsity, "--prune-structured")
    if not 0.0 < floor <= 1.0:
        raise FirmnetError(f"--prune-floor {floor}: the fraction of channels each layer keeps, in (0, 1]")
    constants_to_initializers(model)
    g = OnnxGraph(model)
    a = _Analysis(g, tensor_shapes(model))
    a.run()
    roots = sorted({a.root(i) for i in range(len(a.spaces))})
    if not roots:
        raise FirmnetError("the model has no Conv, Gemm or MatMul layer with a constant weight: nothing to prune")
    groups = [a.spaces[r] for r in roots]
    kept = {}
    results = []
    for r, space, count in zip(roots, groups, _removals(groups, sparsity, floor)):
        order = np.argsort(-space.norms, kind="stable")       # largest L1 first
        keep = np.sort(order[:space.size - count])
        if count:
            kept[r] = keep
        results.append(GroupResult(tuple(space.layers), space.size, tuple(int(k) for k in keep),
                                   space.reasons[0] if space.reasons else ""))
    for cut in a.cuts:
        keep = _keep_indices(cut.layout, kept, a.root)
        if len(keep) != _features(cut.layout):
            _slice(g, cut, keep)
    for node, layout in a.group_fixes:
        for attr in node.attribute:
            if attr.name == "group":
                attr.i = len(_keep_indices(layout, kept, a.root))
    for node, batch in a.reshape_fixes:      # an explicit feature count becomes -1
        target = g.privatize(node, 1)
        g.set(target, np.array([batch, -1], np.int64))
    del model.graph.value_info[:]      # the intermediate shapes changed
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # a surgery bug, not the user's: say which model state failed
        raise RuntimeError(f"structured pruning produced an invalid model: {exc}") from exc
    return results


def format_structured(results: list[GroupResult]) -> str:
    width = max(12, *(len(", ".join(r.layers)) for r in results))
    lines = [f"{'layers':{width}} {'channels':>9} {'kept':>6}  note"]
    for r in results:
        note = f"kept whole: {r.reason}" if r.reason else ("" if len(r.kept) < r.channels else "nothing removed")
        lines.append(f"{', '.join(r.layers):{width}} {r.channels:>9} {len(r.kept):>6}  {note}")
    total = sum(r.channels for r in results)
    lines.append(f"channels: {sum(len(r.kept) for r in results)} of {total} kept")
    return "\n".join(lines)

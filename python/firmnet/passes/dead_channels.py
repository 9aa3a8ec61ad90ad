"""Exact removal of dead channels: filters whose output is a constant or that nobody reads.

Runs on the NHWC graph (after the layout pass), where every activation's channels are its
last axis. A *channel* is (tensor, index on the last axis).

1. Constant channels, propagated forward. A conv/dense output channel whose (effective)
   weights are all zero is a constant: act(bias) in float, the layer's own output stage
   applied to the bias alone in int8; one whose weights read constant channels only may be
   one too (unless padding makes it position-dependent). A depthwise channel fed by a constant channel, and
   a channel of a per-channel op (pooling, element-wise unary, binary with a per-channel
   constant, per-tensor (de)quantize, Add of two constant channels, channel concat) fed by
   constants, may be constant too. Every value comes
   from the op's own numpy reference run on a probe input holding the known constants,
   and a channel counts as constant only if the probe's output is the same at every
   position (so a padded 3x3 depthwise whose padded taps see 0 instead of the constant
   is found non-constant and kept, exactly).
2. Classes. Channels joined by a per-channel op (its input channel and the output channels
   computed from it: depthwise with multiplier m joins 1 to m, Flatten [N, H, W, C] → [N, K]
   joins channel c to columns p*C + c, a binary op of two activations of one shape (a
   residual Add) joins channel k of both inputs and of its output, a concat along the
   channels joins each output channel to the input channel it copies) are dropped together
   or not at all. A class can go
   when none of its channels is a graph input or output, each is produced by a groups=1
   conv/dense (its filter is dropped), a depthwise conv or a per-channel op of the class,
   and each is read only by per-channel ops of the class or by groups=1 conv/dense layers
   that either do not read it (their weights for it are all zero) or can fold its constant
   c into their bias exactly: the accumulator gains Σ_taps (w - zp_w)·(c - zp_in) (float:
   Σ w·c), which is exact where every tap is inside the input (dense, 1x1 or unpadded
   convs), or everywhere when c is the input's zero point (the usual dead filter + ReLU: a
   padded tap then contributes the same 0). Where padding makes the contribution
   position-dependent, the channel is kept. An int8 fold that would leave int32 keeps it.
   Concat channels copied from constants, broadcasting binary ops, grouped convs,
   transposes, softmax and everything else keep their channels.
3. A tensor keeps at least one channel: if every channel of a tensor would go, the class
   of its first channel stays.
4. With align=4 (compile does so for boards with the DSP extension), a tensor whose channel
   count is a multiple of 4 keeps a multiple of 4: the int8 DSP kernels run depthwise convs
   and 1x1 convs' input depths of 4k channels much faster (bench/dead_filters.py
   --channel-counts on mps2-an386: depthwise 3x3 x24 322,480 instructions, x21 340,960;
   1x1 conv 24->64 922,240, 21->64 1,154,280), so the first few dead classes stay.
(passes/dead_requant.py then gives the int8 dead filters that stay a live filter's scale.)
The pass repeats until nothing changes. Float: exact up to the summation order (the folded
constant is added once into the bias), assuming finite activations (0·inf is not 0).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import Graph, QuantParams
from ..ops import OPS

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


# ---------------------------------------------------------------- what a node is

def _weights_const(graph, node) -> bool:
    return len(node.inputs) > 1 and node.inputs[1] in graph.constants and (
        len(node.inputs) < 3 or not node.inputs[2] or node.inputs[2] in graph.constants)


def is_matmul_like(graph, node) -> bool:
    """A dense layer or a groups=1 NHWC conv with constant weights: every output channel reads
    every input channel, through the weights' last axis."""
    if node.op == "dense":
        return _weights_const(graph, node)
    return (node.op == "conv2d" and node.attrs.layout == "NHWC" and node.attrs.groups == 1
            and _weights_const(graph, node))


def is_depthwise(graph, node) -> bool:
    if node.op != "conv2d" or node.attrs.layout != "NHWC" or not _weights_const(graph, node):
        return False
    return node.attrs.groups > 1 and graph.types[node.inputs[1]].shape[-1] == 1


def _per_channel_const(graph, name, channels) -> bool:
    """A constant that broadcasts over every axis but the last (size 1 or `channels`)."""
    shape = graph.types[name].shape
    return all(d == 1 for d in shape[:-1]) and (not shape or shape[-1] in (1, channels))


def is_channelwise(graph, node) -> bool:
    """An op computing each output channel from the same input channel alone (input 0)."""
    if not node.inputs or node.inputs[0] in graph.constants or node.inputs[0] == "":
        return False
    x = graph.types[node.inputs[0]]
    out = graph.types[node.outputs[0]]
    if len(x.shape) < 2 or len(out.shape) != len(x.shape) or x.shape[-1] != out.shape[-1]:
        return False
    if node.op == "pool2d":
        return node.attrs.layout == "NHWC"
    if node.op in ("quantize", "dequantize"):
        return node.attrs.quant.axis is None
    if node.op == "unary":
        return True
    if node.op == "binary":
        other = node.inputs[1]
        return other in graph.constants and x.shape == out.shape and _per_channel_const(graph, other, x.shape[-1])
    return False


def _dynamic(graph, node) -> list[str]:
    return [i for i in node.inputs if i and i not in graph.constants]


def is_join(graph, node) -> bool:
    """A binary op of two activations of the output's shape (a residual Add): output channel k
    from channel k of both; the channels are kept or dropped together."""
    if node.op != "binary" or len(_dynamic(graph, node)) != 2:
        return False
    out = graph.types[node.outputs[0]].shape
    return len(out) >= 2 and all(graph.types[i].shape == out for i in node.inputs)


def is_channel_concat(graph, node) -> bool:
    """A concat along the last (channel) axis: each output channel is one input channel."""
    if node.op != "concat":
        return False
    rank = len(graph.types[node.outputs[0]].shape)
    return rank >= 2 and node.attrs.axis % rank == rank - 1


def is_flatten(graph, node) -> bool:
    """reshape [N, ..., C] → [N, prod(...)*C]: channel c becomes the columns p*C + c."""
    if node.op != "reshape" or node.inputs[0] in graph.constants:
        return False
    x, out = graph.types[node.inputs[0]].shape, graph.types[node.outputs[0]].shape
    return len(x) >= 2 and len(out) == 2 and out[0] == x[0] and x[-1] > 0


# ---------------------------------------------------------------- 1. constant channels

def _fill_value(t) -> float | int:
    return t.quant.zero_point[0] if t.quant is not None else 0


def _effective_weights(graph, node) -> np.ndarray:
    """int64 (w - zp_w[o]) of an int8 layer, float64 w of a float one."""
    w = graph.constants[node.inputs[1]]
    q = node.attrs.quant
    if q is None:
        return w.astype(np.float64)
    zp = np.asarray(q.inputs[1].zero_point, np.int64).reshape((-1,) + (1,) * (w.ndim - 1))
    return w.astype(np.int64) - zp


def dead_filters(graph, node) -> set[int]:
    w = _effective_weights(graph, node)
    return {int(o) for o in np.flatnonzero(~w.reshape(w.shape[0], -1).any(axis=1))}


def _probe(graph, node, consts, candidates) -> dict[int, float]:
    """{output channel: value} for the candidates whose probe output is one value everywhere:
    the op's reference run on inputs holding the known constant channels (zero points elsewhere)."""
    args = []
    for name in node.inputs:
        if not name or name in graph.constants:
            args.append(graph.constants[name] if name else None)
            continue
        t = graph.types[name]
        probe = np.full(t.shape, _fill_value(t), np.dtype(np.int8 if t.dtype == "int8" else t.dtype))
        for k, v in consts.get(name, {}).items():
            probe[..., k] = v
        args.append(probe)
    (y,) = OPS[node.op].reference(node.attrs, *args)[:1]
    y = y.reshape(-1, y.shape[-1])
    found = {}
    for j in candidates:
        column = y[:, j]
        if np.all(column == column[0]):
            found[j] = column[0].item()
    return found


def _concat_offsets(graph, node) -> list[int]:
    offsets, at = [], 0
    for name in node.inputs:
        offsets.append(at)
        at += graph.types[name].shape[-1]
    return offsets


def constant_channels(graph) -> dict[str, dict[int, float]]:
    consts: dict[str, dict[int, float]] = {}
    for node in graph.nodes:
        out = node.outputs[0]
        known = consts.get(node.inputs[0], {}) if node.inputs and node.inputs[0] else {}
        if is_matmul_like(graph, node):   # dead filters, and filters reading constants only
            w = _effective_weights(graph, node)
            reads = w.reshape(w.shape[0], -1, w.shape[-1]).any(axis=1)
            unknown = np.ones(w.shape[-1], bool)
            unknown[list(known)] = False
            candidates = {int(o) for o in np.flatnonzero(~(reads & unknown).any(axis=1))}
        elif is_join(graph, node):
            a, b = node.inputs
            candidates = set(consts.get(a, {})) & set(consts.get(b, {}))
        elif is_channel_concat(graph, node):
            candidates = {off + k for name, off in zip(node.inputs, _concat_offsets(graph, node))
                          for k in consts.get(name, {})}
        elif is_depthwise(graph, node):
            m = graph.types[node.inputs[1]].shape[0] // node.attrs.groups
            candidates = dead_filters(graph, node) | {k * m + j for k in known for j in range(m)}
        elif is_channelwise(graph, node):
            candidates = set(known)
        elif is_flatten(graph, node) and known:
            c = graph.types[node.inputs[0]].shape[-1]
            cols = graph.types[out].shape[1]
            consts[out] = {p + k: v for p in range(0, cols, c) for k, v in known.items()}
            continue
        else:
            continue
        if candidates:
            found = _probe(graph, node, consts, sorted(candidates))
            if found:
                consts[out] = found
    return consts


# ---------------------------------------------------------------- 2. classes

class _Classes:
    """Union-find over channels (tensor, index)."""

    def __init__(self):
        self.parent: dict[tuple, tuple] = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _links(graph, node):
    """(input channel, output channel) pairs a per-channel op joins."""
    x, out = (node.inputs[0], node.outputs[0]) if node.inputs and node.outputs else ("", "")
    if is_depthwise(graph, node):
        m = graph.types[node.inputs[1]].shape[0] // node.attrs.groups
        return [((x, k), (out, k * m + j)) for k in range(graph.types[x].shape[-1]) for j in range(m)]
    if is_channelwise(graph, node):
        return [((x, k), (out, k)) for k in range(graph.types[x].shape[-1])]
    if is_flatten(graph, node):
        c = graph.types[x].shape[-1]
        return [((x, p % c), (out, p)) for p in range(graph.types[out].shape[1])]
    if is_join(graph, node):
        return [((i, k), (out, k)) for i in node.inputs for k in range(graph.types[out].shape[-1])]
    if is_channel_concat(graph, node):   # (constant inputs: no link, droppable_channels keeps them)
        return [((i, k), (out, off + k)) for i, off in zip(node.inputs, _concat_offsets(graph, node))
                if i not in graph.constants for k in range(graph.types[i].shape[-1])]
    return []


def fold_delta(graph, node, folded: dict[int, float]) -> np.ndarray:
    """What each output channel's accumulator gains from the constant input channels folded
    (int64 for an int8 layer, float64 for a float one)."""
    w = _effective_weights(graph, node)
    k = sorted(folded)
    taps = w[..., k].reshape(w.shape[0], -1, len(k))
    q = node.attrs.quant
    if q is None:
        c = np.array([folded[i] for i in k], np.float64)
    else:
        c = np.array([folded[i] for i in k], np.int64) - int(q.inputs[0].zero_point[0])
    return (taps * c).sum(axis=(1, 2))


def _read_channels(graph, node) -> np.ndarray:
    """Whether the layer reads each input channel (some effective weight is not zero)."""
    w = _effective_weights(graph, node)
    return w.reshape(-1, w.shape[-1]).any(axis=0)


def _foldable(graph, node, channel, consts) -> bool:
    """Whether matmul-like `node` can drop input channel `channel` exactly."""
    if not _read_channels(graph, node)[channel]:
        return True
    x = node.inputs[0]
    c = consts.get(x, {}).get(channel)
    if c is None:
        return False
    if c == _fill_value(graph.types[x]):
        return True
    return node.op == "dense" or not any(node.attrs.pads)


def _bias_after_fold(graph, node, folded) -> np.ndarray | None:
    """The bias with the folded constants added, or None where an int8 bias would leave int32."""
    oc = graph.types[node.inputs[1]].shape[0]
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    q = node.attrs.quant
    if q is None:
        base = graph.constants[bias_name].astype(np.float64) if bias_name else np.zeros(oc)
        return (base + fold_delta(graph, node, folded)).astype(np.float32)
    base = graph.constants[bias_name].astype(np.int64) if bias_name else np.zeros(oc, np.int64)
    total = base + fold_delta(graph, node, folded)
    if total.min() < INT32_MIN or total.max() > INT32_MAX:
        return None
    return total.astype(np.int32)


def droppable_channels(graph, consts, align: int = 1) -> dict[str, list[int]]:
    """{tensor: channels to drop} (rules 2 to 4 of the module docstring)."""
    consumers = graph.consumers()
    classes = _Classes()
    channel_tensors = []
    for node in graph.nodes:
        for a, b in _links(graph, node):
            classes.union(a, b)
        if is_matmul_like(graph, node) or _links(graph, node):
            channel_tensors.append(node.outputs[0])
    candidates = {t for t in channel_tensors if t not in graph.outputs}
    blocked = set()
    for t in channel_tensors:
        channels = range(graph.types[t].shape[-1])
        if t not in candidates:
            blocked.update(classes.find((t, k)) for k in channels)
            continue
        for user in consumers.get(t, []):
            linked = not is_matmul_like(graph, user) and any(a[0] == t for a, _ in _links(graph, user))
            if linked and user.outputs[0] in candidates:
                continue
            if is_matmul_like(graph, user) and user.inputs[0] == t and t not in user.inputs[1:]:
                for k in channels:
                    if not _foldable(graph, user, k, consts):
                        blocked.add(classes.find((t, k)))
                continue
            blocked.update(classes.find((t, k)) for k in channels)
    # the inputs of links: a class reaching a tensor no candidate producer makes is blocked
    for node in graph.nodes:
        links = _links(graph, node)
        blocked.update(classes.find(a) for a, _ in links if a[0] not in candidates)
        if links and is_channel_concat(graph, node):   # output channels copied from constants
            linked = {b for _, b in links}
            blocked.update(classes.find((node.outputs[0], j))
                           for j in range(graph.types[node.outputs[0]].shape[-1]) if (node.outputs[0], j) not in linked)
    while True:   # until stable: a kept class changes the folds, a fold kept can empty nothing
        before = len(blocked)
        _block_int32_overflow(graph, consts, classes, candidates, blocked, consumers)
        for t in candidates:   # rule 3: no tensor loses every channel
            if all(classes.find((t, k)) not in blocked for k in range(graph.types[t].shape[-1])):
                blocked.add(classes.find((t, 0)))
        for t in candidates:   # rule 4: a multiple of `align` channels stays one
            _keep_aligned(graph, t, classes, blocked, align)
        if len(blocked) == before:
            break
    drop = {}
    for t in candidates:
        gone = [k for k in range(graph.types[t].shape[-1]) if classes.find((t, k)) not in blocked]
        if gone:
            drop[t] = gone
    return drop


def _keep_aligned(graph, t, classes, blocked, align):
    """Keep the first dropped classes of t until its channel count is again a multiple of align
    (only where it was one)."""
    n = graph.types[t].shape[-1]
    if align <= 1 or n % align:
        return
    gone = [k for k in range(n) if classes.find((t, k)) not in blocked]
    for k in gone[:(len(gone) % align)]:
        blocked.add(classes.find((t, k)))


def _block_int32_overflow(graph, consts, classes, candidates, blocked, consumers):
    """An int8 layer whose bias would leave int32 with every fold keeps those channels."""
    for t in candidates:
        for user in consumers.get(t, []):
            if not (is_matmul_like(graph, user) and user.inputs[0] == t) or user.attrs.quant is None:
                continue
            folded = _folded(graph, user, t, consts, classes, blocked)
            if folded and _bias_after_fold(graph, user, folded) is None:
                blocked.update(classes.find((t, k)) for k in folded)


def _folded(graph, node, x, consts, classes, blocked) -> dict[int, float]:
    """{input channel: constant} that node folds into its bias when x's free classes go."""
    read = _read_channels(graph, node)
    return {k: consts[x][k] for k in range(graph.types[x].shape[-1])
            if classes.find((x, k)) not in blocked and read[k]}


# ---------------------------------------------------------------- 3. rewrite

def _drop_quant(q: QuantParams, rows) -> QuantParams:
    if not q.per_channel:
        return q
    return dataclasses.replace(q, scale=tuple(np.delete(q.scale, rows).tolist()),
                               zero_point=tuple(int(z) for z in np.delete(q.zero_point, rows)))


def _rewrite_layer(b, graph, node, drop, consts):
    """The conv/dense node without its dropped filters and input channels, constants folded."""
    x, out = node.inputs[0], node.outputs[0]
    rows, cols = drop.get(out, []), drop.get(x, [])
    inputs, attrs = list(node.inputs), node.attrs
    w = graph.constants[node.inputs[1]]
    bias = graph.constants[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    if is_matmul_like(graph, node):
        read = _read_channels(graph, node)
        folded = {k: consts[x][k] for k in cols if read[k]}
        if folded:
            bias = _bias_after_fold(graph, node, folded)
        w = np.delete(w, cols, axis=-1)
    else:   # depthwise: the dropped input channels are exactly those of the dropped filters
        attrs = dataclasses.replace(attrs, groups=attrs.groups - len(cols))
    w = np.delete(w, rows, axis=0)
    inputs[1] = b.const(np.ascontiguousarray(w), f"{node.inputs[1]}/live")
    if bias is not None:
        inputs[2:3] = [b.const(np.delete(bias, rows), f"{node.name}/bias_live")]
    q = attrs.quant
    if q is not None:   # the weights' per-channel scales follow the filters; a new bias has none
        quants = (q.inputs[0], _drop_quant(q.inputs[1], rows), *q.inputs[2:])
        attrs = dataclasses.replace(attrs, quant=dataclasses.replace(q, inputs=quants + (None,) * (len(inputs) - len(quants))))
    b.add(node.op, inputs, attrs, node.outputs, node.name)


def _rewrite_channelwise(b, graph, node, drop):
    inputs, attrs = list(node.inputs), node.attrs
    gone = drop.get(node.inputs[0], [])
    if node.op == "binary":
        other = graph.constants[node.inputs[1]]
        if other.ndim and other.shape[-1] > 1:
            inputs[1] = b.const(np.ascontiguousarray(np.delete(other, gone, axis=-1)), f"{node.inputs[1]}/live")
    elif node.op == "reshape":
        n, cols = graph.types[node.outputs[0]].shape
        attrs = dataclasses.replace(attrs, shape=(n, cols - len(drop.get(node.outputs[0], []))))
    b.add(node.op, inputs, attrs, node.outputs, node.name)


def _apply(graph, drop, consts) -> Graph:
    b = rebuild_from(graph)
    for node in graph.nodes:
        touched = node.outputs[0] in drop or any(i in drop for i in node.inputs)
        if touched and (is_matmul_like(graph, node) or is_depthwise(graph, node)):
            _rewrite_layer(b, graph, node, drop, consts)
        elif touched and (is_channelwise(graph, node) or is_flatten(graph, node)):
            _rewrite_channelwise(b, graph, node, drop)
        else:   # joins and concats: the types follow their inputs
            b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
    return b.build(graph.outputs)


def remove_dead_channels(graph: Graph, align: int = 1) -> Graph:
    """Drop dead channels (module docstring); align=4 keeps channel counts that are multiples
    of 4 so (rule 4). Does not fire on graphs without a conv/dense layer with constant weights,
    nor where every candidate channel must be kept."""
    while True:
        consts = constant_channels(graph)
        drop = droppable_channels(graph, consts, align)
        if not drop:
            return graph
        graph = _apply(graph, drop, consts)


# ---------------------------------------------------------------- what the report says

def removal_summary(before: Graph, after: Graph) -> list[dict]:
    """Per conv/dense layer whose channels changed: filters and input channels removed, MACs saved."""
    rows = []
    kept = {n.name: n for n in after.nodes}
    for node in before.nodes:
        new = kept.get(node.name)
        if node.op not in ("conv2d", "dense") or new is None:
            continue
        old_w, new_w = before.types[node.inputs[1]].shape, after.types[new.inputs[1]].shape
        old_in, new_in = before.types[node.inputs[0]].shape[-1], after.types[new.inputs[0]].shape[-1]
        if old_w == new_w and old_in == new_in:
            continue
        macs = [int(OPS[n.op].macs(n.attrs, [g.types[i] if i else None for i in n.inputs],
                                   [g.types[o] for o in n.outputs])) for n, g in ((node, before), (new, after))]
        rows.append({"name": node.name, "op": node.op, "filters": old_w[0], "filters_removed": old_w[0] - new_w[0],
                     "input_channels": old_in, "input_channels_removed": old_in - new_in,
                     "macs": macs[0], "macs_saved": macs[0] - macs[1]})
    return rows


"""Patch-based execution of the first layers (MCUNetV2-style), as spatial row bands.

A run of layers ending at a cut tensor (conv2d, depthwise included, and pool2d, NHWC,
batch 1, each layer's output read only by the next) is rewritten into `bands` row bands:
band i computes rows [o0, o1) of the cut tensor. Walking back through the run, a layer
whose output rows [a, b) are needed reads the input rows

    lo = a * s - pad_top,   hi = (b - 1) * s - pad_top + d * (k - 1)   (inclusive)

clipped to the input; the clipped rows become the band layer's pads (they are real padding
rows: only the image's borders are ever clipped), so the band layer computes exactly b - a
rows with the same arithmetic as the whole layer. Rows needed by two bands are computed by
both (the halo): that is the recomputation.

The rewrite is a graph rewrite, so no kernel changes:
- each band's first input is a Slice of the run's input rows (NHWC rows are contiguous, so
  lowering makes it a zero-copy view),
- each band layer is the original op with the band's pads and shapes,
- a Concat along H joins the bands into the cut tensor. memory.analyse(joins=...) makes each
  band's output a view into its rows of the cut tensor (so the last layer of each band
  writes straight into place) and the Concat emits no code.

Only row bands (no column tiles). The cut tensor does not share bytes with the run's input
(the planner keeps them apart): the input stays whole while the bands are computed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .ir import FirmnetError, Graph, Node, TensorType
from .ops import OPS
from .ops import concat as concat_op
from .ops import slice as slice_op

PATCHABLE = ("conv2d", "pool2d")


@dataclass(frozen=True)
class PatchPlan:
    cut: str                     # the cut tensor
    bands: int
    layers: tuple[str, ...]      # the original nodes of the run, in order
    join: str                    # the Concat node's name (a no-op view in memory.py)
    recomputed_macs: int         # MACs of the band layers - MACs of the whole layers
    source: str = ""             # the run's input tensor
    max_shift: int | None = None  # the cut tensor may start at most this many bytes after the
                                  # source (negative: before it) and share its bytes (memory.py)


def parse_spec(spec: str) -> tuple[str, int] | None:
    """--patches: "off" -> None; "CUT:BANDS" -> (cut tensor, bands)."""
    if spec in (None, "", "off"):
        return None
    cut, sep, bands = spec.rpartition(":")
    if not sep or not cut or not bands.isdigit() or int(bands) < 1:
        raise FirmnetError(f"--patches {spec!r}: expected off or CUT:BANDS (a tensor name and a band count >= 1)")
    return cut, int(bands)


def layer_rows(node: Node, graph: Graph):
    """(kh, stride, dilation, pad_top, pad_bottom, in_h, out_h) of a layer along H."""
    a = node.attrs
    if node.op == "conv2d":
        kh = graph.types[node.inputs[1]].shape[1]   # OHWI
    else:
        kh = a.kernel[0]
    return (kh, a.strides[0], a.dilations[0], a.pads[0], a.pads[2],
            graph.types[node.inputs[0]].shape[1], graph.types[node.outputs[0]].shape[1])


def input_rows(rows, a: int, b: int):
    """Input rows [lo, hi) and band pads (top, bottom) for output rows [a, b) of a layer."""
    kh, s, d, pt, _pb, in_h, _out_h = rows
    lo = a * s - pt
    hi = (b - 1) * s - pt + d * (kh - 1) + 1
    return max(lo, 0), min(hi, in_h), max(0, -lo), max(0, hi - in_h)


def band_rows(out_h: int, bands: int) -> list[tuple[int, int]]:
    """Split out_h rows into `bands` near-equal bands, larger ones first."""
    base, extra = divmod(out_h, bands)
    out, start = [], 0
    for i in range(bands):
        n = base + (i < extra)
        out.append((start, start + n))
        start += n
    return out


def find_run(graph: Graph, cut: str) -> list[Node]:
    """The longest run of patchable layers that ends with the cut tensor's producer."""
    producers, consumers = graph.producers(), graph.consumers()
    if cut not in graph.types:
        raise FirmnetError(f"--patches: no tensor named {cut!r} in the model")
    if cut in graph.inputs or cut in graph.outputs or cut in graph.constants:
        raise FirmnetError(f"--patches: the cut {cut!r} must be an intermediate tensor")
    run, t = [], cut
    while t in producers and producers[t].op in PATCHABLE:
        node = producers[t]
        if getattr(node.attrs, "layout", "") != "NHWC" or graph.types[t].shape[0] != 1 or \
                getattr(node.attrs, "ceil_mode", False) or len(node.outputs) != 1:
            break
        if t != cut and (len(consumers.get(t, [])) != 1 or t in graph.outputs):
            break
        run.insert(0, node)
        t = node.inputs[0]
    if not run:
        raise FirmnetError(f"--patches: tensor {cut!r} is not the output of a conv2d or pool2d layer "
                           f"in NHWC (batch 1): nothing to run in bands")
    return run


def _macs(node: Node, types) -> int:
    return int(OPS[node.op].macs(node.attrs, [types[i] for i in node.inputs if i],
                                 [types[o] for o in node.outputs]))


def apply(graph: Graph, cut: str, bands: int) -> tuple[Graph, PatchPlan]:
    """The graph with the run ending at `cut` executed in `bands` row bands."""
    run = find_run(graph, cut)
    out_h = graph.types[cut].shape[1]
    if bands > out_h:
        raise FirmnetError(f"--patches: {bands} bands for tensor {cut!r} of only {out_h} rows")
    x = run[0].inputs[0]
    xt = graph.types[x]
    rows = [layer_rows(n, graph) for n in run]
    types = dict(graph.types)
    new_nodes, band_outs = [], []
    used = set(graph.types) | {n.name for n in graph.nodes}

    def fresh(base):
        name, i = base, 1
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        return name

    spans = []   # per band: (first source row read, cut rows [o0, o1))
    for bi, (a, b) in enumerate(band_rows(out_h, bands)):
        o0, o1 = a, b
        # walk back: the rows each layer must produce, and its pads
        need = [None] * len(run)
        for li in range(len(run) - 1, -1, -1):
            lo, hi, pt, pb = input_rows(rows[li], a, b)
            need[li] = (a, b, pt, pb)
            a, b = lo, hi
        spans.append((a, o0, o1))
        sname = fresh(f"{x}#band{bi}")
        sattrs = slice_op.Attrs(starts=(0, a, 0, 0), steps=(1, 1, 1, 1), shape=(1, b - a) + xt.shape[2:])
        types[sname] = TensorType(sattrs.shape, xt.dtype, xt.quant)
        new_nodes.append(Node("slice", fresh(f"{run[0].name}#band{bi}_in"), (x,), (sname,), sattrs))
        prev = sname
        for li, node in enumerate(run):
            oa, ob, pt, pb = need[li]
            p = node.attrs.pads
            attrs = replace(node.attrs, pads=(pt, p[1], pb, p[3]))
            ot = graph.types[node.outputs[0]]
            oname = fresh(f"{node.outputs[0]}#band{bi}")
            types[oname] = replace(ot, shape=(1, ob - oa) + ot.shape[2:])
            new_nodes.append(Node(node.op, fresh(f"{node.name}#band{bi}"), (prev,) + node.inputs[1:],
                                  (oname,), attrs))
            prev = oname
        band_outs.append(prev)
    join = Node("concat", fresh(f"{cut}#join"), tuple(band_outs), (cut,), concat_op.Attrs(axis=1))
    new_nodes.append(join)
    # check every band layer's shapes with the op's own inference
    for n in new_nodes:
        inferred = OPS[n.op].infer(n.attrs, [types[i] for i in n.inputs if i])
        if tuple(inferred[0].shape) != tuple(types[n.outputs[0]].shape):
            raise FirmnetError(f"--patches: band layer {n.name!r} infers {inferred[0].shape}, "
                               f"planned {types[n.outputs[0]].shape}")
    first = graph.nodes.index(run[0])
    last = graph.nodes.index(run[-1])
    nodes = list(graph.nodes[:first]) + [n for n in graph.nodes[first:last + 1] if n not in run] \
        + new_nodes + list(graph.nodes[last + 1:])
    patched = graph.with_nodes(nodes, extra_types=types)
    recomputed = sum(_macs(n, types) for n in new_nodes if n.op in PATCHABLE) - \
        sum(_macs(n, graph.types) for n in run)
    return patched, PatchPlan(cut, bands, tuple(n.name for n in run), join.name, recomputed, x,
                              overlap_shift(spans, graph.types[x], graph.types[cut], len(run) == 1))


def overlap_shift(spans, xt: TensorType, yt: TensorType, same_step: bool) -> int | None:
    """How many bytes after the source's start the cut tensor may start and still share the
    source's bytes (None: no constraint, any shift). Bands run top to bottom; band i writes the
    cut's bytes [o0 * ry, o1 * ry) after reading its source rows, and the bands after it read
    source rows from lo_j on, so every write must end at or below lo_j * rx for j > i (j >= i
    when the run is one layer, whose band reads and writes in the same step):
    shift <= min(lo_j * rx - o1_i * ry)."""
    rx = xt.nbytes // xt.shape[1]
    ry = yt.nbytes // yt.shape[1]
    best = None
    for i, (_, _, o1) in enumerate(spans):
        later = [lo for lo, _, _ in spans[i if same_step else i + 1:]]
        if later:
            bound = min(later) * rx - o1 * ry
            best = bound if best is None else min(best, bound)
    return best


AUTO_BANDS = (2, 3, 4, 6, 8, 12, 16, 24)


def candidates(graph: Graph, max_recompute: float):
    """(cut, bands, patched graph, PatchPlan) for --patches auto: every cut whose run starts at a
    graph input, with the band counts of AUTO_BANDS that fit its rows and recompute at most
    max_recompute x the model's MACs."""
    model_macs = sum(_macs(n, graph.types) for n in graph.nodes)
    for node in graph.nodes:
        if node.op not in PATCHABLE or len(node.outputs) != 1:
            continue
        cut = node.outputs[0]
        if cut in graph.outputs:
            continue
        try:
            run = find_run(graph, cut)
        except FirmnetError:
            continue
        if run[0].inputs[0] not in graph.inputs:
            continue
        for bands in AUTO_BANDS:
            if bands > graph.types[cut].shape[1]:
                break
            try:
                patched, plan = apply(graph, cut, bands)
            except FirmnetError:
                break
            if plan.recomputed_macs > max_recompute * model_macs:
                break   # more bands recompute more
            yield cut, bands, patched, plan

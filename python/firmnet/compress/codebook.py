"""k-means weight sharing (Deep Compression's codebooks): each Conv/Gemm/MatMul weight becomes
K shared values (a codebook) and, per weight, the index of its value.

Clustering, per layer or per output channel, in weight space (1-D):
  - a float weight is clustered in float; a QDQ weight (int8 under DequantizeLinear) is
    clustered as its int8 values and the centroids are rounded to int8, so the layer keeps
    its existing scales and zero point and the integer arithmetic stays TFLite's;
  - initialisation: K centroids spaced linearly over [min, max] of the weights (Deep
    Compression's recommendation: it keeps the few large weights their own centroids);
  - Lloyd iterations: assign each weight to its nearest centroid (ties to the lower one),
    move each centroid to the mean of its weights (an empty cluster keeps its centroid);
    stop when no assignment changes, or after MAX_ITERATIONS;
  - pruned weights: when the layer (channel) holds exact zeros, codeword 0 is exactly 0
    and holds all of them and only them; the other weights share the K - 1 other codewords.
    So a pruned model stays exactly as sparse: no other weight becomes 0 (an int8 centroid
    that rounds to 0 is dropped and its weights go to the nearest other codeword).
Deterministic: no random seeding, the same model gives the same file.

The ONNX form firmnet writes and reads (README "Codebook weights"):
  float:  W = Gather(codebook, indices)                  codebook float32 [K] or [C_out * K]
  int8:   W = DequantizeLinear(Gather(codebook, indices), scale, zero_point, axis)
                                                           codebook int8 [K] or [C_out * K]
  indices: int32 (or int64), the weight's own shape, values in [0, K) for a per-layer codebook;
  for a per-channel codebook, the codebook holds the K values of output channel c at
  c * K .. c * K + K - 1 and the index of a weight of channel c is c * K + j (j < K), so
  plain Gather gives W and any ONNX runtime runs the model. The output channel axis is the
  layer's (Conv: 0; Gemm: 0 with transB=1, else 1; MatMul: 1).
Another tool's palettized weight converts to this form by writing its lookup table as the
codebook and its indices (offset by c * K when per channel) as an int32 initializer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..ir import FirmnetError
from .weights import OnnxGraph, Weight, _along, by_name, constants_to_initializers, find_weights

K_CHOICES = (4, 16, 256)     # 2-, 4- and 8-bit indices
MAX_ITERATIONS = 100


@dataclass(frozen=True)
class CodebookRow:
    """One layer's line of the codebook report."""
    layer: str
    op: str
    weights: int
    k: int
    per_channel: bool
    bytes_before: int        # the dense weight (its stored dtype)
    bytes_after: int         # packed indices + codebook
    error: float             # ||W - W_k|| / ||W|| of the dequantized weight
    note: str = ""


def index_bits(k: int) -> int:
    """Bits of one index for K codewords (2, 4 or 8)."""
    return next(b for b in (2, 4, 8) if k <= 1 << b)


def packed_bytes(weights: int, channels: int, k: int, per_channel: bool, itemsize: int) -> int:
    """Flash of a palettized weight as the codebook kernels store it: each output channel's
    indices packed into whole bytes, plus the codebook."""
    row = weights // channels
    index = channels * ((row * index_bits(k) + 7) // 8)
    return index + (channels if per_channel else 1) * k * itemsize


def check_k(k: int) -> int:
    if k not in K_CHOICES:
        raise FirmnetError(f"--codebook {k}: K must be one of {', '.join(map(str, K_CHOICES))} "
                           "(2-, 4- or 8-bit indices)")
    return k


def _assign(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of each x's nearest centroid (centroids ascending; a tie goes to the lower)."""
    mid = (centroids[1:] + centroids[:-1]) / 2
    return np.searchsorted(mid, x, side="left")


def kmeans_1d(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(centroids [k] ascending, assignment of each x) by Lloyd's algorithm from a linear
    initialisation over [min, max]; float64."""
    x = np.asarray(x, np.float64).ravel()
    centroids = np.linspace(x.min(), x.max(), k) if x.size else np.zeros(k)
    labels = _assign(x, centroids)
    for _ in range(MAX_ITERATIONS):
        sums = np.bincount(labels, weights=x, minlength=k)
        counts = np.bincount(labels, minlength=k)
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        order = np.argsort(centroids, kind="stable")
        centroids = centroids[order]
        new = _assign(x, centroids)
        if np.array_equal(new, np.argsort(order)[labels]):
            labels = new
            break
        labels = new
    return centroids, labels


def cluster(values: np.ndarray, k: int, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """(codebook [k], index of each value) of one group of weights. integer: the values are
    int8 and the codebook is rounded to int8 (weights re-assigned to the rounded codewords).
    Exact zeros, if any, get codeword 0 = 0 to themselves."""
    v = np.asarray(values, np.float64).ravel()
    zero = v == 0
    rest = v[~zero]
    free = k - 1 if zero.any() else k
    centroids, _ = kmeans_1d(rest, free) if rest.size else (np.zeros(free), None)
    if integer:
        centroids = np.clip(np.rint(centroids), -128, 127)
    centroids = np.unique(centroids)                       # rounding may merge codewords
    if zero.any():
        centroids = centroids[centroids != 0]             # codeword 0 is the zeros' only
    if not centroids.size:                                 # every centroid rounded to 0
        centroids = np.unique(rest)[:1]
    centroids = np.pad(centroids, (0, free - centroids.size), mode="edge") if rest.size else np.zeros(free)
    index = np.zeros(v.size, np.int64)
    if rest.size:
        index[~zero] = _assign(rest, centroids) + (k - free)
    book = np.concatenate([np.zeros(k - free), centroids])
    return book, index


def _codebook_of(data: np.ndarray, out_axis: int, k: int, per_channel: bool, integer: bool):
    """(codebook, indices in the ONNX form above, decoded weight) of one weight array."""
    moved = np.moveaxis(data, out_axis, 0)
    channels = moved.shape[0]
    groups = moved.reshape(channels, -1) if per_channel else moved.reshape(1, -1)
    books, indices = [], []
    for c, group in enumerate(groups):
        book, index = cluster(group, k, integer)
        books.append(book)
        indices.append(index + c * k)
    codebook = np.concatenate(books).astype(data.dtype)
    flat = np.concatenate(indices).reshape(moved.shape)
    idx = np.moveaxis(flat, 0, out_axis).astype(np.int32)
    return codebook, idx, codebook[idx]


def _unique_name(g: OnnxGraph, base: str) -> str:
    taken = set(g.inits) | set(g.producer) | {i.name for i in g.graph.input}
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _rewrite(g: OnnxGraph, w: Weight, codebook: np.ndarray, idx: np.ndarray) -> None:
    """Replace the weight initializer by Gather(codebook, indices) under the same name."""
    name = w.const.data
    book = _unique_name(g, f"{name}_codebook")
    index = _unique_name(g, f"{name}_indices")
    g.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(codebook), book))
    g.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(idx), index))
    g.inits[book] = g.graph.initializer[-2]
    g.inits[index] = g.graph.initializer[-1]
    old = g.inits.pop(name)
    g.graph.initializer.remove(old)
    for vi in [i for i in g.graph.input if i.name == name]:   # old exporters list initializers as inputs
        g.graph.input.remove(vi)
    gather = helper.make_node("Gather", [book, index], [name], name=_unique_name(g, f"{name}_gather"), axis=0)
    nodes = list(g.graph.node)
    first = min(i for i, n in enumerate(nodes) if name in n.input)
    g.graph.node.insert(first, gather)
    g.producer[name] = gather


def codebook(model: onnx.ModelProto, k: int, per_channel: bool = False, layers=None) -> list[CodebookRow]:
    """Palettize the model's Conv/Gemm/MatMul weights in place (all, or the named layers);
    one row per weight layer. A grouped Conv (no codebook kernel runs it) and a layer with
    fewer weights (per channel, if per_channel) than K are left dense unless named; a named
    one with fewer weights than K is refused."""
    check_k(k)
    constants_to_initializers(model)
    g = OnnxGraph(model)
    weights = find_weights(g)
    if not weights:
        raise FirmnetError("the model has no Conv, Gemm or MatMul layer with a constant weight: nothing to "
                           "palettize")
    chosen = {w.layer for w in by_name(weights, layers).values()} if layers else None
    rows = []
    for w in weights:
        if w.const.fake_quant:
            raise FirmnetError(f"layer '{w.layer}': its weight is fake-quantized (QuantizeLinear -> "
                               "DequantizeLinear of a float); --codebook reads float weights or int8 QDQ weights")
        data = g.array(w.const.data)
        groups = next((a.i for a in w.node.attribute if a.name == "group"), 1)
        skip = ("not named" if chosen is not None and w.layer not in chosen else
                f"{groups} groups (the codebook kernels take one)" if groups != 1 and chosen is None else "")
        channels = data.shape[w.out_axis]
        per_group = data.size // channels if per_channel else data.size
        if not skip and k > per_group and chosen is None:   # not asked by name: leave it dense
            skip = f"{per_group:,} weights{' per output channel' if per_channel else ''}, fewer than K"
        elif not skip and k > per_group:
            raise FirmnetError(f"layer '{w.layer}': --codebook {k} is more codewords than its "
                               f"{per_group:,} weights{' per output channel' if per_channel else ''}; "
                               "use a smaller K")
        if not skip and w.const.quantized and data.dtype != np.int8:
            skip = f"{data.dtype} weights (int8 only)"
        if not skip and not w.const.quantized and data.dtype != np.float32:
            skip = f"{data.dtype} weights (float32 or int8 QDQ only)"
        before = data.size * data.itemsize
        if skip:
            rows.append(CodebookRow(w.layer, w.op, data.size, 0, per_channel, before, before, 0.0, f"skipped: {skip}"))
            continue
        old = w.const.values(g)
        book, idx, decoded = _codebook_of(data, w.out_axis, k, per_channel, w.const.quantized)
        _rewrite(g, w, book, idx)
        new = _dequantized(g, w, decoded)
        norm = float(np.linalg.norm(old))
        error = float(np.linalg.norm(old - new)) / norm if norm else 0.0
        rows.append(CodebookRow(w.layer, w.op, data.size, k, per_channel, before,
                                packed_bytes(data.size, channels, k, per_channel, data.itemsize), error))
    return rows


def _dequantized(g: OnnxGraph, w: Weight, decoded: np.ndarray) -> np.ndarray:
    """The decoded weight as the layer sees it (float64; dequantized for QDQ)."""
    if not w.const.quantized:
        return decoded.astype(np.float64)
    zp = 0 if w.const.zero_point is None else _along(g.array(w.const.zero_point), w.const.axis, decoded.ndim)
    scale = _along(g.array(w.const.scale).astype(np.float64), w.const.axis, decoded.ndim)
    return (decoded.astype(np.float64) - np.asarray(zp, np.float64)) * scale


def format_codebook(rows: list[CodebookRow]) -> str:
    width = max(12, *(len(r.layer) for r in rows))
    lines = [f"{'layer':{width}} {'op':6} {'weights':>9} {'K':>4} {'bits':>4} {'form':8} {'bytes':>9} "
             f"{'after':>9}  {'error':>7}"]
    for r in rows:
        if r.note:
            lines.append(f"{r.layer:{width}} {r.op:6} {r.weights:>9,} {'-':>4} {'-':>4} {'-':8} {r.bytes_before:>9,} "
                         f"{r.bytes_after:>9,}  {'-':>7}  {r.note}")
            continue
        lines.append(f"{r.layer:{width}} {r.op:6} {r.weights:>9,} {r.k:>4} {index_bits(r.k):>4} "
                     f"{'channel' if r.per_channel else 'layer':8} {r.bytes_before:>9,} {r.bytes_after:>9,}  "
                     f"{r.error:>7.4f}")
    before, after = sum(r.bytes_before for r in rows), sum(r.bytes_after for r in rows)
    lines.append(f"weight bytes {before:,} -> {after:,} (indices packed + codebooks): {before / max(after, 1):.2f}x")
    return "\n".join(lines)

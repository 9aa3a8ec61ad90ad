"""Magnitude pruning of Conv/Gemm/MatMul weights (unstructured: single weights set to 0).

Global pruning ranks every weight of the prunable layers by magnitude (the dequantized
value for a QDQ weight, so layers of different scales compare) and zeroes the smallest
until the asked fraction of those weights is 0, except that no layer loses more than
1 - floor of its weights: the floor keeps a thin layer from being emptied while a wide one
keeps nearly everything. The first conv (few weights, raw input) and layers under
`MIN_WEIGHTS` weights are left alone unless named in `per_layer`, which prunes each named
layer on its own ranking to its own sparsity. A QDQ weight is pruned in its integer
initializer: the zero point is the stored 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from ..ir import FirmnetError
from .weights import OnnxGraph, Weight, by_name, constants_to_initializers, find_weights

DEFAULT_FLOOR = 0.05    # each layer keeps at least 5 % of its weights under --prune
MIN_WEIGHTS = 1000      # smaller layers cost little and are fragile: skipped unless named


@dataclass(frozen=True)
class LayerSparsity:
    """One layer's line of the pruning report."""
    layer: str
    op: str
    weights: int
    before: float
    after: float
    note: str = ""      # why it was skipped, or which rule pruned it


def check_sparsity(value: float, what: str = "--prune") -> float:
    if not (0.0 <= value < 1.0) or value != value:
        raise FirmnetError(f"{what} {value}: a sparsity is the fraction of weights set to 0, in [0, 1) "
                           "(e.g. 0.8 for 80 %)")
    return float(value)


def parse_per_layer(text: str) -> dict[str, float]:
    """'name=S,name=S' (a layer name may itself hold commas or '=' only before its last '=')."""
    result = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise FirmnetError(f"--prune-per-layer: '{item}' is not NAME=SPARSITY")
        try:
            result[name] = check_sparsity(float(value), f"--prune-per-layer {name}=")
        except ValueError:
            raise FirmnetError(f"--prune-per-layer: '{value}' of {name} is not a number") from None
    return result


def magnitudes(g: OnnxGraph, w: Weight) -> np.ndarray:
    return np.abs(w.const.values(g))


def _zero(g: OnnxGraph, w: Weight, mask: np.ndarray) -> None:
    """Set the weights under mask to 0 (the zero point in a quantized initializer)."""
    data = g.array(w.const.data)
    g.set(w.const.data, np.where(mask, np.broadcast_to(w.const.zero(g), data.shape), data).astype(data.dtype))


def _zero_count(g: OnnxGraph, w: Weight) -> int:
    return int(np.count_nonzero(w.const.values(g) == 0))


def _smallest(mags: np.ndarray, count: int) -> np.ndarray:
    """Mask of the `count` smallest magnitudes (ties broken by position, so deterministic)."""
    mask = np.zeros(mags.size, bool)
    mask[np.argsort(mags.ravel(), kind="stable")[:count]] = True
    return mask.reshape(mags.shape)


def skip_reason(w: Weight, min_weights: int = MIN_WEIGHTS) -> str:
    if w.first_conv:
        return "first conv"
    if w.size < min_weights:
        return f"under {min_weights:,} weights"
    return ""


def global_counts(mags: list[np.ndarray], sparsity: float, floor: float) -> list[int]:
    """How many weights of each layer to zero so that the smallest magnitudes overall go first,
    a fraction `sparsity` of all of them in total, no layer beyond 1 - floor."""
    total = sum(m.size for m in mags)
    target = int(round(sparsity * total))
    caps = [int(np.floor((1.0 - floor) * m.size + 1e-9)) for m in mags]
    if target > sum(caps):
        raise FirmnetError(f"sparsity {sparsity:g} cannot be reached with a per-layer floor of {floor:g} (each layer "
                           f"keeps {floor:.0%} of its weights): at most {sum(caps) / total:.4f} over these layers; "
                           "lower --prune-floor or the sparsity")
    flat = np.concatenate([m.ravel() for m in mags]) if mags else np.zeros(0)
    layer = np.concatenate([np.full(m.size, i) for i, m in enumerate(mags)]) if mags else np.zeros(0, int)
    order = np.lexsort((np.arange(flat.size), flat))       # by magnitude, ties by position
    ranked = layer[order]
    rank_in_layer = np.empty(flat.size, np.int64)          # each weight's place in its own layer's ranking
    for i in range(len(mags)):
        at = ranked == i
        rank_in_layer[at] = np.arange(int(at.sum()))
    allowed = rank_in_layer < np.asarray(caps, np.int64)[ranked]
    chosen = ranked[allowed][:target]
    return [int(np.count_nonzero(chosen == i)) for i in range(len(mags))]


def prune(model: onnx.ModelProto, sparsity: float | None = None, per_layer: dict[str, float] | None = None,
          floor: float = DEFAULT_FLOOR, min_weights: int = MIN_WEIGHTS) -> list[LayerSparsity]:
    """Prune the model in place; returns each weight layer's sparsity before and after."""
    per_layer = dict(per_layer or {})
    if sparsity is not None:
        check_sparsity(sparsity)
    if not 0.0 < floor <= 1.0:
        raise FirmnetError(f"--prune-floor {floor}: the fraction of weights each layer keeps, in (0, 1]")
    constants_to_initializers(model)
    g = OnnxGraph(model)
    weights = find_weights(g)
    if not weights:
        raise FirmnetError("the model has no Conv, Gemm or MatMul layer with a constant weight: nothing to prune")
    index = by_name(weights, per_layer)
    named = {index[n].layer: s for n, s in per_layer.items()}
    before = {w.layer: _zero_count(g, w) / w.size for w in weights}
    notes = {}
    for w in weights:
        if w.layer in named:
            mags = magnitudes(g, w)
            _zero(g, w, _smallest(mags, int(round(named[w.layer] * w.size))))
            notes[w.layer] = f"--prune-per-layer {named[w.layer]:g}"
    chosen = [] if sparsity is None else [w for w in weights
                                          if w.layer not in named and not skip_reason(w, min_weights)]
    if sparsity is not None and not chosen:
        raise FirmnetError("no layer to prune: " + "; ".join(f"{w.layer}: {skip_reason(w, min_weights)}"
                                                             for w in weights if w.layer not in named)
                           + " (name a layer with --prune-per-layer to prune it)")
    mags = [magnitudes(g, w) for w in chosen]
    for w, m, count in zip(chosen, mags, global_counts(mags, sparsity or 0.0, floor)):
        _zero(g, w, _smallest(m, count))
        notes[w.layer] = "global"
    for w in weights:
        notes.setdefault(w.layer, f"skipped: {skip_reason(w, min_weights) or 'not asked'}")
    return [LayerSparsity(w.layer, w.op, w.size, before[w.layer], _zero_count(g, w) / w.size, notes[w.layer])
            for w in weights]


def format_sparsity(rows: list[LayerSparsity]) -> str:
    width = max(12, *(len(r.layer) for r in rows))
    lines = [f"{'layer':{width}} {'op':6} {'weights':>9} {'before':>8} {'after':>8}  rule"]
    for r in rows:
        lines.append(f"{r.layer:{width}} {r.op:6} {r.weights:>9,} {r.before:>8.1%} {r.after:>8.1%}  {r.note}")
    pruned = [r for r in rows if not r.note.startswith("skipped")]
    if pruned:
        total = sum(r.weights for r in pruned)
        zero = sum(r.after * r.weights for r in pruned)
        lines.append(f"pruned layers: {zero / total:.1%} of {total:,} weights are 0; all weight layers: "
                     f"{sum(r.after * r.weights for r in rows) / sum(r.weights for r in rows):.1%}")
    return "\n".join(lines)

"""SVD low-rank factorization of fully connected and 1x1 conv layers of a float model.

A layer y = W x (W: m outputs x n inputs) becomes two thin ones, h = S x then y = U h, with
W = U Σ Vᵀ its singular value decomposition, U = U_r (m x r) and S = Σ_r V_rᵀ (r x n) its
first r singular triplets: U S = W_r is the best rank-r approximation of W (Frobenius norm).
Parameters go from m·n to r·(m + n), and so do the MACs at each output position, so a layer
is factorized only where r·(m + n) < m·n; otherwise it stays as it is, and its row says so.

The rank: `rank` r for every layer, or `energy` e in (0, 1]: per layer the smallest r with
σ_1² + ... + σ_r² >= e·(σ_1² + ... + σ_k²), the fraction of ‖W‖_F² the factors keep (the
relative reconstruction error ‖W − W_r‖_F / ‖W‖_F is then √(1 − kept)). A rank of
min(m, n) or more cannot save anything and is refused.

The rewrite: the first layer is a new node `<layer>/svd` reading the layer's input, the
second keeps the layer's name, output and bias:
    Gemm(A, B, C)      -> Gemm(A, S; transA as before, transB=1) -> Gemm(h, U, C; alpha, beta, transB=1)
    MatMul(A, B)       -> MatMul(A, Sᵀ) -> MatMul(h, Uᵀ)          (B a constant 2-D matrix)
    Conv 1x1, group 1  -> Conv(x, S; the layer's strides, pads, dilations; r filters, no bias)
                          -> Conv 1x1 (h, U, bias)
Padding stays exact: a padded position reads zeros through S and gets the bias through U,
as the layer gave. Layers: every Gemm, MatMul with a constant 2-D weight and 1x1 conv, or
those named. The weights must be float: SVD comes before int8 quantization (a quantized
model is refused; `firmnet compress` runs --svd-* before --quantize).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..ir import FirmnetError
from .measure import is_quantized
from .weights import OnnxGraph, Weight, constants_to_initializers, find_weights, layer_name, tensor_shapes


@dataclass(frozen=True)
class LayerRank:
    """One layer's line of the SVD report (rank None: left as it was, note says why)."""
    layer: str
    op: str
    matrix: str                 # "m x n": outputs x inputs
    rank: int | None
    params_before: int
    params_after: int
    macs_before: int | None     # None: the output's shape is not static
    macs_after: int | None
    error: float | None         # ‖W − W_r‖_F / ‖W‖_F of the factors as stored
    note: str = ""


def check_rank(rank: int) -> int:
    if not isinstance(rank, (int, np.integer)) or rank < 1:
        raise FirmnetError(f"--svd-rank {rank}: the rank is a whole number of at least 1")
    return int(rank)


def check_energy(energy: float) -> float:
    if not 0.0 < energy <= 1.0:   # (NaN fails too)
        raise FirmnetError(f"--svd-energy {energy}: the fraction of each weight matrix's energy (sum of squared "
                           "singular values) to keep, in (0, 1], e.g. 0.95")
    return float(energy)


def parse_layers(text: str) -> list[str]:
    """--svd-layers NAME,NAME (layer or weight names)."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise FirmnetError(f"--svd-layers '{text}' names no layer: give NAME,NAME,... (`firmnet compress` lists "
                           "the layers in its tables)")
    return names


def energy_rank(singular_values: np.ndarray, energy: float) -> int:
    """The smallest r whose first r singular values hold `energy` of the sum of their squares."""
    kept = np.cumsum(np.asarray(singular_values, np.float64) ** 2)
    kept = kept / kept[-1]                       # the last is exactly 1.0: energy 1 gives the full rank
    return int(np.argmax(kept >= energy)) + 1


def unfit_reason(g: OnnxGraph, w: Weight) -> str:
    """Why a layer cannot be factorized here ('' if it can)."""
    if w.op != "Conv":
        return ""
    group = next((a.i for a in w.node.attribute if a.name == "group"), 1)
    if group != 1:
        return f"grouped conv (group {group}): SVD takes group 1 only"
    kernel = g.array(w.const.data).shape[2:]
    return "" if all(k == 1 for k in kernel) else f"{'x'.join(map(str, kernel))} conv (1x1 only)"


def matrix(g: OnnxGraph, w: Weight) -> np.ndarray:
    """The layer's weight as m outputs x n inputs."""
    data = g.array(w.const.data)
    if w.op == "Conv":
        return data.reshape(data.shape[0], -1)
    return data if w.out_axis == 0 else data.T


def svd(model: onnx.ModelProto, rank: int | None = None, energy: float | None = None,
        layers: list[str] | None = None) -> list[LayerRank]:
    """Factorize the model's FC and 1x1 conv layers (or those named) in place; one row per
    Conv/Gemm/MatMul layer."""
    if (rank is None) == (energy is None):
        raise FirmnetError("SVD needs exactly one of --svd-rank R and --svd-energy E")
    rank = None if rank is None else check_rank(rank)
    energy = None if energy is None else check_energy(energy)
    if is_quantized(model):
        raise FirmnetError("SVD factorizes float weights, and this model is quantized (QuantizeLinear/"
                           "DequantizeLinear or integer ops): run --svd-rank/--svd-energy on the float model, "
                           "then --quantize int8 (in one command, firmnet compress does them in that order)")
    constants_to_initializers(model)
    g = OnnxGraph(model)
    weights = find_weights(g)
    chosen = _chosen(g, weights, layers)
    shapes = tensor_shapes(model)
    rows, rewrites = [], {}
    for w in weights:
        W = matrix(g, w)
        m, n = W.shape
        macs = _positions(shapes, w.node)
        macs = None if macs is None else macs * m * n
        row = dict(layer=w.layer, op=w.op, matrix=f"{m} x {n}", params_before=m * n)
        if w.layer not in chosen:
            reason = unfit_reason(g, w)
            rows.append(LayerRank(**row, rank=None, params_after=m * n, macs_before=macs, macs_after=macs,
                                  error=None, note=f"skipped: {reason or 'not named in --svd-layers'}"))
            continue
        rows.append(_factorize(g, w, W, rank, energy, row, macs, rewrites))
    _replace_nodes(g, rewrites)
    return rows


def _chosen(g: OnnxGraph, weights: list[Weight], names: list[str] | None) -> set[str]:
    """The layers to factorize: the named ones (each must fit), or every one that fits."""
    if names is None:
        chosen = {w.layer for w in weights if not unfit_reason(g, w)}
        if not chosen:
            raise FirmnetError("the model has no fully connected (Gemm, MatMul with a constant weight) or 1x1 conv "
                               "layer to factorize: " + ("; ".join(f"{w.layer}: {unfit_reason(g, w)}" for w in weights)
                                                        or "no Conv/Gemm/MatMul layer with a constant weight"))
        return chosen
    index = {}
    for w in weights:
        index.setdefault(w.layer, w)
        index.setdefault(w.const.data, w)
    unknown = [n for n in names if n not in index]
    if unknown:
        raise FirmnetError(f"--svd-layers: no layer named {', '.join(repr(n) for n in unknown)}; the model's "
                           f"Conv/Gemm/MatMul layers are: {', '.join(w.layer for w in weights) or '(none)'}")
    unfit = [f"{n}: {unfit_reason(g, index[n])}" for n in names if unfit_reason(g, index[n])]
    if unfit:
        raise FirmnetError(f"--svd-layers: cannot factorize {'; '.join(unfit)}. SVD takes fully connected "
                           "(Gemm, MatMul) and 1x1 conv layers")
    return {index[n].layer for n in names}


def _factorize(g: OnnxGraph, w: Weight, W: np.ndarray, rank: int | None, energy: float | None,
               row: dict, macs: int | None, rewrites: dict) -> LayerRank:
    m, n = W.shape
    if not np.isfinite(W).all():
        raise FirmnetError(f"layer {w.layer}: its weight '{w.const.data}' holds NaN or infinite values; SVD needs "
                           "finite weights (leave the layer out with --svd-layers)")
    u, s, vt = np.linalg.svd(W.astype(np.float64), full_matrices=False)
    if rank is not None and rank >= min(m, n):
        raise FirmnetError(f"--svd-rank {rank}: layer {w.layer} has a {m} x {n} weight, whose rank is at most "
                           f"{min(m, n)}: give a rank under {min(m, n)} (one that saves parameters: r x ({m} + {n}) "
                           f"< {m * n:,}), or leave the layer out with --svd-layers")
    if not s[0] > 0:
        return LayerRank(**row, rank=None, params_after=m * n, macs_before=macs, macs_after=macs, error=None,
                         note="kept: every weight is 0")
    r = rank if rank is not None else energy_rank(s, energy)
    positions = None if macs is None else macs // (m * n)
    if r * (m + n) >= m * n:
        return LayerRank(**row, rank=None, params_after=m * n, macs_before=macs, macs_after=macs, error=None,
                         note=f"kept: rank {r} saves nothing ({r} x ({m} + {n}) = {r * (m + n):,} >= {m * n:,})")
    dtype = W.dtype
    U = u[:, :r].astype(dtype)
    S = (s[:r, None] * vt[:r]).astype(dtype)
    error = float(np.linalg.norm(W.astype(np.float64) - U.astype(np.float64) @ S.astype(np.float64))
                  / np.linalg.norm(W.astype(np.float64)))
    rewrites[w.node.output[0]] = (w.const.data, _two_layers(g, w, U, S))
    return LayerRank(**row, rank=r, params_after=r * (m + n), macs_before=macs,
                     macs_after=None if positions is None else positions * r * (m + n), error=error,
                     note=f"energy {energy:g}" if energy is not None else "")


def _positions(shapes: dict, node: onnx.NodeProto) -> int | None:
    """Output positions of a layer (batch x spatial): its output's size over its channels."""
    shape = shapes.get(node.output[0])
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    channels = shape[1] if node.op_type == "Conv" else shape[-1]
    return int(np.prod(shape)) // channels


def _fresh(g: OnnxGraph, base: str) -> str:
    taken = set(g.inits) | set(g.producer) | {i.name for i in g.graph.input}
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _two_layers(g: OnnxGraph, w: Weight, U: np.ndarray, S: np.ndarray) -> tuple:
    """The two nodes replacing w's layer (their weights added as initializers)."""
    node, name = w.node, layer_name(w.node)
    s_name, u_name = _fresh(g, f"{w.const.data}_svd_s"), _fresh(g, f"{w.const.data}_svd_u")
    hidden = _fresh(g, f"{name}/svd_output")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    x, bias = node.input[0], list(node.input[2:])
    if w.op == "Conv":
        ones = [1] * (g.array(w.const.data).ndim - 2)
        s_value, u_value = S.reshape(*S.shape, *ones), U.reshape(*U.shape, *ones)
        first = helper.make_node("Conv", [x, s_name], [hidden], name=f"{name}/svd", **attrs)
        second = helper.make_node("Conv", [hidden, u_name, *bias], list(node.output), name=node.name,
                                  kernel_shape=ones)
    elif w.op == "Gemm":
        s_value, u_value = S, U
        first = helper.make_node("Gemm", [x, s_name], [hidden], name=f"{name}/svd", transA=attrs.get("transA", 0),
                                 transB=1)
        second = helper.make_node("Gemm", [hidden, u_name, *bias], list(node.output), name=node.name, transB=1,
                                  alpha=attrs.get("alpha", 1.0), beta=attrs.get("beta", 1.0))
    else:   # MatMul: y = A B with B = Wᵀ (n x m)
        s_value, u_value = S.T, U.T
        first = helper.make_node("MatMul", [x, s_name], [hidden], name=f"{name}/svd")
        second = helper.make_node("MatMul", [hidden, u_name], list(node.output), name=node.name)
    for init_name, value in ((s_name, s_value), (u_name, u_value)):
        g.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), init_name))
        g.inits[init_name] = g.graph.initializer[-1]
    g.producer[hidden] = first   # (reserves the name for the next layer's _fresh)
    return first, second


def _replace_nodes(g: OnnxGraph, rewrites: dict) -> None:
    """Put each factorized layer's two nodes in its place, and drop the initializers no node
    reads any more (the factorized layers' weights)."""
    nodes = []
    for node in g.graph.node:
        nodes.extend(rewrites[node.output[0]][1] if node.output[0] in rewrites else (node,))
    del g.graph.node[:]
    g.graph.node.extend(nodes)
    read = {i for n in g.graph.node for i in n.input} | {o.name for o in g.graph.output}
    replaced = {weight for weight, _ in rewrites.values()}
    keep = [t for t in g.graph.initializer if t.name in read or t.name not in replaced]
    del g.graph.initializer[:]
    g.graph.initializer.extend(keep)


def format_ranks(rows: list[LayerRank]) -> str:
    """The SVD report: per layer the rank, parameters and MACs before -> after, the error."""
    width = max(12, *(len(r.layer) for r in rows))

    def change(before, after):
        return "-" if before is None else f"{before:,} -> {after:,}"
    lines = [f"{'layer':{width}} {'op':6} {'matrix':>10} {'rank':>5} {'parameters':>18} {'MACs':>20} "
             f"{'error':>7}  note"]
    for r in rows:
        error = "-" if r.error is None else f"{r.error:.4f}"
        lines.append(f"{r.layer:{width}} {r.op:6} {r.matrix:>10} {r.rank or '-':>5} "
                     f"{change(r.params_before, r.params_after):>18} {change(r.macs_before, r.macs_after):>20} "
                     f"{error:>7}  {r.note}".rstrip())
    done = [r for r in rows if r.rank is not None]
    if done:
        before, after = sum(r.params_before for r in rows), sum(r.params_after for r in rows)
        lines.append(f"factorized {len(done)} layer(s): weight layers' parameters {before:,} -> {after:,} "
                     f"({after / before:.1%}); error = |W - W_r|_F / |W|_F")
    else:
        lines.append("no layer factorized: the model is unchanged")
    return "\n".join(lines)

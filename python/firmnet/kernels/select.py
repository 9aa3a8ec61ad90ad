"""The selection step: per layer, the cheapest candidate kernel that supports it on the target.

Runs once after the passes. Each op's candidates (kernels.CANDIDATES) are asked, in order,
whether they support the layer; among those that do, the lowest estimated cost wins (the
first listed on a tie). The KernelCall records the chosen variant, why it fits, and every
other candidate with its reason (it cannot run the layer, or its estimate is higher).
`forced` ({layer: variant}, from --kernel) replaces the cost choice for those layers; the
forced variant must support the layer.

`sparse` (--sparse) decides about the sparse variants (modules with SPARSE = True, the CSR
kernels): "off" never takes them; "on" takes one wherever one supports the layer (the
cheapest of them); "auto" (the default) compares their estimates with the dense ones like
any candidate, and where the model's weights do not fit the board's flash, select_kernels
then moves the layers to CSR that save the most flash until they fit (flash as the binding
limit).

`winograd` (--winograd) does the same for the Winograd variants (modules with WINOGRAD = True:
the int8 and float F(2x2,3x3) kernels): "off" never takes them; "on" takes one wherever one
supports the layer; "auto" (the default) compares their estimates with the direct kernels',
and where the model's weights (Winograd's transformed filters are larger) would then not fit
the board's flash, select_kernels moves Winograd layers back to their direct kernel, the
largest extra flash first, until they fit; those layers' report says so.

`codebook` (--codebook-kernels) decides about the codebook variants (CODEBOOK = True: the
kernels of palettized weights, fc_s8_codebook and its siblings) as --sparse does about CSR:
off, on (wherever one supports the layer), auto (by estimate); where the weights do not fit
the flash, auto moves layers to whichever compressed variant (CSR or codebook, of the
families in auto mode) saves them the most.
"""
from __future__ import annotations

import dataclasses

from ..boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
from ..ir import FirmnetError, Graph, Node
from ..lowering import KernelCall
from . import CANDIDATES

SPARSE_CHOICES = ("auto", "on", "off")
WINOGRAD_CHOICES = ("auto", "on", "off")
CODEBOOK_CHOICES = ("auto", "on", "off")


def is_sparse(kernel) -> bool:
    return getattr(kernel, "SPARSE", False)


def is_winograd(kernel) -> bool:
    return getattr(kernel, "WINOGRAD", False)


def is_codebook(kernel) -> bool:
    return getattr(kernel, "CODEBOOK", False)


def check_sparse(sparse: str) -> None:
    if sparse not in SPARSE_CHOICES:
        raise FirmnetError(f"unknown --sparse mode '{sparse}' (modes: {', '.join(SPARSE_CHOICES)})")


def check_winograd(winograd: str) -> None:
    if winograd not in WINOGRAD_CHOICES:
        raise FirmnetError(f"unknown --winograd mode '{winograd}' (modes: {', '.join(WINOGRAD_CHOICES)})")


def check_codebook(codebook: str) -> None:
    if codebook not in CODEBOOK_CHOICES:
        raise FirmnetError(f"unknown --codebook-kernels mode '{codebook}' (modes: {', '.join(CODEBOOK_CHOICES)})")


def _names(candidates) -> str:
    return ", ".join(k.NAME for k in candidates)


def _none_supports(verdicts: dict) -> str:
    return "no kernel supports this layer: " + "; ".join(f"{name}: {why}" for name, why in verdicts.items())


def refusal(op: str, attrs, in_types, target=None) -> str | None:
    """None if a candidate kernel of op runs a layer with these attributes and input types
    (None for an absent optional input), else every candidate's reason. Asked through
    ops.check_supported by the QDQ pass before it makes an integer op, in either layout;
    target None: no board feature (what every target has)."""
    names = tuple(f"in{k}" if t is not None else "" for k, t in enumerate(in_types))
    node = Node(op, "layer", names, ("out",), attrs)
    graph = Graph("check", (node,), {n: t for n, t in zip(names, in_types) if n})
    verdicts = {k.NAME: k.supports(node, graph, target) for k in CANDIDATES[op]}
    return None if None in verdicts.values() else _none_supports(verdicts)


def _slower(cost: int, best: int, best_name: str) -> str:
    if best > 0 and cost > 0:
        ratio = f"{cost / best:.2f}" if cost < 1.1 * best else f"{cost / best:.1f}"
        return f"est. {ratio}x slower ({cost:,} vs {best:,} instructions)"
    return f"listed after {best_name}"


def _option_verdicts(verdicts: dict, candidates, kind, option: str, mode: str, runs: str) -> None:
    """--sparse / --winograd: off refuses the kernels of that kind, on every other kernel
    where one of them runs the layer."""
    if mode == "off":
        verdicts.update({k.NAME: f"--{option} off" for k in candidates if kind(k) and verdicts[k.NAME] is None})
    elif mode == "on" and any(kind(k) and verdicts[k.NAME] is None for k in candidates):
        verdicts.update({k.NAME: f"--{option} on ({runs} runs this layer)" for k in candidates
                         if not kind(k) and verdicts[k.NAME] is None})


def _verdicts(node, graph, target, candidates, sparse: str, winograd: str = "auto", refused=None,
              codebook: str = "auto") -> dict:
    verdicts = {k.NAME: k.supports(node, graph, target) for k in candidates}
    _option_verdicts(verdicts, candidates, is_sparse, "sparse", sparse, "a CSR kernel")
    _option_verdicts(verdicts, candidates, is_winograd, "winograd", winograd, "a Winograd kernel")
    _option_verdicts(verdicts, candidates, is_codebook, "codebook-kernels", codebook, "a codebook kernel")
    verdicts.update({k: why for k, why in (refused or {}).items() if verdicts.get(k) is None})
    return verdicts


def _sparse_options(node, graph, target, candidates) -> tuple:
    """KernelCall.sparse: the layer's density and the best dense and sparse options (whatever
    --sparse says), when both kinds can run it."""
    runs = [k for k in candidates if k.supports(node, graph, target) is None]
    sparse = [k for k in runs if is_sparse(k)]
    dense = [k for k in runs if not (is_sparse(k) or is_winograd(k) or is_codebook(k))]   # the weights as they are
    if not sparse or not dense:
        return ()
    best = [min(ks, key=lambda k: k.cost(node, graph, target)) for ks in (dense, sparse)]
    flash = best[1].flash(node, graph)
    # a variant that repacks wider weights (WIDENED: flash() = (int8, its packed bytes)) reports those
    dense_bytes = best[0].flash(node, graph)[1] if getattr(best[0], "WIDENED", False) else flash[0]
    return (("density", best[1].density(node, graph)),
            ("dense", (best[0].NAME, best[0].cost(node, graph, target), dense_bytes)),
            ("sparse", (best[1].NAME, best[1].cost(node, graph, target), flash[1])))


def _winograd_options(node, graph, target, candidates) -> tuple:
    """KernelCall.winograd: the best direct and Winograd options (variant, est. instructions,
    weight bytes), whatever --winograd says, when both kinds can run the layer."""
    runs = [k for k in candidates if k.supports(node, graph, target) is None and not is_sparse(k)
            and not is_codebook(k)]
    wino = [k for k in runs if is_winograd(k)]
    direct = [k for k in runs if not is_winograd(k)]
    if not wino or not direct:
        return ()
    best = [min(ks, key=lambda k: k.cost(node, graph, target)) for ks in (direct, wino)]
    flash = best[1].flash(node, graph)
    return (("direct", (best[0].NAME, best[0].cost(node, graph, target), flash[0])),
            ("winograd", (best[1].NAME, best[1].cost(node, graph, target), flash[1])))


def choose(node, graph: Graph, target, forced: str | None = None, sparse: str = "auto", why_extra: str = "",
           winograd: str = "auto", refused: dict | None = None, codebook: str = "auto"):
    """The KernelCall (or Alias) of one layer, with the choice recorded. refused: {kernel: reason}
    for candidates the model-wide checks turned down (Winograd weights over the flash)."""
    candidates = CANDIDATES[node.op]
    free = forced is not None
    verdicts = _verdicts(node, graph, target, candidates, "auto" if free else sparse, "auto" if free else winograd,
                         refused, "auto" if free else codebook)
    supported = [k for k in candidates if verdicts[k.NAME] is None]
    if forced is not None:
        match = [k for k in candidates if k.NAME == forced]
        if not match:
            raise FirmnetError(f"{node.describe()}: --kernel {node.name}={forced}: no such kernel for a {node.op} "
                               f"layer (candidates: {_names(candidates)})")
        if verdicts[forced] is not None:
            raise FirmnetError(f"{node.describe()}: --kernel {node.name}={forced}: it cannot run this layer "
                               f"({verdicts[forced]}); kernels that can: {_names(supported) or 'none'}")
        chosen = match[0]
        reason = chosen.why(node, graph, target) + why_extra if why_extra else "forced by --kernel"
        costs = {}
    else:
        if not supported:
            raise FirmnetError(f"{node.describe()}: {_none_supports(verdicts)}")
        costs = {k.NAME: k.cost(node, graph, target) for k in supported}
        chosen = min(supported, key=lambda k: costs[k.NAME])
        reason = chosen.why(node, graph, target) + why_extra
        if costs[chosen.NAME]:
            reason += f" (est. {costs[chosen.NAME]:,} instructions)"
    # (name, reason, whether it could run the layer): the report lists the runnable ones first
    rejected = tuple((k.NAME, verdicts[k.NAME], False) if verdicts[k.NAME] is not None else
                     (k.NAME, _slower(costs[k.NAME], costs[chosen.NAME], chosen.NAME) if costs else "not forced", True)
                     for k in candidates if k is not chosen)
    try:
        call = chosen.call(node, graph)
    except (FirmnetError, ValueError) as exc:   # ValueError: a kernel constraint of a parameter builder
        raise FirmnetError(f"{node.describe()}: {exc}") from None
    if not isinstance(call, KernelCall):        # an Alias: no code
        return call
    return dataclasses.replace(call, kernel=chosen.NAME, reason=reason, rejected=rejected,
                               scratch_bytes=chosen.scratch_bytes(node, graph),
                               sparse=_sparse_options(node, graph, target, candidates),
                               winograd=_winograd_options(node, graph, target, candidates))


def _flash_limit(graph: Graph, target) -> int | None:
    """Bytes of flash the weights may take on the target (its flash less the boards' code
    estimate), or None without a flash size."""
    flash = getattr(target, "code_flash_bytes", None)
    if not flash:
        return None
    return flash - CODE_ESTIMATE_BASE - CODE_ESTIMATE_PER_STEP * len(graph.nodes)


def _winograd_over_flash(graph: Graph, target, forced: dict, chosen: dict) -> dict:
    """{layer: reason} for the Winograd layers auto moves back to a direct kernel because the
    weights would not fit the board's flash: the largest extra flash first, until they fit."""
    limit = _flash_limit(graph, target)
    if limit is None:
        return {}
    total = sum(a.nbytes for a in graph.constants.values())
    extra = []
    for node in graph.nodes:
        call = chosen[node.name]
        if isinstance(call, KernelCall) and call.winograd and any(
                is_winograd(k) and k.NAME == call.kernel for k in CANDIDATES[node.op]):
            direct, wino = dict(call.winograd)["direct"][2], dict(call.winograd)["winograd"][2]
            total += wino - direct
            if node.name not in forced:
                extra.append((wino - direct, node.name))
    moved = {}
    for grow, name in sorted(extra, reverse=True):
        if total <= limit:
            break
        moved[name] = (f"its weights (+{grow:,} B) would not fit {target.name}'s flash "
                       f"({total:,} B of weights for {limit:,} B)")
        total -= grow
    return moved


def _flash_bound(graph: Graph, target, forced: dict, chosen: dict, families=(is_sparse,)) -> dict:
    """{layer: compressed variant} for the layers auto moves to CSR or codebook kernels (the
    families in auto mode) because the weights do not fit the board's flash: the largest
    savings first (per layer, its variant saving the most), until the weights fit (or none is
    left)."""
    limit = _flash_limit(graph, target)
    if limit is None:
        return {}
    total = sum(a.nbytes for a in graph.constants.values())
    options = []
    for node in graph.nodes:
        call = chosen[node.name]
        if node.name in forced or not isinstance(call, KernelCall):
            continue
        best = None
        for k in CANDIDATES[node.op]:
            if not (is_sparse(k) or is_codebook(k)) or k.supports(node, graph, target) is not None:
                continue
            dense, small = k.flash(node, graph)
            if k.NAME == call.kernel:
                total -= dense - small
                best = None
                break
            if any(f(k) for f in families) and small < dense and (best is None or dense - small > best[0]):
                best = (dense - small, node.name, k.NAME)
        if best is not None:
            options.append(best)
    moved = {}
    for saving, name, kernel in sorted(options, reverse=True):
        if total <= limit:
            break
        moved[name] = kernel
        total -= saving
    return moved if total <= limit else {}


def select_kernels(graph: Graph, target, forced: dict | None = None, sparse: str = "auto",
                   winograd: str = "auto", codebook: str = "auto") -> dict:
    """{node name: KernelCall or Alias} for every node of the lowered graph."""
    check_sparse(sparse)
    check_winograd(winograd)
    check_codebook(codebook)
    forced = dict(forced or {})
    names = {n.name for n in graph.nodes}
    unknown = sorted(set(forced) - names)
    if unknown:
        raise FirmnetError(f"--kernel: no layer named {', '.join(repr(u) for u in unknown)} in the compiled graph "
                           f"(its layers: {', '.join(n.name for n in graph.nodes[:30])}"
                           f"{', ...' if len(graph.nodes) > 30 else ''})")
    chosen = {node.name: choose(node, graph, target, forced.get(node.name), sparse, winograd=winograd,
                                codebook=codebook) for node in graph.nodes}
    by_name = {node.name: node for node in graph.nodes}
    if winograd == "auto":
        for name, reason in _winograd_over_flash(graph, target, forced, chosen).items():
            refused = {k.NAME: reason for k in CANDIDATES[by_name[name].op] if is_winograd(k)}
            chosen[name] = choose(by_name[name], graph, target, None, sparse, why_extra=f"; not Winograd: {reason}",
                                  winograd=winograd, refused=refused, codebook=codebook)
    families = tuple(f for f, mode in ((is_sparse, sparse), (is_codebook, codebook)) if mode == "auto")
    if families:
        for name, kernel in _flash_bound(graph, target, forced, chosen, families).items():
            chosen[name] = choose(by_name[name], graph, target, kernel,
                                  why_extra=f" (the dense weights do not fit {target.name}'s flash)")
    return chosen


def estimated_instructions(graph: Graph, lowered: dict, target) -> int:
    """Instructions of one inference by the cost model: the sum of the chosen variants'
    cost() over the layers (ops without variants, OpLowering, and views count 0)."""
    total = 0
    for node in graph.nodes:
        call = lowered[node.name]
        if isinstance(call, KernelCall):
            kernel = next((k for k in CANDIDATES[node.op] if k.NAME == call.kernel), None)
            total += kernel.cost(node, graph, target) if kernel is not None else 0
    return total

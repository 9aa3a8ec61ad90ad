"""The selection step: per layer, the cheapest candidate kernel that supports it on the target.

Runs once after the passes. Each op's candidates (kernels.CANDIDATES) are asked, in order,
whether they support the layer; among those that do, the lowest estimated cost wins (the
first listed on a tie). The KernelCall records the chosen variant, why it fits, and every
other candidate with its reason (it cannot run the layer, or its estimate is higher).
`forced` ({layer: variant}, from --kernel) replaces the cost choice for those layers; the
forced variant must support the layer.
"""
from __future__ import annotations

import dataclasses

from ..ir import FirmnetError, Graph, Node
from ..lowering import KernelCall
from . import CANDIDATES


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


def choose(node, graph: Graph, target, forced: str | None = None):
    """The KernelCall (or Alias) of one layer, with the choice recorded."""
    candidates = CANDIDATES[node.op]
    verdicts = {k.NAME: k.supports(node, graph, target) for k in candidates}
    supported = [k for k in candidates if verdicts[k.NAME] is None]
    if forced is not None:
        match = [k for k in candidates if k.NAME == forced]
        if not match:
            raise FirmnetError(f"{node.describe()}: --kernel {node.name}={forced}: no such kernel for a {node.op} "
                               f"layer (candidates: {_names(candidates)})")
        if verdicts[forced] is not None:
            raise FirmnetError(f"{node.describe()}: --kernel {node.name}={forced}: it cannot run this layer "
                               f"({verdicts[forced]}); kernels that can: {_names(supported) or 'none'}")
        chosen, reason = match[0], "forced by --kernel"
        costs = {}
    else:
        if not supported:
            raise FirmnetError(f"{node.describe()}: {_none_supports(verdicts)}")
        costs = {k.NAME: k.cost(node, graph, target) for k in supported}
        chosen = min(supported, key=lambda k: costs[k.NAME])
        reason = chosen.why(node, graph, target)
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
                               scratch_bytes=chosen.scratch_bytes(node, graph))


def select_kernels(graph: Graph, target, forced: dict | None = None) -> dict:
    """{node name: KernelCall or Alias} for every node of the lowered graph."""
    forced = dict(forced or {})
    names = {n.name for n in graph.nodes}
    unknown = sorted(set(forced) - names)
    if unknown:
        raise FirmnetError(f"--kernel: no layer named {', '.join(repr(u) for u in unknown)} in the compiled graph "
                           f"(its layers: {', '.join(n.name for n in graph.nodes[:30])}"
                           f"{', ...' if len(graph.nodes) > 30 else ''})")
    return {node.name: choose(node, graph, target, forced.get(node.name)) for node in graph.nodes}

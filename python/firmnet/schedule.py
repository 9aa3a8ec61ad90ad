"""Execution order of a DAG's nodes that minimizes the peak of live arena bytes.

A model file lists its nodes in one valid order, but a DAG has many: the branches of an
inception block, a fire module or a squeeze-excite block can run in any interleaving, and
the order decides which tensors are live together. The memory planner cannot beat the
peak of live bytes of the order it is given (planner.lower_bound), so the order is
chosen first.

The problem (`Problem`) is abstract: steps that write and read arena buffers (the alias
groups of memory.py: a reshape's output shares its input's buffer) and use scratch for
their own step; graph inputs are live from the start, graph outputs to the end, and every
other buffer from its first writer to its last toucher, as in memory.analyse. Sizes are
rounded up to the arena alignment, so the bound is what the placement must reach.

* `exact` - the minimum over all valid orders, memoized over the sets of executed
  steps (the live bytes after a set do not depend on the order inside it):
  f(S) = min over ready v of max(peak of running v after S, f(S + v)). The number of such
  sets grows with the branches' lengths multiplied together; past `max_states` (or
  MAX_EXACT_STEPS steps) the search gives up.
* `beam` - beyond that, a beam search: all orders extended one step at a time, keeping
  the `width` best partial orders (peak so far, then bytes live now).

`choose(problem, mode)` keeps the file order unless a search finds a strictly lower
peak, so chains and already good orders compile exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .ir import FirmnetError
from .planner import Buffer, lower_bound

__all__ = ["Problem", "Schedule", "SCHEDULE_CHOICES", "MAX_STATES", "BEAM_WIDTH",
           "peak", "exact", "beam", "choose", "problem_of", "schedule_graph"]

SCHEDULE_CHOICES = ("auto", "file")
MAX_STATES = 30_000
BEAM_WIDTH = 64
MAX_EXACT_STEPS = 400


@dataclass(frozen=True)
class Problem:
    """steps[i] = (buffers it writes, buffers it reads, scratch bytes); sizes: buffer → bytes;
    deps[i]: steps that must run before step i. Step indices are the file order."""
    steps: tuple[tuple[frozenset, frozenset, int], ...]
    sizes: dict
    deps: tuple[frozenset, ...]
    inputs: frozenset = frozenset()    # buffers live before the first step
    outputs: frozenset = frozenset()   # buffers live after the last step
    alignment: int = 16


@dataclass(frozen=True)
class Schedule:
    order: tuple[int, ...]     # step indices (file order = 0..n-1)
    bound: int                 # peak live bytes of `order` (aligned sizes)
    file_bound: int            # the same for the file order
    method: str                # "file", "exact" or "beam"
    states: int = 0            # sets of executed steps the search visited
    classic_bound: int = 0     # the file order's peak with unaligned sizes (what the report printed before)


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def _check_order(problem: Problem, order) -> None:
    n = len(problem.steps)
    if sorted(order) != list(range(n)):
        raise FirmnetError(f"schedule {list(order)} is not an order of the {n} steps")
    done = set()
    for v in order:
        missing = problem.deps[v] - done
        if missing:
            raise FirmnetError(f"schedule runs step {v} before step(s) {sorted(missing)} it depends on")
        done.add(v)


def buffers_of(problem: Problem, order) -> list[Buffer]:
    """The planner's buffers when the steps run in `order` (memory.analyse's lifetimes)."""
    _check_order(problem, order)
    first, last = {}, {}
    for step, v in enumerate(order):
        writes, reads, _ = problem.steps[v]
        for k in writes:
            first.setdefault(k, step)
            last[k] = max(last.get(k, step), step)
        for k in reads:
            last[k] = step
    for k in problem.inputs:
        first[k] = 0
        last.setdefault(k, 0)
    for k in problem.outputs:
        last[k] = max(len(order) - 1, 0)
    buffers = [Buffer(str(k), problem.sizes[k], first[k], last[k]) for k in sorted(first, key=str)]
    buffers += [Buffer(f"#scratch{v}", problem.steps[v][2], step, step)
                for step, v in enumerate(order) if problem.steps[v][2]]
    return buffers


def peak(problem: Problem, order) -> int:
    """Peak live bytes of `order`, through the planner's own lower_bound."""
    return lower_bound(buffers_of(problem, order), problem.alignment)


class _Search:
    """The incremental form of `peak`, over bitmasks of executed steps."""

    def __init__(self, problem: Problem):
        a = problem.alignment
        self.n = n = len(problem.steps)
        keys = sorted(problem.sizes, key=str)
        self.size = {k: _align(problem.sizes[k], a) for k in keys}
        touch = {k: 0 for k in keys}
        for v, (writes, reads, _) in enumerate(problem.steps):
            for k in writes | reads:
                touch[k] |= 1 << v
        self.touch = touch
        self.inputs, self.outputs = problem.inputs, problem.outputs
        self.dep_mask = [sum(1 << d for d in problem.deps[v]) for v in range(n)]
        self.writes = [tuple(k for k in sorted(w, key=str) if k not in problem.inputs) for w, _, _ in problem.steps]
        self.touched = [tuple(sorted(w | r, key=str)) for w, r, _ in problem.steps]
        self.scratch = [_align(s, a) if s else 0 for _, _, s in problem.steps]
        self.untouched_inputs = sum(self.size[k] for k in problem.inputs
                                    if not touch[k] and k not in problem.outputs)
        self.live0 = sum(self.size[k] for k in problem.inputs)
        self.full = (1 << n) - 1

    def ready(self, mask: int):
        return [v for v in range(self.n) if not mask >> v & 1 and self.dep_mask[v] & ~mask == 0]

    def step(self, mask: int, live: int, v: int) -> tuple[int, int]:
        """(peak while v runs, live bytes after it) from the executed set `mask`."""
        new = sum(self.size[k] for k in self.writes[v] if not self.touch[k] & mask)
        during = live + new + self.scratch[v]
        after_mask = mask | 1 << v
        gone = sum(self.size[k] for k in self.touched[v]
                   if k not in self.outputs and self.touch[k] & ~after_mask == 0)
        if not mask:
            gone += self.untouched_inputs
        return during, live + new - gone


class _TooManyStates(Exception):
    pass


def exact(problem: Problem, max_states: int = MAX_STATES) -> tuple[tuple[int, ...], int, int] | None:
    """(order, peak, states visited) of a minimum-peak order, or None past max_states."""
    s = _Search(problem)
    memo: dict[int, tuple[int, int]] = {s.full: (0, -1)}   # mask → (best peak of the rest, next step)

    def best(mask: int, live: int) -> int:
        hit = memo.get(mask)
        if hit is not None:
            return hit[0]
        if len(memo) >= max_states:
            raise _TooManyStates
        choice = None
        for v in s.ready(mask):
            during, after = s.step(mask, live, v)
            if choice is not None and during >= choice[0]:
                continue   # cannot beat the best found
            value = max(during, best(mask | 1 << v, after))
            if choice is None or value < choice[0]:   # strict: ties keep the lower (file) index
                choice = (value, v)
        memo[mask] = choice
        return choice[0]

    try:
        value = best(0, s.live0) if s.n else 0
    except _TooManyStates:
        return None
    order, mask = [], 0
    while mask != s.full:
        v = memo[mask][1]
        order.append(v)
        mask |= 1 << v
    return tuple(order), value, len(memo)


def beam(problem: Problem, width: int = BEAM_WIDTH) -> tuple[tuple[int, ...], int, int]:
    """(order, peak, states visited) of the best order a beam of `width` finds."""
    s = _Search(problem)
    beams = {0: (0, s.live0, ())}   # mask → (peak so far, live now, order)
    visited = 1
    for _ in range(s.n):
        nxt: dict[int, tuple[int, int, tuple]] = {}
        for mask, (top, live, order) in beams.items():
            for v in s.ready(mask):
                during, after = s.step(mask, live, v)
                cand = (max(top, during), after, order + (v,))
                m = mask | 1 << v
                if m not in nxt or cand < nxt[m]:
                    nxt[m] = cand
        visited += len(nxt)
        beams = dict(sorted(nxt.items(), key=lambda kv: kv[1])[:width])
    top, _, order = min(beams.values()) if s.n else (0, 0, ())
    return order, top, visited


def choose(problem: Problem, mode: str = "auto", max_states: int = MAX_STATES,
           width: int = BEAM_WIDTH) -> Schedule:
    """The schedule for `mode`: "file" keeps the file order; "auto" searches (exact, or beam
    past max_states) and keeps the file order unless the search finds a lower peak."""
    if mode not in SCHEDULE_CHOICES:
        raise FirmnetError(f"unknown --schedule '{mode}' (choices: {', '.join(SCHEDULE_CHOICES)})")
    file_order = tuple(range(len(problem.steps)))
    file_bound = peak(problem, file_order)
    if mode == "file":
        return Schedule(file_order, file_bound, file_bound, "file")
    # (the exact search recurses once per step: past MAX_EXACT_STEPS, the beam)
    found = exact(problem, max_states) if len(problem.steps) <= MAX_EXACT_STEPS else None
    method = "exact"
    if found is None:
        found, method = beam(problem, width), "beam"
    order, _, states = found
    bound = peak(problem, order)   # the planner's own count decides
    if bound >= file_bound:
        return Schedule(file_order, file_bound, file_bound, "file", states)
    return Schedule(order, bound, file_bound, method, states)


# ---- from a lowered graph -----------------------------------------------------------

def problem_of(graph, lowered, storage, alignment: int = 16) -> Problem:
    """The Problem of a lowered graph: storage is memory.analyse's tensor → Storage (its
    alias groups), lowered maps node name → KernelCall or Alias."""
    from .lowering import KernelCall
    producer = {}
    for v, node in enumerate(graph.nodes):
        for t in node.outputs:
            producer[t] = v
    sizes, steps, deps = {}, [], []
    for name, st in storage.items():
        if st.kind == "arena":
            sizes[st.key] = max(sizes.get(st.key, 0), st.offset + graph.types[name].nbytes)
    arena = {k for k, n in sizes.items() if n > 0}

    def keys(tensors):
        return frozenset(storage[t].key for t in tensors
                         if t and storage[t].kind == "arena" and storage[t].key in arena)

    for node in graph.nodes:
        call = lowered[node.name]
        scratch = call.scratch_bytes if isinstance(call, KernelCall) else 0
        steps.append((keys(node.outputs), keys(node.inputs), scratch))
        deps.append(frozenset(producer[t] for t in node.inputs if t in producer))
    return Problem(tuple(steps), {k: sizes[k] for k in arena}, tuple(deps),
                   keys(graph.inputs), keys(graph.outputs), alignment)


def schedule_graph(graph, lowered, mode: str = "auto", alignment: int = 16):
    """(graph with its nodes in the chosen order, Schedule)."""
    from .memory import analyse
    storage = analyse(graph, lowered, "linear").storage   # the alias groups; "linear" places in no time
    problem = problem_of(graph, lowered, storage, alignment)
    sched = choose(problem, mode)
    classic = peak(replace(problem, alignment=1), tuple(range(len(problem.steps))))
    sched = replace(sched, classic_bound=classic)
    return graph.replace(nodes=tuple(graph.nodes[v] for v in sched.order)), sched


def describe(scheduled_graph, sched: Schedule, memory) -> dict:
    """report["schedule"]: the order run (node names), its bound, the file order's bound, and
    whether the placement (memory: memory.MemoryPlan) reaches the bound, or by how much not."""
    from .placement import SEARCH_NODES
    arena = memory.arena_size
    gap = arena - sched.bound
    if gap <= 0:
        note = f"the placement reaches the bound ({memory.plan.algorithm})"
    else:
        note = (f"the placement needs {gap:,} bytes more than the bound: no first-fit order reached it and "
                f"the search ({SEARCH_NODES:,} offset look-ups) found no placement within it; the "
                f"live-set bound is only a lower bound, and some lifetimes cannot be packed into it")
    return {"method": sched.method, "order": [node.name for node in scheduled_graph.nodes],
            "bound_bytes": sched.bound, "file_order_bound_bytes": sched.file_bound,
            "saved_bytes": sched.file_bound - sched.bound, "states": sched.states,
            "alignment": memory.plan.alignment, "arena_bytes": arena, "placement_gap_bytes": max(gap, 0),
            "placement": note}

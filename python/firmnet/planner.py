"""Static memory planner: give every activation buffer a fixed offset in one arena.

The planner knows nothing about graphs. It takes a list of buffers, each with a
size in bytes and a lifetime: the first and last schedule step at which it holds
data (both inclusive). Two buffers *conflict* when their lifetimes share a step;
conflicting buffers must not share bytes, all others may reuse the same bytes.

The work is split into pure stages, as in TVM's USMP:

1. analysis   - ``_validate`` checks the input, ``lower_bound`` finds the peak of
                live bytes over all steps (no plan can do better than that).
2. algorithm  - a function from ``ALGORITHMS`` turns buffers into offsets.
3. check      - ``check_plan`` proves the result: no two conflicting buffers
                overlap, every offset is aligned, everything fits the arena.

Algorithms (all deterministic; ties are broken by size desc, first asc, name asc,
so the same buffers give the same plan whatever their input order):

* ``greedy_by_size`` - the TensorFlow Lite Micro idea. Take buffers largest first.
  Put each at the lowest aligned offset where it does not collide with a buffer
  already placed whose lifetime overlaps its own ("first fit"). Large buffers go
  down first because they are the hardest to fit into gaps later.
* ``greedy_by_conflicts`` - the same first-fit placement, but buffers that
  conflict with the most others go first (TVM USMP's variant); it wins on
  graphs where many small tensors stay live together.
* the orders of placement.py (``by_first_step``, ``by_last_use``, ``by_lifetime``,
  ``by_area``) - first fit in other orders, which reach the bound on DAGs where the two
  above leave holes; and ``search``, a bounded search for a placement within the bound,
  run only when no order reached it (else it gives greedy_by_size's plan).
* ``linear`` - no reuse at all: each buffer right after the previous one, in
  schedule order. A baseline; its arena is the sum of the aligned sizes.
* ``best`` (the default) - run every other algorithm and keep the smallest arena
  (ties go to the first in table order). Plans are cheap, so there is no reason
  not to; it stops at the first that reaches the bound. ``Plan.algorithm`` names the winner, so ``plan_memory(b, plan.algorithm)``
  gives the same plan again.

Sizes are rounded up to ``alignment`` when placing, so every offset and the arena
size are multiples of it. ``Plan.lower_bound`` uses the raw sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

from . import placement

__all__ = ["Buffer", "Plan", "PlanError", "ALGORITHMS", "DEFAULT_ALGORITHM",
           "lower_bound", "plan_memory", "check_plan", "format_plan"]


class PlanError(ValueError):
    """Bad planner input, or a plan that breaks the rules."""


@dataclass(frozen=True)
class Buffer:
    name: str   # unique
    size: int   # bytes, > 0
    first: int  # first step at which it holds data (produced), inclusive
    last: int   # last step at which it is read, inclusive (last >= first)

    def conflicts(self, other: "Buffer") -> bool:
        """True when the two lifetimes share at least one step."""
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Plan:
    offsets: Mapping[str, int] = field(hash=False)  # byte offset of each buffer
    arena_size: int             # bytes, multiple of alignment
    lower_bound: int            # peak of live bytes over steps (raw sizes)
    algorithm: str              # the algorithm that produced the offsets
    alignment: int = 16
    # read-only view so a frozen Plan cannot be changed behind the planner's back
    def __post_init__(self):
        object.__setattr__(self, "offsets", MappingProxyType(dict(self.offsets)))


def _align(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _validate(buffers: Iterable[Buffer]) -> tuple[Buffer, ...]:
    """Check the input once, so the algorithms can trust it. Returns a tuple."""
    buffers = tuple(buffers)
    seen: set[str] = set()
    for b in buffers:
        if not isinstance(b, Buffer):
            raise PlanError(f"expected Buffer, got {type(b).__name__}: {b!r}")
        if not isinstance(b.name, str) or not b.name:
            raise PlanError(f"buffer name must be a non-empty string, got {b.name!r}")
        if b.name in seen:
            raise PlanError(f"duplicate buffer name {b.name!r}; names must be unique")
        seen.add(b.name)
        if not _is_int(b.size) or b.size <= 0:
            raise PlanError(f"buffer {b.name!r}: size must be an integer > 0, got {b.size!r}")
        if not (_is_int(b.first) and _is_int(b.last)):
            raise PlanError(f"buffer {b.name!r}: first and last must be integers, "
                            f"got first={b.first!r} last={b.last!r}")
        if b.last < b.first:
            raise PlanError(f"buffer {b.name!r}: last must be >= first, "
                            f"got first={b.first} last={b.last}")
    return buffers


def _check_alignment(alignment) -> None:
    if not _is_int(alignment) or alignment <= 0:
        raise PlanError(f"alignment must be an integer >= 1, got {alignment!r}")


def lower_bound(buffers: Iterable[Buffer], alignment: int = 1) -> int:
    """Largest sum of sizes live at one step (sizes rounded up to `alignment`).

    No plan can use fewer bytes, because all buffers live at that step need
    disjoint bytes. A sweep over start/end events keeps this O(n log n).
    """
    _check_alignment(alignment)
    delta: dict[int, int] = {}
    for b in _validate(buffers):
        size = _align(b.size, alignment)
        delta[b.first] = delta.get(b.first, 0) + size
        delta[b.last + 1] = delta.get(b.last + 1, 0) - size  # gone after its last step
    live = peak = 0
    for step in sorted(delta):
        live += delta[step]
        peak = max(peak, live)
    return peak


# ---- algorithms: (validated buffers, alignment) -> {name: offset} ----------------

def _size_key(b: Buffer):
    return (-b.size, b.first, b.name)


def _first_fit(order: Sequence[Buffer], alignment: int) -> dict[str, int]:
    """Place buffers in the given order, each at the lowest free aligned offset."""
    placed: list[tuple[int, int, Buffer]] = []  # (offset, aligned end, buffer)
    offsets: dict[str, int] = {}
    for b in order:
        size = _align(b.size, alignment)
        # Only buffers alive at the same time block us; walk them bottom-up and
        # take the first gap that is large enough.
        blockers = sorted((off, end) for off, end, o in placed if o.conflicts(b))
        offset = 0
        for off, end in blockers:
            if offset + size <= off:
                break
            offset = max(offset, end)  # ends are aligned, so offset stays aligned
        offsets[b.name] = offset
        placed.append((offset, offset + size, b))
    return offsets


def _greedy_by_size(buffers: Sequence[Buffer], alignment: int) -> dict[str, int]:
    return _first_fit(sorted(buffers, key=_size_key), alignment)


def _greedy_by_conflicts(buffers: Sequence[Buffer], alignment: int) -> dict[str, int]:
    count = {b.name: sum(b.conflicts(o) for o in buffers if o is not b) for b in buffers}
    return _first_fit(sorted(buffers, key=lambda b: (-count[b.name],) + _size_key(b)),
                      alignment)


def _search(buffers: Sequence[Buffer], alignment: int) -> dict[str, int]:
    found = placement.search(buffers, alignment, lower_bound(buffers, alignment))
    return found if found is not None else _greedy_by_size(buffers, alignment)


def _linear(buffers: Sequence[Buffer], alignment: int) -> dict[str, int]:
    offsets, offset = {}, 0
    for b in sorted(buffers, key=lambda b: (b.first, b.name)):  # schedule order
        offsets[b.name] = offset
        offset += _align(b.size, alignment)
    return offsets


def _best(buffers: Sequence[Buffer], alignment: int) -> dict[str, int]:
    # Only for the table's sake; plan_memory handles "best" itself so that the
    # winner's name ends up in Plan.algorithm.
    return dict(_run_best(buffers, alignment)[1])


def _arena(buffers: Sequence[Buffer], offsets: Mapping[str, int], alignment: int) -> int:
    return max((offsets[b.name] + _align(b.size, alignment) for b in buffers), default=0)


def _run_best(buffers: Sequence[Buffer], alignment: int) -> tuple[str, dict[str, int]]:
    best, bound = None, lower_bound(buffers, alignment)
    for name, fn in ALGORITHMS.items():
        if fn is _best:
            continue
        offsets = fn(buffers, alignment)
        arena = _arena(buffers, offsets, alignment)
        if best is None or arena < best[0]:  # strict: ties keep table order
            best = (arena, name, offsets)
        if best[0] <= bound:                  # nothing can do better
            break
    return best[1], best[2]


# One table; "best" tries every other entry in this order.
ALGORITHMS: dict[str, Callable[[Sequence[Buffer], int], dict[str, int]]] = {
    "greedy_by_size": _greedy_by_size,
    "greedy_by_conflicts": _greedy_by_conflicts,
    **{name: (lambda order: lambda b, a: _first_fit(order(b), a))(order)
       for name, order in placement.ORDERS.items()},
    "search": _search,
    "linear": _linear,
    "best": _best,
}
DEFAULT_ALGORITHM = "best"


def plan_memory(buffers: Sequence[Buffer], algorithm: str = DEFAULT_ALGORITHM,
                alignment: int = 16) -> Plan:
    """Give every buffer an offset in one arena; the result is checked before return."""
    if algorithm not in ALGORITHMS:
        raise PlanError(f"unknown algorithm {algorithm!r}; "
                        f"choose one of: {', '.join(ALGORITHMS)}")
    _check_alignment(alignment)
    buffers = _validate(buffers)
    if algorithm == "best":
        algorithm, offsets = _run_best(buffers, alignment)
    else:
        offsets = ALGORITHMS[algorithm](buffers, alignment)
    # Store offsets in name order so equal plans print and compare the same.
    plan = Plan(offsets={k: offsets[k] for k in sorted(offsets)},
                arena_size=_arena(buffers, offsets, alignment),
                lower_bound=lower_bound(buffers), algorithm=algorithm,
                alignment=alignment)
    check_plan(buffers, plan)  # an algorithm bug must never reach generated code
    return plan


def check_plan(buffers: Sequence[Buffer], plan: Plan) -> None:
    """Raise PlanError unless `plan` is a valid placement of `buffers`."""
    buffers = _validate(buffers)
    _check_alignment(plan.alignment)
    names = {b.name for b in buffers}
    extra = sorted(set(plan.offsets) - names)
    if extra:
        raise PlanError(f"plan has offsets for unknown buffers: {', '.join(extra)}")
    for b in buffers:
        if b.name not in plan.offsets:
            raise PlanError(f"buffer {b.name!r} has no offset in the plan")
        off = plan.offsets[b.name]
        if not _is_int(off) or off < 0 or off % plan.alignment:
            raise PlanError(f"buffer {b.name!r}: offset {off!r} is not a non-negative "
                            f"multiple of the alignment {plan.alignment}")
        if off + b.size > plan.arena_size:
            raise PlanError(f"buffer {b.name!r} at [{off}, {off + b.size}) runs past "
                            f"the arena of {plan.arena_size} bytes")
    # Sort by first step so the inner loop can stop once lifetimes cannot overlap.
    by_first = sorted(buffers, key=lambda b: (b.first, b.name))
    for i, a in enumerate(by_first):
        a_off = plan.offsets[a.name]
        for b in by_first[i + 1:]:
            if b.first > a.last:
                break
            b_off = plan.offsets[b.name]
            if a_off < b_off + b.size and b_off < a_off + a.size:
                raise PlanError(
                    f"buffers {a.name!r} and {b.name!r} overlap in memory while both live: "
                    f"{a.name!r} bytes [{a_off}, {a_off + a.size}) steps {a.first}..{a.last}, "
                    f"{b.name!r} bytes [{b_off}, {b_off + b.size}) steps {b.first}..{b.last}")


def format_plan(buffers: Sequence[Buffer], plan: Plan, width: int = 64) -> str:
    """A printable picture: one row per buffer, in schedule order, with a bar
    showing which part of the arena it occupies ('#' = its bytes)."""
    buffers = _validate(buffers)
    if width < 1:
        raise PlanError(f"width must be >= 1, got {width!r}")
    head = (f"arena {plan.arena_size} bytes, lower bound {plan.lower_bound}, "
            f"algorithm {plan.algorithm}, alignment {plan.alignment}")
    rows = sorted(buffers, key=lambda b: (b.first, plan.offsets[b.name], b.name))
    name_w = max([len("name")] + [len(b.name) for b in rows])
    lines = [head, f"{'name':<{name_w}} {'offset':>8} {'size':>8} {'steps':>9}  arena"]
    arena = max(plan.arena_size, 1)
    for b in rows:
        off = plan.offsets[b.name]
        # Round both ends the same way so neighbours in memory meet, not overlap.
        lo = min(width - 1, (off * width + arena // 2) // arena)
        hi = max(lo + 1, ((off + b.size) * width + arena // 2) // arena)  # >= one '#'
        bar = "." * lo + "#" * (hi - lo) + "." * max(0, width - hi)
        lines.append(f"{b.name:<{name_w}} {off:>8} {b.size:>8} "
                     f"{f'{b.first}..{b.last}':>9}  |{bar[:width]}|")
    return "\n".join(lines)

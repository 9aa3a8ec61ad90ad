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
* ``greedy_by_schedule`` - first fit in schedule order (first step, then smaller first); it
  wins when a chain of in-place layers must fit around the tensors before it.
* ``greedy_by_lifetime`` - first fit, shortest lifetimes first (then size): kernel
  scratch goes to the bottom and a chain of in-place layers settles over it.
* ``linear`` - no reuse at all: each buffer right after the previous one, in
  schedule order. A baseline; its arena is the sum of the aligned sizes.
* ``best`` (the default) - run every other algorithm and keep the smallest arena
  (ties go to the first in table order). Plans are cheap, so there is no reason
  not to; it stops at the first that reaches the bound. ``Plan.algorithm`` names the winner, so ``plan_memory(b, plan.algorithm)``
  gives the same plan again.

Sizes are rounded up to ``alignment`` when placing, so every offset and the arena
size are multiples of it. ``Plan.lower_bound`` uses the raw sizes.

Overlaps (in-place execution, in_place.py): a ``Tie(first, second, below)`` puts buffer
``second`` (a kernel's output) at the same offset as buffer ``first`` (its input, whose last
step is the output's first); ``below``, when given, is a buffer of that step that must sit
directly under ``first`` (the kernel writes its output that many bytes lower, then the
output is moved up into place). The algorithms place tied buffers as one rigid block, so a
chain of in-place layers stays put. ``lower_bound`` counts a tied pair at its shared step
as the larger of the two (the bound of that execution model); ``Plan.live_set_bound``
keeps the classic bound, with every live buffer disjoint.

Pieces (patch-based execution, memory.py): a ``Pin(anchor, member, offset)`` puts buffer
``member`` exactly ``offset`` bytes (a multiple of the alignment, may be negative) after buffer
``anchor``. Pinned buffers are the pieces of one storage group whose bytes are live at
different steps (the rows of a patched run's input die band by band, the rows of its cut
tensor are born band by band): each piece is an ordinary buffer with its own lifetime, so
first fit puts other buffers into the bytes of dead rows and ``check_plan`` proves, as for
any two buffers, that no piece shares bytes with a buffer live at the same step. The anchor
and its pieces move as one rigid block (with the anchor's tie chain). A piece that ends at
the same step as its anchor is part of the anchor's tensor: a Tie from the anchor lets the
tie's output overlap it too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Sequence

from . import placement

__all__ = ["Buffer", "Tie", "Pin", "Plan", "PlanError", "ALGORITHMS", "DEFAULT_ALGORITHM",
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
class Tie:
    """Buffer `second` at buffer `first`'s offset; buffer `below` (optional) right under it."""
    first: str                 # the input's buffer: its last step is second's first step
    second: str                # the output's buffer
    below: str | None = None   # a buffer of that step placed directly below first


@dataclass(frozen=True)
class Pin:
    """Buffer `member` at buffer `anchor`'s offset + `offset` bytes (pieces of one group)."""
    anchor: str
    member: str
    offset: int                # bytes, a multiple of the alignment; negative: below the anchor


@dataclass(frozen=True)
class Plan:
    offsets: Mapping[str, int] = field(hash=False)  # byte offset of each buffer
    arena_size: int             # bytes, multiple of alignment
    lower_bound: int            # peak of live bytes over steps (raw sizes)
    algorithm: str              # the algorithm that produced the offsets
    alignment: int = 16
    live_set_bound: int | None = None   # classic bound (no overlaps); None: = lower_bound
    ties: tuple = ()                    # the Ties the offsets use
    pins: tuple = ()                    # the Pins the offsets use
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


def _validate_ties(buffers: Sequence[Buffer], ties) -> tuple[Tie, ...]:
    """Check the ties against the (validated) buffers: known names, the output born at the
    input's last step, `below` a buffer of that step only, each buffer tied at most once
    per side."""
    by_name = {b.name: b for b in buffers}
    ties = tuple(ties)
    firsts: set[str] = set()
    seconds: set[str] = set()
    belows: set[str] = set()
    for t in ties:
        if not isinstance(t, Tie):
            raise PlanError(f"expected Tie, got {type(t).__name__}: {t!r}")
        for name in (t.first, t.second) + ((t.below,) if t.below is not None else ()):
            if name not in by_name:
                raise PlanError(f"tie {t.first!r} -> {t.second!r} names an unknown buffer {name!r}")
        if len({t.first, t.second, t.below}) < 3:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: the buffers must differ")
        a, b = by_name[t.first], by_name[t.second]
        if a.last != b.first:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: the input's last step {a.last} is not "
                            f"the output's first step {b.first}")
        if t.below is not None:
            w = by_name[t.below]
            if (w.first, w.last) != (b.first, b.first) or t.below in belows | firsts | seconds:
                raise PlanError(f"tie {t.first!r} -> {t.second!r}: buffer {t.below!r} below it must live "
                                f"at step {b.first} only and be in no other tie")
            belows.add(t.below)
        if t.first in firsts or t.second in seconds or {t.first, t.second} & belows:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: a buffer may be the input of one tie "
                            f"and the output of one tie only")
        firsts.add(t.first)
        seconds.add(t.second)
    for t in ties:   # a chain moves one step per tie, so its members meet only two at a time
        a = by_name[t.first]
        if t.first in seconds and a.first == a.last:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: {t.first!r} is tied as an output and as an "
                            f"input at the same step {a.first}")
    return ties


def _validate_pins(buffers: Sequence[Buffer], ties: Sequence[Tie], pins, alignment: int) -> tuple[Pin, ...]:
    """Check the pins: known names, an aligned offset, each member pinned once, to an anchor
    that is pinned to nothing, and in no tie (a tie moves its buffers on its own)."""
    names = {b.name for b in buffers}
    tied = {n for t in ties for n in (t.first, t.second, t.below) if n is not None}
    pins = tuple(pins)
    members = {p.member for p in pins if isinstance(p, Pin)}
    seen: set[str] = set()
    for p in pins:
        if not isinstance(p, Pin):
            raise PlanError(f"expected Pin, got {type(p).__name__}: {p!r}")
        for name in (p.anchor, p.member):
            if name not in names:
                raise PlanError(f"pin {p.anchor!r} -> {p.member!r} names an unknown buffer {name!r}")
        if not _is_int(p.offset) or p.offset % alignment:
            raise PlanError(f"pin {p.anchor!r} -> {p.member!r}: offset {p.offset!r} is not a multiple "
                            f"of the alignment {alignment}")
        if p.member in seen or p.member == p.anchor or p.anchor in members or p.member in tied:
            raise PlanError(f"pin {p.anchor!r} -> {p.member!r}: a member is pinned once, to an anchor "
                            f"that is no member, and is in no tie")
        seen.add(p.member)
    return pins


def _same_tensor(buffers: Sequence[Buffer], pins: Sequence[Pin], anchor: str) -> list[Pin]:
    """The pins of `anchor` whose piece ends at the anchor's last step (part of its tensor)."""
    by_name = {b.name: b for b in buffers}
    return [p for p in pins if p.anchor == anchor and by_name[p.member].last == by_name[anchor].last]


def lower_bound(buffers: Iterable[Buffer], alignment: int = 1, ties: Iterable[Tie] = (),
                pins: Iterable[Pin] = ()) -> int:
    """Largest sum of sizes live at one step (sizes rounded up to `alignment`).

    No plan can use fewer bytes, because all buffers live at that step need
    disjoint bytes, except a tied pair at its shared step, which needs only the
    bytes of the larger of the two (its `below` buffer is counted as any other). A sweep over
    start/end events keeps this O(n log n).
    """
    _check_alignment(alignment)
    buffers = _validate(buffers)
    ties = _validate_ties(buffers, ties)
    delta: dict[int, int] = {}
    for b in buffers:
        size = _align(b.size, alignment)
        delta[b.first] = delta.get(b.first, 0) + size
        delta[b.last + 1] = delta.get(b.last + 1, 0) - size  # gone after its last step
    by_name = {b.name: b for b in buffers}
    pins = tuple(pins)
    for t in ties:   # the pair shares bytes at the step: count the larger one only
        a, b = by_name[t.first], by_name[t.second]
        first = _align(a.size, alignment) + sum(_align(by_name[p.member].size, alignment)
                                                for p in _same_tensor(buffers, pins, t.first))
        saved = min(first, _align(b.size, alignment))
        delta[a.last] = delta.get(a.last, 0) - saved
        delta[a.last + 1] = delta.get(a.last + 1, 0) + saved
    live = peak = 0
    for step in sorted(delta):
        live += delta[step]
        peak = max(peak, live)
    return peak


# ---- algorithms: (validated items, alignment) -> {name: offset} ------------------
# An item is a tuple of (buffer, offset relative to the item's base): one buffer, or a
# chain of tied buffers placed as one rigid block.

Item = tuple  # tuple[tuple[Buffer, int], ...]


def _items(buffers: Sequence[Buffer], ties: Sequence[Tie], alignment: int, pins: Sequence[Pin] = ()) -> list[Item]:
    by_name = {b.name: b for b in buffers}
    nxt = {t.first: t for t in ties}
    tied = {t.second for t in ties} | {t.below for t in ties if t.below is not None} | {p.member for p in pins}
    pinned: dict[str, list[Pin]] = {}
    for p in pins:
        pinned.setdefault(p.anchor, []).append(p)
    items, covered = [], 0
    for b in buffers:
        if b.name in tied:
            continue        # placed with the chain that starts at its first input
        members, cur = [(b, 0)], b.name
        while cur in nxt:
            t = nxt[cur]
            members.append((by_name[t.second], 0))
            if t.below is not None:
                members.append((by_name[t.below], -_align(by_name[t.below].size, alignment)))
            cur = t.second
        members += [(by_name[p.member], r + p.offset) for m, r in list(members) for p in pinned.get(m.name, ())]
        low = min(r for _, r in members)
        items.append(tuple((m, r - low) for m, r in members))
        covered += len(members)
    if covered != len(buffers):
        raise PlanError("ties form a cycle")
    return items


def _as_items(xs) -> list[Item]:
    """The algorithms take items; plain Buffers (ALGORITHMS called directly) are singletons."""
    return [((x, 0),) if isinstance(x, Buffer) else x for x in xs]


def _footprint(item: Item) -> int:
    return max(r + m.size for m, r in item)


def _item_key(item: Item):
    return (-_footprint(item), min(m.first for m, _ in item), item[0][0].name)


def _first_fit(order: Sequence[Item], alignment: int) -> dict[str, int]:
    """Place items in the given order, each at the lowest free aligned offset."""
    order = _as_items(order)
    placed: list[tuple[int, int, Buffer]] = []  # (offset, aligned end, buffer)
    offsets: dict[str, int] = {}
    for item in order:
        if len(item) == 1:
            b = item[0][0]
            size = _align(b.size, alignment)
            # Only buffers alive at the same time block us; walk them bottom-up and
            # take the first gap that is large enough.
            blockers = sorted((off, end) for off, end, o in placed if o.conflicts(b))
            base = 0
            for off, end in blockers:
                if base + size <= off:
                    break
                base = max(base, end)  # ends are aligned, so base stays aligned
        else:
            # A chain: the lowest base where no member collides; it is 0 or a placed
            # blocker's end seen from one member.
            members = []
            candidates = {0}
            for m, r in item:
                blockers = [(off, end) for off, end, o in placed if o.conflicts(m)]
                members.append((r, _align(m.size, alignment), blockers))
                candidates.update(end - r for _, end in blockers if end > r)
            for base in sorted(candidates):
                if all(not (base + r < end and off < base + r + size)
                       for r, size, blockers in members for off, end in blockers):
                    break
        for m, r in item:
            offsets[m.name] = base + r
            placed.append((base + r, base + r + _align(m.size, alignment), m))
    return offsets


def _greedy_by_size(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    return _first_fit(sorted(items, key=_item_key), alignment)


def _greedy_by_conflicts(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    def count(item):
        own = {m.name for m, _ in item}
        return sum(any(o.conflicts(m) for m, _ in item)
                   for other in items for o, _ in other if o.name not in own)
    counts = {item[0][0].name: count(item) for item in items}
    return _first_fit(sorted(items, key=lambda it: (-counts[it[0][0].name],) + _item_key(it)),
                      alignment)


def _search(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    if any(len(item) > 1 for item in items):    # the search places single buffers only
        return _greedy_by_size(items, alignment)
    buffers = [item[0][0] for item in items]
    found = placement.search(buffers, alignment, lower_bound(buffers, alignment))
    return found if found is not None else _greedy_by_size(items, alignment)


def _ordered(order):
    """A placement.ORDERS order on items: each item ordered as one buffer spanning its bytes and
    its steps, then placed by first fit."""
    def place(items: Sequence[Item], alignment: int) -> dict[str, int]:
        items = _as_items(items)
        by_name = {item[0][0].name: item for item in items}
        spans = [Buffer(name, _footprint(item), min(m.first for m, _ in item), max(m.last for m, _ in item))
                 for name, item in by_name.items()]
        return _first_fit([by_name[b.name] for b in order(spans)], alignment)
    return place


def _greedy_by_schedule(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    return _first_fit(sorted(items, key=lambda it: (min(m.first for m, _ in it), _footprint(it),
                                                    it[0][0].name)), alignment)


def _greedy_by_lifetime(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    def span(it):
        return max(m.last for m, _ in it) - min(m.first for m, _ in it)
    return _first_fit(sorted(items, key=lambda it: (span(it),) + _item_key(it)), alignment)


def _linear(items: Sequence[Item], alignment: int) -> dict[str, int]:
    items = _as_items(items)
    offsets, offset = {}, 0
    # schedule order
    for item in sorted(items, key=lambda it: (min(m.first for m, _ in it), it[0][0].name)):
        for m, r in item:
            offsets[m.name] = offset + r
        offset += max(r + _align(m.size, alignment) for m, r in item)
    return offsets


def _best(items: Sequence[Item], alignment: int) -> dict[str, int]:
    # Only for the table's sake; plan_memory handles "best" itself so that the
    # winner's name ends up in Plan.algorithm.
    return dict(_run_best(items, alignment)[1])


def _arena(buffers: Sequence[Buffer], offsets: Mapping[str, int], alignment: int) -> int:
    return max((offsets[b.name] + _align(b.size, alignment) for b in buffers), default=0)


def _run_best(items: Sequence[Item], alignment: int, bound: int | None = None) -> tuple[str, dict[str, int]]:
    items = _as_items(items)
    buffers = [m for item in items for m, _ in item]
    best = None
    bound = lower_bound(buffers, alignment) if bound is None else bound
    for name, fn in ALGORITHMS.items():
        if fn is _best:
            continue
        offsets = fn(items, alignment)
        arena = _arena(buffers, offsets, alignment)
        if best is None or arena < best[0]:  # strict: ties keep table order
            best = (arena, name, offsets)
        if best[0] <= bound:                  # nothing can do better
            break
    return best[1], best[2]


# One table; "best" tries every other entry in this order.
ALGORITHMS: dict[str, Callable[[Sequence[Item], int], dict[str, int]]] = {
    "greedy_by_size": _greedy_by_size,
    "greedy_by_conflicts": _greedy_by_conflicts,
    **{name: _ordered(order) for name, order in placement.ORDERS.items()},
    "search": _search,
    "linear": _linear,
    "greedy_by_schedule": _greedy_by_schedule,
    "greedy_by_lifetime": _greedy_by_lifetime,
    "best": _best,
}
DEFAULT_ALGORITHM = "best"


def plan_memory(buffers: Sequence[Buffer], algorithm: str = DEFAULT_ALGORITHM,
                alignment: int = 16, ties: Sequence[Tie] = (), pins: Sequence[Pin] = ()) -> Plan:
    """Give every buffer an offset in one arena; the result is checked before return.
    ties: the overlaps the kernels allow (see Tie); tied buffers are placed as one block.
    pins: the pieces of a group (see Pin), placed with their anchor as one block."""
    if algorithm not in ALGORITHMS:
        raise PlanError(f"unknown algorithm {algorithm!r}; "
                        f"choose one of: {', '.join(ALGORITHMS)}")
    _check_alignment(alignment)
    buffers = _validate(buffers)
    ties = _validate_ties(buffers, ties)
    pins = _validate_pins(buffers, ties, pins, alignment)
    items = _items(buffers, ties, alignment, pins)
    if algorithm == "best":
        algorithm, offsets = _run_best(items, alignment, lower_bound(buffers, alignment, ties, pins))
    else:
        offsets = ALGORITHMS[algorithm](items, alignment)
    # Store offsets in name order so equal plans print and compare the same.
    plan = Plan(offsets={k: offsets[k] for k in sorted(offsets)},
                arena_size=_arena(buffers, offsets, alignment),
                lower_bound=lower_bound(buffers, ties=ties, pins=pins), algorithm=algorithm,
                alignment=alignment, live_set_bound=lower_bound(buffers),
                ties=tuple(sorted(ties, key=lambda t: (t.first, t.second))),
                pins=tuple(sorted(pins, key=lambda p: (p.anchor, p.member))))
    check_plan(buffers, plan)  # an algorithm bug must never reach generated code
    return plan


def check_plan(buffers: Sequence[Buffer], plan: Plan) -> None:
    """Raise PlanError unless `plan` is a valid placement of `buffers`: live buffers are
    disjoint, except a pair tied in plan.ties, which must be at the same offset with its
    `below` buffer right under it, and a piece pinned to a tie's input that ends at the same
    step (part of that tensor); pinned pieces must sit at their anchor's offset + the pin's."""
    buffers = _validate(buffers)
    ties = _validate_ties(buffers, plan.ties)
    pins = _validate_pins(buffers, ties, plan.pins, plan.alignment)
    allowed = {frozenset((t.first, t.second)) for t in ties}
    sizes = {b.name: b.size for b in buffers}
    for p in pins:
        if p.anchor not in plan.offsets or plan.offsets.get(p.member) != plan.offsets[p.anchor] + p.offset:
            raise PlanError(f"pin {p.anchor!r} -> {p.member!r}: the piece is not {p.offset} bytes after its anchor")
    allowed |= {frozenset((p.member, t.second)) for t in ties for p in _same_tensor(buffers, pins, t.first)}
    for t in ties:
        off = plan.offsets.get(t.first)
        if off is None or plan.offsets.get(t.second) != off:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: the output is not at the input's offset")
        if t.below is not None and plan.offsets.get(t.below, -1) + _align(sizes[t.below], plan.alignment) != off:
            raise PlanError(f"tie {t.first!r} -> {t.second!r}: buffer {t.below!r} is not right below it")
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
                if frozenset((a.name, b.name)) in allowed:
                    continue   # a tied pair: at the same offset (checked above)
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
    if plan.ties:
        head += f", live-set bound {plan.live_set_bound}, {len(plan.ties)} in place"
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

"""Where every tensor lives: the analysis half of memory planning.

Storage kinds: a constant is a weight array in flash; every other tensor belongs
to an arena buffer, graph inputs and outputs included (as in TFLM, so the arena is
the whole RAM the model needs: the caller fills the input in place, or the invoke
wrapper copies it in). Reshapes are zero-copy: a reshape's output shares its
input's storage (an alias group), and so does a slice whose bytes are one contiguous
run of its input's (at a byte offset inside the group's buffer), except where that
would make one buffer serve two interface tensors (an output that is a reshaped input
or another output): that node becomes a copy. Each arena buffer lives from the first step that writes any
member of its group to the last step that reads one; an input's buffer lives from
the start, an output's to the end; a kernel's scratch memory lives for its own
step. planner.py then places the buffers.

In place (in_place.py, on by default): a kernel that allows its output to overlap an input
(in_place.IN_PLACE) gets a planner.Tie: the output's buffer at the input's offset, when
that input's buffer is read for the last time by this layer and is no graph output, both
tensors start their buffers, and no other input of the layer shares the input's buffer.
An overlap of delta > 0 bytes (the output must start delta bytes before the input) adds a
buffer "<node>#shift" of delta bytes (aligned) right below the input, for the step: the
kernel writes its output there, delta bytes low, and the generated code then moves it up
into place (fn_move_up; MemoryPlan.shifts), so a chain of in-place layers does not drift
down the arena. The plan with the ties is kept only when its arena is smaller.

Concat views (concat_views.py): a Concat lowered as an Alias (an elided one, or the join of
a patched run) makes each input a view of its output's buffer at the input's slice (its
producer writes there), strided for a channel slice of an NHWC tensor (Storage.strided); its
buffer lives from the first producer's write.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import Graph
from .lowering import Alias, KernelCall
from .concat_views import slice_offsets
from .in_place import overlap_of
from .planner import Buffer, Pin, Plan, Tie, plan_memory

IN_PLACE_CHOICES = ("on", "off")


@dataclass(frozen=True)
class Storage:
    kind: str        # "const" | "arena"
    key: str         # constant name, or arena buffer name
    offset: int = 0  # bytes into the arena buffer (a view of part of it)
    strided: bool = False   # a view whose rows lie apart in the buffer (a Concat's channel slice)


@dataclass(frozen=True)
class MemoryPlan:
    storage: dict            # tensor name → Storage ("const" or "arena")
    copies: frozenset        # names of reshape nodes that must copy bytes
    buffers: tuple           # planner Buffers (arena groups and scratch)
    plan: Plan
    scratch: dict            # node name → arena buffer name of its scratch
    shifts: dict = None      # node name → bytes its kernel writes the output below its place
                             # (then moved up), for the layers that run in place
    in_place: str = "on"     # the mode analyse ran with

    @property
    def arena_size(self) -> int:
        return self.plan.arena_size

    def offset(self, tensor: str) -> int:
        s = self.storage[tensor]
        return self.plan.offsets[s.key] + s.offset


def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def analyse(graph: Graph, lowered: dict, algorithm: str = "best", in_place: str = "on",
            joins: dict | None = None) -> MemoryPlan:
    """lowered maps node name → KernelCall or Alias; in_place: "on" lets kernels write over
    their inputs where in_place.py allows it, "off" keeps every live tensor apart. joins:
    names of Concat nodes (patches.py, lowered as Alias) whose inputs are views of their
    output's bytes, one after the other: the producers write straight into place), each
    with (source tensor, max shift) (patches.PatchPlan): the output may share the source's bytes."""
    joins = joins or {}
    if in_place not in IN_PLACE_CHOICES:
        raise ValueError(f"unknown in-place mode {in_place!r} (modes: {', '.join(IN_PLACE_CHOICES)})")
    interface = set(graph.inputs) | set(graph.outputs)
    parent = {name: name for name in graph.types}
    group_has_interface = {name: name in interface for name in graph.types}
    copies = set()
    within = {}   # tensor → byte offset inside its group's buffer (views); the root is at 0
    strided = set()   # views whose rows are apart (concat_views.py)
    viewed = set()    # inputs of elided Concats (concat_views.py): their producers get no tie
    for node in graph.nodes:
        call = lowered[node.name]
        if not isinstance(call, Alias):
            continue
        if node.name in joins or node.op == "concat":
            # each input: a fresh tensor (its own group), written once, at its slice's offset
            root = _find(parent, node.outputs[0])
            offsets, is_strided = slice_offsets(graph, node)
            for t, at in zip(node.inputs, offsets):
                parent[_find(parent, t)] = root
                within[t] = within.get(node.outputs[0], 0) + at
                if is_strided:
                    strided.add(t)
                if node.name not in joins:
                    viewed.add(t)
            if node.name in joins:
                _overlap_source(graph, parent, within, group_has_interface, node, joins[node.name], interface)
            continue
        a, b = _find(parent, node.inputs[0]), _find(parent, node.outputs[0])
        if (group_has_interface[a] and group_has_interface[b]) or node.inputs[0] in graph.constants:
            copies.add(node.name)
            continue
        # b is the output's own group (each tensor is written once, before anyone reads it)
        parent[b] = a
        within[node.outputs[0]] = within.get(node.inputs[0], 0) + call.offset
        group_has_interface[a] = group_has_interface[a] or group_has_interface[b]

    storage = {}
    for name in graph.types:
        root = _find(parent, name)
        storage[name] = Storage("const", name) if name in graph.constants else \
            Storage("arena", root, within.get(name, 0), name in strided)
    pieces = {}   # group key → its pieces (rows_pieces), for the groups of patched runs
    for join in joins:
        node = next(n for n in graph.nodes if n.name == join)
        key = storage[node.outputs[0]].key
        if key not in pieces and not any(st.strided for st in storage.values() if st.kind == "arena" and st.key == key):
            parts, shift = rows_pieces(graph, lowered, storage, copies, key, node.outputs[0])
            if parts is None:
                continue
            pieces[key] = parts
            for name, st in storage.items():   # offsets from the anchor piece (the cut's first bytes)
                if st.kind == "arena" and st.key == key:
                    storage[name] = Storage("arena", key, st.offset - shift, st.strided)

    first, last = {}, {}
    for step, node in enumerate(graph.nodes):
        for t in node.outputs:
            s = storage[t]
            if s.kind == "arena":
                first.setdefault(s.key, step)
                last[s.key] = max(last.get(s.key, step), step)
        for t in node.inputs:
            if t and storage[t].kind == "arena":
                last[storage[t].key] = step
    for name in graph.inputs:             # written before the first step
        if storage[name].kind == "arena":
            first[storage[name].key] = 0
            last.setdefault(storage[name].key, 0)
    for name in graph.outputs:            # read after the last step
        last[storage[name].key] = max(len(graph.nodes) - 1, 0)
    sizes = {}
    for name, s in storage.items():
        if s.kind == "arena":
            sizes[s.key] = max(sizes.get(s.key, 0), s.offset + graph.types[name].nbytes)
    buffers = [Buffer(key, sizes[key], first[key], last[key]) for key in first if sizes[key] > 0
               and key not in pieces]
    pins = []
    for key, parts in pieces.items():
        for name, rel, size, lo, hi in parts:
            buffers.append(Buffer(name, size, lo, hi))
            if name != key:
                pins.append(Pin(key, name, rel))
    scratch = {}
    for step, node in enumerate(graph.nodes):
        call = lowered[node.name]
        if isinstance(call, KernelCall) and call.scratch_bytes:
            key = f"{node.name}#scratch"
            scratch[node.name] = key
            buffers.append(Buffer(key, call.scratch_bytes, step, step))
    plan = plan_memory(buffers, algorithm, pins=pins)
    shifts = {}
    if in_place == "on":
        ties, below = _ties(graph, lowered, storage, first, last, plan.alignment, viewed)
        # the ties of the band layers of patched runs may cost more than they save: their
        # shift buffers sit under small band tensors that could share the rows of dead input
        bands = _band_steps(graph, joins)
        variants = [(ties, below)]
        if any(bands[0] <= first[t.second] <= bands[1] for t in ties if bands):
            kept = [t for t in ties if not bands[0] <= first[t.second] <= bands[1]]
            variants.append((kept, {n: b for n, b in below.items() if b.name in {t.below for t in kept}}))
        plain, won, model_bound = buffers, False, None
        for ties, below in variants:
            if not ties:
                continue
            tied_buffers = plain + list(below.values())
            tied = plan_memory(tied_buffers, algorithm, ties=ties, pins=pins)
            model_bound = tied.lower_bound if model_bound is None else model_bound
            if tied.arena_size < plan.arena_size:
                plan = Plan(tied.offsets, tied.arena_size, tied.lower_bound, tied.algorithm,
                            tied.alignment, plan.live_set_bound, tied.ties, tied.pins)
                buffers, won = tied_buffers, True
                shifts = {node: b.size for node, b in below.items()}
        if not won and model_bound is not None:
            # the same arena without overlaps: keep the plain plan, report the model's bound
            plan = Plan(plan.offsets, plan.arena_size, model_bound, plan.algorithm,
                        plan.alignment, plan.live_set_bound, (), plan.pins)
    return MemoryPlan(storage, frozenset(copies), tuple(buffers), plan, scratch, shifts, in_place)


def _overlap_source(graph, parent, within, group_has_interface, join, source, interface) -> None:
    """Put the cut tensor of a patched run (join's output) in the bytes of the run's source
    tensor, when patches.overlap_shift allows it: the cut starts `shift` bytes after the
    source (aligned down to 16, which keeps it safe), shift <= max_shift. Only when the
    source is a group of its own (no view of it, no other reader: the bands read it last)
    and no graph output."""
    x, max_shift = source
    if max_shift is None or not x or x in graph.outputs:
        return
    xr, yr = _find(parent, x), _find(parent, join.outputs[0])
    readers = [n for n in graph.nodes if x in n.inputs]
    views = {t for n in readers for t in n.outputs}
    members = {t for t in graph.types if _find(parent, t) == xr}
    if xr != x or within.get(x, 0) or any(n.op != "slice" for n in readers) or members - views - {x} \
            or group_has_interface[yr]:
        return
    shift = min(max_shift, 0) // 16 * 16
    keep, move, by = (xr, yr, shift) if shift >= 0 else (yr, xr, -shift)
    for t in list(parent):
        if _find(parent, t) == move:
            within[t] = within.get(t, 0) + by
    parent[move] = keep
    group_has_interface[keep] = group_has_interface[xr] or group_has_interface[yr]


def rows_pieces(graph: Graph, lowered: dict, storage: dict, copies, key: str, anchor_tensor: str,
                alignment: int = 16):
    """The pieces of arena group `key` (a patched run's source and cut tensor, memory.analyse
    joins): ([(name, offset from the anchor, size, first step, last step)], the anchor's offset
    in the group). The anchor piece, named `key`, starts at `anchor_tensor`'s first byte and
    lives to the group's last step; the others are pinned to it (planner.Pin). (None, 0) when
    no piece can be that anchor: the group stays one buffer.

    Why the bytes of a piece are free outside its steps: every byte of the group is followed
    through the steps that touch it. A kernel step reads the bytes of its inputs and writes
    those of its outputs (a view, Alias, touches none; a copy does); a graph input is written
    before step 0 and a graph output read after the last. A byte holds data from a write to
    the last read before the next write: one live interval; between intervals (after the
    last read of a source row, before the band that writes a cut row there) nothing will
    read it before it is written again, so any other buffer may use it. Bytes are taken in
    aligned blocks (a block is live when any of its bytes is: a write of part of a block starts
    no new interval, it extends the current one) and neighbouring blocks with
    the same intervals form one piece per interval. planner.check_plan then proves that no
    buffer live at a piece's steps shares its bytes."""
    members = {t for t, s in storage.items() if s.kind == "arena" and s.key == key}
    events = []    # (lo, hi, step, is_write)
    for t in members & set(graph.inputs):
        events.append((storage[t].offset, storage[t].offset + graph.types[t].nbytes, 0, True))
    n_steps = len(graph.nodes)
    for t in members & set(graph.outputs):
        events.append((storage[t].offset, storage[t].offset + graph.types[t].nbytes, max(n_steps - 1, 0), False))
    for step, node in enumerate(graph.nodes):
        if isinstance(lowered[node.name], Alias) and node.name not in copies:
            continue
        for t in node.inputs:
            if t in members:
                events.append((storage[t].offset, storage[t].offset + graph.types[t].nbytes, step, False))
        for t in node.outputs:
            if t in members:
                events.append((storage[t].offset, storage[t].offset + graph.types[t].nbytes, step, True))
    size = max(hi for _, hi, _, _ in events)
    blocks = -(-size // alignment)
    per_block = [[] for _ in range(blocks)]
    for lo, hi, step, w in events:
        for b in range(lo // alignment, -(-hi // alignment)):
            whole = lo <= b * alignment and (b + 1) * alignment <= hi
            per_block[b].append((step, not w, w and whole))   # at one step: reads before writes
    lives = []
    for ev in per_block:
        intervals = []
        for step, _, w in sorted(ev):
            # a write of the whole block starts a new value (unless read at this very step); a
            # write of part of it keeps the rest alive: it extends the block's interval
            if w and not (intervals and intervals[-1][1] == step):
                intervals.append([step, step])
            elif intervals:
                intervals[-1][1] = step
            else:                                 # read before any write: live from step 0
                intervals.append([0, step])
        lives.append(tuple(map(tuple, intervals)))
    anchor_at = storage[anchor_tensor].offset
    if anchor_at % alignment:
        raise ValueError(f"group {key!r}: tensor {anchor_tensor!r} at an unaligned offset {anchor_at}")
    parts, b = [], 0
    while b < blocks:
        e = b
        while e + 1 < blocks and lives[e + 1] == lives[b]:
            e += 1
        for lo, hi in lives[b]:
            parts.append([b * alignment - anchor_at, (e + 1 - b) * alignment, lo, hi])
        b = e + 1
    anchor = max(range(len(parts)), key=lambda i: (parts[i][0] == 0, parts[i][3]))
    if parts[anchor][0] != 0 or parts[anchor][3] != max(p[3] for p in parts):
        return None, 0   # the anchor must hold the tensor's first bytes to its group's last step
    return [(key if i == anchor else f"{key}#rows{i}", *part) for i, part in enumerate(parts)], anchor_at


def _band_steps(graph: Graph, joins: dict):
    """(first, last) step of the band layers of the patched runs (from the first Slice of a
    join's source to the last join), or None."""
    if not joins:
        return None
    sources = {source for source, _ in joins.values()}
    steps = [i for i, n in enumerate(graph.nodes) if n.name in joins or
             (n.op == "slice" and n.inputs and n.inputs[0] in sources)]
    return (min(steps), max(steps)) if steps else None


def _ties(graph: Graph, lowered: dict, storage: dict, first: dict, last: dict, alignment: int,
          viewed=frozenset()):
    """The planner.Ties of the layers whose kernel may write over an input (in_place.py), and
    {node name: its shift Buffer} for those with delta > 0. A layer that writes a slice of an
    elided Concat's output (viewed) gets none: the tie would place the whole output over its
    input (safe while it is the first writer, but no test model keeps such a plan, so it stays
    out until one does)."""
    outputs = {storage[t].key for t in graph.outputs if storage[t].kind == "arena"}
    ties, below = [], {}
    for step, node in enumerate(graph.nodes):
        call = lowered[node.name]
        if not isinstance(call, KernelCall) or len(node.outputs) != 1:
            continue
        overlap = overlap_of(node, graph, call.function)
        if overlap is None:
            continue
        x, y = storage[node.inputs[overlap.input]], storage[node.outputs[0]]
        if x.kind != "arena" or y.kind != "arena" or x.offset or y.offset or x.key == y.key \
                or x.strided or y.strided or node.outputs[0] in viewed:
            continue
        if last.get(x.key) != step or first.get(y.key) != step or x.key in outputs:
            continue
        others = [t for i, t in enumerate(node.inputs) if t and i != overlap.input]
        if any(storage[t].kind == "arena" and storage[t].key == x.key for t in others):
            continue
        step_bytes = math.lcm(alignment, overlap.multiple)
        size = -(-overlap.delta // step_bytes) * step_bytes
        if size >= min(graph.types[node.inputs[overlap.input]].nbytes, graph.types[node.outputs[0]].nbytes):
            continue    # the shift would take as many bytes as the overlap saves
        shift = None
        if overlap.delta:
            shift = Buffer(f"{node.name}#shift", size, step, step)
            below[node.name] = shift
        ties.append(Tie(x.key, y.key, shift.name if shift else None))
    return ties, below

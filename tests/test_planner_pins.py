"""planner.Pin: the pieces of one storage group (a patched run's rows), each with its own
lifetime, placed as one block; check_plan proves that no live buffer shares a piece's bytes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from firmnet.planner import Buffer, Pin, PlanError, Plan, Tie, check_plan, lower_bound, plan_memory


def rows(n_rows=4, row=32):
    """A source of n rows dying one per step (row r read last at step r) and nothing else."""
    anchor = Buffer("g", row, 0, 0)
    pieces = [Buffer(f"g#{r}", row, 0, r) for r in range(1, n_rows)]
    return [anchor] + pieces, [Pin("g", p.name, (r + 1) * row) for r, p in enumerate(pieces)]


def test_a_short_buffer_goes_into_dead_rows():
    buffers, pins = rows()
    late = Buffer("late", 64, 2, 3)      # rows 0 and 1 are dead from step 2 on
    plan = plan_memory(buffers + [late], "greedy_by_size", pins=pins)
    assert plan.arena_size == 128 and plan.offsets["late"] == plan.offsets["g"]
    assert lower_bound(buffers + [late]) == 128


def test_check_plan_refuses_a_buffer_over_a_live_piece():
    buffers, pins = rows()
    late = Buffer("late", 64, 1, 3)      # row 1 is still live at step 1
    offsets = {"g": 0, "g#1": 32, "g#2": 64, "g#3": 96, "late": 0}
    with pytest.raises(PlanError, match="overlap in memory while both live"):
        check_plan(buffers + [late], Plan(offsets, 128, 0, "x", 16, None, (), tuple(pins)))


def test_check_plan_refuses_a_piece_away_from_its_anchor():
    buffers, pins = rows()
    offsets = {"g": 0, "g#1": 48, "g#2": 64, "g#3": 96}
    with pytest.raises(PlanError, match="not 32 bytes after its anchor"):
        check_plan(buffers, Plan(offsets, 128, 0, "x", 16, None, (), tuple(pins)))


@pytest.mark.parametrize("pin,message", [(Pin("g", "g#1", 8), "multiple of the alignment"),
                                         (Pin("g", "nope", 16), "unknown buffer"),
                                         (Pin("g#1", "g#2", 16), "pinned once")])
def test_bad_pins(pin, message):
    buffers, pins = rows()
    with pytest.raises(PlanError, match=message):
        plan_memory(buffers, pins=[p for p in pins if p.member != pin.member] + [pin])


def test_a_tie_from_the_anchor_covers_its_pieces_of_the_same_step():
    """The cut tensor as pieces (anchor + one piece, both read last at step 2) and a layer at
    step 2 writing its output over all of it: allowed; a piece that ends earlier is not part of
    the tensor, and the output may not overlap it while it lives."""
    anchor, piece = Buffer("cut", 32, 1, 2), Buffer("cut#1", 32, 1, 2)
    out = Buffer("y", 64, 2, 3)
    plan = plan_memory([anchor, piece, out], "greedy_by_size", ties=[Tie("cut", "y")], pins=[Pin("cut", "cut#1", 32)])
    assert plan.arena_size == 64 and plan.offsets["y"] == plan.offsets["cut"]
    early = Buffer("cut#1", 32, 1, 1)
    bad = Plan({"cut": 0, "cut#1": 32, "y": 0}, 64, 0, "x", 16, None, (Tie("cut", "y"),), (Pin("cut", "cut#1", 32),))
    check_plan([anchor, early, out], bad)      # a piece dead before step 2 does not meet y
    wide = Buffer("z", 64, 1, 3)
    with pytest.raises(PlanError):
        check_plan([anchor, piece, wide], Plan({"cut": 0, "cut#1": 32, "z": 0}, 64, 0, "x", 16, None, (),
                                               (Pin("cut", "cut#1", 32),)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(1, 80), st.integers(0, 6), st.integers(0, 3)), max_size=8),
       st.sampled_from(["best", "greedy_by_size", "by_first_step", "greedy_by_lifetime"]))
def test_every_plan_with_pieces_passes_its_own_check(pieces, others, algorithm):
    """Random pieces (rows of 16 bytes, a lifetime each) pinned in a row, random other buffers:
    every algorithm's plan keeps the pins, and a brute-force check over every step and byte
    finds no two live buffers on one byte."""
    buffers, pins, at = [], [], 0
    for i, (n, first, span) in enumerate(pieces):
        name = "a" if i == 0 else f"a#{i}"
        buffers.append(Buffer(name, 16 * n, first, first + span))
        if i:
            pins.append(Pin("a", name, at))
        at += 16 * n
    buffers += [Buffer(f"b{i}", size, first, first + span) for i, (size, first, span) in enumerate(others)]
    plan = plan_memory(buffers, algorithm, pins=pins)
    for p in pins:
        assert plan.offsets[p.member] == plan.offsets["a"] + p.offset
    for step in range(10):
        owner = {}
        for b in buffers:
            if b.first <= step <= b.last:
                for byte in range(plan.offsets[b.name], plan.offsets[b.name] + b.size):
                    assert byte not in owner, (step, byte, owner.get(byte), b.name)
                    owner[byte] = b.name
        assert all(byte < plan.arena_size for byte in owner)

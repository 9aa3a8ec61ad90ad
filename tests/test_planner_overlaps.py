"""The planner's overlaps (planner.Tie): a kernel's output at its input's offset, with an
optional `below` buffer (the bytes the kernel writes the output below its place) right under
it. Ties are checked, placed as one rigid block, proven by check_plan, and counted by
lower_bound as the larger of the pair (the bound of the in-place execution model)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.planner import ALGORITHMS, Buffer, Plan, PlanError, Tie, check_plan, format_plan, lower_bound, plan_memory


def kws_like():
    """A 496-byte input, a first layer's 8,000-byte output, then four in-place layers, each
    writing 384 or 256 bytes low (a shift buffer for its step)."""
    bufs = [Buffer("in", 490, 0, 0), Buffer("t0", 8000, 0, 1)]
    ties = []
    for step in range(1, 5):
        shift = 384 if step % 2 else 256
        bufs += [Buffer(f"t{step}", 8000, step, step + 1), Buffer(f"s{step}", shift, step, step)]
        ties.append(Tie(f"t{step - 1}", f"t{step}", f"s{step}"))
    bufs.append(Buffer("y", 12, 5, 5))
    return bufs, ties


def test_chain_reaches_its_bound():
    bufs, ties = kws_like()
    plan = plan_memory(bufs, ties=ties)
    assert plan.live_set_bound == 16000 + 384      # without ties: the shift buffers apart too
    assert plan.lower_bound == 8000 + 490          # the first layer's input beside its output
    assert plan.arena_size == 8000 + 496           # the bound, 16-aligned
    for t in ties:
        assert plan.offsets[t.first] == plan.offsets[t.second]
        assert plan.offsets[t.below] + {"s1": 384, "s3": 384}.get(t.below, 256) == plan.offsets[t.first]
    assert plan.ties == tuple(sorted(ties, key=lambda t: (t.first, t.second)))
    assert "live-set bound 16384, 4 in place" in format_plan(bufs, plan)


def test_without_ties_the_classic_plan():
    bufs, _ = kws_like()
    plan = plan_memory(bufs)
    assert plan.lower_bound == plan.live_set_bound == 16000 + 384
    assert not plan.ties


def test_lower_bound_counts_a_pair_once():
    a, b = Buffer("a", 100, 0, 1), Buffer("b", 60, 1, 2)
    assert lower_bound([a, b]) == 160
    assert lower_bound([a, b], ties=[Tie("a", "b")]) == 100
    w = Buffer("w", 16, 1, 1)
    assert lower_bound([a, b, w], ties=[Tie("a", "b", "w")]) == 116


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a != "best"])
def test_every_algorithm_keeps_ties(algorithm):
    bufs, ties = kws_like()
    plan = plan_memory(bufs, algorithm, ties=ties)    # check_plan ran inside
    assert plan.algorithm == algorithm
    assert all(plan.offsets[t.first] == plan.offsets[t.second] for t in ties)


@pytest.mark.parametrize("ties,message", [
    ([Tie("a", "zz")], "unknown buffer 'zz'"),
    ([Tie("a", "a")], "must differ"),
    ([Tie("a", "c")], "input's last step 1 is not the output's first step 3"),
    ([Tie("a", "b", "c")], "must live at step 1 only"),
    ([Tie("a", "b"), Tie("a", "b")], "the output of one tie only"),
    ([Tie("a", "d"), Tie("d", "e")], "tied as an output and as an input at the same step 1"),
    (["a"], "expected Tie"),
])
def test_bad_ties_are_refused(ties, message):
    bufs = [Buffer("a", 32, 0, 1), Buffer("b", 32, 1, 2), Buffer("c", 16, 3, 3), Buffer("d", 8, 1, 1),
            Buffer("e", 8, 1, 2)]
    with pytest.raises(PlanError, match=message):
        plan_memory(bufs, ties=ties)


def test_check_plan_rejects_a_tied_pair_apart_or_a_misplaced_shift():
    bufs = [Buffer("a", 32, 0, 1), Buffer("b", 32, 1, 2), Buffer("w", 16, 1, 1)]
    tie = Tie("a", "b", "w")
    check_plan(bufs, Plan({"w": 0, "a": 16, "b": 16}, 48, 48, "x", 16, 80, (tie,)))
    with pytest.raises(PlanError, match="not at the input's offset"):
        check_plan(bufs, Plan({"w": 0, "a": 16, "b": 48}, 80, 48, "x", 16, 80, (tie,)))
    with pytest.raises(PlanError, match="is not right below it"):
        check_plan(bufs, Plan({"w": 48, "a": 16, "b": 16}, 64, 48, "x", 16, 80, (tie,)))
    with pytest.raises(PlanError, match="overlap in memory"):     # the same bytes without the tie
        check_plan(bufs, Plan({"w": 0, "a": 16, "b": 16}, 48, 48, "x", 16, 80, ()))


@st.composite
def chains_and_others(draw):
    """Random buffers; some consecutive ones (a's last step = b's first) tied, with a shift."""
    bufs, ties, step = [], [], 0
    prev = None
    for i in range(draw(st.integers(1, 10))):
        size = draw(st.integers(1, 300))
        first = step
        last = first + draw(st.integers(0, 2))
        name = f"b{i}"
        bufs.append(Buffer(name, size, first, last))
        chained = prev is not None and any(t.second == prev.name for t in ties)
        if prev is not None and prev.last == first and not (chained and prev.first == prev.last) \
                and draw(st.booleans()):
            below = None
            if draw(st.booleans()):
                below = f"w{i}"
                bufs.append(Buffer(below, draw(st.integers(1, 64)), first, first))
            ties.append(Tie(prev.name, name, below))
        prev = bufs[-1] if bufs[-1].name == name else bufs[-2]
        step = last if draw(st.booleans()) else last + 1
    for j in range(draw(st.integers(0, 6))):
        first = draw(st.integers(0, step))
        bufs.append(Buffer(f"o{j}", draw(st.integers(1, 200)), first, first + draw(st.integers(0, 3))))
    return bufs, ties


@settings(max_examples=200, deadline=None)
@given(case=chains_and_others(), alignment=st.sampled_from([1, 4, 16]))
def test_random_ties_give_valid_plans_at_or_above_their_bound(case, alignment):
    bufs, ties = case
    plan = plan_memory(bufs, ties=ties, alignment=alignment)   # check_plan proves it
    assert lower_bound(bufs, ties=ties) == plan.lower_bound <= plan.arena_size
    assert plan.lower_bound <= plan.live_set_bound == lower_bound(bufs)
    # the same plan whatever the order of the input
    assert plan_memory(list(reversed(bufs)), ties=ties, alignment=alignment).offsets == plan.offsets

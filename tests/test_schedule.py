"""Execution order (schedule.py) and placement (placement.py): the exact search against
brute force over every valid order, the DAG test models' arenas against the bound of their
schedule, their outputs against the file order's and onnxruntime's, and the report."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import firmnet
from firmnet import placement
from firmnet.cli import main as cli_main
from firmnet.ir import FirmnetError
from firmnet.memory import analyse
from firmnet.planner import ALGORITHMS, Buffer, Plan, check_plan, lower_bound, plan_memory
from firmnet.schedule import Problem, Schedule, beam, choose, describe, exact, peak, problem_of
from support.compare import assert_close
from support.dag_models import MODELS
from support.random_graphs import onnxruntime_outputs, random_graphs


# ---- brute force -----------------------------------------------------------------------

def topological_orders(deps, done=()):
    """Every order of the steps 0..n-1 that runs each step after its deps."""
    n = len(deps)
    if len(done) == n:
        yield done
        return
    for v in range(n):
        if v not in done and deps[v] <= set(done):
            yield from topological_orders(deps, done + (v,))


@st.composite
def problems(draw, max_steps=7):
    """A random small DAG: each step reads 1-2 earlier tensors (or the input) and writes a
    new buffer, or, like a reshape, a view of the buffer it reads; some use scratch."""
    n = draw(st.integers(1, max_steps))
    sizes = {"in": draw(st.integers(1, 300))}
    key = {"in": "in"}                 # tensor → buffer
    producer = {}
    steps, deps = [], []
    for v in range(n):
        tensors = sorted(key)
        reads = draw(st.lists(st.sampled_from(tensors), min_size=1, max_size=2, unique=True))
        out = f"t{v}"
        if draw(st.integers(0, 4)) == 0:   # a view: same buffer as its first input
            key[out] = key[reads[0]]
        else:
            key[out] = out
            sizes[out] = draw(st.integers(1, 300))
        producer[out] = v
        scratch = draw(st.sampled_from([0, 0, 0, draw(st.integers(1, 200))]))
        steps.append((frozenset({key[out]}), frozenset(key[t] for t in reads), scratch))
        deps.append(frozenset(producer[t] for t in reads if t in producer))
    outs = {key[f"t{n - 1}"]} | {key[t] for t in draw(st.lists(st.sampled_from(sorted(key)), max_size=2))}
    return Problem(tuple(steps), sizes, tuple(deps), frozenset({"in"}), frozenset(outs),
                   draw(st.sampled_from([1, 16])))


@settings(max_examples=150, deadline=None)
@given(problems())
def test_exact_equals_brute_force(problem):
    best = min(peak(problem, order) for order in topological_orders(problem.deps))
    order, value, _ = exact(problem)
    assert value == best
    assert peak(problem, order) == best          # the order it returns has that peak


@settings(max_examples=60, deadline=None)
@given(problems())
def test_beam_and_choose(problem):
    best = exact(problem)[1]
    order, value, _ = beam(problem, width=4)
    assert peak(problem, order) == value >= best
    order, value, _ = beam(problem, width=10_000)  # wider than any level: every state kept
    assert value == best
    auto, file = choose(problem, "auto"), choose(problem, "file")
    assert file.order == tuple(range(len(problem.steps))) and file.bound == file.file_bound
    assert auto.bound == min(best, file.bound) and auto.file_bound == file.bound
    if auto.bound == file.bound:
        assert auto.order == file.order and auto.method == "file"   # ties keep the file's order


def _branches(k, length):
    """k independent chains of `length` steps from one input, listed breadth first (every
    chain's first step, then every chain's second): (length + 1) ** k sets of steps."""
    steps, deps, sizes = [], [], {"in": 64}
    index = {}
    for i in range(length):
        for b in range(k):
            out = f"b{b}.{i}"
            sizes[out] = 100 * (i + 1) if i < length - 1 else 10
            steps.append((frozenset({out}), frozenset({f"b{b}.{i - 1}" if i else "in"}), 0))
            deps.append(frozenset({index[b, i - 1]}) if i else frozenset())
            index[b, i] = len(steps) - 1
    return Problem(tuple(steps), sizes, tuple(deps), frozenset({"in"}),
                   frozenset(f"b{b}.{length - 1}" for b in range(k)), 1)


def test_past_the_state_cap_the_beam_takes_over():
    problem = _branches(4, 3)                       # 4 ** 4 = 256 sets
    assert exact(problem, max_states=100) is None
    assert exact(problem, max_states=300)[2] <= 256
    sched = choose(problem, "auto", max_states=100)
    assert sched.method == "beam" and sched.bound == exact(problem)[1]
    # breadth first holds all four 200-byte tensors at once (at the second level's last step,
    # with the fourth chain's 100 bytes); the best runs the chains one after the other, but the
    # fourth's first step before the third's end: the input, two finished 10-byte results,
    # the third chain's 100 and 200 bytes
    assert sched.file_bound == 4 * 200 + 100
    assert sched.bound == 64 + 2 * 10 + 100 + 200


def test_bad_schedules_are_refused():
    problem = _branches(2, 2)
    with pytest.raises(FirmnetError, match=r"runs step 2 before step\(s\) \[0\]"):
        peak(problem, (2, 0, 1, 3))
    with pytest.raises(FirmnetError, match="not an order of the 4 steps"):
        peak(problem, (0, 1, 2))
    with pytest.raises(FirmnetError, match="unknown --schedule 'best'.*auto, file"):
        choose(problem, "best")


# ---- placement -------------------------------------------------------------------------

@st.composite
def small_buffer_sets(draw):
    n = draw(st.integers(1, 4))
    out = []
    for i in range(n):
        first = draw(st.integers(0, 4))
        out.append(Buffer(f"b{i}", draw(st.integers(1, 4)) * 16, first, first + draw(st.integers(0, 3))))
    return out


def _fits_somewhere(buffers, target):
    """Brute force: some offsets on the 16-byte grid keep every buffer below target."""
    grids = [range(0, target - b.size + 1, 16) for b in buffers]
    for offsets in itertools.product(*grids):
        if all(not (a.conflicts(b) and oa < ob + b.size and ob < oa + a.size)
               for (a, oa), (b, ob) in itertools.combinations(zip(buffers, offsets), 2)):
            return True
    return False


@settings(max_examples=80, deadline=None)
@given(small_buffer_sets(), st.integers(0, 3))
def test_search_is_complete_on_small_sets(buffers, extra):
    target = lower_bound(buffers, 16) + 16 * extra
    found = placement.search(buffers, 16, target)
    assert (found is not None) == _fits_somewhere(buffers, target)
    if found is not None:
        arena = max(found[b.name] + b.size for b in buffers)
        assert arena <= target
        check_plan(buffers, Plan(found, arena, lower_bound(buffers), "search", 16))


def test_search_reaches_the_bound_where_first_fit_does_not():
    """The bound is 96 (A + D at step 3), so A must sit on top of D. First fit in every order
    of the planner's table puts the large ones low (D, C at 0) and A at 64, which leaves B,
    live with both C and A, no 32-byte hole below 96. The search puts B under C instead.

        steps   0    1    2    3    4
        A                 ###############   32 B
        B       ###############             32 B
        C            ##                     48 B
        D                      ##           64 B
    """
    buffers = [Buffer("A", 32, 2, 4), Buffer("B", 32, 0, 2), Buffer("C", 48, 1, 1), Buffer("D", 64, 3, 3)]
    assert lower_bound(buffers, 16) == 96
    first_fits = [a for a in ALGORITHMS if a not in ("search", "best")]
    assert min(plan_memory(buffers, a).arena_size for a in first_fits) > 96
    found = placement.search(buffers, 16, 96)
    assert found == {"D": 0, "C": 32, "A": 64, "B": 0}
    plan = plan_memory(buffers)
    assert (plan.arena_size, plan.algorithm) == (96, "search")


# ---- the DAG models --------------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(MODELS))
def compiled(request, tmp_path_factory):
    model = MODELS[request.param]()
    out = tmp_path_factory.mktemp(request.param)
    return model, {mode: firmnet.compile(model, out / mode, name="dag", schedule=mode) for mode in ("auto", "file")}


def test_arena_reaches_the_bound_of_the_schedule(compiled):
    _, cms = compiled
    cm = cms["auto"]
    sched = cm.report["schedule"]
    assert sched["method"] == "exact"
    # the bound counted again from the planner's own buffers
    assert sched["bound_bytes"] == lower_bound(cm.memory.buffers, 16) == cm.memory.arena_size
    assert sched["placement_gap_bytes"] == 0 and "reaches the bound" in sched["placement"]
    assert sched["bound_bytes"] < sched["file_order_bound_bytes"]
    assert cms["file"].memory.arena_size == sched["file_order_bound_bytes"]


def test_chosen_order_is_the_best_of_every_order(compiled):
    """Brute force over every valid order of the lowered graph (at most a few hundred)."""
    _, cms = compiled
    cm = cms["file"]
    graph, lowered = cm.lowered_graph, cm.lowered
    problem = problem_of(graph, lowered, analyse(graph, lowered).storage)
    orders = list(topological_orders(problem.deps))
    assert len(orders) <= 5000
    assert cms["auto"].report["schedule"]["bound_bytes"] == min(peak(problem, o) for o in orders)
    # and the problem's count is memory.py's, for the file order and for the order chosen
    chosen = [n.name for n in cms["auto"].lowered_graph.nodes]
    names = [n.name for n in graph.nodes]
    for order in (tuple(range(len(names))), tuple(names.index(n) for n in chosen)):
        moved = graph.replace(nodes=tuple(graph.nodes[v] for v in order))
        buffers = analyse(moved, lowered, "linear").buffers
        assert lower_bound(buffers, 16) == peak(problem, order)


def test_outputs_unchanged(compiled):
    model, cms = compiled
    rng = np.random.default_rng(5)
    graph = cms["auto"].graph
    xs = [rng.uniform(-1, 1, graph.types[i].shape).astype(np.float32) for i in graph.inputs]
    auto, file = cms["auto"].build_host().run(xs), cms["file"].build_host().run(xs)
    for a, f, e in zip(auto, file, onnxruntime_outputs(model, xs)):
        assert np.array_equal(a, f), "the schedule changed the output bytes"
        assert_close(a, e, "C vs onnxruntime")


def test_report_fields(compiled, capsys):
    _, cms = compiled
    auto, file = cms["auto"].report, cms["file"].report
    file_names = [n.name for n in cms["file"].lowered_graph.nodes]
    assert sorted(auto["schedule"]["order"]) == sorted(file_names) and auto["schedule"]["order"] != file_names
    assert file["schedule"]["order"] == file_names and file["schedule"]["method"] == "file"
    assert auto["schedule"]["file_order_bound_bytes"] == file["schedule"]["bound_bytes"]
    assert auto["classic_lower_bound_bytes"] == file["classic_lower_bound_bytes"] == file["lower_bound_bytes"]
    assert [l["name"] for l in auto["layers"]] == auto["schedule"]["order"]
    assert '"schedule": "file"' in file["provenance"] and "schedule" not in auto["provenance"]
    on_disk = json.loads((cms["auto"].out_dir / "report.json").read_text())
    assert on_disk["schedule"] == auto["schedule"]


def test_cli_schedule_option(tmp_path, capsys):
    path = tmp_path / "fire.onnx"
    path.write_bytes(MODELS["fire"]().SerializeToString())
    for mode in ("file", "auto"):
        assert cli_main(["compile", str(path), "-o", str(tmp_path / mode), "--schedule", mode]) == 0
        assert cli_main(["verify", str(tmp_path / mode)]) == 0
        capsys.readouterr()
        assert cli_main(["report", str(tmp_path / mode)]) == 0
        text = capsys.readouterr().out
        assert "classic bound:" in text and "placement:               the placement reaches the bound" in text
        assert ("schedule:                the file's order" in text) == (mode == "file")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=random_graphs())
def test_random_graphs_schedule(case, tmp_path_factory):
    """Random ONNX graphs (views, fan-out, dead branches, outputs read inside): the bound
    of the order chosen is memory.py's count of its buffers and the best of every order;
    the C computes the same bytes in either order."""
    out = tmp_path_factory.mktemp("g")
    auto = firmnet.compile(case.model, out / "auto", name="g")
    file = firmnet.compile(case.model, out / "file", name="g", schedule="file")
    sched = auto.report["schedule"]
    assert sched["bound_bytes"] == lower_bound(auto.memory.buffers, 16) <= auto.memory.arena_size
    problem = problem_of(file.lowered_graph, file.lowered, file.memory.storage)
    orders = list(itertools.islice(topological_orders(problem.deps), 5_001))
    best = min(peak(problem, o) for o in orders)
    assert sched["bound_bytes"] == best if len(orders) <= 5_000 else sched["bound_bytes"] <= best
    rng = np.random.default_rng(2)
    xs = [rng.uniform(-1, 1, file.graph.types[i].shape).astype(file.graph.types[i].dtype) for i in file.graph.inputs]
    for a, f in zip(auto.build_host().run(xs), file.build_host().run(xs)):
        assert np.array_equal(a, f)


def test_report_says_how_far_placement_is_from_the_bound():
    memory = type("M", (), {"arena_size": 1_104, "plan": Plan({}, 1_104, 1_000, "greedy_by_size", 16)})()
    graph = type("G", (), {"nodes": ()})()
    entry = describe(graph, Schedule((), 1_024, 2_048, "exact", 9), memory)
    assert entry["placement_gap_bytes"] == 80
    assert entry["placement"].startswith("the placement needs 80 bytes more than the bound: no first-fit order")
    assert (entry["bound_bytes"], entry["file_order_bound_bytes"], entry["saved_bytes"]) == (1_024, 2_048, 1_024)

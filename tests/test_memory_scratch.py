"""Kernel scratch memory is planned in the arena, alive for its own step only."""
import dataclasses

import firmnet
from firmnet.memory import analyse
from firmnet.planner import check_plan
from support.paths import FIXTURES


def test_scratch_buffer_lives_one_step_and_never_overlaps(tmp_path):
    # --winograd off: no conv takes scratch of its own (the Winograd variants do)
    cm = firmnet.compile(FIXTURES / "resnet_tiny.onnx", tmp_path, name="r", winograd="off")
    assert not any(c.scratch_bytes for c in cm.lowered.values() if hasattr(c, "scratch_bytes"))
    lowered = dict(cm.lowered)
    convs = [n for n in cm.lowered_graph.nodes if n.op == "conv2d"]
    for k, node in enumerate(convs):   # pretend every conv needs 1000 + k bytes of working memory
        lowered[node.name] = dataclasses.replace(lowered[node.name], scratch_bytes=1000 + k)
    memory = analyse(cm.lowered_graph, lowered)
    check_plan(memory.buffers, memory.plan)
    steps = {n.name: i for i, n in enumerate(cm.lowered_graph.nodes)}
    by_name = {b.name: b for b in memory.buffers}
    for k, node in enumerate(convs):
        buf = by_name[memory.scratch[node.name]]
        assert (buf.first, buf.last, buf.size) == (steps[node.name], steps[node.name], 1000 + k)
    # the scratch never lands on the step's own input or output
    for node in convs:
        scratch = by_name[memory.scratch[node.name]]
        lo, hi = memory.plan.offsets[scratch.name], memory.plan.offsets[scratch.name] + scratch.size
        for t in (node.inputs[0], node.outputs[0]):
            s = memory.storage[t]
            if s.kind == "arena":
                o = memory.plan.offsets[s.key]
                assert hi <= o or o + by_name[s.key].size <= lo
    assert memory.arena_size >= cm.memory.arena_size

"""Memory analysis on whole graphs: where every tensor of a compiled model lives.

Every non-constant tensor lives in the one static arena, graph inputs and outputs
included (as in TFLM): `<name>_invoke` copies the inputs into the arena, runs
`<name>_run()` and copies the outputs out; `<name>_input()`/`<name>_output()` are
the arena addresses. So an input's buffer is live from step 0 (it is written before
the first step, whenever its first reader runs) and an output's until the last step
(it is read after the last step, whenever its last writer or reader ran).

(a) Hand-drawn graphs whose arena offsets were worked out by hand from memory.py
    (storage kinds, zero-copy reshapes, lifetimes) and planner.py (greedy by size /
    by conflicts / linear, best of them, 16-byte alignment). Step = index of a node
    in `cm.lowered_graph.nodes`; a buffer lives from the step that writes it (step 0
    for an input) to the last step that reads it (the last step for an output).
(b) A hypothesis property over the random graphs of support/random_graphs.py: the plan
    passes check_plan, the arena is at least the lower bound, and a brute-force
    check with liveness computed here (not the planner's buffers), inputs and outputs
    included, finds no two tensors alive at the same step sharing arena bytes; the
    peak of those live bytes is the planner's lower bound; the generated C's
    `_input()`/`_output()` return the planned offsets.
(c) Determinism: the same model compiled twice (in this process, and in two
    processes with different string hash seeds) gives byte-identical folders, and
    every generated .c/.h starts with the provenance line.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.memory import Storage
from firmnet.planner import check_plan
from support.compare import assert_close
from support.paths import FIXTURES, REPO
from support.random_graphs import onnxruntime_outputs, random_graphs


def _model(nodes, inputs, outputs, weights):
    """inputs/outputs: {name: shape}; weights: {name: array}."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
                                     if isinstance(shape, tuple) else shape, name)
             for name, shape in weights.items()]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()]
    vo = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs.items()]
    model = helper.make_model(helper.make_graph(nodes, "hand", vi, vo, inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _compile_and_check(model, tmp_path, kernels=None):
    """Compile (kernels: --kernel choices), check that the C computes what onnxruntime does with
    this plan; returns the compiled model and the arena offsets the generated C uses."""
    cm = firmnet.compile(model, tmp_path / "out", name="hand", kernels=kernels)
    offsets_in_c = check_emitted_offsets(cm)
    rng = np.random.default_rng(1)
    xs = [rng.uniform(-1, 1, cm.graph.types[i].shape).astype(np.float32) for i in cm.graph.inputs]
    for c, e in zip(cm.build_host().run(xs), onnxruntime_outputs(model, xs)):
        assert_close(c, e, "C vs onnxruntime")
    return cm, offsets_in_c


def _layers(cm):
    """The report's per-step table as (op, kernel, storage, arena offset, bytes)."""
    return [(l["op"], l["kernel"], l["storage"], l["arena_offset"], l["bytes"]) for l in cm.report["layers"]]


# ---- (a) hand-drawn graphs -------------------------------------------------------------

def conv_chain():
    """Three convolutions with ReLU between them; the ReLUs fuse into the convs.

        x[1,2,4,4] ─Conv 3x3 p1─► c1 ─Relu─► r1[1,4,4,4] ─Conv 3x3 p1─► c2 ─Relu─► r2[1,4,4,4]
                                                                  ─Conv 1x1─► y[1,2,4,4]
    The NHWC pass brackets the chain with layout transposes (xt is "x/to_layout:out#1",
    ys is "y#stored"):

        step 0  transpose  x  → xt      x   128 B  lives 0..0   (input: from step 0)
                                        xt  128 B  lives 0..1
        step 1  conv+relu  xt → r1      r1  256 B  lives 1..2
        step 2  conv+relu  r1 → r2      r2  256 B  lives 2..3
        step 3  conv       r2 → ys      ys  128 B  lives 3..4
        step 4  transpose  ys → y       y   128 B  lives 4..4   (output: to the last step, 4)

    live bytes: 256 (x, xt), 384 (xt, r1), 512 (r1, r2), 384 (r2, ys), 256 (ys, y)
    → lower bound 512.
    greedy_by_size takes r1, r2 (256 B, by first step), then the 128 B ones by first
    step and name: x, xt, ys, y:
        r1 → 0;  r2 meets r1 at step 2 → 256;  x meets neither → 0;
        xt meets x (0..128) at step 0 and r1 (0..256) at step 1 → 256;
        ys meets only r2 (256..512) → 0;  y meets only ys (0..128) → 128.
    arena 512 = the lower bound: x and y fit in the gaps, the arena does not grow.
    greedy_by_conflicts (x and y conflict once, the others twice: r1, r2, xt, ys, x, y)
    gets the same offsets, linear needs 1024; ties go to greedy_by_size.

        offset   0       128     256     384     512
        r1       [###############]                   steps 1..2
        r2                       [###############]   steps 2..3
        x        [#######]                           steps 0..0
        xt                       [#######]           steps 0..1
        ys       [#######]                           steps 3..4
        y                [#######]                   steps 4..4
    """
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3"], ["y"])]
    return _model(nodes, {"x": (1, 2, 4, 4)}, {"y": (1, 2, 4, 4)},
                  {"w1": (4, 2, 3, 3), "w2": (4, 4, 3, 3), "w3": (2, 4, 1, 1)})


def test_conv_chain_plan(tmp_path):
    # the direct kernel on the 3x3 layers: a Winograd variant (estimated cheaper) adds its scratch
    direct = {"Conv_0": "fn_conv2d_f32", "Conv_2": "fn_conv2d_f32"}
    cm, offsets_in_c = _compile_and_check(conv_chain(), tmp_path, kernels=direct)
    assert _layers(cm) == [
        ("transpose", "fn_transpose", "arena", 256, 128),
        ("conv2d", "fn_conv2d_f32", "arena", 0, 256),
        ("conv2d", "fn_conv2d_f32", "arena", 256, 256),
        ("conv2d", "fn_conv2d_f32", "arena", 0, 128),
        ("transpose", "fn_transpose", "arena", 128, 128),
    ]
    xt, ys = "x/to_layout:out#1", "y#stored"
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {
        "x": (128, 0, 0), xt: (128, 0, 1), "r1": (256, 1, 2), "r2": (256, 2, 3), ys: (128, 3, 4), "y": (128, 4, 4)}
    assert dict(cm.memory.plan.offsets) == {"x": 0, xt: 256, "r1": 0, "r2": 256, ys: 0, "y": 128}
    assert offsets_in_c == {0, 128, 256}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (512, 512, 1024, "greedy_by_size")
    assert r["io_bytes"] == 128 + 128
    assert cm.memory.storage["x"] == Storage("arena", "x") and cm.memory.storage["y"] == Storage("arena", "y")


def concat_fan_out():
    """One tensor read by three nodes, one of them the Concat that also reads the other two.

        x[1,8] ─MatMul─► a[1,16] ─┬─ Relu ────► b ──┐
                                  ├─ Sigmoid ─► c ──┤ Concat(b, c, a) ─► d[1,48] ─Tanh─► e[1,48]
                                  └─────────────────┘                        ─MatMul─► y[1,4]

    a has three readers, so the Relu does not fuse into the MatMul.

                         x   32 B  lives 0..0     (input: from step 0)
        step 0  dense    a   64 B  lives 0..3     (read last by the concat)
        step 1  relu     b   64 B  lives 1..3
        step 2  sigmoid  c   64 B  lives 2..3
        step 3  concat   d  192 B  lives 3..4
        step 4  tanh     e  192 B  lives 4..5
        step 5  dense    y   16 B  lives 5..5     (output: to the last step, 5)

    live bytes: 96, 128, 192, 384, 384, 208 → lower bound 384.
    greedy_by_size: d → 0; e meets d → 192; a meets d → 192; b meets d, a → 256;
    c meets d, a, b → 320; x meets only a (192..256) → 0; y meets only e (192..384) → 0.
    arena 384 = the bound: e reuses the bytes of a, b, c, which are dead once the
    concat has run, x and y the bytes of d, dead before it is written and after it
    is read. greedy_by_conflicts (d and a first with 4 conflicts, then b, c, e, x, y)
    finds the same offsets; linear needs 624; ties go to greedy_by_size.

        offset   0       64      128     192     256     320     384
        d        [#######################]                           steps 3..4
        e                                [#######################]   steps 4..5
        a                                [#######]                   steps 0..3
        b                                        [#######]           steps 1..3
        c                                                [#######]   steps 2..3
        x        [###]                                               steps 0..0
        y        [#]                                                 steps 5..5
    """
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["a"]),
             helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Sigmoid", ["a"], ["c"]),
             helper.make_node("Concat", ["b", "c", "a"], ["d"], axis=1),
             helper.make_node("Tanh", ["d"], ["e"]),
             helper.make_node("MatMul", ["e", "w2"], ["y"])]
    return _model(nodes, {"x": (1, 8)}, {"y": (1, 4)}, {"w1": (8, 16), "w2": (48, 4)})


def test_concat_fan_out_plan(tmp_path):
    cm, offsets_in_c = _compile_and_check(concat_fan_out(), tmp_path)
    assert _layers(cm) == [
        ("dense", "fn_fc_f32", "arena", 192, 64),
        ("unary", "fn_unary_f32", "arena", 256, 64),
        ("unary", "fn_unary_f32", "arena", 320, 64),
        ("concat", "fn_concat", "arena", 0, 192),
        ("unary", "fn_unary_f32", "arena", 192, 192),
        ("dense", "fn_fc_f32", "arena", 0, 16),
    ]
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {
        "x": (32, 0, 0), "a": (64, 0, 3), "b": (64, 1, 3), "c": (64, 2, 3), "d": (192, 3, 4), "e": (192, 4, 5),
        "y": (16, 5, 5)}
    assert dict(cm.memory.plan.offsets) == {"x": 0, "a": 192, "b": 256, "c": 320, "d": 0, "e": 192, "y": 0}
    assert offsets_in_c == {0, 192, 256, 320}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (384, 384, 624, "greedy_by_size")
    assert r["io_bytes"] == 32 + 16


def residual():
    """A residual block: the skip tensor s stays live across the branch. Reshapes at both
    ends are zero-copy: xf is a view of the input x's arena buffer, y (the output) a view
    of w's.

        x[1,2,4] ─Reshape─► xf[1,8] ─MatMul─► s[1,16] ─┬─ MatMul ─► t ─Relu─► u[1,32] ─MatMul─► v[1,16] ─┐
                                                        └────────────────── skip ──────────────── Add ◄─┘
                                                                           Add ─► w[1,16] ─Reshape─► y[1,4,4]

        step 0  reshape  xf = view of x   group x (x, xf)   32 B  lives 0..1   (input: from 0; xf read at 1)
        step 1  dense    s                                   64 B  lives 1..4
        step 2  dense    u  (Relu fused)                   128 B  lives 2..3
        step 3  dense    v                                   64 B  lives 3..4
        step 4  add      w                group w (w, y)    64 B  lives 4..5   (output y: to the last step)
        step 5  reshape  y = view of w (no code)

    live bytes: 32, 96, 192, 256, 192, 64 → lower bound 256.
    greedy_by_size (u; then s, v, w by first step; then x): u → 0; s meets u → 128;
    v meets u and s → 192; w meets s and v, not u → 0; x meets only s → 0. arena 256.
    greedy_by_conflicts (s 4, v 3, u 2, w 2, x 1): s → 0, v → 64, u → 128, w → 128,
    x → 64, also 256; linear needs 352; ties go to greedy_by_size.

        offset   0       64      128     192     256
        u        [###############]                   steps 2..3
        s                        [#######]           steps 1..4
        v                                [#######]   steps 3..4
        x, xf    [###]                               steps 0..1
        w, y     [#######]                           steps 4..5
    """
    nodes = [helper.make_node("Reshape", ["x", "shape_xf"], ["xf"]),
             helper.make_node("MatMul", ["xf", "w1"], ["s"]),
             helper.make_node("MatMul", ["s", "w2"], ["t"]),
             helper.make_node("Relu", ["t"], ["u"]),
             helper.make_node("MatMul", ["u", "w3"], ["v"]),
             helper.make_node("Add", ["v", "s"], ["w"]),
             helper.make_node("Reshape", ["w", "shape_y"], ["y"])]
    return _model(nodes, {"x": (1, 2, 4)}, {"y": (1, 4, 4)},
                  {"w1": (8, 16), "w2": (16, 32), "w3": (32, 16),
                   "shape_xf": np.array([1, 8], np.int64), "shape_y": np.array([1, 4, 4], np.int64)})


def test_residual_plan(tmp_path):
    cm, offsets_in_c = _compile_and_check(residual(), tmp_path)
    assert _layers(cm) == [
        ("reshape", "(view)", "arena", 0, 32),
        ("dense", "fn_fc_f32", "arena", 128, 64),
        ("dense", "fn_fc_f32", "arena", 0, 128),
        ("dense", "fn_fc_f32", "arena", 192, 64),
        ("binary", "fn_binary_f32", "arena", 0, 64),
        ("reshape", "(view)", "arena", 0, 64),
    ]
    st = cm.memory.storage
    assert st["x"] == st["xf"] == Storage("arena", "x") and st["w"] == st["y"] == Storage("arena", "w")
    assert cm.memory.copies == frozenset()
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {
        "x": (32, 0, 1), "s": (64, 1, 4), "u": (128, 2, 3), "v": (64, 3, 4), "w": (64, 4, 5)}
    assert dict(cm.memory.plan.offsets) == {"x": 0, "s": 128, "u": 0, "v": 192, "w": 0}
    assert offsets_in_c == {0, 128, 192}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (256, 256, 352, "greedy_by_size")


def late_input_early_output():
    """Two inputs, two outputs: x2 is first read at step 3 and y1 last read at step 2,
    yet the caller writes x2 before step 0 and reads y1 after the last step, so x2
    lives from step 0 and y1 to the last step.

        x1[1,8] ─MatMul─► a[1,16] ─Sigmoid─► y1[1,16] (output) ─MatMul─► b[1,8] ─┐
        x2[1,8] ───────────────────────────────────────────────────────── Add ◄──┘
                                                  Add ─► c[1,8] ─Sigmoid─► y2[1,8] (output)

                          x1  32 B  lives 0..0   (input)
                          x2  32 B  lives 0..3   (input: from step 0, not from step 3)
        step 0  dense     a   64 B  lives 0..1
        step 1  sigmoid   y1  64 B  lives 1..4   (output: to step 4, not to step 2)
        step 2  dense     b   32 B  lives 2..3
        step 3  add       c   32 B  lives 3..4
        step 4  sigmoid   y2  32 B  lives 4..4   (output)

    live bytes: 128 (x1, x2, a), 160 (x2, a, y1), 128 (x2, y1, b), 160 (x2, y1, b, c),
    128 (y1, c, y2) → lower bound 160.
    greedy_by_size (a, y1; then x1, x2, b, c, y2 by first step and name):
        a → 0;  y1 meets a → 64;  x1 meets a (y1 not yet live) → 64;
        x2 meets a (0..64), x1 (64..96), y1 (64..128) → 128;
        b meets y1, x2 → 0;  c meets b (0..32), y1, x2 → 32;  y2 meets c, y1 → 0.
    arena 160 = the lower bound. greedy_by_conflicts (y1 5, x2 5, c 4, a 3, b 3, x1 2,
    y2 2): y1 → 0, x2 → 64, c → 96, a → 96, b → 128, x1 → 0, y2 → 64, also 160;
    linear needs 288; ties go to greedy_by_size.

        offset   0       32      64      96      128     160
        a        [###############]                           steps 0..1
        y1                       [###############]           steps 1..4
        x1                       [#######]                   steps 0..0
        x2                                       [#######]   steps 0..3
        b        [#######]                                   steps 2..3
        c                [#######]                           steps 3..4
        y2       [#######]                                   steps 4..4
    """
    nodes = [helper.make_node("MatMul", ["x1", "w1"], ["a"]),
             helper.make_node("Sigmoid", ["a"], ["y1"]),
             helper.make_node("MatMul", ["y1", "w2"], ["b"]),
             helper.make_node("Add", ["b", "x2"], ["c"]),
             helper.make_node("Sigmoid", ["c"], ["y2"])]
    return _model(nodes, {"x1": (1, 8), "x2": (1, 8)}, {"y1": (1, 16), "y2": (1, 8)},
                  {"w1": (8, 16), "w2": (16, 8)})


def test_late_input_early_output_plan(tmp_path):
    cm, offsets_in_c = _compile_and_check(late_input_early_output(), tmp_path)
    assert _layers(cm) == [
        ("dense", "fn_fc_f32", "arena", 0, 64),
        ("unary", "fn_unary_f32", "arena", 64, 64),
        ("dense", "fn_fc_f32", "arena", 0, 32),
        ("binary", "fn_binary_f32", "arena", 32, 32),
        ("unary", "fn_unary_f32", "arena", 0, 32),
    ]
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {
        "x1": (32, 0, 0), "x2": (32, 0, 3), "a": (64, 0, 1), "y1": (64, 1, 4), "b": (32, 2, 3), "c": (32, 3, 4),
        "y2": (32, 4, 4)}
    assert dict(cm.memory.plan.offsets) == {"x1": 64, "x2": 128, "a": 0, "y1": 64, "b": 0, "c": 32, "y2": 0}
    assert offsets_in_c == {0, 32, 64, 128}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (160, 160, 288, "greedy_by_size")


def output_reshape_of_output():
    """Two outputs, one a reshape of the other: one buffer cannot be two interface tensors,
    so that reshape becomes a copy into a buffer of its own.

        x[2,6] ─Relu─► y1[2,6] (output) ─Reshape─► y2[3,4] (output)

                         x   48 B  lives 0..0   (input)
        step 0  relu     y1  48 B  lives 0..1   (read by the copy; output: to the last step, 1)
        step 1  memcpy   y2  48 B  lives 1..1   (output)

    live bytes: 96, 96 → lower bound 96. greedy_by_size (all 48 B; by first step, name:
    x, y1, y2): x → 0; y1 meets x → 48; y2 meets only y1 → 0. arena 96.
    greedy_by_conflicts (y1, x, y2): y1 → 0, x → 48, y2 → 48, also 96; linear 144.

        offset   0           48          96
        x        [###########]               steps 0..0
        y1                   [###########]   steps 0..1
        y2       [###########]               steps 1..1
    """
    nodes = [helper.make_node("Relu", ["x"], ["y1"]),
             helper.make_node("Reshape", ["y1", "shape"], ["y2"], name="to_y2")]
    return _model(nodes, {"x": (2, 6)}, {"y1": (2, 6), "y2": (3, 4)}, {"shape": np.array([3, 4], np.int64)})


def input_reshape_to_output():
    """The output is a reshape of the input: again two interface tensors, so a copy.

        x[2,6] (input) ─Reshape─► y[3,4] (output)

        step 0  memcpy   x  48 B  lives 0..0   (input)
                         y  48 B  lives 0..0   (output; step 0 is the last step)

    Both live at step 0 → lower bound 96. Every algorithm orders x before y (same size,
    same first step, then name; one conflict each): x → 0, y → 48. arena 96.

        offset   0           48          96
        x        [###########]               steps 0..0
        y                    [###########]   steps 0..0
    """
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="to_y")]
    return _model(nodes, {"x": (2, 6)}, {"y": (3, 4)}, {"shape": np.array([3, 4], np.int64)})


def test_reshape_between_interface_tensors_is_a_copy(tmp_path):
    cm, offsets_in_c = _compile_and_check(output_reshape_of_output(), tmp_path)
    assert _layers(cm) == [("unary", "fn_unary_f32", "arena", 48, 48),
                           ("reshape", "memcpy", "arena", 0, 48)]
    assert cm.memory.copies == frozenset({"to_y2"})
    st = cm.memory.storage
    assert (st["x"], st["y1"], st["y2"]) == (Storage("arena", "x"), Storage("arena", "y1"), Storage("arena", "y2"))
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {
        "x": (48, 0, 0), "y1": (48, 0, 1), "y2": (48, 1, 1)}
    assert dict(cm.memory.plan.offsets) == {"x": 0, "y1": 48, "y2": 0}
    assert offsets_in_c == {0, 48}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (96, 96, 144, "greedy_by_size")

    cm, offsets_in_c = _compile_and_check(input_reshape_to_output(), tmp_path / "in_out")
    assert _layers(cm) == [("reshape", "memcpy", "arena", 48, 48)]
    assert cm.memory.copies == frozenset({"to_y"})
    assert cm.memory.storage["x"] == Storage("arena", "x") and cm.memory.storage["y"] == Storage("arena", "y")
    assert {b.name: (b.size, b.first, b.last) for b in cm.memory.buffers} == {"x": (48, 0, 0), "y": (48, 0, 0)}
    assert dict(cm.memory.plan.offsets) == {"x": 0, "y": 48}
    assert offsets_in_c == {0, 48}
    r = cm.report
    assert (r["arena_bytes"], r["lower_bound_bytes"], r["activations_sum_bytes"], r["planner"]) == \
        (96, 96, 96, "greedy_by_size")


# ---- (b) property over random graphs ----------------------------------------------------

def _liveness(cm):
    """{tensor: (first step, last step)} for every arena tensor, from the lowered nodes:
    written at its producer's step (a graph input before step 0, so from step 0), alive
    until its last reader (or only at its own step); a graph output until the last step."""
    g = cm.lowered_graph
    first, last = {}, {}
    for t in g.inputs:                                       # the caller writes it before step 0
        first[t] = last[t] = 0
    for step, node in enumerate(g.nodes):                    # steps in order: later readers win
        for t in node.inputs:
            if t:
                last[t] = step
        for t in node.outputs:
            first[t] = last[t] = step
    for t in g.outputs:                                      # the caller reads it after the last step
        last[t] = max(len(g.nodes) - 1, 0)
    return {t: (first[t], last[t]) for t in first if cm.memory.storage[t].kind == "arena"}


def check_no_live_overlap(cm):
    """Returns the peak over steps of the live arena bytes (alias groups counted once)."""
    g, mem = cm.lowered_graph, cm.memory
    arena = mem.arena_size
    intervals = []   # (group key, first, last, offset, bytes, what)
    for t, (f, l) in _liveness(cm).items():
        intervals.append((mem.storage[t].key, f, l, mem.offset(t), g.types[t].nbytes, t))
    for step, node in enumerate(g.nodes):
        call = cm.lowered[node.name]
        if getattr(call, "scratch_bytes", 0):
            key = mem.scratch[node.name]
            intervals.append((key, step, step, mem.plan.offsets[key], call.scratch_bytes, key))
    for key, f, l, off, size, what in intervals:
        assert 0 <= off and off + size <= arena, f"{what}: [{off}, {off + size}) outside the arena of {arena}"
    peak = 0
    for step in range(len(g.nodes)):
        live = [iv for iv in intervals if iv[1] <= step <= iv[2]]
        sizes = {}
        for key, _, _, _, size, _ in live:
            sizes[key] = max(sizes.get(key, 0), size)
        peak = max(peak, sum(sizes.values()))
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                if a[0] == b[0]:
                    continue   # one alias group: the same bytes on purpose
                assert a[3] + a[4] <= b[3] or b[3] + b[4] <= a[3], \
                    f"step {step}: {a[5]} [{a[3]}, {a[3] + a[4]}) and {b[5]} [{b[3]}, {b[3] + b[4]}) overlap"
    return peak


def check_interface(cm):
    """What the caller relies on, stated directly: all inputs can be written before the
    run and all outputs read after it, so the inputs' bytes are pairwise disjoint, and
    so are the outputs'; no two interface tensors share a buffer (reshapes between
    them are copies)."""
    g, mem = cm.lowered_graph, cm.memory
    def span(t):
        return mem.offset(t), mem.offset(t) + g.types[t].nbytes
    for group in (g.inputs, g.outputs):
        spans = sorted((span(t), t) for t in dict.fromkeys(group))
        for ((_, end), a), ((start, _), b) in zip(spans, spans[1:]):
            assert end <= start, f"{a} and {b} share arena bytes"
    interface = list(dict.fromkeys(g.inputs + g.outputs))
    keys = [mem.storage[t].key for t in interface]
    assert len(set(keys)) == len(keys), f"interface tensors share a buffer: {dict(zip(interface, keys))}"


def check_storage_kinds(cm):
    g, st = cm.lowered_graph, cm.memory.storage
    for t in g.constants:
        assert st[t] == Storage("const", t)
    for t, s in st.items():
        if t not in g.constants:
            assert s.kind == "arena", (t, s)
    for t in g.inputs + g.outputs:
        assert st[t].kind == "arena", (t, st[t])


def check_emitted_offsets(cm):
    """The C uses the planned arena: its size define, only planned offsets, and
    `_input()`/`_output()` return each interface tensor's planned place."""
    prefix = cm.name_prefix
    header = (cm.out_dir / f"{prefix}.h").read_text()
    assert f"#define {prefix.upper()}_ARENA_SIZE {cm.memory.arena_size}\n" in header
    source = (cm.out_dir / f"{prefix}.c").read_text()
    used = {int(m) for m in re.findall(rf"{prefix}_arena\.bytes \+ (\d+)\)", source)}
    assert used <= set(cm.memory.plan.offsets.values())
    g = cm.lowered_graph
    returned = [int(m) for m in re.findall(
        rf"\*{prefix}_(?:input|output)\w*\(void\)\n\{{\n    return \(\w+ \*\)\(void \*\)\({prefix}_arena\.bytes \+ (\d+)\);",
        source)]
    assert returned == [cm.memory.offset(t) for t in g.inputs + g.outputs]
    return used


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=random_graphs())
def test_random_graph_plan_is_sound(case):
    with tempfile.TemporaryDirectory() as out:
        cm = firmnet.compile(case.model, out, name="g")
        check_emitted_offsets(cm)
    check_plan(cm.memory.buffers, cm.memory.plan)
    check_storage_kinds(cm)
    check_interface(cm)
    peak = check_no_live_overlap(cm)
    r = cm.report
    assert r["lower_bound_bytes"] <= r["arena_bytes"] == cm.memory.arena_size
    assert peak == r["lower_bound_bytes"]   # this liveness and memory.py's agree on the busiest step
    assert r["arena_bytes"] % 16 == 0


# ---- (c) determinism and provenance ------------------------------------------------------

def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_same_tree(a: Path, b: Path):
    ta, tb = _tree(a), _tree(b)
    assert sorted(ta) == sorted(tb)
    differ = [name for name in ta if ta[name] != tb[name]]
    assert not differ, f"files differ between two compilations: {differ}"
    assert any(name.startswith("runtime/") for name in ta)


DETERMINISM_MODELS = {
    "conv_chain": conv_chain,
    "concat_fan_out": concat_fan_out,
    "residual": residual,
    "squeezenet_tiny": lambda: FIXTURES / "squeezenet_tiny.onnx",
}


@pytest.mark.parametrize("which", DETERMINISM_MODELS)
def test_compiling_twice_gives_identical_files(which, tmp_path):
    model = DETERMINISM_MODELS[which]()
    cm = firmnet.compile(model, tmp_path / "a", name="net")
    firmnet.compile(model, tmp_path / "b", name="net")
    _assert_same_tree(tmp_path / "a", tmp_path / "b")

    # the provenance line opens every generated C file (runtime/ holds copied sources)
    provenance = cm.report["provenance"]
    data = Path(model).read_bytes() if isinstance(model, Path) else model.SerializeToString()
    assert f"sha256:{hashlib.sha256(data).hexdigest()[:16]}" in provenance
    generated = sorted(p.name for p in (tmp_path / "a").iterdir() if p.suffix in (".c", ".h"))
    assert generated == ["net.c", "net.h", "net_weights.h"]
    for name in generated:
        first = (tmp_path / "a" / name).read_text().splitlines()[0]
        assert first == f"/* {provenance} */", name
    assert (tmp_path / "a" / "CMakeLists.txt").read_text().splitlines()[0] == f"# {provenance}"


def test_compiling_in_two_processes_gives_identical_files(tmp_path):
    """Set and dict orders over strings change with PYTHONHASHSEED; the output must not."""
    model = tmp_path / "model.onnx"
    model.write_bytes(concat_fan_out().SerializeToString())
    script = "import sys, firmnet; firmnet.compile(sys.argv[1], sys.argv[2], name='net')"
    for seed, folder in (("1", "a"), ("2", "b")):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / folder)], check=True, env=env,
                       cwd=REPO, timeout=120)
    _assert_same_tree(tmp_path / "a", tmp_path / "b")
    # squeezenet_tiny as well: two Concats, many buffers, ties in the planner
    for seed, folder in (("3", "c"), ("4", "d")):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", script, str(FIXTURES / "squeezenet_tiny.onnx"), str(tmp_path / folder)],
                       check=True, env=env, cwd=REPO, timeout=120)
    _assert_same_tree(tmp_path / "c", tmp_path / "d")

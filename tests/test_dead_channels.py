"""The dead-channel pass (passes/dead_channels.py): removing all-zero filters and unread channels
changes no output byte of an int8 model and no float output beyond the summation order.

Models: tests/support/dead_filters.py (float ONNX, and onnxruntime's QDQ int8 quantization of
it). Each is compiled with and without the pass; the C outputs are compared with each other
(int8: np.array_equal) and with onnxruntime. Hypothesis kills channels of the compiled int8
graph directly (zero weight rows and columns, biases of any sign, any zero points) and compares
the numpy reference of the graph before and after the pass.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from functools import partial

import numpy as np
import pytest
from onnx import numpy_helper
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import firmnet
from firmnet import qemu, reference
from firmnet.cli import main
from firmnet.frontend import load
from firmnet.frontend.builder import rebuild_from
from firmnet.ir import frozen_array
from firmnet.passes import pipeline, run_pipeline
from firmnet.passes.dead_channels import removal_summary, remove_dead_channels
from firmnet.passes.dead_requant import normalize_dead_requant
from firmnet.reference.fixedpoint import quantize_multiplier
from firmnet.verify import compare
from support.dead_filters import float_model, qdq_model, sample_inputs
from support.qdq import int8_inputs, ort_session, recover_int8
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.paths import FIXTURES
from support.random_graphs import random_graphs

SHAPE = (1, 3, 10, 10)
# conv 3x3 (padded) → depthwise 3x3 (padded) → 1x1 → max pool → 1x1 → flatten → fc → fc
MOBILE = [("conv", 8, 3, 1, 1), ("dw", 3, 1, 1), ("conv", 12, 1, 1, 0), ("maxpool", 2, 2),
          ("conv", 6, 1, 1, 0), ("flatten",), ("fc", 5, True), ("fc", 3, False)]
DEAD = {0: [1, 4], 2: [0, 3, 5, 7], 4: [2], 6: [1]}


def _model(kind, tmp_path, layers=MOBILE, dead=DEAD, dead_bias=None, shape=SHAPE):
    tmp_path.mkdir(parents=True, exist_ok=True)
    m = float_model(layers, shape, dead, dead_bias=dead_bias)
    return m if kind == "float" else qdq_model(m, shape, tmp_path)


def _removed(cm) -> dict:
    return {r["name"]: (r["filters_removed"], r["input_channels_removed"]) for r in cm.report["dead_channels"]["layers"]}


def _outputs(cm, xs):
    host = cm.build_host()
    if cm.lowered_graph.types[cm.lowered_graph.inputs[0]].dtype == "int8":
        return [host.run_raw([x])[0] for x in int8_inputs(cm, xs)]
    return [host.run([x])[0] for x in xs]


def _check_same(model, tmp_path, requant="auto"):
    """Compile with and without the pass; int8 outputs identical, float within verify's tolerance;
    both against onnxruntime (float: tolerance; int8: within one LSB, bytes equal between the two)."""
    with_pass = firmnet.compile(model, tmp_path / "with", requant=requant)
    without = firmnet.compile(model, tmp_path / "without", requant=requant, dead_channels=False)
    assert without.report["dead_channels"] == {"enabled": False, "layers": [], "macs_saved": 0}
    xs = sample_inputs(SHAPE)
    got, want = _outputs(with_pass, xs), _outputs(without, xs)
    out_type = with_pass.lowered_graph.types[with_pass.lowered_graph.outputs[0]]
    sess = ort_session(model, "default")
    for x, a, b in zip(xs, got, want):
        (ort_out,) = sess.run(None, {"input": x})
        if out_type.dtype == "int8":
            assert np.array_equal(a, b), f"int8 outputs differ: {a} vs {b}"
            assert np.abs(a.astype(int) - recover_int8(ort_out, out_type.quant).astype(int)).max() <= 1
        else:
            assert compare(a, b)[0], f"float outputs differ beyond tolerance: {a} vs {b}"
            assert compare(a, ort_out)[0], f"float output differs from onnxruntime: {a} vs {ort_out}"
    assert with_pass.report["macs"] == without.report["macs"] - with_pass.report["dead_channels"]["macs_saved"]
    return with_pass, without


@pytest.mark.parametrize("kind", ["float", "int8"])
@pytest.mark.parametrize("dead_bias", [-0.7, 0.7, None])
def test_outputs_unchanged_by_the_pass(kind, dead_bias, tmp_path):
    """Dead filters with negative biases (after ReLU: the zero point, which even the padded
    depthwise conv folds), positive ones (a constant that padding makes position-dependent in
    the depthwise conv) and random ones."""
    cm, without = _check_same(_model(kind, tmp_path, dead_bias=dead_bias), tmp_path)
    removed = _removed(cm)
    # the 1x1 conv's dead filters fold into the next 1x1 conv (no padding): always removed
    assert removed["layer2"][0] == 4 and removed["layer4"] == (1, 4)
    # dense: the dead neuron goes, the flattened columns of layer 4's dead filter with it
    assert removed["layer6"] == (1, 5 * 5) and removed["layer7"] == (0, 1)
    if dead_bias == -0.7:
        assert removed["layer0"] == (2, 0) and removed["layer1"] == (2, 2)
    if dead_bias == 0.7:
        # layer0's dead filters output act(0.7); the padded depthwise conv of filter 4's makes a
        # position-dependent channel (kept), that of filter 1's is below 0 everywhere, clamped to
        # a constant 0 by its ReLU (removed with layer1's filter 1)
        assert removed["layer0"] == (1, 0) and removed["layer1"] == (1, 1)
    assert cm.report["weights_bytes"] < without.report["weights_bytes"]


def test_int8_tflm_mode(tmp_path):
    _check_same(_model("int8", tmp_path), tmp_path, requant="tflm")


def test_all_filters_of_a_layer_dead(tmp_path):
    """Every filter of the 1x1 conv dead: one stays (a tensor keeps a channel), the rest fold;
    the layers after it compute constants and shrink to one filter each but the output layer."""
    dead = {2: list(range(12))}
    for kind in ("float", "int8"):
        cm, _ = _check_same(_model(kind, tmp_path / kind, dead=dead), tmp_path / kind)
        removed = _removed(cm)
        # layer2's one channel left is a constant: layer4, the fc layers after it, read only
        # constants and each keeps one (constant) filter, folded into the next
        assert removed["layer2"][0] == 11 and removed["layer4"] == (5, 11) and removed["layer6"] == (4, 6 * 25 - 25)


def test_dead_channels_of_a_graph_output_are_kept(tmp_path):
    """The model ends with the conv whose filters are dead: its output keeps every channel."""
    layers = [("conv", 8, 3, 1, 1), ("conv_linear", 6, 1, 1, 0)]
    dead = {0: [2], 1: [0, 5]}
    for kind in ("float", "int8"):
        cm, _ = _check_same(_model(kind, tmp_path / kind, layers, dead, dead_bias=-0.5), tmp_path / kind)
        assert _removed(cm) == {"layer0": (1, 0), "layer1": (0, 1)}
        assert cm.lowered_graph.types[cm.lowered_graph.outputs[0]].shape == (1, 6, 10, 10)


@pytest.mark.parametrize("join", ["add_self", "concat_self"])
def test_add_and_concat_join_channels(join, tmp_path):
    """Add(x, x) and Concat(x, x) along the channels: channel k of x and the output channels
    made from it form one class; layer0's dead filters go (their constants reach the 1x1 conv
    through the join and fold there), and with them layer2's input channels (1 each for Add, 2
    each for Concat)."""
    layers = [("conv", 8, 3, 1, 1), (join,), ("conv", 4, 1, 1, 0)]
    for kind in ("float", "int8"):
        cm, _ = _check_same(_model(kind, tmp_path / kind, layers, {0: [1, 2]}), tmp_path / kind)
        removed = _removed(cm)
        assert removed["layer0"] == (2, 0)
        assert removed["layer2"] == (0, 2 if join == "add_self" else 4)


def test_residual_add_drops_channels_dead_on_both_sides(tmp_path):
    """x + ReLU(conv1x1(x)): channels 2 and 5 are dead in the trunk (layer0) and in the branch
    (layer1) and go everywhere; channel 1 (trunk only) and 6 (branch only) stay, as the Add
    makes them depend on live values."""
    layers = [("conv", 8, 3, 1, 1), ("residual",), ("conv", 4, 1, 1, 0)]
    for kind in ("float", "int8"):
        model = _model(kind, tmp_path / kind, layers, {0: [1, 2, 5], 1: [2, 5, 6]}, dead_bias=-0.5)
        cm, _ = _check_same(model, tmp_path / kind)
        assert _removed(cm) == {"layer0": (2, 0), "layer1": (2, 2), "layer2": (0, 2)}


def test_residual_add_with_a_graph_output_branch_keeps_its_channels(tmp_path):
    """An Add whose output is the graph output: the channels it joins all stay."""
    layers = [("conv", 8, 3, 1, 1), ("add_self",)]
    for kind in ("float", "int8"):
        cm, _ = _check_same(_model(kind, tmp_path / kind, layers, {0: [1, 2]}), tmp_path / kind)
        assert _removed(cm) == {}


# ----------------------------------------------------------------- hypothesis on the compiled graph

@pytest.fixture(scope="module", params=[("mobile", "ort"), ("mobile", "tflm"), ("mobilenet_tiny.qdq_u8", "ort")])
def int8_graph(tmp_path_factory, request):
    """MOBILE's int8 graph after the other passes, without dead filters; and the uint8 fixture
    with asymmetric per-tensor weights (zero points: a dead filter's weights all equal it)."""
    model, mode = request.param
    if model == "mobile":
        model = _model("int8", tmp_path_factory.mktemp("dead"), dead={})
    else:
        model = FIXTURES / f"{model}.onnx"
    return run_pipeline(load(model, requant=mode), pipeline(mode))


def _layers(graph):
    return [n for n in graph.nodes if n.op in ("conv2d", "dense")]


def _with_dead(graph, data, unread_too):
    """The graph with channels killed as hypothesis draws: weight rows zeroed (with a bias of
    any sign), and, if unread_too, weight columns of groups=1 layers (input channels no one
    reads). Returns it with {layer: (dead rows, zeroed columns)}."""
    constants, drawn, nodes = dict(graph.constants), {}, {}
    for node in _layers(graph):
        w = np.array(graph.constants[node.inputs[1]])
        q = node.attrs.quant
        zero = np.broadcast_to(np.asarray(q.inputs[1].zero_point, np.int8), w.shape[:1]).reshape(
            (-1,) + (1,) * (w.ndim - 1))   # "zero" weights: the weight zero point
        rows = data.draw(st.sets(st.integers(0, w.shape[0] - 1)), label=f"dead filters of {node.name}")
        w[sorted(rows)] = zero[sorted(rows)]
        if rows and q.inputs[1].per_channel and data.draw(st.booleans(), label="dead filters with scale 1.0"):
            scales = tuple(1.0 if o in rows else s for o, s in enumerate(q.inputs[1].scale))
            weights = dataclasses.replace(q.inputs[1], scale=scales)
            nodes[node.name] = dataclasses.replace(node, attrs=dataclasses.replace(node.attrs, quant=dataclasses.replace(
                q, inputs=(q.inputs[0], weights, *q.inputs[2:]))))
        cols = set()
        if unread_too and (node.op == "dense" or node.attrs.groups == 1):
            cols = data.draw(st.sets(st.integers(0, w.shape[-1] - 1)), label=f"unread inputs of {node.name}")
            w[..., sorted(cols)] = zero
        constants[node.inputs[1]] = frozen_array(w)
        if len(node.inputs) > 2 and node.inputs[2]:
            bias = np.array(graph.constants[node.inputs[2]])
            for o in sorted(rows):
                bias[o] = data.draw(st.integers(-3000, 3000), label="bias")
            constants[node.inputs[2]] = frozen_array(bias)
        drawn[node.name] = (rows, cols)
    return graph.replace(constants=constants, nodes=tuple(nodes.get(n.name, n) for n in graph.nodes)), drawn


def _input_quant(graph, data):
    """The graph reading its int8 input with another zero point (every type re-inferred)."""
    name = graph.inputs[0]
    t = graph.types[name]
    quant = dataclasses.replace(t.quant, zero_point=(data.draw(st.integers(-128, 127), label="input zero point"),))
    b = rebuild_from(graph.replace(types={**graph.types, name: dataclasses.replace(t, quant=quant)}))
    for n in graph.nodes:
        q = getattr(n.attrs, "quant", None)
        attrs = n.attrs
        if q is not None and q.inputs[0] == t.quant:   # the layout transpose passes the input on
            attrs = dataclasses.replace(attrs, quant=dataclasses.replace(q, inputs=(quant, *q.inputs[1:])))
        b.add(n.op, n.inputs, attrs, n.outputs, n.name)
    return b.build(graph.outputs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), unread_too=st.booleans(), align=st.sampled_from([1, 4]))
def test_hypothesis_int8_any_dead_channels_bit_exact(int8_graph, data, unread_too, align):
    """Any dead filters, unread input channels, biases and input zero point: the reference of the
    graph after the pass gives the same bytes; the 1x1 conv layer2 (read through a max pool by
    the 1x1 conv layer4 only) loses exactly its dead filters and those layer4 does not read
    (all of them when every layer4 filter is dead), all but one if that is all of them, or more
    through a cascade; with align=4 a multiple of 4 fewer. With align=4 every conv/dense keeps
    multiples of 4 where it had them; in tflm mode the dead filters that stay run the fast
    output stage (negative shifts) where their layer's live filters do."""
    graph, drawn = _with_dead(_input_quant(int8_graph, data), data, unread_too)
    after = run_pipeline(graph, (partial(remove_dead_channels, align=align), normalize_dead_requant))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = rng.integers(-128, 128, graph.types[graph.inputs[0]].shape).astype(np.int8)
    (want,), (got,) = reference.run(graph, [x]), reference.run(after, [x])
    assert np.array_equal(got, want)
    event(f"layers changed by the pass: {len(removal_summary(graph, after))}")
    if "layer4" in drawn:   # MOBILE
        rows4, cols4 = drawn["layer4"]
        gone = 12 if len(rows4) == 6 else len(drawn["layer2"][0] | cols4)   # layer4 all dead reads nothing
        (layer2,) = [n for n in after.nodes if n.name == "layer2"]
        # (more when layer2 itself reads nothing any more, e.g. after layer0 became all constants)
        assert after.types[layer2.inputs[1]].shape[0] <= 12 - min(gone, 11) // align * align
    for node in _layers(after):
        filters = after.types[node.inputs[1]].shape[0]
        original = graph.types[node.outputs[0]].shape[-1]
        if align == 4 and original % 4 == 0 and node.outputs[0] not in after.outputs:
            assert filters % 4 == 0, f"{node.name}: {filters} filters"
        q = node.attrs.quant
        if q.mode == "tflm":
            shifts = [quantize_multiplier(q.inputs[0].scale[0] * s / q.output.scale[0])[1] for s in q.inputs[1].scale]
            w = after.constants[node.inputs[1]]
            dead_rows = [o for o in range(filters) if not (w[o] != q.inputs[1].zero_point[0]).any()]
            if any(shifts[o] < 0 for o in range(filters) if o not in dead_rows):
                assert all(shifts[o] < 0 for o in dead_rows), f"{node.name}: shifts {shifts}"


# ----------------------------------------------------------------- on the emulated DSP board

def test_mps2_an386_same_bytes_with_aligned_removal(tmp_path):
    """On mps2-an386 (DSP: channel_align 4, dead filters that stay get a fast-stage scale) the
    firmware of the pruned model gives the bytes of the firmware without the pass and of the host."""
    require_tools(BOARD_TOOLS)
    model = _model("int8", tmp_path, dead_bias=0.7)
    builds = [firmnet.compile(model, tmp_path / f"b{on}", board="mps2-an386", requant="tflm", dead_channels=on)
              for on in (True, False)]
    pruned = builds[0]
    assert pruned.report["dead_channels"]["layers"]
    counts = [[cm.lowered_graph.types[n.outputs[0]].shape[-1] for n in cm.lowered_graph.nodes if n.op == "conv2d"]
              for cm in builds]
    assert counts == [[8, 8, 8, 5], [8, 8, 12, 6]]   # 12 stays a multiple of 4; 6 was none
    xs = int8_inputs(pruned, sample_inputs(SHAPE, count=1))
    board = [qemu.run(cm.out_dir, "mps2-an386", xs).outputs[0] for cm in builds]
    host = pruned.build_host().run_raw(xs)[0]
    assert np.array_equal(board[0], board[1]) and np.array_equal(board[0].reshape(host.shape), host)


# ----------------------------------------------------------------- command line

def test_cli_flag_report_and_verify(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    import onnx
    onnx.save(_model("int8", tmp_path, dead_bias=-0.7), model)
    assert main(["compile", str(model), "-o", str(tmp_path / "on")]) == 0
    assert main(["compile", str(model), "-o", str(tmp_path / "off"), "--keep-dead-channels"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "on")]) == 0
    text = capsys.readouterr().out
    assert "dead channels removed" in text and "layer2 (conv2d): 4 of 12 filters, 2 of 8 input channels removed" in text
    assert main(["report", str(tmp_path / "off")]) == 0
    assert "dead channels: kept (--keep-dead-channels)" in capsys.readouterr().out
    assert json.loads((tmp_path / "off" / "firmnet.json").read_text())["dead_channels"] is False
    assert "dead_channels" not in json.loads((tmp_path / "on" / "firmnet.json").read_text())
    for out in ("on", "off"):
        assert main(["verify", str(tmp_path / out)]) == 0
        assert "verdict: PASS" in capsys.readouterr().out


# ----------------------------------------------------------------- random float graphs

def _kill_filters(model, data):
    """The model with random filters of its Conv, Gemm and MatMul layers zeroed (output rows,
    and sometimes input columns: channels no one reads)."""
    model = copy.deepcopy(model)
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]]).copy()
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        out_axis = 0 if node.op_type == "Conv" or trans_b else w.ndim - 1
        in_axis = 1 if node.op_type == "Conv" else 1 - out_axis
        for axis in (out_axis, in_axis):
            if axis == out_axis or data.draw(st.booleans(), label="unread inputs"):
                dead = sorted(data.draw(st.sets(st.integers(0, w.shape[axis] - 1)), label=f"{node.op_type} dead"))
                index = [slice(None)] * w.ndim
                index[axis] = dead
                w[tuple(index)] = 0
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(w, node.input[1]))
    return model


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=random_graphs(), data=st.data())
def test_random_float_graphs_with_dead_filters(case, data):
    """Random graphs (support/random_graphs.py: residual Adds, Concats, transposes, reshapes,
    grouped convs, pooling, graph outputs inside the graph) with dead filters and unread input
    channels: the reference of the graph after the pass equals that before within verify's
    float tolerance."""
    model = _kill_filters(case.model, data)
    before = run_pipeline(load(model), pipeline("ort"))
    after = run_pipeline(before, (remove_dead_channels, normalize_dead_requant))
    event(f"layers changed by the pass: {len(removal_summary(before, after))}")
    for name, got, want in zip(before.outputs, reference.run(after, case.inputs), reference.run(before, case.inputs)):
        ok, diff, _ = compare(got, want)
        assert ok, f"output {name}: max |after - before| = {diff}"

"""Pruning (firmnet.compress.prune and .structured) on small ONNX models built with onnx.helper.

Unstructured: the sparsity reached, layer by layer, from one global magnitude ranking with
a per-layer floor; the first conv and small layers left alone unless named; QDQ weights
pruned to their zero point. Structured: the model after surgery passes onnx.checker and
gives, in onnxruntime, exactly the outputs of the original model with the removed channels
zeroed where they are read (the test models' values are dyadic, so every float sum is exact).
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

from firmnet.compress.prune import check_sparsity, global_counts, parse_per_layer, prune
from firmnet.compress.structured import prune_structured
from firmnet.compress.weights import OnnxGraph, find_weights
from firmnet.ir import FirmnetError
from support import prune_models as pm
from support.paths import EXAMPLE


def _copy(model):
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _weights(model):
    """layer -> (dequantized weight values, stored integers or None)."""
    g = OnnxGraph(model)
    return {w.layer: (w.const.values(g), g.array(w.const.data) if w.const.quantized else None)
            for w in find_weights(g)}


# unstructured

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), sparsity=st.floats(0.0, 0.9), floor=st.sampled_from([0.05, 0.1, 0.3]),
       qdq=st.booleans())
def test_global_pruning_reaches_sparsity_smallest_first_within_floor(seed, sparsity, floor, qdq):
    b, _ = pm.layered(seed, qdq)
    model = b.model()
    before = _weights(model)
    pruned = _copy(model)
    chosen = ["c2", "c3", "fc1"]
    sizes = [before[n][0].size for n in chosen]
    if round(sparsity * sum(sizes)) > sum(np.floor((1 - floor) * s + 1e-9) for s in sizes):
        with pytest.raises(FirmnetError, match=f"cannot be reached with a per-layer floor of {floor:g}"):
            prune(pruned, sparsity, floor=floor)
        return
    rows = {r.layer: r for r in prune(pruned, sparsity, floor=floor)}
    after = _weights(pruned)
    assert {k for k, r in rows.items() if r.note == "global"} == set(chosen)
    for name in ("c1", "c4", "fc2"):       # first conv, 64 and 320 weights: untouched
        assert np.array_equal(after[name][0], before[name][0])
        assert rows[name].note.startswith("skipped")
    newly = {}
    for name in chosen:
        old, new = before[name][0], after[name][0]
        changed = new != old
        assert np.all(new[changed] == 0)                    # pruning only sets weights to 0
        zero = new == 0
        newly[name] = zero
        assert rows[name].after == pytest.approx(zero.mean())
        assert zero.sum() <= np.floor((1 - floor) * zero.size + 1e-9)           # the floor
        if zero.any() and (~zero).any():                     # within a layer, the smallest go first
            assert np.abs(old[zero]).max() <= np.abs(old[~zero]).min()
    total = sum(before[n][0].size for n in chosen)
    zeros = sum(int(newly[n].sum()) for n in chosen)
    # at least the target; more only where a weight was already 0 (a zero is its own magnitude)
    assert zeros >= round(sparsity * total)
    assert zeros - round(sparsity * total) <= sum(int(np.sum(before[n][0] == 0)) for n in chosen)
    uncapped = [n for n in chosen if newly[n].sum() < np.floor((1 - floor) * newly[n].size + 1e-9)]
    if uncapped and any(newly[n].any() for n in uncapped):   # across layers below their cap too
        pruned_max = max(np.abs(before[n][0][newly[n]]).max(initial=0) for n in uncapped)
        kept_min = min(np.abs(before[n][0][~newly[n]]).min(initial=np.inf) for n in uncapped)
        assert pruned_max <= kept_min
    if qdq:
        for name in chosen:
            values, stored = after[name]
            assert np.all(stored[values == 0] == 0)           # the zero point of these weights


def test_global_counts_by_hand():
    small = np.array([1.0, 2.0, 3.0, 4.0])                  # all smaller than any of `big`
    big = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])
    assert global_counts([small, big], 0.5, 0.25) == [3, 3]         # small capped at 3 of 4
    assert global_counts([small, big], 0.25, 0.25) == [3, 0]
    assert global_counts([small, big], 0.0, 0.25) == [0, 0]
    with pytest.raises(FirmnetError, match="cannot be reached with a per-layer floor of 0.25"):
        global_counts([small, big], 0.8, 0.25)


def test_floor_keeps_a_layer_of_tiny_weights_alive():
    b, _ = pm.layered(3)
    model = b.model()
    g = OnnxGraph(model)
    tiny = {w.layer: w for w in find_weights(g)}["c3"].const.data
    g.set(tiny, g.array(tiny) * np.float32(1e-3))
    rows = {r.layer: r for r in prune(model, 0.8, floor=0.1)}
    assert rows["c3"].after == pytest.approx(np.floor(0.9 * 2304) / 2304)
    assert rows["c3"].after < 0.9 and rows["c2"].after > 0.7


def test_per_layer_prunes_named_layers_even_skipped_ones():
    b, _ = pm.layered(1)
    model = b.model()
    rows = {r.layer: r for r in prune(model, None, {"c1": 0.5, "fc2_w": 0.25})}   # a layer or its weight's name
    assert rows["c1"].after == pytest.approx(108 / 216) and rows["fc2"].after == pytest.approx(80 / 320)
    assert rows["c2"].note.startswith("skipped") and rows["c2"].after == rows["c2"].before
    rows = {r.layer: r for r in prune(b.model(), 0.5, {"c4": 0.75})}
    assert rows["c4"].after == pytest.approx(48 / 64) and rows["c4"].note == "--prune-per-layer 0.75"
    assert rows["c2"].note == "global"


def test_qdq_weights_with_a_zero_point_are_pruned_to_it():
    b, _ = pm.layered(2, qdq=True)
    model = b.model()
    g = OnnxGraph(model)
    w = {x.layer: x for x in find_weights(g)}["fc1"]
    g.set(w.const.data, (g.array(w.const.data) + 3).astype(np.int8))      # same values, zero point 3
    g.set(w.const.zero_point, np.full(g.array(w.const.zero_point).shape, 3, np.int8))
    prune(model, 0.6)
    g = OnnxGraph(model)
    stored, values = g.array(w.const.data), w.const.values(g)
    assert np.all(stored[values == 0] == 3) and np.mean(values == 0) > 0.3


def test_digits_example_int8_prunes_its_integer_initializers():
    model = onnx.load(EXAMPLE.with_name("digits_cnn.int8.onnx"))
    rows = {r.layer: r for r in prune(model, 0.7)}
    assert rows["/conv1/Conv"].note == "skipped: first conv"
    total = sum(r.weights for r in rows.values() if r.note == "global")
    assert round(sum(r.after * r.weights for r in rows.values() if r.note == "global")) == round(0.7 * total)
    q = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "fc.weight_quantized"))
    assert np.mean(q == 0) == pytest.approx(rows["/fc/Gemm"].after)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan")])
def test_sparsity_outside_0_1_is_refused(value):
    with pytest.raises(FirmnetError, match=r"in \[0, 1\)"):
        check_sparsity(value)
    with pytest.raises(FirmnetError, match=r"in \[0, 1\)"):
        prune(pm.layered()[0].model(), value)
    with pytest.raises(FirmnetError, match=r"--prune-structured .* in \[0, 1\)"):
        prune_structured(pm.layered()[0].model(), value)


def test_bad_per_layer_text_and_names():
    assert parse_per_layer("a=0.5, /b/c=0.25") == {"a": 0.5, "/b/c": 0.25}
    with pytest.raises(FirmnetError, match="'a' is not NAME=SPARSITY"):
        parse_per_layer("a")
    with pytest.raises(FirmnetError, match="'x' of a is not a number"):
        parse_per_layer("a=x")
    with pytest.raises(FirmnetError, match=r"--prune-per-layer a= 2"):
        parse_per_layer("a=2")
    with pytest.raises(FirmnetError, match="no prunable layer named 'nope'.*c1, c2, c3, c4, fc1, fc2"):
        prune(pm.layered()[0].model(), 0.5, {"nope": 0.5})


def test_a_model_with_only_small_layers_has_nothing_to_prune():
    b = pm.ModelBuilder()
    b.output(b.gemm(b.input([1, 8]), 8, 4, name="fc"), [1, 4])
    with pytest.raises(FirmnetError, match="no layer to prune: fc: under 1,000 weights"):
        prune(b.model(), 0.5)


# structured

def _check_structured(build, seed, sparsity, qdq, **kw):
    b, shape = build(seed, qdq, **kw)
    model = b.model()
    pruned = _copy(model)
    results = prune_structured(pruned, sparsity)
    onnx.checker.check_model(pruned, full_check=True)
    kept = {layer: r.kept for r in results for layer in r.layers}
    zeroed = pm.zeroed_model(model, b.masks, kept)
    for k in range(2):
        x = pm.dyadic_input(shape, seed + k)
        assert np.array_equal(pm.run(pruned, x), pm.run(zeroed, x))
    return model, pruned, results


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), sparsity=st.floats(0.05, 0.75), qdq=st.booleans(),   # every group has >= 4
       name=st.sampled_from(sorted(pm.MODELS)))
def test_structured_surgery_equals_zeroed_channels(seed, sparsity, qdq, name):
    model, pruned, results = _check_structured(pm.MODELS[name], seed, sparsity, qdq)
    free = [r for r in results if not r.reason]
    assert free and all(r.reason.startswith("makes the model output") for r in results if r.reason)
    total = sum(r.channels for r in free)
    assert sum(r.channels - len(r.kept) for r in free) >= round(sparsity * total)
    for r in free:
        assert 1 <= len(r.kept) and len(r.kept) >= np.ceil(0.05 * r.channels - 1e-9)
    assert sum(t.ByteSize() for t in pruned.graph.initializer) <= sum(t.ByteSize() for t in model.graph.initializer)


@pytest.mark.parametrize("qdq", [False, True])
def test_structured_depthwise_multiplier_follows_its_input(qdq):
    _, pruned, results = _check_structured(pm.depthwise, 5, 0.5, qdq, multiplier=2)
    kept = {layer: r.kept for r in results for layer in r.layers}
    dw = next(n for n in pruned.graph.node if n.name == "dw")
    group = next(a.i for a in dw.attribute if a.name == "group")
    assert group == len(kept["c1"]) == 3
    g = OnnxGraph(pruned)
    weight = {w.layer: w for w in find_weights(g)}["dw"].const
    assert g.array(weight.data).shape == (6, 1, 3, 3)
    if qdq:
        assert g.array(weight.scale).shape == (6,)


@pytest.mark.parametrize("qdq", [False, True])
def test_structured_residual_prunes_joined_layers_together(qdq):
    _, pruned, results = _check_structured(pm.residual, 7, 0.5, qdq)
    joined = next(r for r in results if set(r.layers) == {"stem", "rb"})
    assert joined.channels == 6 and len(joined.kept) == 3
    g = OnnxGraph(pruned)
    shapes = {w.layer: g.array(w.const.data).shape for w in find_weights(g)}
    assert shapes["stem"][0] == shapes["rb"][0] == 3 and shapes["ra"][1] == 3 and shapes["cc"][1] == 3
    assert shapes["head"] == (4, 3)


def test_structured_flatten_gemm_and_bn_of_the_digits_example():
    for path in (EXAMPLE, EXAMPLE.with_name("digits_cnn.int8.onnx")):
        model = onnx.load(path)
        results = prune_structured(model, 0.5)
        onnx.checker.check_model(model, full_check=True)
        g = OnnxGraph(model)
        shapes = {w.layer: g.array(w.const.data).shape for w in find_weights(g)}
        assert shapes["/conv1/Conv"][0] == 4 and shapes["/conv2/Conv"] == (8, 4, 3, 3)
        assert shapes["/conv3/Conv"] == (8, 8, 3, 3) and shapes["/fc/Gemm"] == (10, 8 * 16)
        x = np.zeros((1, 1, 8, 8), np.float32)
        assert pm.run(model, x).shape == (1, 10)
        assert [r.reason for r in results if r.reason] == ["makes the model output 'logits'"]


def test_structured_target_out_of_reach_names_the_layers_kept():
    b, _ = pm.residual_to_output()
    with pytest.raises(FirmnetError, match=r"cannot be reached.*never removed: stem, rb"):
        prune_structured(b.model(), 0.3)
    b, _ = pm.digits_like()
    model = b.model()
    softmax = next(n for n in model.graph.node if n.name == "mask3")   # c1's channels read by a Softmax
    softmax.op_type = "Softmax"
    # 15 of c1..c3's 22 channels asked; c1 kept whole, c2 and c3 keep one each: 14 at most
    with pytest.raises(FirmnetError, match=r"remove 15 of 22 channels, surgery can remove at most 14.*"
                                           r"kept whole: c1 \(read by Softmax node 'mask3'"):
        prune_structured(model, 0.7)
    assert prune_structured(b.model(), 0.0)[0].kept == tuple(range(6))   # 0: nothing removed


FIXTURE_MODELS = ["lenet5", "lenet5.qdq", "mobilenet_tiny", "mobilenet_tiny.qdq_u8", "resnet_tiny", "resnet_tiny.qdq",
                  "mbv3_block", "mbv3_block.qdq", "squeezenet_tiny", "squeezenet_tiny.qdq"]


@pytest.mark.parametrize("name", FIXTURE_MODELS)
def test_structured_on_exported_models_compiles_and_runs(tmp_path, capsys, name):
    """The fixture models as exporters wrote them (Constant nodes, x.view(x.size(0), -1) as
    Shape/Gather/Concat/Reshape, BatchNorm, residual adds, depthwise, squeeze-excite, uint8
    QDQ): surgery leaves a valid model with fewer weights that firmnet compiles and verifies."""
    from firmnet.cli import main
    from support.paths import FIXTURES
    model = onnx.load(FIXTURES / f"{name}.onnx")
    before = sum(w.size for w in find_weights(OnnxGraph(model)))
    results = prune_structured(model, 0.3)
    onnx.checker.check_model(model, full_check=True)
    pinned = {r.layers[0]: r.reason for r in results if r.reason and not r.reason.startswith("makes the model")}
    assert pinned == ({"/classifier/Conv": "read by Softmax node '/Softmax', which pruning does not follow"}
                      if name.startswith("squeezenet") else {})
    assert sum(w.size for w in find_weights(OnnxGraph(model))) < 0.8 * before
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert pm.run(model, np.zeros(shape, np.float32)).shape[0] == 1
    onnx.save(model, tmp_path / "pruned.onnx")
    assert main(["compile", str(tmp_path / "pruned.onnx"), "-o", str(tmp_path / "c")]) == 0
    assert main(["verify", str(tmp_path / "c")]) == 0, capsys.readouterr().out


def test_fake_quant_weights_are_pruned_in_their_float_initializer():
    from support.paths import FIXTURES
    model = onnx.load(FIXTURES / "torch_fq_cnn.qdq.onnx")
    rows = prune(model, None, {"/pw/pw.0/Conv": 0.5})
    assert not any(n.op_type == "Constant" for n in model.graph.node)     # become initializers
    pw = next(r for r in rows if r.layer == "/pw/pw.0/Conv")
    assert pw.after == pytest.approx(0.5, abs=1 / pw.weights)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert np.mean(inits["pw.0.weight"] == 0) == pytest.approx(pw.after)
    with pytest.raises(FirmnetError, match="no Conv, Gemm or MatMul layer with a constant weight"):
        prune_structured(model, 0.3)       # its weights' scales are computed: surgery cannot slice them

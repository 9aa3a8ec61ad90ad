"""compress/codebook.py: k-means codebooks written as Gather(codebook, indices) (README
"Codebook weights")."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import numpy_helper

from firmnet.cli import main
from firmnet.compress.codebook import cluster, codebook, kmeans_1d, packed_bytes
from firmnet.ir import FirmnetError
from support import prune_models as pm
from support.paths import EXAMPLE


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _decoded(model) -> onnx.ModelProto:
    """The model with each Gather of constants replaced by its numpy result codebook[indices]
    (the decoding, independent of the writer)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = _inits(out)
    for node in [n for n in out.graph.node if n.op_type == "Gather"]:
        book, idx = inits[node.input[0]], inits[node.input[1]]
        out.graph.initializer.append(numpy_helper.from_array(book[idx], node.output[0]))
        out.graph.node.remove(node)
    return out


def _gathers(model):
    inits = _inits(model)
    return [(n, inits[n.input[0]], inits[n.input[1]]) for n in model.graph.node if n.op_type == "Gather"]


def test_kmeans_linear_init_converges_to_the_cluster_means():
    centroids, labels = kmeans_1d(np.array([0.0, 0.1, 1.0, 1.1, 3.0]), 3)
    np.testing.assert_allclose(centroids, [0.05, 1.05, 3.0])
    assert labels.tolist() == [0, 0, 1, 1, 2]


def test_zeros_keep_codeword_zero_and_no_other_weight_becomes_zero():
    values = np.array([0, 0, 0, 1, -1, 2, 50, -60, 3, 0], np.int8)
    book, index = cluster(values, 4, integer=True)
    assert book[0] == 0 and np.all(book[1:] != 0)
    decoded = book[index]
    assert np.array_equal(decoded == 0, values == 0)
    assert np.all(decoded == np.rint(decoded)) and np.abs(decoded).max() <= 127


@pytest.mark.parametrize("qdq", [False, True])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("k", [4, 16])
def test_palettized_model_runs_as_its_decoded_weights(qdq, per_channel, k):
    b, shape = pm.digits_like(qdq=qdq)
    model = b.model()
    scales_before = {n: v for n, v in _inits(model).items() if n.endswith("_scale")}
    rows = codebook(model, k, per_channel=per_channel)
    onnx.checker.check_model(model)
    x = pm.dyadic_input(shape)
    # onnxruntime's own Gather gives the weights the documented decoding gives (float32
    # tolerance only: onnxruntime prepacks initializer weights, not computed ones, so the
    # two runs sum in different orders)
    np.testing.assert_allclose(pm.run(model, x), pm.run(_decoded(model), x), rtol=1e-5, atol=1e-4)
    for node, book, idx in _gathers(model):
        assert book.dtype == (np.int8 if qdq else np.float32) and idx.dtype == np.int32
        if per_channel and idx.size > book.size:   # channel c's weights (axis 0 in these layers) index c * K .. c * K + K - 1
            channels = idx.shape[0]
            assert book.size == channels * k
            assert np.array_equal(idx.reshape(channels, -1) // k,
                                  np.repeat(np.arange(channels)[:, None], idx.size // channels, axis=1))
        else:
            assert book.size == k and idx.min() >= 0 and idx.max() < k
    # QDQ: the layer keeps its scales, the integer codebook is int8 under them
    assert {n: v for n, v in _inits(model).items() if n.endswith("_scale")}.keys() == scales_before.keys()
    for n, v in scales_before.items():
        assert np.array_equal(_inits(model)[n], v)
    for r in rows:   # c1's 9 weights per channel are fewer than 16: left dense
        assert (r.note, r.k) == (("skipped: 9 weights per output channel, fewer than K", 0) if
                                 (r.layer, k, per_channel) == ("c1", 16, True) else ("", k))
        assert 0 <= r.error < 1


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([4, 16, 256]), st.booleans())
def test_at_most_k_values_per_group_and_rows_count_packed_bytes(seed, k, per_channel):
    rng = np.random.default_rng(seed)
    channels = int(rng.integers(1, 6))
    depth = int(rng.integers(k if per_channel else -(-k // channels), k + 300))
    w = rng.normal(size=(channels, depth)).astype(np.float32)
    w[rng.random(w.shape) < 0.3] = 0
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, depth])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, channels])],
        [numpy_helper.from_array(w, "w")])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    (row,) = codebook(model, k, per_channel=per_channel)
    (_, book, idx), = _gathers(model)
    decoded = book[idx]
    groups = decoded if per_channel else decoded.reshape(1, -1)
    assert all(np.unique(g).size <= k for g in groups)
    assert np.array_equal(decoded == 0, w == 0)                 # pruned zeros exactly, nothing else
    assert row.bytes_after == channels * -(-depth * {4: 2, 16: 4, 256: 8}[k] // 8) + \
        (channels if per_channel else 1) * k * 4
    assert row.bytes_after == packed_bytes(w.size, channels, k, per_channel, 4)
    err = np.linalg.norm(w - decoded) / np.linalg.norm(w) if np.any(w) else 0.0
    assert row.error == pytest.approx(err, rel=1e-6, abs=1e-12)


def test_digits_int8_k16_halves_the_weight_bytes():
    model = onnx.load(EXAMPLE.with_name("digits_cnn.int8.onnx"))
    rows = codebook(model, 16)
    before, after = sum(r.bytes_before for r in rows), sum(r.bytes_after for r in rows)
    assert before / after >= 1.9


def test_deterministic():
    a, b = pm.digits_like()[0].model(), pm.digits_like()[0].model()
    codebook(a, 16, per_channel=True)
    codebook(b, 16, per_channel=True)
    assert a.SerializeToString() == b.SerializeToString()


@pytest.mark.parametrize("kwargs,message", [
    ({"k": 8}, "K must be one of 4, 16, 256"),
    ({"k": 256, "per_channel": True, "layers": ["c1"]},
     "'c1': --codebook 256 is more codewords than its 9 weights per output channel"),
    ({"k": 16, "layers": ["nope"]}, "no prunable layer named 'nope'"),
])
def test_bad_options_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(FirmnetError, match=message.replace("(", r"\(")):
        codebook(pm.digits_like()[0].model(), **kwargs)


def test_named_layers_only():
    model = pm.digits_like()[0].model()
    rows = codebook(model, 4, layers=["fc"])
    assert [r.layer for r in rows if not r.note] == ["fc"]
    assert [n.output[0] for n, _, _ in _gathers(model)] == [next(n.input[1] for n in model.graph.node
                                                                 if n.name == "fc")]


def test_cli_compress_codebook_stage(tmp_path, capsys):
    """firmnet compress --quantize int8 --codebook 16: the codebook stage comes last, on the
    int8 weights; its row is measured with the codebook kernels (weight bytes halve)."""
    out = tmp_path / "d.cb16.onnx"
    code = main([str(a) for a in ("compress", EXAMPLE, "-o", out, "--quantize", "int8", "--calib",
                                  EXAMPLE.with_name("digits_calib.npz"), "--codebook", "16", "--json")])
    assert code == 0, capsys.readouterr().err
    rows = {r["stage"]: r for r in json.loads(capsys.readouterr().out)["stages"]}
    assert rows["int8"]["weights_bytes"] - rows["codebook"]["weights_bytes"] >= 2900   # 6,088 -> 3,112 B of weights
    model = onnx.load(out)
    gathers = [n for n in model.graph.node if n.op_type == "Gather"]
    assert len(gathers) == 4
    consumers = {i: n.op_type for n in model.graph.node for i in n.input}
    assert all(consumers[g.output[0]] == "DequantizeLinear" for g in gathers)


def test_cli_compress_refuses_a_bad_k(tmp_path, capsys):
    assert main(["compress", str(EXAMPLE), "-o", str(tmp_path / "x.onnx"), "--codebook", "8"]) == 2
    assert "--codebook 8: K must be one of 4, 16, 256" in capsys.readouterr().err

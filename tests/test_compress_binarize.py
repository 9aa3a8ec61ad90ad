"""firmnet.compress.binarize: XNOR-Net binarization of a float model's Conv/Gemm/MatMul layers.

What a binarized layer computes is checked against the XNOR-Net formula written here in numpy
from the ORIGINAL layer's weights: y = α ⊙ (sign(W) * sign(x)) + b, sign(0) = +1 for weights,
α = mean |W| per output channel. Inputs are drawn from a continuous distribution (no exact
zeros, where ONNX Sign gives 0 and firmnet +1). The sum sign(W) * sign(x) is an integer,
exact in float32 in any order, so onnxruntime and numpy differ only by the rounding of α and
of the Mul/Add in float32: compared with rtol 1e-6 (plus 1e-6 of the terms' size near 0).
"""
from __future__ import annotations

import itertools
import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from firmnet.cli import main
from firmnet.compress import accuracy, read_labels, read_samples
from firmnet.compress.binarize import binarize, binary_nodes, format_binarized, parse_layers
from firmnet.ir import FirmnetError
from support import prune_models as pm
from support.paths import EXAMPLE, FIXTURES

RTOL = 1e-6


def _copy(model):
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _run(model, feeds, outputs=None):
    """onnxruntime on the model, with `outputs` (intermediate tensors too) as its outputs."""
    m = _copy(model)
    if outputs is not None:
        del m.graph.output[:]
        m.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in outputs)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in m.graph.output], session.run(None, feeds)))


def _sign(a):
    return np.where(a >= 0, 1.0, -1.0)


def _alpha(w, out_axis):
    axes = tuple(a for a in range(w.ndim) if a != out_axis)
    return np.abs(w.astype(np.float64)).sum(axis=axes) / (w.size // w.shape[out_axis])


def _conv(x, w, strides, pads, dilations):
    """NCHW convolution, groups 1, in float64 (pads: top, left, bottom, right)."""
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    xp = np.zeros((n, cin, h + pads[0] + pads[2], wd + pads[1] + pads[3]))
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + wd] = x
    oh = (xp.shape[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (xp.shape[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, cout, oh, ow))
    for i, j in itertools.product(range(kh), range(kw)):
        r, c = i * dilations[0], j * dilations[1]
        patch = xp[:, :, r:r + strides[0] * (oh - 1) + 1:strides[0], c:c + strides[1] * (ow - 1) + 1:strides[1]]
        y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y


def _close(got, want, terms):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * float(np.max(np.abs(terms), initial=1.0)))


def _model(nodes, inputs, outputs, inits, opset=17):
    graph = helper.make_graph(nodes, "binarize_test", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _binary_weights_are_exact(model, layer_names):
    """Every binarized layer reads a Sign output and a weight of exactly ±1."""
    inits = _inits(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.name in layer_names:
            assert producer[node.input[0]].op_type == "Sign"
            w = inits[node.input[1]]
            assert set(np.unique(w).tolist()) <= {-1.0, 1.0}


# the formula, one layer at a time

@settings(max_examples=40, deadline=None)
@given(data=st.data(), cin=st.integers(1, 5), cout=st.integers(1, 6), k=st.integers(1, 3),
       stride=st.integers(1, 2), dilation=st.integers(1, 2), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_computes_the_xnor_formula(data, cin, cout, k, stride, dilation, bias, seed):
    rng = np.random.default_rng(seed)
    pads = data.draw(st.lists(st.integers(0, k - 1), min_size=4, max_size=4))
    h, wd = data.draw(st.integers(k * dilation, 7)), data.draw(st.integers(k * dilation, 7))
    w = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    w[rng.random(w.shape) < 0.1] = 0.0                        # sign(0) = +1
    b = rng.standard_normal(cout).astype(np.float32)
    x = rng.standard_normal((2, cin, h, wd)).astype(np.float32)
    assume(np.all(x != 0))
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if bias else [])
    conv = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], name="conv", kernel_shape=[k, k],
                            strides=[stride] * 2, pads=pads, dilations=[dilation] * 2)
    model = _model([conv], [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 4)], inits)
    rows = binarize(model, ["conv"])
    onnx.checker.check_model(model, full_check=True)
    _binary_weights_are_exact(model, {"conv"})
    acc = _conv(_sign(x), _sign(w), [stride] * 2, pads, [dilation] * 2)
    alpha = _alpha(w, 0).astype(np.float32).reshape(1, -1, 1, 1)
    want = acc * alpha + (b.reshape(1, -1, 1, 1) if bias else 0)
    _close(_run(model, {"x": x})["y"], want, acc * alpha)
    assert rows[0].macs == acc.size * cin * k * k          # one run of the model (batch 2)
    assert (rows[0].bytes_before, rows[0].bytes_after) == (w.nbytes, -(-w.size // 8) + 4 * cout)
    alpha_init = next(v for n, v in _inits(model).items() if n.endswith("_alpha"))
    assert alpha_init.shape == (1, cout, 1, 1)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 3), kdim=st.integers(1, 40), n=st.integers(1, 12), trans_a=st.integers(0, 1),
       trans_b=st.integers(0, 1), gemm_alpha=st.sampled_from([1.0, 0.5, -2.0]),
       beta=st.sampled_from([1.0, 0.25]), c_shape=st.sampled_from(["n", "1n", "scalar", "none"]),
       seed=st.integers(0, 2**16))
def test_gemm_computes_the_xnor_formula(m, kdim, n, trans_a, trans_b, gemm_alpha, beta, c_shape, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, kdim) if trans_b else (kdim, n)).astype(np.float32)
    a = rng.standard_normal((kdim, m) if trans_a else (m, kdim)).astype(np.float32)
    assume(np.all(a != 0))
    c = {"n": rng.standard_normal(n), "1n": rng.standard_normal((1, n)), "scalar": rng.standard_normal(()),
         "none": None}[c_shape]
    inits = [numpy_helper.from_array(w, "w")]
    if c is not None:
        inits.append(numpy_helper.from_array(np.asarray(c, np.float32), "c"))
    gemm = helper.make_node("Gemm", ["a", "w"] + (["c"] if c is not None else []), ["y"], name="fc",
                            transA=trans_a, transB=trans_b, alpha=gemm_alpha, beta=beta)
    model = _model([gemm], [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a.shape))],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 2)], inits)
    binarize(model, ["fc"])
    onnx.checker.check_model(model, full_check=True)
    _binary_weights_are_exact(model, {"fc"})
    wb = _sign(w.T if trans_b else w)                 # (K, N)
    acc = _sign(a.T if trans_a else a) @ wb
    scaled = acc * (gemm_alpha * _alpha(w, 0 if trans_b else 1).astype(np.float32))
    want = scaled + (0 if c is None else beta * np.asarray(c, np.float32))
    _close(_run(model, {"a": a})["y"], want, scaled)
    gemm_node = next(nd for nd in model.graph.node if nd.op_type == "Gemm")
    assert len(gemm_node.input) == 2 and all(at.name not in ("alpha", "beta") for at in gemm_node.attribute)


@settings(max_examples=25, deadline=None)
@given(lead=st.sampled_from([(2,), (1, 3)]), kdim=st.integers(1, 20), n=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_matmul_computes_the_xnor_formula(lead, kdim, n, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((kdim, n)).astype(np.float32)
    x = rng.standard_normal(lead + (kdim,)).astype(np.float32)
    assume(np.all(x != 0))
    mm = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    model = _model([mm], [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * (len(lead) + 1))],
                   [numpy_helper.from_array(w, "w")])
    rows = binarize(model, ["mm"])
    acc = _sign(x) @ _sign(w)
    want = acc * _alpha(w, 1).astype(np.float32)
    _close(_run(model, {"x": x})["y"], want, want)
    assert rows[0].macs == int(np.prod(lead)) * kdim * n
    assert [nd.op_type for nd in model.graph.node] == ["Sign", "MatMul", "Mul"]     # no bias: no Add


# a model of several layers: which ones, and each one's output from its own input

def _layered(seed=0):
    """conv c1 - BN - conv c2 - maxpool - conv c3 - depthwise dw - flatten - gemm fc1 - gemm fc2: no ReLU
    before a binarized layer (its Sign would be constant)."""
    b = pm.ModelBuilder(seed)
    x = b.input([1, 2, 8, 8])
    x = b.bn(b.conv(x, 2, 4, name="c1"), 4)
    x = b.maxpool(b.conv(x, 4, 6, name="c2"))
    x = b.conv(b.conv(x, 6, 6, name="c3"), 6, 6, group=6, name="dw")
    x = b.gemm(b.flatten(x), 96, 12, name="fc1")
    b.output(b.gemm(x, 12, 5, name="fc2"), [1, 5])
    model = b.model()
    rng = np.random.default_rng(seed)     # continuous values: no layer output is exactly 0
    for t in model.graph.initializer:
        shape = numpy_helper.to_array(t).shape
        value = rng.uniform(0.5, 2.0, shape) if t.name.endswith("_var") else rng.standard_normal(shape)
        if t.name.endswith("_w"):
            value[rng.random(shape) < 0.1] = 0.0          # sign(0) = +1
        t.CopyFrom(numpy_helper.from_array(value.astype(np.float32), t.name))
    return model


def _layer_io(model, name):
    node = next(n for n in model.graph.node if n.name == name)
    return node.input[0], node.output[0]


def _check_layers_follow_the_formula(original, binary, names, x):
    """Each binarized layer's output (same tensor name as before) from its input, in the binary model."""
    inits = _inits(original)
    io = {n: _layer_io(original, n) for n in names}
    got = _run(binary, {"x": x}, [t for pair in io.values() for t in pair])
    for name in names:
        node = next(n for n in original.graph.node if n.name == name)
        xin, out = got[io[name][0]], got[io[name][1]]
        assert np.all(xin != 0)
        w = inits[node.input[1]]
        bias = inits[node.input[2]] if len(node.input) > 2 else 0
        if node.op_type == "Conv":
            attrs = {a.name: list(a.ints) for a in node.attribute}
            acc = _conv(_sign(xin), _sign(w), attrs.get("strides", [1, 1]), attrs.get("pads", [0] * 4),
                        attrs.get("dilations", [1, 1]))
            scaled = acc * _alpha(w, 0).astype(np.float32).reshape(1, -1, 1, 1)
            want = scaled + np.reshape(bias, (1, -1, 1, 1))
        else:          # Gemm transB 1
            scaled = (_sign(xin) @ _sign(w).T) * _alpha(w, 0).astype(np.float32)
            want = scaled + bias
        _close(out, want, scaled)


def test_auto_binarizes_all_but_first_last_and_grouped_and_each_follows_the_formula():
    original = _layered()
    model = _copy(original)
    rows = {r.layer: r for r in binarize(model, "auto")}
    assert {k: r.note for k, r in rows.items()} == {
        "c1": "skipped: first layer", "c2": "binary", "c3": "binary",
        "dw": "skipped: groups 6 (a binary conv has groups 1: depthwise layers stay float)",
        "fc1": "binary", "fc2": "skipped: last layer"}
    for name in ("c2", "c3", "fc1"):          # about 10 % of _layered's weights are 0: flagged
        zeros = np.mean(_inits(original)[f"{name}_w"] == 0)
        assert rows[name].warnings == (f"{zeros:.0%} of the weights are 0 (pruned?) and become +1: "
                                       "binarization keeps no zeros",)
    onnx.checker.check_model(model, full_check=True)
    _binary_weights_are_exact(model, {"c2", "c3", "fc1"})
    inits, before = _inits(model), _inits(original)
    for name in ("c1_w", "dw_w", "fc2_w"):                # untouched layers keep their float weights
        assert np.array_equal(inits[name], before[name])
    x = np.random.default_rng(1).standard_normal((1, 2, 8, 8)).astype(np.float32)
    _check_layers_follow_the_formula(original, model, ["c2", "c3", "fc1"], x)
    # the model's output still comes out under its name, from a model onnxruntime runs as a whole
    assert _run(model, {"x": x})["y"].shape == (1, 5)
    table = format_binarized(list(rows.values()))
    assert "binary layers: 3" in table and "c2" in table


def test_named_layers_only_and_by_weight_name_including_the_first():
    original = _layered(3)
    model = _copy(original)
    rows = {r.layer: r.note for r in binarize(model, ["c1", "fc2_w"])}
    assert rows == {"c1": "binary", "c2": "skipped: not named", "c3": "skipped: not named",
                    "dw": "skipped: not named", "fc1": "skipped: not named", "fc2": "binary"}
    assert model.graph.node[0].op_type == "Sign" and model.graph.node[0].input[0] == "x"   # on the model input
    x = np.random.default_rng(2).standard_normal((1, 2, 8, 8)).astype(np.float32)
    _check_layers_follow_the_formula(original, model, ["c1", "fc2"], x)


def test_layers_reading_one_tensor_share_one_sign_and_a_shared_weight_is_copied():
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["a"], name="g1", transB=1),
             helper.make_node("Gemm", ["x", "w2"], ["b"], name="g2", transB=1),
             helper.make_node("Gemm", ["a", "w"], ["c"], name="g3", transB=0)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                   [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 4]),
                    helper.make_tensor_value_info("c", TensorProto.FLOAT, [2, 3])],
                   [numpy_helper.from_array(w, "w"), numpy_helper.from_array(w[:, ::-1].copy(), "w2")])
    binarize(model, ["g1", "g2"])
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node].count("Sign") == 1
    inits = _inits(model)
    assert np.array_equal(inits["w"], w)                 # g3 reads the float weight still
    g1 = next(n for n in model.graph.node if n.name == "g1")
    assert g1.input[1] != "w" and set(np.unique(inits[g1.input[1]])) <= {-1.0, 1.0}


def test_digits_cnn_auto_flags_sign_of_relu_outputs():
    model = onnx.load(str(EXAMPLE))
    rows = binarize(model, "auto")
    onnx.checker.check_model(model, full_check=True)
    assert [r.layer for r in rows if r.binary] == ["/conv2/Conv", "/conv3/Conv"]
    for r in rows[1:3]:      # conv2 reads Relu, conv3 reads MaxPool(Relu): a constant sign
        assert r.binary and r.warnings[0].startswith("input >= 0 (Relu")
    assert (rows[1].macs, rows[1].bytes_before, rows[1].bytes_after) == (8 * 8 * 16 * 8 * 9, 16 * 8 * 9 * 4,
                                                                         16 * 8 * 9 // 8 + 16 * 4)
    x = np.load(EXAMPLE.with_name("digits_test.npz"))["x"][:1]
    assert _run(model, {"input": x})["logits"].shape == (1, 10)


# refusals

def test_unknown_layer_lists_the_layers():
    with pytest.raises(FirmnetError, match=r"no binarizable layer named 'nope'.*c1, c2, c3, dw, fc1, fc2"):
        binarize(_layered(), ["c2", "nope"])


def test_grouped_conv_named_is_refused():
    with pytest.raises(FirmnetError, match=r"cannot binarize layer 'dw' \(Conv\): groups 6"):
        binarize(_layered(), ["dw"])


def test_quantized_model_is_refused_naming_the_node():
    b, _ = pm.digits_like(qdq=True)
    with pytest.raises(FirmnetError, match=r"cannot binarize a quantized model \(node '\S+' is DequantizeLinear\): "
                                           r"binarize the float model, then quantize"):
        binarize(b.model(), "auto")


def test_binarizing_twice_is_refused_and_auto_with_nothing_left_says_so():
    model = _layered()
    binarize(model, ["c2"])
    with pytest.raises(FirmnetError, match=r"cannot binarize layer 'c2' \(Conv\): already binary"):
        binarize(model, ["c2"])
    two = pm.ModelBuilder(0)
    x = two.input([1, 4])
    two.output(two.gemm(two.gemm(x, 4, 3, name="a"), 3, 2, name="b"), [1, 2])
    with pytest.raises(FirmnetError, match=r"auto: no layer to binarize \(the first and last layers stay float"):
        binarize(two.model(), "auto")


def test_parse_layers():
    assert parse_layers("auto") == "auto"
    assert parse_layers(" /conv2/Conv, /conv3/Conv ,") == ["/conv2/Conv", "/conv3/Conv"]


def test_binary_nodes_are_the_signs_layers_and_their_alpha_and_bias():
    model = _layered()
    binarize(model, ["c2", "fc1"])
    assert binary_nodes(model) == ["c2_sign", "c2", "c2_mul_alpha", "c2_add_bias",
                                   "fc1_sign", "fc1", "fc1_mul_alpha", "fc1_add_bias"]
    assert binary_nodes(_layered()) == []


def test_binary_nodes_of_a_pytorch_export_include_the_weight_signs_and_transpose():
    model = onnx.load(str(FIXTURES / "binary_cnn.torch_sign.onnx"))
    assert binary_nodes(model) == ["/conv2/Sign", "/conv2/Sign_1", "/conv2/Conv", "/conv2/Mul",
                                   "/conv3/Sign", "/conv3/Sign_1", "/conv3/Conv",
                                   "/fc1/Sign", "/fc1/Sign_1", "/fc1/Transpose", "/fc1/MatMul", "/fc1/Mul", "/fc1/Add"]


def test_pruned_weights_are_flagged_since_zeros_become_plus_one(tmp_path, capsys):
    code, text, err = _cli(capsys, "compress", EXAMPLE, "-o", tmp_path / "pb.onnx", "--prune-per-layer",
                           "/conv3/Conv=0.5", "--binarize", "/conv3/Conv")
    assert code == 0, err
    assert _row(text, "/conv3/Conv")[5] == ("binary; warning: input >= 0 (Relu '/Relu_1'), so its sign is "
                                            "+1 everywhere: train without that activation; warning: 50% of the "
                                            "weights are 0 (pruned?) and become +1: binarization keeps no zeros")
    weight = _inits(onnx.load(tmp_path / "pb.onnx"))["conv3.weight"]
    assert set(np.unique(weight).tolist()) == {-1.0, 1.0}


def test_relu6_input_is_flagged_like_relu():
    b = pm.ModelBuilder(0)
    x = b.input([1, 4])
    lo, hi = b._const("lo", np.float32(0)), b._const("hi", np.float32(6))
    x = b._node("Clip", [b.gemm(x, 4, 6, name="a"), lo, hi], name="relu6")
    b.output(b.gemm(b.gemm(x, 6, 6, name="b"), 6, 2, name="c"), [1, 2])
    rows = {r.layer: r for r in binarize(b.model(), "auto")}
    assert rows["b"].warnings[0] == "input >= 0 (Clip 'relu6'), so its sign is +1 everywhere: train without that " \
                                    "activation"


# firmnet compress --binarize, as a user runs it

CALIB = EXAMPLE.with_name("digits_calib.npz")
INT8 = EXAMPLE.with_name("digits_cnn.int8.onnx")


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _row(text, layer):
    m = re.search(rf"^{re.escape(layer)} +(\w+) +([\dx]+) +([\d,]+) +([\d,]+) +([\d,]+)  (.*)$", text, re.M)
    assert m, text
    return m.group(1), m.group(2), int(m.group(3).replace(",", "")), int(m.group(4).replace(",", "")), \
        int(m.group(5).replace(",", "")), m.group(6)


def test_cli_binarize_auto_writes_the_binary_model_and_its_rows(tmp_path, capsys):
    out = tmp_path / "d.bin.onnx"
    code, text, err = _cli(capsys, "compress", EXAMPLE, "-o", out, "--binarize", "auto")
    assert code == 0, err
    assert _row(text, "/conv1/Conv")[5] == "skipped: first layer"
    assert _row(text, "/fc/Gemm")[5] == "skipped: last layer"
    assert _row(text, "/conv2/Conv")[:5] == ("Conv", "16x8x3x3", 73_728, 4_608, 144 + 64)
    assert _row(text, "/conv3/Conv")[:5] == ("Conv", "16x16x3x3", 36_864, 9_216, 288 + 64)
    assert "binary layers: 2, weights 13,824 -> 560 bytes (24.7x smaller)" in text
    assert "not retrained: fine-tune" in text     # the user learns what restores the accuracy
    assert re.search(r"^float +[\d,]+ +117,760$", text, re.M) and re.search(r"^binary ", text, re.M)   # stage table
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    _binary_weights_are_exact(model, {"/conv2/Conv", "/conv3/Conv"})


def test_cli_binarize_then_int8_leaves_the_binary_layers_float(tmp_path, capsys):
    out = tmp_path / "d.int8.onnx"
    code, text, err = _cli(capsys, "compress", EXAMPLE, "-o", out, "--binarize", "/conv2/Conv,/conv3/Conv",
                           "--quantize", "int8", "--calib", CALIB)
    assert code == 0, err
    assert f"wrote {tmp_path / 'd.int8.binary.onnx'} (binarized)" in text     # binarized first, then int8
    assert re.search(r"^binary \(2 layers\) ", text, re.M) and re.search(r"^int8", text, re.M)
    model = onnx.load(out)
    _binary_weights_are_exact(model, {"/conv2/Conv", "/conv3/Conv"})         # float ±1, not under DequantizeLinear
    producer = {o: n for n in model.graph.node for o in n.output}
    layers = {n.name: n for n in model.graph.node if n.op_type in ("Conv", "Gemm")}
    for name in ("/conv1/Conv", "/fc/Gemm"):                                 # the ends are int8
        assert producer[layers[name].input[1]].op_type == "DequantizeLinear"
    x = np.load(EXAMPLE.with_name("digits_test.npz"))["x"][:1]
    assert _run(model, {"input": x})["logits"].shape == (1, 10)


def test_cli_binarize_json_holds_the_layer_rows(tmp_path, capsys):
    code, text, err = _cli(capsys, "compress", EXAMPLE, "-o", tmp_path / "j.onnx", "--binarize", "/conv3/Conv", "--json")
    assert code == 0, err
    stages = json.loads(text)["stages"]
    assert [(s["stage"], s["name"]) for s in stages] == [("input", "float"), ("binary", "binary (1 layer)")]
    rows = {r["layer"]: r for r in stages[1]["rows"]}
    assert rows["/conv3/Conv"]["shape"] == [16, 16, 3, 3] and rows["/conv3/Conv"]["note"] == "binary"
    assert rows["/conv3/Conv"]["warnings"] == ["input >= 0 (Relu '/Relu_1'), so its sign is +1 everywhere: train "
                                               "without that activation"]
    assert (rows["/conv3/Conv"]["bytes_before"], rows["/conv3/Conv"]["bytes_after"]) == (9_216, 352)
    assert rows["/conv2/Conv"]["note"] == "skipped: not named"


@pytest.mark.parametrize("argv, message", [
    (("--binarize", "/conv2/Conv,nope"), "no binarizable layer named 'nope'; the model's Conv/Gemm/MatMul layers "
                                         "are: /conv1/Conv, /conv2/Conv, /conv3/Conv, /fc/Gemm"),
    (("--binarize", ","), "--binarize: give auto or layer names"),
])
def test_cli_binarize_refuses_bad_layer_lists(tmp_path, capsys, argv, message):
    code, _, err = _cli(capsys, "compress", EXAMPLE, "-o", tmp_path / "x.onnx", *argv)
    assert code == 2 and message in err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_int8_of_a_pytorch_binary_export_leaves_its_binary_layers_float(tmp_path, capsys):
    fixture = FIXTURES / "binary_cnn.torch_sign.onnx"
    data = np.load(FIXTURES / "binary_cnn.torch_sign.npz")
    np.savez(tmp_path / "calib.npz", input=data["inputs"][:, 0])
    out = tmp_path / "q.onnx"
    code, _, err = _cli(capsys, "compress", fixture, "-o", out, "--quantize", "int8", "--calib", tmp_path / "calib.npz")
    assert code == 0, err
    model = onnx.load(out)
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = _inits(model)
    for name in ("/conv2/Conv", "/conv3/Conv", "/fc1/MatMul"):        # Sign(float W), not quantized
        node = next(n for n in model.graph.node if n.name == name)
        weight = producer[node.input[1]]
        weight = producer[weight.input[0]] if weight.op_type == "Transpose" else weight
        assert weight.op_type == "Sign" and weight.input[0] in inits and inits[weight.input[0]].dtype == np.float32
        assert producer[node.input[0]].op_type == "Sign"
    gemm = next(n for n in model.graph.node if n.name == "/fc2/Gemm")
    assert producer[gemm.input[1]].op_type == "DequantizeLinear"


def test_cli_binarize_refuses_an_int8_model(tmp_path, capsys):
    code, _, err = _cli(capsys, "compress", INT8, "-o", tmp_path / "x.onnx", "--binarize", "auto")
    assert code == 2 and "cannot binarize a quantized model" in err and "binarize the float model, then quantize" in err


# the binary digits example's committed models (examples/digits/binary.py)

BINARY = EXAMPLE.parent / "binary" / "digits_cnn.binary.onnx"
BINARY_INT8 = EXAMPLE.parent / "binary" / "digits_cnn.binary.int8.onnx"


def _recorded(model_cell: str, how: str = "onnxruntime") -> float:
    """The accuracy BINARY.md records for the model, measured `how` (printed to 0.01 %: compared
    within half of that)."""
    m = re.search(rf"^\| {re.escape(model_cell)} \| {re.escape(how)}[^|]* \| ([\d.]+)% \|$",
                  EXAMPLE.with_name("BINARY.md").read_text(), re.M)
    assert m, model_cell
    return float(m.group(1)) / 100


def _accuracy(model) -> float:
    data = np.load(EXAMPLE.with_name("digits_test.npz"))
    logits = [_run(model, {"input": data["x"][i:i + 1]})["logits"] for i in range(len(data["y"]))]
    return float(np.mean(np.argmax(np.concatenate(logits), axis=1) == data["y"]))


def test_digits_binary_example_is_in_the_binary_form_with_its_recorded_accuracy():
    model = onnx.load(BINARY)
    assert [n.op_type for n in model.graph.node] == ["Conv", "Sign", "Conv", "Mul", "Add", "MaxPool", "Sign", "Conv",
                                                     "Mul", "Add", "Relu", "Flatten", "Gemm"]
    _binary_weights_are_exact(model, {"/conv2/Conv", "/conv3/Conv"})
    inits = _inits(model)
    for node in model.graph.node:
        if node.op_type in ("Mul", "Add"):
            assert inits[node.input[1]].shape == (1, 16, 1, 1)       # α and bias per output channel
    assert len(binary_nodes(model)) == 8
    assert abs(_accuracy(model) - _recorded("fine-tuned, binary/digits_cnn.binary.onnx")) <= 5e-5
    with pytest.raises(FirmnetError, match="already binary"):
        binarize(model, ["/conv3/Conv"])


def test_digits_binary_int8_example_keeps_binary_layers_float():
    model = onnx.load(BINARY_INT8)
    _binary_weights_are_exact(model, {"/conv2/Conv", "/conv3/Conv"})
    producer = {o: n for n in model.graph.node for o in n.output}
    layers = {n.name: n for n in model.graph.node if n.op_type in ("Conv", "Gemm")}
    assert all(producer[layers[n].input[1]].op_type == "DequantizeLinear" for n in ("/conv1/Conv", "/fc/Gemm"))
    assert abs(_accuracy(model) - _recorded("fine-tuned, int8 ends (binary/digits_cnn.binary.int8.onnx)")) <= 5e-5


@pytest.mark.parametrize("path, cell", [(BINARY, "fine-tuned, binary/digits_cnn.binary.onnx"),
                                        (BINARY_INT8, "fine-tuned, int8 ends (binary/digits_cnn.binary.int8.onnx)")])
def test_digits_binary_examples_c_gives_its_recorded_accuracy(path, cell):
    test = EXAMPLE.with_name("digits_test.npz")
    got = accuracy(path, read_samples(test, onnx.load(path), what="evaluation"), read_labels(test))
    assert abs(got - _recorded(cell, "firmnet's C")) <= 5e-5


def test_cli_binarize_auto_eval_matches_torch_with_firmnets_sign(tmp_path, capsys):
    """The C of --binarize auto's digits model (ReLU outputs into the Signs: +1 everywhere) gives the
    accuracy binary.py's torch twin computes with x >= 0 -> +1, not onnxruntime's (Sign(0) = 0)."""
    code, text, err = _cli(capsys, "compress", EXAMPLE, "-o", tmp_path / "a.onnx", "--binarize", "auto", "--eval",
                           EXAMPLE.with_name("digits_test.npz"))
    assert code == 0, err
    m = re.search(r"accuracy of the generated C on 450 samples: float (\S+), binary (\S+)$", text, re.M)
    assert m, text
    torch_figure = _recorded("binarized by --binarize auto, ReLU before Sign", "torch, x >= 0 -> +1")
    assert abs(float(m.group(2)) - torch_figure) <= 5e-5

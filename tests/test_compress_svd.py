"""SVD low rank (compress/svd.py, firmnet compress --svd-rank/--svd-energy): the factorized
model in onnxruntime against numpy's W_r x, the energy -> rank rule, the refusals, and the
command on the digits model.

Tolerance of the onnxruntime comparison: the factors are stored in float32 and onnxruntime
sums in float32 in its own order, against W_r x in float64 here; for these sizes (at most
24 x 24 weights, inputs in [-1, 1]) the difference stays under 1e-4 of the output's largest
magnitude (plus 1e-5 absolute), the bound asserted.
"""
from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.cli import main
from firmnet.compress import accuracy, read_labels, read_samples
from firmnet.compress.svd import energy_rank, svd
from firmnet.verify import verify
from support.paths import EXAMPLE, FIXTURES

CALIB = EXAMPLE.with_name("digits_calib.npz")
TEST = EXAMPLE.with_name("digits_test.npz")
RTOL, ATOL = 1e-4, 1e-5


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _model(node, x_shape, y_shape, inits) -> onnx.ModelProto:
    graph = helper.make_graph([node], "one_layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                              [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _low_rank(W: np.ndarray, r: int) -> np.ndarray:
    u, s, vt = np.linalg.svd(W.astype(np.float64))
    return (u[:, :r] * s[:r]) @ vt[:r]


def _ort(model, x):
    return ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]


def _close(got, want):
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= RTOL * np.max(np.abs(want)) + ATOL


def _saving_rank(draw, m, n):
    top = min(min(m, n) - 1, (m * n - 1) // (m + n))   # r (m + n) < m n
    assume(top >= 1)
    return draw(st.integers(1, top))


@st.composite
def gemm_cases(draw):
    m, n, batch = draw(st.integers(2, 24)), draw(st.integers(2, 24)), draw(st.integers(1, 3))
    r = _saving_rank(draw, m, n)
    trans_a, trans_b, bias = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    alpha, beta = draw(st.sampled_from([1.0, 0.5, -2.0])), draw(st.sampled_from([1.0, 0.25]))
    seed = draw(st.integers(0, 2**16))
    return m, n, batch, r, trans_a, trans_b, bias, alpha, beta, seed


@settings(max_examples=40, deadline=None)
@given(gemm_cases())
def test_gemm_factorized_in_onnxruntime_equals_low_rank_product(case):
    m, n, batch, r, trans_a, trans_b, bias, alpha, beta, seed = case
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    C = rng.uniform(-1, 1, m).astype(np.float32)
    x = rng.uniform(-1, 1, (n, batch) if trans_a else (batch, n)).astype(np.float32)
    inits = {"W": W if trans_b else W.T, **({"C": C} if bias else {})}
    node = helper.make_node("Gemm", ["x", "W", *(["C"] if bias else [])], ["y"], name="fc", transA=int(trans_a),
                            transB=int(trans_b), alpha=alpha, beta=beta)
    model = _model(node, list(x.shape), [batch, m], inits)
    rows = svd(model, rank=r)
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Gemm"]
    a = x.T if trans_a else x
    want = alpha * (a.astype(np.float64) @ _low_rank(W, r).T) + (beta * C if bias else 0.0)
    _close(_ort(model, x), want)
    (row,) = rows
    assert (row.rank, row.params_before, row.params_after) == (r, m * n, r * (m + n))
    assert (row.macs_before, row.macs_after) == (batch * m * n, batch * r * (m + n))
    W64 = W.astype(np.float64)
    assert row.error == pytest.approx(np.linalg.norm(W64 - _low_rank(W, r)) / np.linalg.norm(W64), abs=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 20), st.integers(2, 20), st.integers(1, 3), st.integers(1, 4), st.data())
def test_matmul_factorized_in_onnxruntime_equals_low_rank_product(m, n, rows_, batch, data):
    r = _saving_rank(data.draw, m, n)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    W = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    x = rng.uniform(-1, 1, (batch, rows_, n)).astype(np.float32)
    model = _model(helper.make_node("MatMul", ["x", "B"], ["y"], name="mm"), list(x.shape), [batch, rows_, m],
                   {"B": W.T})
    (row,) = svd(model, rank=r)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "MatMul"]
    _close(_ort(model, x), x.astype(np.float64) @ _low_rank(W, r).T)
    assert row.macs_before == batch * rows_ * m * n and row.macs_after == batch * rows_ * r * (m + n)


def _conv1x1(x: np.ndarray, W: np.ndarray, bias: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """A 1x1 conv (NCHW) in float64: pad with zeros, take every stride-th pixel, mix channels."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))[:, :, ::stride, ::stride]
    return np.einsum("mn,bnhw->bmhw", W, xp) + bias[None, :, None, None]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 24), st.integers(2, 24), st.integers(1, 2), st.integers(0, 1), st.integers(3, 6), st.data())
def test_1x1_conv_factorized_in_onnxruntime_equals_low_rank_conv(m, n, stride, pad, size, data):
    r = _saving_rank(data.draw, m, n)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    W = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    bias = rng.uniform(-1, 1, m).astype(np.float32)
    x = rng.uniform(-1, 1, (1, n, size, size)).astype(np.float32)
    out = (size + 2 * pad - 1) // stride + 1
    node = helper.make_node("Conv", ["x", "W", "b"], ["y"], name="pw", kernel_shape=[1, 1], strides=[stride] * 2,
                            pads=[pad] * 4)
    model = _model(node, list(x.shape), [1, m, out, out], {"W": W.reshape(m, n, 1, 1), "b": bias})
    (row,) = svd(model, rank=r)
    first, second = model.graph.node
    assert (first.op_type, second.op_type, second.name, list(second.output)) == ("Conv", "Conv", "pw", ["y"])
    assert len(first.input) == 2 and list(second.input)[2] == "b"     # the bias goes to the second conv
    _close(_ort(model, x), _conv1x1(x, _low_rank(W, r), bias.astype(np.float64), stride, pad))
    assert (row.macs_before, row.macs_after) == (out * out * m * n, out * out * r * (m + n))


def test_1d_1x1_conv_factorized_in_onnxruntime_equals_low_rank_conv():
    rng = np.random.default_rng(3)
    m, n, r, length = 12, 10, 3, 7
    W = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    bias = rng.uniform(-1, 1, m).astype(np.float32)
    x = rng.uniform(-1, 1, (2, n, length)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "W", "b"], ["y"], name="pw1d", strides=[2])
    model = _model(node, list(x.shape), [2, m, 4], {"W": W.reshape(m, n, 1), "b": bias})
    (row,) = svd(model, rank=r)
    assert [list(numpy_helper.to_array(t).shape) for t in model.graph.initializer if t.name != "b"] == [[r, n, 1],
                                                                                                       [m, r, 1]]
    want = np.einsum("mn,bnl->bml", _low_rank(W, r), x[:, :, ::2].astype(np.float64)) + bias[None, :, None]
    _close(_ort(model, x), want)
    assert (row.macs_before, row.macs_after) == (2 * 4 * m * n, 2 * 4 * r * (m + n))


def _with_singular_values(s: np.ndarray, m: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((m, m)))
    q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q1[:, :len(s)] * s) @ q2[:, :len(s)].T


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.05, 10.0), min_size=6, max_size=12), st.floats(0.05, 1.0), st.integers(0, 2**16))
def test_energy_gives_the_smallest_rank_keeping_that_fraction_of_the_squared_singular_values(values, energy, seed):
    s = np.sort(np.asarray(values))[::-1]
    m, n = 40, len(s)
    W = _with_singular_values(s, m, n, seed).astype(np.float32)
    sigma = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    kept = np.cumsum(sigma ** 2) / np.sum(sigma ** 2)
    assume(np.all(np.abs(kept - energy) > 1e-6))                   # not on a boundary
    want = int(np.sum(kept < energy)) + 1                           # ranks that fall short, plus one
    model = _model(helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1), [1, n], [1, m], {"W": W})
    (row,) = svd(model, energy=energy)
    if want * (m + n) < m * n:
        assert row.rank == want
        assert row.error == pytest.approx(np.sqrt(1 - kept[want - 1]), abs=1e-5)   # |W - W_r|_F / |W|_F
    else:
        assert row.rank is None and row.note.startswith(f"kept: rank {want} saves nothing")
        assert [n.op_type for n in model.graph.node] == ["Gemm"]


def test_energy_rank_on_the_boundaries():
    s = np.array([3.0, 2.0, 1.0])                     # squares 9, 4, 1 of 14
    assert [energy_rank(s, e) for e in (9 / 14, 9 / 14 + 1e-9, 13 / 14, 13 / 14 + 1e-9, 1.0)] == [1, 2, 2, 3, 3]
    assert energy_rank(s, 1e-9) == 1


def test_factorized_mobile_model_compiles_and_verifies(tmp_path):
    """squeezenet_tiny: its 1x1 convs that save parameters are factorized, the rest stay with
    the reason; firmnet compiles the result and its C equals the numpy reference."""
    model = onnx.load(FIXTURES / "squeezenet_tiny.onnx")
    rows = {r.layer: r for r in svd(model, energy=0.9)}
    assert rows["/conv/Conv"].note == "skipped: 3x3 conv (1x1 only)"
    assert rows["/fire1/squeeze/Conv"].rank == 3
    assert rows["/classifier/Conv"].note.startswith("kept: rank 8 saves nothing")
    cm = firmnet.compile(model, tmp_path, name="sq")
    x = np.random.default_rng(1).standard_normal(cm.graph.types[cm.graph.inputs[0]].shape).astype(np.float32)
    result = verify(cm, [x])
    assert result.ok, result.summary()


def test_refusals(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    cases = [
        (("--svd-rank", "10"), "--svd-rank 10: layer /fc/Gemm has a 10 x 256 weight, whose rank is at most 10"),
        (("--svd-rank", "0"), "at least 1"),
        (("--svd-energy", "0"), "in (0, 1]"),
        (("--svd-energy", "1.5"), "in (0, 1]"),
        (("--svd-rank", "4", "--svd-energy", "0.9"), "not both"),
        (("--svd-layers", "/fc/Gemm"), "--svd-layers needs a rank"),
        (("--svd-rank", "4", "--svd-layers", "fc"), "no layer named 'fc'; the model's Conv/Gemm/MatMul layers are: "
                                                    "/conv1/Conv, /conv2/Conv, /conv3/Conv, /fc/Gemm"),
        (("--svd-rank", "4", "--svd-layers", "/conv2/Conv"), "cannot factorize /conv2/Conv: 3x3 conv (1x1 only)"),
        (("--svd-rank", "4", "--svd-layers", ","), "names no layer"),
    ]
    for flags, message in cases:
        code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, *flags)
        assert code == 2 and message in err, (flags, err)
    mobile = FIXTURES / "mobilenet_tiny.onnx"
    code, _, err = _run(capsys, "compress", mobile, "-o", out, "--svd-rank", "2", "--svd-layers",
                        "/blocks/blocks.0/dw/dw.0/Conv")
    assert code == 2 and "grouped conv (group 8): SVD takes group 1 only" in err
    broken = onnx.load(EXAMPLE)
    fc = next(t for t in broken.graph.initializer if t.name == "fc.weight")
    values = numpy_helper.to_array(fc).copy()
    values[3, 7] = np.nan
    fc.CopyFrom(numpy_helper.from_array(values, "fc.weight"))
    onnx.save(broken, tmp_path / "nan.onnx")
    code, _, err = _run(capsys, "compress", tmp_path / "nan.onnx", "-o", out, "--svd-rank", "4")
    assert code == 2 and "layer /fc/Gemm: its weight 'fc.weight' holds NaN" in err
    code, _, err = _run(capsys, "compress", EXAMPLE.with_name("digits_cnn.int8.onnx"), "-o", out, "--svd-rank", "4")
    assert code == 2 and "this model is quantized" in err and "then --quantize int8" in err
    conv3x3 = onnx.load(EXAMPLE)
    del conv3x3.graph.node[7:]                             # up to conv3's ReLU: 3x3 convs only
    conv3x3.graph.output[0].CopyFrom(helper.make_tensor_value_info("/Relu_2_output_0", TensorProto.FLOAT, None))
    only_3x3 = tmp_path / "convs.onnx"
    onnx.save(conv3x3, only_3x3)
    code, _, err = _run(capsys, "compress", only_3x3, "-o", out, "--svd-energy", "0.9")
    assert code == 2 and "no fully connected" in err and "/conv2/Conv: 3x3 conv (1x1 only)" in err
    assert not out.exists()


def test_svd_then_int8_on_digits_with_eval(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--svd-energy", "0.9", "--svd-layers", "/fc/Gemm",
                           "--quantize", "int8", "--calib", CALIB, "--eval", TEST)
    assert code == 0, err
    fc = re.search(r"^/fc/Gemm +Gemm +10 x 256 +(\d+) +2,560 -> ([\d,]+) +2,560 -> ([\d,]+) +(0\.\d+)  energy 0.9$",
                   text, re.M)
    assert fc, text
    r = int(fc.group(1))
    assert int(fc.group(2).replace(",", "")) == int(fc.group(3).replace(",", "")) == r * 266
    assert re.search(r"^/conv2/Conv .* skipped: 3x3 conv \(1x1 only\)$", text, re.M)
    svd_model = tmp_path / "d.svd.onnx"
    assert f"wrote {svd_model} (SVD energy 0.9)" in text
    m = re.search(r"accuracy of the generated C on 450 samples: float (\S+), SVD energy 0.9 (\S+), int8 \(ort\) (\S+)$",
                  text.strip())
    assert m, text
    samples = read_samples(TEST, onnx.load(EXAMPLE), what="evaluation")
    labels = read_labels(TEST)
    assert float(m.group(2)) == pytest.approx(accuracy(svd_model, samples, labels), abs=5e-5)
    assert float(m.group(3)) >= float(m.group(2)) - 0.03
    # the int8 model runs both thin layers as int8 fully connected layers
    cm = firmnet.compile(out, tmp_path / "c", name="d8")
    fcs = [c for c in cm.lowered.values() if getattr(c, "kernel", "").startswith("fn_fc_s8")]
    assert len(fcs) == 2

"""Binary (XNOR) ONNX models through the whole compiler (tests/support/binary_models.py):
a float first conv, three binary layers (two convs, one after the other through BatchNorm +
Sign, and a fully connected layer after a Flatten), max pooling on bits, a float last layer.

The generated C equals onnxruntime on inputs whose Sign inputs are never exactly 0 (checked
here on onnxruntime's own intermediate values), and the numpy reference always (the trace of
every step, b1 tensors unpacked, through `firmnet verify`); the CLI compiles, verifies and
reports the b1 tensors and the binary kernels; the sanitizer build gives the host's values;
on the emulated Cortex-M4 (mps2-an386), and with 64-channel layers on the M55 (mps3-an547), the
model gives the host's output."""
from __future__ import annotations

import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import qemu
from firmnet.cli import main
from firmnet.ir import FirmnetError
from firmnet.passes.binarize import BinarizeWarning
from firmnet.verify import verify
from support.binary_models import BinaryModel, binary_cnn, random_input
from support.compare import assert_every_step_traced
from support.paths import FIXTURES, REPO
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized

BINARY_KERNELS = {"fn_bconv2d_b1", "fn_fc_b1", "fn_bmaxpool2d_b1", "fn_binarize_f32", "fn_unbinarize_f32"}


def _compile(model, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BinarizeWarning)
        return firmnet.compile(model, out, name="bnn", **kw)


def ort_run(model, x, extra=()):
    """onnxruntime's output and the values of the tensors in extra."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    outs = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    return outs[0], dict(zip(extra, outs[1:]))


def sign_inputs(model):
    return [n.input[0] for n in model.graph.node if n.op_type == "Sign" and not n.input[0].startswith("w_real")]


@pytest.fixture(scope="module", params=[False, True], ids=["pm1_weights", "sign_of_weights"])
def model(request):
    return binary_cnn(seed=3, through_sign=request.param)


@pytest.fixture(scope="module")
def compiled(model, tmp_path_factory):
    return _compile(model, tmp_path_factory.mktemp("bnn"), board="mps2-an386")


def test_the_pattern_becomes_binary_ops(compiled):
    g = compiled.lowered_graph
    ops = [(n.op, g.types[n.outputs[0]].dtype) for n in g.nodes]
    assert ops.count(("bconv2d", "b1")) == 3       # conv, conv, fully connected: each out through BN + Sign
    assert ("bmaxpool", "b1") in ops and ("binarize", "b1") in ops
    assert not any(n.op == "unary" for n in g.nodes)   # every Sign became bits
    kernels = {l["kernel"] for l in compiled.report["layers"]}
    assert {"fn_bconv2d_b1", "fn_bmaxpool2d_b1", "fn_binarize_f32", "fn_unbinarize_f32"} <= kernels


@pytest.mark.parametrize("seed", range(4))
def test_c_equals_onnxruntime_and_the_reference(model, compiled, seed):
    x = random_input(model, seed)
    want, inner = ort_run(model, x, sign_inputs(model))
    assert all((v != 0).all() for v in inner.values())    # no Sign reads an exact zero here
    host = compiled.build_host().run([x])[0]
    np.testing.assert_allclose(host, want, rtol=1e-4, atol=1e-5)
    result = verify(compiled, [x])
    assert result.ok, result.summary()
    assert_every_step_traced(result, compiled)


def test_report_shows_b1_tensors_and_their_bytes(compiled):
    layers = {l["name"]: l for l in compiled.report["layers"]}
    fc = next(l for l in layers.values() if l["name"].startswith("matmul"))
    assert fc["dtype"] == "b1" and fc["bytes"] == 8      # 64 channels: two words
    conv = next(l for l in layers.values() if l["kernel"] == "fn_bconv2d_b1" and l["output"][-1] == 33)
    assert conv["bytes"] == 12 * 12 * 2 * 4             # 33 channels take two words per pixel


def test_cli_compile_verify_report(model, tmp_path, capsys):
    path = tmp_path / "bnn.onnx"
    onnx.save(model, str(path))
    out = tmp_path / "out"
    assert main(["compile", str(path), "-o", str(out), "--board", "mps2-an386"]) == 0
    err = capsys.readouterr().err
    assert "exactly 0" in err      # the note on Sign's zero
    assert main(["verify", str(out)]) == 0
    verified = capsys.readouterr()
    assert "PASS" in verified.out and "exactly 0" not in verified.err    # compile said it already
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"bconv2d +fn_bconv2d_b1 +1x12x12x33 b1", text), text
    for kernel in ("fn_bconv2d_b1", "fn_fc_b1", "fn_bmaxpool2d_b1"):   # fn_fc_b1 at least as a candidate
        assert kernel in text


def test_sanitizers_clean(model, tmp_path):
    cm = _compile(model, tmp_path / "o")
    x = random_input(model, 1)
    for s, h in zip(run_sanitized(cm, [x], tmp_path), cm.build_host().run([x])):
        assert np.array_equal(s, h)


def test_on_the_emulated_m4(model, compiled):
    """Cross-compiled for mps2-an386 and run in QEMU: the host's output (the float layers
    within float tolerance: the board's FPU may contract multiply-adds)."""
    require_tools(BOARD_TOOLS)
    x = random_input(model, 2)
    board = qemu.run(compiled.out_dir, "mps2-an386", [x]).outputs[0]
    np.testing.assert_array_equal(board, compiled.build_host().run([x])[0])


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_whole_word_layers_on_the_boards(tmp_path, board):
    """64-channel binary convs (whole-word taps: the border windows as runs of words, two
    blocks of output channels) and a fully connected layer over 50 words (a Flatten of 5x5x64
    bits, byte counts flushed every 30 words), cross-compiled for the Cortex-M4 and M55: QEMU
    gives the host's output (the M4's LDRD loads, register masks and USADA8 sums, the M55's
    Helium count, against the portable C)."""
    require_tools(BOARD_TOOLS)
    model = binary_cnn(seed=5, c1=64, c2=64, c3=64, fc=40, size=20)
    cm = _compile(model, tmp_path / "o", board=board)
    assert {"fn_bconv2d_b1", "fn_fc_b1"} <= {l["kernel"] for l in cm.report["layers"]}
    for seed in range(2):
        x = random_input(model, seed)
        board_out = qemu.run(cm.out_dir, board, [x]).outputs[0]
        np.testing.assert_array_equal(board_out, cm.build_host().run([x])[0])


def test_mixed_weights_are_refused(tmp_path):
    m = BinaryModel(0)
    w = np.where(m.rng.random((8, 4, 3, 3)) < 0.5, 1.0, -1.0)
    w[0, 0, 0, 0] = 0.37
    y = m.conv(m.node("Sign", ["x"]), m.const(w, "w"))
    with pytest.raises(FirmnetError, match=r"node 'conv\d+'.*weights are \+-1, but 1 are not.*0\.37"):
        _compile(m.model([1, 4, 6, 6], y, [1, 8, 6, 6]), tmp_path / "o")


def test_sign_with_a_float_reader_stays_float_with_a_note(tmp_path):
    """Sign -> Gemm with real weights: the float Sign (0 at 0, as ONNX), with a note."""
    m = BinaryModel(0)
    y = m.node("Gemm", [m.node("Sign", ["x"]), m.const(m.rng.standard_normal((5, 6)))], transB=1)
    model = m.model([2, 6], y, [2, 5])
    with pytest.warns(BinarizeWarning, match="weights are real-valued: it stays float"):
        cm = firmnet.compile(model, tmp_path / "o", name="s")
    x = np.array([[0.0, -1.5, 2.0, -0.0, 3.0, -4.0], [1.0, 0.0, -2.0, 5.0, -1e-30, 7.0]], np.float32)
    np.testing.assert_allclose(cm.build_host().run([x])[0], ort_run(model, x)[0], rtol=1e-6, atol=1e-6)
    assert not any(n.op == "bconv2d" for n in cm.lowered_graph.nodes)


def test_exact_zero_is_plus_one_in_binary_layers(tmp_path):
    """Sign -> binary Gemm: an input exactly 0 counts as +1 (onnxruntime's Sign gives 0)."""
    m = BinaryModel(0)
    w = np.array([[1, 1, 1, 1], [1, -1, 1, -1]], np.float32)
    y = m.node("Gemm", [m.node("Sign", ["x"]), m.const(w)], transB=1)
    model = m.model([1, 4], y, [1, 2])
    with pytest.warns(BinarizeWarning, match="exactly 0"):
        cm = firmnet.compile(model, tmp_path / "o", name="z")
    x = np.array([[0.0, 2.0, -3.0, 1.0]], np.float32)
    assert cm.build_host().run([x])[0].tolist() == [[2.0, -2.0]]   # signs +1 +1 -1 +1
    assert ort_run(model, x)[0].tolist() == [[1.0, -3.0]]          # signs 0 +1 -1 +1


def test_qonnx_bipolar_quant_model(tmp_path):
    """BipolarQuant (QONNX, as Brevitas exports it) on activations with a scale and on weights
    with per-channel scales: binary layers whose alpha is the weights' scale times the
    activations'; the C equals onnxruntime on the Sign twin (inputs without exact zeros)
    and the reference of the model as loaded (bipolar: 0 -> +1)."""
    from support.binary_models import qonnx_cnn
    model, twin = qonnx_cnn(qonnx=True), qonnx_cnn(qonnx=False)
    cm = _compile(model, tmp_path / "q")
    kinds = [(n.op, n.attrs.out) for n in cm.lowered_graph.nodes if n.op == "bconv2d"]
    assert kinds == [("bconv2d", "bits"), ("bconv2d", "float")]
    for seed in range(3):
        x = random_input(model, seed)
        want, inner = ort_run(twin, x, sign_inputs(twin))
        assert all((v != 0).all() for v in inner.values())
        got = cm.build_host().run([x])[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got, firmnet.reference.run(cm.graph, [x])[0], rtol=1e-4, atol=1e-5)
        assert verify(cm, [x]).ok


def test_int8_input_binarizes_at_the_zero_point(tmp_path):
    """QuantizeLinear -> DequantizeLinear -> Sign -> binary conv: the C binarizes the int8 bytes
    (x >= zero point, which is real >= 0 exactly) without dequantizing them."""
    m = BinaryModel(0)
    scale = m.const(np.float32(0.05))
    m.inits.append(helper.make_tensor("zp", TensorProto.INT8, [], [7]))
    dq = m.node("DequantizeLinear", [m.node("QuantizeLinear", ["x", scale, "zp"]), scale, "zp"])
    w = np.where(m.rng.random((5, 3, 3, 3)) < 0.5, 1.0, -1.0)
    model = m.model([1, 3, 6, 6], m.conv(m.node("Sign", [dq]), m.const(w)), [1, 5, 6, 6])
    cm = _compile(model, tmp_path / "q")
    (node,) = [n for n in cm.lowered_graph.nodes if n.op == "binarize"]
    assert node.attrs.zero_point == 7 and cm.lowered_graph.types[node.inputs[0]].dtype == "int8"
    x = random_input(model, 0)
    x = np.where(np.abs(x) < 0.05, 0.1, x).astype(np.float32)     # no byte at the zero point
    np.testing.assert_array_equal(cm.build_host().run([x])[0], ort_run(model, x)[0])
    assert verify(cm, [x]).ok


def test_kernel_selection_and_forcing(model, compiled, tmp_path):
    """The fully connected layer (a 3x3 filter over the 3x3 image of 40 channels) can run
    either binary kernel: the cheaper estimate wins, the other one is listed as able to run it
    and --kernel forces it (same output); fn_fc_b1 refuses a padded conv."""
    fc = next(l for l in compiled.report["layers"] if l["name"].startswith("matmul"))
    other = {"fn_fc_b1": "fn_bconv2d_b1", "fn_bconv2d_b1": "fn_fc_b1"}[fc["kernel"]]
    assert any(r["kernel"] == other and r["runs"] for r in fc["rejected"])
    forced = _compile(model, tmp_path / "f", board="mps2-an386", kernels={fc["name"]: other})
    assert {l["name"]: l["kernel"] for l in forced.report["layers"]}[fc["name"]] == other
    x = random_input(model, 5)
    assert np.array_equal(forced.build_host().run([x])[0], compiled.build_host().run([x])[0])
    conv = next(l for l in compiled.report["layers"] if l["kernel"] == "fn_bconv2d_b1" and l["output"][1] == 12)
    with pytest.raises(FirmnetError, match="fn_fc_b1.*filter on a"):
        _compile(model, tmp_path / "g", kernels={conv["name"]: "fn_fc_b1"}, write=False)


@st.composite
def layer_cases(draw):
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, k - 1))
    return dict(c=draw(st.sampled_from([1, 31, 33, 64, 65])), o=draw(st.sampled_from([1, 31, 33, 40])),
                size=draw(st.integers(max(1, k - 2 * pad), 6)), k=k, pad=pad, stride=draw(st.integers(1, 2)),
                alpha=draw(st.booleans()), bn=draw(st.booleans()), out_sign=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer_cases())
def test_single_binary_conv_equals_onnxruntime(tmp_path, case):
    """One binary conv (channel counts across word boundaries, kernel, stride, zero padding,
    optional alpha and BatchNorm, bits or float output) through the whole compiler: the C equals
    onnxruntime (its Sign inputs are standard normal, never exactly 0) and the reference."""
    m = BinaryModel(case["seed"])
    c, o, s = case["c"], case["o"], case["size"]
    y = m.conv(m.node("Sign", ["x"]), m.pm1((o, c, case["k"], case["k"])), pads=(case["pad"],) * 4,
               strides=(case["stride"],) * 2)
    if case["alpha"]:
        y = m.alpha(y, o)
    if case["bn"] or case["out_sign"]:   # a Sign right after the sum could read an exact 0
        y = m.batchnorm(y, o, spread=float(np.sqrt(c * case["k"] ** 2)))
    if case["out_sign"]:
        y = m.node("Sign", [y])
    side = (s + 2 * case["pad"] - case["k"]) // case["stride"] + 1
    model = m.model([1, c, s, s], y, [1, o, side, side])
    cm = _compile(model, tmp_path / f"l{case['seed']}_{c}_{o}")
    assert any(n.op == "bconv2d" for n in cm.lowered_graph.nodes)
    x = random_input(model, case["seed"])
    want, inner = ort_run(model, x, sign_inputs(model))
    assert all((v != 0).all() for v in inner.values())
    got = cm.build_host().run([x])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert verify(cm, [x]).ok


@pytest.mark.parametrize("seed", range(3))
def test_max_pool_between_the_scale_and_the_sign_runs_on_bits(tmp_path, seed):
    """Sign -> binary conv -> Mul(alpha, some negative) -> Add -> MaxPool -> Sign -> binary conv
    (firmnet compress --binarize's form, digits example): the pooling runs on the bits
    (bmaxpool) after the filters of negative alpha are negated, and the C equals onnxruntime."""
    m = BinaryModel(seed)
    y = m.conv(m.node("Sign", ["x"]), m.pm1((12, 5, 3, 3)))
    alpha = m.rng.uniform(0.1, 0.5, (1, 12, 1, 1)) * np.where(m.rng.random((1, 12, 1, 1)) < 0.5, -1, 1)
    y = m.node("Add", [m.node("Mul", [y, m.const(alpha)]), m.const(m.rng.normal(0, 0.3, (1, 12, 1, 1)))])
    y = m.node("Sign", [m.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])])
    model = m.model([1, 5, 8, 8], m.conv(y, m.pm1((7, 12, 3, 3)), pads=(0, 0, 0, 0)), [1, 7, 2, 2])
    cm = _compile(model, tmp_path / "p")
    ops = [(n.op, cm.lowered_graph.types[n.outputs[0]].dtype) for n in cm.lowered_graph.nodes]
    assert ("bmaxpool", "b1") in ops and ("bconv2d", "b1") in ops and ("pool2d", "float32") not in ops
    for s in range(3):
        x = random_input(model, s)
        want, inner = ort_run(model, x, sign_inputs(model))
        assert all((v != 0).all() for v in inner.values())
        np.testing.assert_array_equal(cm.build_host().run([x])[0], want)
        assert verify(cm, [x]).ok


def sign_as_x_ge_0(model) -> onnx.ModelProto:
    """The model with every Sign(x) written as Where(x >= 0, 1, -1): firmnet's binarization, for
    onnxruntime."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.initializer.extend([numpy_helper.from_array(np.float32(v), n)
                                for v, n in ((0, "ge0/zero"), (1, "ge0/plus"), (-1, "ge0/minus"))])
    nodes = []
    for n in m.graph.node:
        if n.op_type != "Sign":
            nodes.append(n)
            continue
        nodes += [helper.make_node("GreaterOrEqual", [n.input[0], "ge0/zero"], [n.output[0] + "/ge0"]),
                  helper.make_node("Where", [n.output[0] + "/ge0", "ge0/plus", "ge0/minus"], [n.output[0]])]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


@pytest.mark.parametrize("name", ["digits_cnn.binary.onnx", "digits_cnn.binary.int8.onnx"])
def test_binary_digits_example(tmp_path, name):
    """examples/digits/binary (firmnet compress --binarize, fine-tuned): conv2's bits go through
    BatchNorm-free alpha + bias, MaxPool and Sign into conv3 without leaving bits; on the 450 test
    images the C gives onnxruntime's outputs for the model with Sign as x >= 0 (the float model:
    for the model as it is, too; the int8 one's Sign reads bytes at the zero point, real 0)."""
    path = REPO / "examples" / "digits" / "binary" / name
    assert path.is_file(), f"{path} is missing: python examples/digits/binary.py writes it"
    model = onnx.load(str(path))
    cm = _compile(model, tmp_path / "d")
    assert [n.attrs.out for n in cm.lowered_graph.nodes if n.op == "bconv2d"] == ["bits", "float"]
    assert any(n.op == "bmaxpool" for n in cm.lowered_graph.nodes)
    data = np.load(REPO / "examples" / "digits" / "digits_test.npz")
    host = cm.build_host()
    sessions = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                for m in (sign_as_x_ge_0(model), model)]
    c, twin, plain = [], [], []
    for x in data["x"]:
        x = x[None].astype(np.float32)
        c.append(host.run([x])[0][0])
        twin.append(sessions[0].run(None, {model.graph.input[0].name: x})[0][0])
        plain.append(sessions[1].run(None, {model.graph.input[0].name: x})[0][0])
    c, twin, plain = np.array(c), np.array(twin), np.array(plain)
    np.testing.assert_allclose(c, twin, rtol=1e-5, atol=1e-5)
    if "int8" not in name:
        np.testing.assert_allclose(c, plain, rtol=1e-5, atol=1e-5)
    print(f"{name}: C accuracy {(c.argmax(1) == data['y']).mean():.4f}, onnxruntime (ONNX Sign) "
          f"{(plain.argmax(1) == data['y']).mean():.4f}")


@pytest.mark.parametrize("name", ["torch_sign", "torch_sign_nofold", "torch_pm1", "torch_pm1_nofold", "brevitas",
                                  "brevitas_dynamo"])
def test_exported_fixtures(tmp_path, name):
    """What PyTorch (STE Sign) and Brevitas (QONNX BipolarQuant) export (tests/fixtures/
    make_binary_models.py): three binary layers, the first two writing bits (through BN, MaxPool,
    and Flatten -> Sign into the fully connected one); the C gives the outputs the exporting
    framework recorded."""
    path = FIXTURES / f"binary_cnn.{name}.onnx"
    assert path.is_file(), f"{path} is missing: python tests/fixtures/make_binary_models.py writes it"
    cm = _compile(str(path), tmp_path / name)
    assert [n.attrs.out for n in cm.lowered_graph.nodes if n.op == "bconv2d"] == ["bits", "bits", "float"]
    recorded = np.load(FIXTURES / f"binary_cnn.{name}.npz")
    host = cm.build_host()
    for x, want in zip(recorded["inputs"], recorded["outputs"]):
        np.testing.assert_allclose(host.run([x])[0], want, rtol=1e-4, atol=1e-4)
    assert verify(cm, [recorded["inputs"][0]]).ok


@pytest.mark.parametrize("scale, match", [(-0.5, "scale must be positive and finite"),
                                          (None, "its scale .* must be a constant")])
def test_bad_bipolar_quant_is_refused(tmp_path, scale, match):
    from support.binary_models import QONNX
    m = BinaryModel(0)
    s = "s_in" if scale is None else m.const(np.float32(scale))
    m.nodes.append(helper.make_node("BipolarQuant", ["x", s], ["y"], name="bq", domain=QONNX))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])]
    if scale is None:
        inputs.append(helper.make_tensor_value_info("s_in", TensorProto.FLOAT, []))
    graph = helper.make_graph(m.nodes, "bad", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              m.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(QONNX, 1)])
    with pytest.raises(FirmnetError, match=f"BipolarQuant 'bq'.*{match}"):
        _compile(model, tmp_path / "o", write=False)

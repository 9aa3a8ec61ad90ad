"""Quantized models stay integer through the exporters' indirections, and say where they do not.

- TorchScript's shared initializers behind Identity nodes (conv2.bias = Identity(DQ(conv1.bias))),
- BatchNormalization with DequantizeLinear'd parameters (onnxruntime's quantizer without
  pre-processing, which is what `firmnet compress` runs),
- float layers left in a quantized model: a warning each (CLI stderr, Python warnings),
  report.json "float_layers", and --int8-only / int8_only=True as an error.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import reference
from firmnet.cli import main
from firmnet.float_layers import FloatLayerWarning
from firmnet.frontend import load
from firmnet.passes import fold_quant_chains
from support.oracles import onnxruntime_outputs
from support.qdq import int8_inputs
from support.paths import FIXTURES


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def shared_bias_model() -> onnx.ModelProto:
    """Three 3x3 convs with zero biases, the second and third reading the first's bias through
    Identity nodes: what the TorchScript exporter writes for equal initializers."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32), "w1"),
             numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
             numpy_helper.from_array((rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), "w2"),
             numpy_helper.from_array((rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), "w3")]
    nodes = [helper.make_node("Identity", ["b1"], ["b2"], name="Identity_0"),
             helper.make_node("Identity", ["b2"], ["b3"], name="Identity_1"),
             helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4, name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1] * 4, name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w3", "b3"], ["y"], pads=[1] * 4, name="conv3")]
    graph = helper.make_graph(nodes, "shared_bias", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _int8_weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of the weights when every conv/Gemm is int8 with an int32 bias per output channel
    (a BatchNormalization after a conv gives it one), computed from the float model."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    total = 0
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            w = init[n.input[1]]
            total += w.size + 4 * (w.shape[0] if n.op_type == "Conv" else w.shape[int(not any(
                a.name == "transB" and a.i for a in n.attribute))])
    return total


def _calibration(path, shape):
    np.savez(path, x=np.random.default_rng(3).standard_normal((16, *shape[1:])).astype(np.float32))
    return path


@pytest.mark.parametrize("model", ["shared_bias", "resnet_tiny"])
def test_compress_then_compile_is_int8(tmp_path, capsys, model):
    """`firmnet compress --quantize int8` (onnxruntime's quantizer, no pre-processing) on a model
    with Identity-shared biases or with BatchNormalization nodes compiles to int8 only: no float
    layer warning, int8 weights and int32 biases, and verify passes."""
    if model == "shared_bias":
        src = tmp_path / "shared_bias.onnx"
        onnx.save(shared_bias_model(), src)
    else:
        src = FIXTURES / "resnet_tiny.onnx"
    float_model = onnx.load(src)
    shape = [d.dim_value for d in float_model.graph.input[0].type.tensor_type.shape.dim]
    q = tmp_path / "m.int8.onnx"
    assert _run(capsys, "compress", src, "-o", q, "--quantize", "int8",
                "--calib", _calibration(tmp_path / "c.npz", shape))[0] == 0
    ops = {n.op_type for n in onnx.load(q).graph.node}
    assert ("Identity" if model == "shared_bias" else "BatchNormalization") in ops   # the pattern is there
    # --winograd off: the int8 weights as they are (a Winograd layer's are int16, transformed)
    code, text, err = _run(capsys, "compile", q, "-o", tmp_path / "out", "--int8-only", "--winograd", "off")
    assert code == 0, err
    assert "warning" not in err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["float_layers"] == []
    tensors = report["constants_bytes"]["tensors"] + report["constants_bytes"]["repacked"]
    assert tensors == _int8_weight_bytes(float_model)
    assert {l["dtype"] for l in report["layers"]} == {"int8"}
    code, text, _ = _run(capsys, "verify", tmp_path / "out")
    assert code == 0 and "verdict: PASS" in text


def test_batchnorm_folds_across_qdq_into_int8_weights_with_negative_scale():
    """conv(DQ(int8 w)) → Q → DQ → BatchNorm, one channel with a negative gamma: the pass keeps
    the weights int8 (that channel negated), moves the BatchNorm factor into positive weight
    scales, and the folded conv computes the BatchNorm's result (float reference, before
    quantization) within float rounding."""
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    gamma = np.array([1.5, -0.5, 0.25, -2.0], np.float32)
    inits = [numpy_helper.from_array(w, "w_q"), numpy_helper.from_array(np.float32([0.01, 0.02, 0.03, 0.04]), "w_s"),
             numpy_helper.from_array(np.zeros(4, np.int8), "w_z"),
             numpy_helper.from_array(gamma, "gamma"), numpy_helper.from_array(np.float32([0.1, -0.2, 0.3, 0]), "beta"),
             numpy_helper.from_array(np.float32([0.5, 0, -0.5, 1]), "mean"),
             numpy_helper.from_array(np.float32([1, 2, 0.5, 4]), "var"),
             numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(np.int8(3), "z")]
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4),
             helper.make_node("QuantizeLinear", ["c", "s", "z"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "s", "z"], ["cd"]),
             helper.make_node("BatchNormalization", ["cd", "gamma", "beta", "mean", "var"], ["y"])]
    graph = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5])], inits)
    g = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    folded = fold_quant_chains(g)
    assert [n.op for n in folded.nodes] == ["dequantize", "conv2d"]
    dq = folded.nodes[0]
    data = folded.constants[dq.inputs[0]]
    assert data.dtype == np.int8
    assert np.array_equal(data[[0, 2]], w[[0, 2]]) and np.array_equal(data[[1, 3]], -w[[1, 3]])
    assert all(s > 0 for s in dq.attrs.quant.scale)
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 5)).astype(np.float32)
    # the float meaning without the dropped rounding: BatchNorm of the float conv
    s = gamma / np.sqrt(np.float32([1, 2, 0.5, 4]) + 1e-5)
    (conv,) = onnxruntime_outputs(helper.make_model(helper.make_graph(
        nodes[:2], "c", graph.input, [helper.make_tensor_value_info("c", TensorProto.FLOAT, None)], inits),
        opset_imports=[helper.make_opsetid("", 17)]), [x])
    expected = (conv - np.float32([0.5, 0, -0.5, 1]).reshape(1, 4, 1, 1)) * s.reshape(1, 4, 1, 1) \
        + np.float32([0.1, -0.2, 0.3, 0]).reshape(1, 4, 1, 1)
    (got,) = reference.run(folded, [x])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_float_layers_are_named_in_warnings_report_and_int8_only(tmp_path, capsys):
    """lenet5's QDQ model keeps Tanh → AveragePool in float (onnxruntime's quantizer leaves them
    unquantized): compile warns once per layer with the reason, report.json lists them, and
    --int8-only refuses the model (exit 2) naming them; the API does the same."""
    model = FIXTURES / "lenet5.qdq.onnx"
    code, _, err = _run(capsys, "compile", model, "-o", tmp_path / "out")
    assert code == 0
    lines = [l for l in err.splitlines() if l.startswith("firmnet: warning:")]
    assert len(lines) == 4 and len(err.splitlines()) == 4
    assert "layer '/Tanh' (unary) runs in float: its output '/Tanh_output_0' is read in float by node " \
           "'/pool1/AveragePool' (pool2d)" in lines[0]
    assert "layer '/pool1/AveragePool' (pool2d) runs in float: its input '/Tanh_output_0' is float" in lines[1]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(l["name"], l["op"]) for l in report["float_layers"]] == [
        ("/Tanh", "unary"), ("/pool1/AveragePool", "pool2d"), ("/Tanh_1", "unary"), ("/pool2/AveragePool", "pool2d")]
    assert all(l["reason"] for l in report["float_layers"])
    code, text, _ = _run(capsys, "report", tmp_path / "out")
    assert "float layers in a quantized model (4):" in text
    code, _, err = _run(capsys, "compile", model, "-o", tmp_path / "strict", "--int8-only")
    assert code == 2 and err.startswith("firmnet: error: int8 only: 4 layer(s) run in float: layer '/Tanh'")
    assert not (tmp_path / "strict").exists()

    with pytest.warns(FloatLayerWarning) as record:
        cm = firmnet.compile(model, tmp_path / "api")
    assert [str(w.message).split("'")[1] for w in record if w.category is FloatLayerWarning] == \
        ["/Tanh", "/pool1/AveragePool", "/Tanh_1", "/pool2/AveragePool"]
    assert len(cm.report["float_layers"]) == 4
    with pytest.raises(firmnet.FirmnetError, match="int8 only: 4 layer"):
        firmnet.compile(model, tmp_path / "api2", int8_only=True)


def test_float_layer_left_by_the_int8_kernels_gives_their_reason(tmp_path):
    """DQ → Div → Q: the QDQ pattern is complete, but firmnet has no int8 division; the reason is
    the int8 op's own refusal."""
    inits = [numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["a", "s", "z"], ["aq"]),
             helper.make_node("DequantizeLinear", ["aq", "s", "z"], ["ad"]),
             helper.make_node("QuantizeLinear", ["b", "s", "z"], ["bq"]),
             helper.make_node("DequantizeLinear", ["bq", "s", "z"], ["bd"]),
             helper.make_node("Div", ["ad", "bd"], ["q"], name="the_div"),
             helper.make_node("QuantizeLinear", ["q", "s", "z"], ["qq"]),
             helper.make_node("DequantizeLinear", ["qq", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "div", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in "ab"],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        cm = firmnet.compile(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "o")
    (layer,) = cm.report["float_layers"]
    assert layer["name"] == "the_div" and layer["op"] == "binary"
    assert layer["reason"] == "the int8 binary refuses these quantizations: int8 div is not supported (int8: add, sub, mul)"


def test_float_models_and_int8_models_give_no_warning(tmp_path):
    for m in (FIXTURES / "lenet5.onnx", FIXTURES / "mobilenet_tiny.qdq.onnx"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cm = firmnet.compile(m, tmp_path / m.stem, int8_only=True)
        assert cm.report["float_layers"] == []


# ----------------------------------------------------------------- quantized boundaries, end to end

INT8_EXAMPLE = FIXTURES.parents[2] / "examples" / "digits" / "digits_cnn.int8.onnx"


def test_verify_int8_example_with_no_inputs_and_with_float_inputs(tmp_path, capsys):
    """The bundled int8 example takes float and quantizes it (its C input is int8): verify builds
    float inputs from the model's signature, and accepts a float .npz (and the C's int8 too)."""
    out = tmp_path / "d8"
    assert _run(capsys, "compile", INT8_EXAMPLE, "-o", out, "--name", "d8")[0] == 0
    code, text, err = _run(capsys, "verify", out)
    assert code == 0 and "verdict: PASS" in text, text + err
    x = np.load(INT8_EXAMPLE.with_name("sample_input.npz"))
    assert x[x.files[0]].dtype == np.float32
    code, text, err = _run(capsys, "verify", out, "--inputs", INT8_EXAMPLE.with_name("sample_input.npz"))
    assert code == 0 and "verdict: PASS" in text, text + err
    report = json.loads((out / "report.json").read_text())
    (inp,), (outp,) = report["inputs"], report["outputs"]
    model = onnx.load(INT8_EXAMPLE)
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    q_in = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == inp["name"])
    dq_out = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == outp["name"])
    assert inp["dtype"] == "int8" and inp["scale"] == float(init[q_in.input[1]])
    assert inp["zero_point"] == int(init[q_in.input[2]])
    assert outp["scale"] == float(init[dq_out.input[1]]) and outp["zero_point"] == int(init[dq_out.input[2]])
    code, text, _ = _run(capsys, "report", out)
    assert f"input '{inp['name']}' int8: scale {inp['scale']:.9g}, zero point {inp['zero_point']}" in text
    np.savez(tmp_path / "bad.npz", x=x[x.files[0]].astype(np.int32))
    code, _, err = _run(capsys, "verify", out, "--inputs", tmp_path / "bad.npz")
    assert code == 2 and "must be float32, got int32" in err


def _quantize_like_onnx(x, scale, zero_point):
    """ONNX QuantizeLinear: saturate(round_half_to_even(x / scale) + zero_point)."""
    return np.clip(np.rint(x.astype(np.float32) / np.float32(scale)) + zero_point, -128, 127).astype(np.int8)


def test_host_run_takes_and_returns_the_models_dtypes(tmp_path):
    """HostModel.run quantizes a float input exactly as the model's QuantizeLinear (ties to even,
    saturating: onnxruntime's own bytes for the model with the boundary quantizes), returns the
    float output the model returns (the C's int8 dequantized), and run_raw gives the C's int8."""
    cm = firmnet.compile(INT8_EXAMPLE, tmp_path / "o", name="d8", requant="ort")
    host = cm.build_host()
    inp, outp = cm.report["inputs"][0], cm.report["outputs"][0]
    s, z = inp["scale"], inp["zero_point"]
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 2, inp["shape"]).astype(np.float32)
    x.flat[:6] = np.float32([0.5, 1.5, -0.5, 2.5, 1000, -1000]) * np.float32(s)   # ties and saturation
    (y,) = host.run([x])
    (raw,) = host.run_raw([_quantize_like_onnx(x, s, z)])
    assert y.dtype == np.float32 and raw.dtype == np.int8
    assert np.array_equal(y, (raw.astype(np.float32) - outp["zero_point"]) * np.float32(outp["scale"]))
    # onnxruntime quantizes the input the same way: its first QuantizeLinear's bytes
    import onnxruntime as ort
    model = onnx.load(INT8_EXAMPLE)
    q_in = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == inp["name"])
    model.graph.output.insert(0, helper.make_value_info(q_in.output[0], helper.make_tensor_type_proto(
        TensorProto.INT8, None)))
    ort_q = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        [q_in.output[0]], {inp["name"]: x})[0]
    assert np.array_equal(ort_q, _quantize_like_onnx(x, s, z))
    with pytest.raises(firmnet.FirmnetError, match="must be float32, got int8"):
        host.run([_quantize_like_onnx(x, s, z)])


def test_reference_refuses_an_input_of_the_wrong_dtype():
    g = load(INT8_EXAMPLE)
    shape = g.types[g.inputs[0]].shape
    with pytest.raises(firmnet.FirmnetError, match="input 'input' must be float32, got int8: give the float values"):
        reference.run(g, [np.zeros(shape, np.int8)])
    reference.run(g, [np.zeros(shape, np.float64)])   # float64 is still a float: cast
    g8 = load(FIXTURES.parent / "models" / "lenet5.onnx")
    assert g8.types[g8.inputs[0]].dtype == "float32"


def test_run_prints_dequantized_outputs_beside_raw(tmp_path, capsys):
    out = tmp_path / "d8"
    assert _run(capsys, "compile", INT8_EXAMPLE, "-o", out, "--name", "d8", "--board", "mps2-an386")[0] == 0
    code, text, err = _run(capsys, "run", out, "--board", "mps2-an386",
                           "--inputs", INT8_EXAMPLE.with_name("sample_input.npz"))
    assert code == 0, err
    assert re.search(r"\S+ \[1, 10\] int8:\n", text) and re.search(r"dequantized \(scale [0-9.e-]+, zero point "
                                                                   r"-?\d+\) \[1, 10\] float32:\n", text)
    cm = firmnet.compile(INT8_EXAMPLE, tmp_path / "h", name="d8")
    x = np.load(INT8_EXAMPLE.with_name("sample_input.npz"))
    xs, host = [x[x.files[0]]], cm.build_host()
    (y,) = host.run(xs)
    (raw,) = host.run_raw(int8_inputs(cm, xs))

    def numbers(block, dtype):
        return np.array(block.replace("[", " ").replace("]", " ").split(), dtype)
    # the raw int8 values exactly; the dequantized floats as far as the printout's digits go
    assert np.array_equal(numbers(text.split("int8:\n")[1].split("\n")[0], np.int8), raw.ravel())
    printed = text.split("float32:\n")[1].split("\nmps2-an386")[0]
    assert np.allclose(numbers(printed, np.float32), y.ravel())


# ----------------------------------------------------------------- --requant auto

def test_requant_auto_follows_the_models_runtime_and_the_board(tmp_path, capsys):
    """auto: ort for an ONNX model on the host and on FPU boards, tflm on a board without FPU
    (rp2040-pico) and for TFLite models; compile(), the CLI, verify and report.json agree."""
    from firmnet.boards import get_board
    from firmnet.compiler import resolve_requant
    assert resolve_requant("auto", INT8_EXAMPLE, get_board("host"))[0] == "ort"
    assert resolve_requant("auto", INT8_EXAMPLE, get_board("nucleo-l4r5zi"))[0] == "ort"
    assert resolve_requant("auto", INT8_EXAMPLE, get_board("rp2040-pico"))[0] == "tflm"
    assert resolve_requant("auto", FIXTURES / "m.tflite", get_board("host"))[0] == "tflm"
    assert resolve_requant("single", INT8_EXAMPLE, get_board("host"))[0] == "single"
    with pytest.raises(firmnet.FirmnetError, match="unknown --requant mode 'fast'"):
        resolve_requant("fast", INT8_EXAMPLE, get_board("host"))

    cm = firmnet.compile(INT8_EXAMPLE, tmp_path / "api", name="d8")
    assert cm.requant == "ort" and cm.report["requant"] == "ort"
    requantizing = ("conv2d", "dense")   # (max pooling's mode is moot: it does not requantize)
    assert {l["quant"]["mode"] for l in cm.report["layers"] if l["op"] in requantizing} == {"ort"}
    code, text, _ = _run(capsys, "compile", INT8_EXAMPLE, "-o", tmp_path / "cli", "--name", "d8")
    assert code == 0 and "requantization: ort (auto: an ONNX model, onnxruntime's arithmetic)" in text
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert report["requant"] == "ort"
    assert {l["quant"]["mode"] for l in report["layers"] if l["op"] in requantizing} == {"ort"}
    from firmnet.cli import _load_compiled
    assert _load_compiled(tmp_path / "cli").requant == "ort"   # what verify recompiles
    # the C and onnxruntime agree byte for byte on the int8 example in the default mode
    import onnxruntime as ort
    x = np.load(INT8_EXAMPLE.with_name("sample_input.npz"))
    x = x[x.files[0]]
    session = ort.InferenceSession(str(INT8_EXAMPLE), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {session.get_inputs()[0].name: x})
    (got,) = cm.build_host().run([x])
    assert np.array_equal(got, want)
    code, text, _ = _run(capsys, "compile", INT8_EXAMPLE, "-o", tmp_path / "pico", "--board", "rp2040-pico")
    assert "requantization: tflm (auto: an ONNX model, but board rp2040-pico has no FPU" in text


def test_compress_eval_names_the_mode_it_measured(tmp_path, capsys):
    """--eval with the default --requant auto says which arithmetic the int8 accuracy is of."""
    digits = INT8_EXAMPLE.parent
    code, text, _ = _run(capsys, "compress", digits / "digits_cnn.onnx", "-o", tmp_path / "d8.onnx", "--quantize",
                         "int8", "--calib", digits / "digits_calib.npz", "--eval", digits / "digits_test.npz")
    assert code == 0 and re.search(r"float 0\.\d+, int8 \(ort\) 0\.\d+$", text.strip()), text


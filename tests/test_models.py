"""End-to-end: real exported models compiled to C match onnxruntime and the numpy reference,
and their generated C runs clean under AddressSanitizer + UndefinedBehaviorSanitizer."""
import numpy as np
import pytest

import firmnet
from support.compare import assert_close, assert_every_step_traced
from support.oracles import onnxruntime_outputs
from support.paths import EXAMPLE, FIXTURES
from support.sanitize import run_sanitized

MODELS = ["lenet5", "mobilenet_tiny", "resnet_tiny", "squeezenet_tiny"]


@pytest.fixture(scope="module", params=MODELS + ["digits"])
def compiled(request, tmp_path_factory):
    name = request.param
    path = EXAMPLE if name == "digits" else FIXTURES / f"{name}.onnx"
    cm = firmnet.compile(path, tmp_path_factory.mktemp(name), name=name)
    return path, cm


def _inputs(path, cm):
    if path == EXAMPLE:
        return [np.load(EXAMPLE.with_name("digits_test.npz"))["x"][:1]]
    return [np.load(path.with_suffix(".npz"))["input"]]


def test_matches_onnxruntime_and_reference(compiled):
    path, cm = compiled
    x = _inputs(path, cm)
    c_out = cm.build_host().run(x)
    for c, o, r in zip(c_out, onnxruntime_outputs(path, x), firmnet.reference.run(cm.graph, x)):
        assert_close(c, o, "C vs onnxruntime")
        assert_close(r, o, "reference vs onnxruntime")


def test_every_node_matches_reference(compiled):
    from firmnet.verify import verify
    path, cm = compiled
    result = verify(cm, _inputs(path, cm))
    assert result.ok, result.summary()
    assert_every_step_traced(result, cm)


def test_sanitizers_clean(compiled, tmp_path):
    path, cm = compiled
    x = _inputs(path, cm)
    sanitized = run_sanitized(cm, x, tmp_path)
    for s, c in zip(sanitized, cm.build_host().run(x)):
        assert_close(s, c, "sanitized build vs host build")


def test_plan_within_bounds(compiled):
    _, cm = compiled
    r = cm.report
    assert r["lower_bound_bytes"] <= r["arena_bytes"] <= r["activations_sum_bytes"] + 16 * len(r["layers"])
    assert r["weights_bytes"] > 0 and r["macs"] > 0


def test_exporter_shape_arithmetic_folds_away():
    """lenet5 holds Shape→Gather→Unsqueeze→Concat→Reshape from x.view(x.size(0), -1)."""
    import onnx
    ops = {n.op_type for n in onnx.load(FIXTURES / "lenet5.onnx").graph.node}
    assert {"Shape", "Gather", "Unsqueeze", "Concat"} <= ops
    g = firmnet.load(FIXTURES / "lenet5.onnx")
    assert {n.op for n in g.nodes} <= {"conv2d", "unary", "pool2d", "reshape", "dense"}


def test_batchnorm_folds_into_conv(compiled):
    path, cm = compiled
    assert all(n.op != "batchnorm" for n in cm.lowered_graph.nodes)


def test_digits_accuracy_in_c():
    """The bundled example keeps its accuracy when run as C (all 450 test images)."""
    import tempfile
    data = np.load(EXAMPLE.with_name("digits_test.npz"))
    with tempfile.TemporaryDirectory() as d:
        host = firmnet.compile(EXAMPLE, d, name="digits").build_host()
        preds = [int(np.argmax(host.run([x[None]])[0])) for x in data["x"]]
    accuracy = float(np.mean(np.array(preds) == data["y"]))
    recorded = float(EXAMPLE.with_name("ACCURACY.txt").read_text().split(":")[-1])
    assert accuracy == pytest.approx(recorded, abs=1 / len(preds)), (accuracy, recorded)


def test_opset_10_model_is_upgraded(tmp_path):
    """Opset 10 (Clip bounds and Pad amounts as attributes) is read through onnx.version_converter."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(10)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Pad", ["x"], ["p"], pads=[0, 0, 1, 2, 0, 0, 1, 0], value=0.0),
             helper.make_node("Conv", ["p", "w"], ["c"]),
             helper.make_node("Clip", ["c"], ["y"], min=-0.5, max=1.5)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)], ir_version=6)
    path = tmp_path / "opset10.onnx"
    onnx.save(model, path)
    cm = firmnet.compile(path, tmp_path / "out", name="opset10")
    x = [rng.standard_normal((1, 2, 6, 5)).astype(np.float32)]
    (got,), (want,) = cm.build_host().run(x), onnxruntime_outputs(path, x)
    assert_close(got, want, "opset 10 model vs onnxruntime")
    assert got.min() == -0.5 and got.max() == 1.5, "the Clip attributes were not applied"

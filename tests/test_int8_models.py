"""End-to-end int8: QDQ versions of the fixture models (onnxruntime's quantize_static, made by
tests/fixtures/make_qdq_models.py) compiled in each requantization mode, against onnxruntime.

The C API takes and returns int8 (the models quantize their float input and dequantize
their output at the boundary), so inputs are quantized as the model's QuantizeLinear
does (ONNX: round half to even, i.e. firmnet's "ort" rounding, whatever the compile mode)
and onnxruntime's float outputs are turned back into the int8 values they dequantize.

onnxruntime is run twice per model: with its default session options (what a user gets;
on x86 its QDQ fusion turns int8 activations into uint8 and leaves a node in float where
that conversion is blocked, e.g. a quantized tensor read by two nodes), and with
session.qdqisint8allowed=1, where it fuses every int8 QDQ group into its quantized kernel.

Assertions:
- --requant ort: byte-exact wherever both onnxruntime and firmnet run every compute op on
  integer kernels or as an exact function of one int8 value (detected per model and session
  from onnxruntime's optimized graph and firmnet's lowered graph: onnxruntime's float
  HardSigmoid/Tanh/Sigmoid/LeakyRelu between DequantizeLinear and QuantizeLinear are
  onnxruntime's own float results in firmnet's tables, TABLE_EXACT); a model with another
  op left in float on either side (lenet5's Tanh → AveragePool island, which quantize_static
  leaves in float; the float Conv/Add/Mul of the default session where onnxruntime cannot
  convert a tensor read by two nodes to uint8) gets max |diff| <= 1. Every int8 tensor
  computed before any such float op is byte-exact with onnxruntime too
  (test_ort_mode_intermediates). squeezenet_tiny's Softmax (output scale 1/255) runs as
  onnxruntime's QLinearSoftmax arithmetic; mbv3_block (tests/fixtures/make_mbv3_block.py:
  hard swish, squeeze-excite with hard sigmoid, residual add) is exact in both sessions.
- --requant tflm / single: max |diff| <= 1 LSB (TFLM_BOUND: 2 for mbv3_block).
The fraction of equal bytes and the largest difference are printed per model and mode
(pytest -s), as a table at the end of the module.
"""
from __future__ import annotations

import os
import tempfile
from collections import defaultdict

import numpy as np
import onnx
import pytest

import firmnet
from firmnet.cbuild import BuildError
from firmnet.verify import verify
from support.paths import EXAMPLE, FIXTURES
from support.qdq import SESSIONS, firmnet_float_nodes, int8_inputs, ort_session, recover_int8
from support.sanitize import run_sanitized
from support.compare import assert_every_step_traced

import onnxruntime as ort  # noqa: E402  (a test dependency)

MODELS = ["lenet5", "mobilenet_tiny", "resnet_tiny", "squeezenet_tiny", "digits", "mbv3_block"]
MODES = ["tflm", "single", "ort"]

# Ops that only move bytes: exact in float as well.
DATA_MOVEMENT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"}
# Element-wise activations onnxruntime runs in float between DequantizeLinear and QuantizeLinear:
# an int8 -> int8 function of one value, which --requant ort computes as a table of onnxruntime's
# own float results (reference/ort_s8.py), so they do not make a model inexact.
TABLE_EXACT = {"Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish"}
# Largest |difference| from onnxruntime in tflm/single mode, per model (default 1 LSB): mbv3_block
# requantizes each hard swish twice (HardSigmoid to 1/255, then the product) and its
# squeeze-excite gate once more, so one-LSB rounding differences add up to 2.
TFLM_BOUND = {"mbv3_block": 2}

# Known compiler bugs by model (strict xfails, with the reason); none open.
KNOWN_BUGS: dict[str, str] = {}


def _case(*values, builds=True, raises=BuildError):
    """A test parameter, marked xfail(strict) when its model hits a known bug in a C build."""
    model = values[0]
    if builds and model in KNOWN_BUGS:
        return pytest.param(*values, marks=pytest.mark.xfail(strict=True, raises=raises, reason=KNOWN_BUGS[model]))
    return pytest.param(*values)


def qdq_path(model):
    return FIXTURES / f"{model}.qdq.onnx"


def float_path(model):
    return EXAMPLE if model == "digits" else FIXTURES / f"{model}.onnx"


def float_inputs(model):
    return np.load(FIXTURES / f"{model}.qdq.npz")["inputs"]          # [8, 1, C, H, W]


# ----------------------------------------------------------------------------- onnxruntime side


def ort_float_nodes(model_or_path, session) -> list[onnx.NodeProto]:
    """The nodes onnxruntime runs in float (on dequantized values) after its graph optimizer.
    ORT_ENABLE_EXTENDED holds the QDQ → QLinear* fusions; the default ORT_ENABLE_ALL only adds
    layout changes (NCHWc) of float nodes, and its optimized model should not be saved."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.log_severity_level = 3
    for key, value in SESSIONS[session].items():
        opts.add_session_config_entry(key, value)
    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    with tempfile.TemporaryDirectory() as d:
        opts.optimized_model_filepath = os.path.join(d, "optimized.onnx")
        ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        optimized = onnx.load(opts.optimized_model_filepath)
    g = optimized.graph
    floating = {i.name for i in g.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    floating -= {t.name for t in g.initializer}
    result = []
    for node in g.node:                      # topological order
        if node.op_type == "DequantizeLinear":
            floating.update(node.output)
        elif node.op_type != "QuantizeLinear" and any(i in floating for i in node.input):
            floating.update(node.output)
            if node.op_type not in DATA_MOVEMENT:
                result.append(node)
    return result


# ----------------------------------------------------------------------------- firmnet side


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """compiled(model, mode) → CompiledModel, compiled once per model and mode."""
    cache = {}

    def get(model, mode):
        if (model, mode) not in cache:
            out = tmp_path_factory.mktemp(f"{model}_{mode}")
            cache[model, mode] = firmnet.compile(qdq_path(model), out, name=f"{model}_{mode}", requant=mode)
        return cache[model, mode]
    return get


@pytest.fixture(scope="module")
def float_arena():
    cache = {}

    def get(model):
        if model not in cache:
            with tempfile.TemporaryDirectory() as d:
                cache[model] = firmnet.compile(float_path(model), d, name=model, write=False).report["arena_bytes"]
        return cache[model]
    return get


# ----------------------------------------------------------------------------- the table

TABLE = defaultdict(dict)      # (model, mode) → {column: text}


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if not TABLE:
        return
    cols = ["ORT float ops (default)", "default: equal", "default: max", "int8: equal", "int8: max",
            "firmnet float ops", "arena int8/float"]
    rows = [[m, mode] + [TABLE[m, mode].get(c, "-") for c in cols]
            for m in MODELS for mode in MODES if (m, mode) in TABLE]
    head = ["model", "mode"] + cols
    widths = [max(len(str(r[k])) for r in rows + [head]) for k in range(len(head))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths))   # noqa: E731
    print("\n\nint8 C outputs vs onnxruntime (8 inputs per model; 'equal' = fraction of equal output bytes, "
          "'max' = largest |difference| in LSB; ORT 'default' session and with session.qdqisint8allowed=1)")
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def _describe(nodes):
    return ", ".join(sorted({n.op_type if hasattr(n, "op_type") else (
        n.op if n.op != "unary" else n.attrs.kind) for n in nodes})) or "none"


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("model,mode", [_case(m, mode) for m in MODELS for mode in MODES])
def test_outputs_match_onnxruntime(compiled, model, mode):
    cm = compiled(model, mode)
    xs = float_inputs(model)
    host = cm.build_host()
    c_out = np.stack([host.run_raw([x])[0] for x in int8_inputs(cm, xs)])
    out_quant = cm.lowered_graph.types[cm.lowered_graph.outputs[0]].quant
    fm_float = firmnet_float_nodes(cm)
    TABLE[model, mode]["firmnet float ops"] = _describe(fm_float)
    failures = []
    for session in SESSIONS:
        sess = ort_session(qdq_path(model), session)
        name = sess.get_inputs()[0].name
        expected = np.stack([recover_int8(sess.run(None, {name: x})[0], out_quant) for x in xs])
        diff = np.abs(c_out.astype(np.int32) - expected.astype(np.int32))
        equal, worst = float(np.mean(diff == 0)), int(diff.max())
        ort_float = ort_float_nodes(qdq_path(model), session)
        if session == "default":
            TABLE[model, mode]["ORT float ops (default)"] = _describe(ort_float)
        TABLE[model, mode][f"{session}: equal"] = f"{equal:.4f}"
        TABLE[model, mode][f"{session}: max"] = str(worst)
        exact = mode == "ort" and not [n for n in ort_float if n.op_type not in TABLE_EXACT] and not fm_float
        print(f"\n{model} --requant {mode} vs onnxruntime ({session} session): {equal:.2%} of "
              f"{diff.size} output bytes equal, max |diff| {worst} LSB; "
              f"{'byte-exact required' if exact else 'within 1 LSB required'} (float in ORT: "
              f"{_describe(ort_float)}; in firmnet: {_describe(fm_float)})")
        if exact and worst != 0:
            failures.append(f"{session} session: not byte-exact ({equal:.2%} equal, max |diff| {worst})")
        elif worst > TFLM_BOUND.get(model, 1):
            failures.append(f"{session} session: max |diff| {worst} LSB > {TFLM_BOUND.get(model, 1)}")
    assert not failures, f"{model} --requant {mode}: " + "; ".join(failures)


@pytest.mark.parametrize("model", [_case(m) for m in MODELS])
def test_ort_mode_intermediates(compiled, model):
    """--requant ort: every int8 tensor computed before any op that runs in float (in firmnet
    or in onnxruntime) equals onnxruntime's, byte for byte (one tensor per QuantizeLinear).
    Only against the session.qdqisint8allowed=1 session: with the default options, making
    these tensors graph outputs blocks onnxruntime's int8 → uint8 conversion, so it leaves
    the convolutions that read them in float and nothing would be left to compare."""
    session = "int8"
    cm = compiled(model, "ort")
    g = cm.lowered_graph
    qdq = onnx.load(qdq_path(model))
    q_outputs = {n.output[0] for n in qdq.graph.node if n.op_type == "QuantizeLinear"}
    wanted = [t for t in g.types if t in q_outputs and g.types[t].dtype == "int8" and t not in g.outputs]
    assert wanted, "no int8 tensor of the ONNX model found in the lowered graph"
    probe = onnx.ModelProto()
    probe.CopyFrom(qdq)
    for t in wanted:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.INT8, None))
    # tensors downstream of a float op (either side) may legitimately differ by rounding; a
    # float node onnxruntime renamed the output of taints from its inputs (a superset)
    known = {t for n in qdq.graph.node for t in n.output}
    seeds = {o for n in firmnet_float_nodes(cm) for o in n.outputs}
    for n in ort_float_nodes(probe, session):
        if n.op_type in TABLE_EXACT:
            continue
        start = [o for o in n.output if o in known] or [i for i in n.input if i in known]
        if not start:
            pytest.fail(f"onnxruntime renamed the tensors around its float {n.op_type}: cannot tell what follows it")
        seeds.update(start)
    tainted, changed = set(seeds), True
    while changed:
        changed = False
        for n in qdq.graph.node:
            if any(i in tainted for i in n.input) and not set(n.output) <= tainted:
                tainted.update(n.output)
                changed = True
    check = [t for t in wanted if t not in tainted]
    sess = ort_session(probe, session)
    name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    host = cm.build_host(trace=True)
    compared, mismatches = 0, []
    for x, xq in zip(float_inputs(model), int8_inputs(cm, float_inputs(model))):
        ort_values = dict(zip(out_names, sess.run(None, {name: x})))
        _, c_values = host.run_trace([xq])
        for t in check:
            if t not in c_values:
                continue
            c, o = c_values[t], ort_values[t]
            candidates = []
            if c.shape == o.shape:
                candidates.append(o)
            if o.ndim == 4 and c.shape == o.transpose(0, 2, 3, 1).shape:
                candidates.append(o.transpose(0, 2, 3, 1))            # firmnet computes NHWC
            if not candidates and c.size == o.size and sum(d != 1 for d in c.shape) <= 1:
                candidates.append(o.reshape(c.shape))
            if not candidates:
                continue
            compared += 1
            if not any(np.array_equal(c, cand) for cand in candidates):
                d = min(int(np.abs(c.astype(np.int32) - cand.astype(np.int32)).max()) for cand in candidates)
                mismatches.append(f"{t} (max |diff| {d})")
    print(f"\n{model} --requant ort, {session} session: {compared // len(float_inputs(model))} of "
          f"{len(wanted)} int8 intermediates compared (the others follow a float op), "
          f"{len(set(mismatches))} differ")
    assert compared or not check, "no comparable tensor"
    assert not mismatches, f"differ from onnxruntime: {sorted(set(mismatches))}"


@pytest.mark.parametrize("model,mode", [_case(m, mode) for m in MODELS for mode in MODES])
def test_every_node_matches_reference(compiled, model, mode):
    cm = compiled(model, mode)
    result = verify(cm, int8_inputs(cm, float_inputs(model)[:1]))
    assert result.ok, result.summary()
    assert_every_step_traced(result, cm)


@pytest.mark.parametrize("model", [_case(m, builds=False) for m in MODELS])
def test_int8_arena_smaller_than_float(compiled, float_arena, model):
    """Every activation the int8 model keeps is int8, so its arena is smaller, except where
    a float island (lenet5: quantize_static leaves Tanh → AveragePool in float) covers the
    largest activations: then the peak is the same float tensors as in the float model."""
    cm = compiled(model, "tflm")
    int8_arena, f32_arena = cm.report["arena_bytes"], float_arena(model)
    islands = firmnet_float_nodes(cm)
    for mode in MODES:
        TABLE[model, mode]["arena int8/float"] = f"{int8_arena}/{f32_arena}"
    print(f"\n{model}: arena {int8_arena} bytes int8, {f32_arena} bytes float"
          f"{' (float island: ' + _describe(islands) + ')' if islands else ''}")
    if islands:
        assert int8_arena <= f32_arena
    else:
        assert int8_arena < f32_arena


@pytest.mark.parametrize("model", [_case(m, raises=AssertionError) for m in MODELS])   # run_sanitized asserts
def test_sanitizers_clean(compiled, model, tmp_path):
    cm = compiled(model, "tflm")
    xq = int8_inputs(cm, float_inputs(model)[:1])
    sanitized = run_sanitized(cm, xq, tmp_path)
    for s, c in zip(sanitized, cm.build_host().run_raw(xq)):
        assert s.dtype == np.int8 and np.array_equal(s, c), "sanitized build differs from the host build"


# ----------------------------------------------------------------------------- uint8, asymmetric weights

# tests/fixtures/make_qdq_models.py's qdq_u8 variant: uint8 activations and asymmetric
# per-tensor uint8 weights (quantize_static QUInt8/QUInt8, WeightSymmetric=False). onnxruntime
# fuses every Conv/Gemm into QLinearConv/QGemm; firmnet runs them on the general int8 conv
# kernel with a filter offset. --requant ort must be byte-exact; tflm/single differ by
# rounding, and the differences compound over the layers (up to 2 LSB measured).
U8_MODELS = ["lenet5", "mobilenet_tiny", "resnet_tiny"]
U8_TFLM_BOUND = 2
# tests/fixtures/make_mbv3_block.py: the MobileNetV3-style block in the same uint8 form (some of
# its weights get zero point 128, i.e. 0 as int8, so it is not counted as a filter-offset fixture)
U8_MORE = ["mbv3_block"]


@pytest.mark.parametrize("model,mode", [(m, mode) for m in U8_MODELS + U8_MORE for mode in MODES])
def test_uint8_asymmetric_weights_match_onnxruntime(model, mode, tmp_path):
    path = FIXTURES / f"{model}.qdq_u8.onnx"
    cm = firmnet.compile(path, tmp_path / "out", name=f"{model}_u8_{mode}", requant=mode)
    g = cm.lowered_graph
    weighted = [n for n in g.nodes if n.op in ("conv2d", "dense")]
    assert weighted and (model in U8_MORE or all(any(n.attrs.quant.inputs[1].zero_point) for n in weighted)), \
        "the fixture must give every conv/dense weight a non-zero zero point"
    xs = np.load(FIXTURES / f"{model}.qdq_u8.npz")["inputs"]
    xq = int8_inputs(cm, xs)
    c_out = np.stack([cm.build_host().run_raw([x])[0] for x in xq])
    sess = ort_session(path, "default")
    name = sess.get_inputs()[0].name
    out_quant = g.types[g.outputs[0]].quant
    expected = np.stack([recover_int8(sess.run(None, {name: x})[0].astype(np.float32), out_quant) for x in xs])
    diff = np.abs(c_out.astype(np.int32) - expected.astype(np.int32))
    print(f"\n{model} (uint8, asymmetric weights) --requant {mode}: {np.mean(diff == 0):.2%} of {diff.size} "
          f"output bytes equal to onnxruntime, max |diff| {diff.max()} LSB")
    if mode == "ort":
        assert np.array_equal(c_out, expected)
    else:
        assert diff.max() <= U8_TFLM_BOUND
    assert verify(cm, xq[:1]).ok
    if mode == "ort":   # the filter-offset path under ASan + UBSan
        sanitized = run_sanitized(cm, xq[:1], tmp_path)
        assert np.array_equal(sanitized[0], c_out[0])


# ----------------------------------------------------------------------------- PyTorch fake-quant export

# tests/fixtures/make_torch_qdq.py: a QDQ model as PyTorch fake-quantization exporters
# (NNCF-style) write it: float weights under Q → DQ with scales computed in the graph, float
# biases, uint8 activations, ReLU/ReLU6 before the fake-quantize, a residual Add.
TORCH_MODEL = FIXTURES / "torch_fq_cnn.qdq.onnx"


@pytest.mark.parametrize("mode", MODES)
def test_pytorch_fake_quant_export(mode, tmp_path):
    cm = firmnet.compile(TORCH_MODEL, tmp_path / "out", name=f"torch_fq_{mode}", requant=mode)
    assert not firmnet_float_nodes(cm), f"float islands left: {_describe(firmnet_float_nodes(cm))}"
    data = np.load(FIXTURES / "torch_fq_cnn.qdq.npz")
    xs = data["inputs"]
    xq = int8_inputs(cm, xs)
    c_out = np.stack([cm.build_host().run_raw([x])[0] for x in xq])
    out_quant = cm.lowered_graph.types[cm.lowered_graph.outputs[0]].quant
    from_torch = np.stack([recover_int8(y, out_quant) for y in data["outputs"]])
    for session in SESSIONS:
        sess = ort_session(TORCH_MODEL, session)
        expected = np.stack([recover_int8(sess.run(None, {"x": x})[0], out_quant) for x in xs])
        diff = np.abs(c_out.astype(np.int32) - expected.astype(np.int32))
        print(f"\ntorch_fq_cnn --requant {mode} vs onnxruntime ({session}): {np.mean(diff == 0):.2%} of "
              f"{diff.size} bytes equal, max |diff| {diff.max()} LSB")
        assert np.array_equal(c_out, expected) if mode == "ort" else diff.max() <= 1
    diff = np.abs(c_out.astype(np.int32) - from_torch.astype(np.int32))
    print(f"torch_fq_cnn --requant {mode} vs PyTorch's fake-quantized module: {np.mean(diff == 0):.2%} equal, "
          f"max |diff| {diff.max()} LSB")
    assert diff.max() <= 1
    assert verify(cm, xq[:1]).ok
    assert np.array_equal(run_sanitized(cm, xq[:1], tmp_path)[0], c_out[0])


# ----------------------------------------------------------------------------- MatMulInteger

@pytest.mark.parametrize("b_shape, b_zero_point", [((2, 4, 3), [7]), ((4, 3), [1, 200, 9]), ((3, 6), [128])])
def test_matmulinteger_matches_onnxruntime(tmp_path, b_shape, b_zero_point):
    """uint8 MatMulInteger with batched weights, per-column and per-tensor zero points: the
    int32 outputs equal onnxruntime's."""
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh
    rng = np.random.default_rng(len(b_shape) * 10 + len(b_zero_point))
    b = rng.integers(0, 256, b_shape).astype(np.uint8)
    a_shape = (b_shape[0], 5, b_shape[-2]) if len(b_shape) == 3 else (5, b_shape[0])
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    inits = [nh.from_array(b, "b"), nh.from_array(np.array(131, np.uint8), "za"),
             nh.from_array(np.array(b_zero_point, np.uint8).reshape(() if len(b_zero_point) == 1 else -1), "zb")]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.UINT8, list(a_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    a = rng.integers(0, 256, a_shape).astype(np.uint8)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"a": a})[0]
    cm = firmnet.compile(model, tmp_path, name="mmi")
    got = cm.build_host().run([(a.astype(np.int16) - 128).astype(np.int8)])[0]   # uint8 travels as int8
    assert got.dtype == np.int32 and np.array_equal(got, expected)
    assert verify(cm, [(a.astype(np.int16) - 128).astype(np.int8)]).ok


# ----------------------------------------------------------------------------- QOperator format

# tests/fixtures/make_qop_models.py: the same float models quantized by quantize_static in its
# QOperator format, i.e. with onnxruntime's com.microsoft QGemm, QLinearAdd, QLinearMul,
# QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat, QLinearSoftmax, and MaxPool /
# Reshape / Flatten on int8 tensors. firmnet reads each as its dequantize -> op -> quantize
# meaning; with --requant ort every one is integer in firmnet and the outputs are onnxruntime's
# bytes in both sessions (its float Tanh/HardSigmoid between DequantizeLinear and
# QuantizeLinear are exact tables here).
QOP_MODELS = ["lenet5", "mobilenet_tiny", "resnet_tiny", "squeezenet_tiny", "mbv3_block"]


@pytest.mark.parametrize("model", QOP_MODELS)
def test_qoperator_format_matches_onnxruntime(model, tmp_path):
    path = FIXTURES / f"{model}.qop.onnx"
    ms_ops = {n.op_type for n in onnx.load(path).graph.node if n.domain == "com.microsoft"}
    assert ms_ops, "the fixture must hold com.microsoft operators"
    cm = firmnet.compile(path, tmp_path / "out", name=f"{model}_qop", requant="ort")
    assert not firmnet_float_nodes(cm), f"float islands left: {_describe(firmnet_float_nodes(cm))}"
    xs = np.load(FIXTURES / f"{model}.qop.npz")["inputs"]
    xq = int8_inputs(cm, xs)
    c_out = np.stack([cm.build_host().run_raw([x])[0] for x in xq])
    out_quant = cm.lowered_graph.types[cm.lowered_graph.outputs[0]].quant
    for session in SESSIONS:
        sess = ort_session(path, session)
        name = sess.get_inputs()[0].name
        expected = np.stack([recover_int8(sess.run(None, {name: x})[0], out_quant) for x in xs])
        diff = np.abs(c_out.astype(np.int32) - expected.astype(np.int32))
        print(f"\n{model} (QOperator: {', '.join(sorted(ms_ops))}) --requant ort vs onnxruntime ({session}): "
              f"{np.mean(diff == 0):.2%} of {diff.size} bytes equal, max |diff| {diff.max()} LSB")
        assert np.array_equal(c_out, expected)
    assert verify(cm, xq[:1]).ok

"""onnxruntime byte-identity of the int8 ops in --requant ort (reference/ort_s8.py,
fn_lut_s8.c, fn_softmax_ort_s8.c; pooling and element-wise ops in their own modules too).

Kernel level (one cffi build, hypothesis-drawn quantizations, int8 and uint8):
- the lookup-table activations (Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish): for all 256
  inputs, onnxruntime's DequantizeLinear -> op -> QuantizeLinear (int8 graph input, default
  session: QLinearSigmoid / QLinearLeakyRelu or the float op) == the table
  (ort_s8.ort_activation_table) == the C kernel fn_lut_s8;
- softmax: hypothesis-drawn lanes, axis lengths and scales (1/255 and 1/256 outputs among
  them): onnxruntime's QLinearSoftmax == numpy reference == C (fn_softmax_ort_s8).
End to end (firmnet.compile --requant ort of one-op QDQ models with a float input, as
quantize_static writes them, int8 and uint8): the generated C and the numpy reference
equal onnxruntime's bytes with its default session options and with
session.qdqisint8allowed=1, for every op listed in SINGLE_OPS, and for hypothesis-drawn one-op
models (test_drawn_qdq_op_models_equal_onnxruntime). com.microsoft QLinear* one-op models too.
Where onnxruntime adds a zero point in float (QLinearMul, QLinearAveragePool) firmnet follows the
model's element type; the default x86 session runs int8 QDQ models as uint8, which rounds exact
near-ties differently (test_uint8_zero_point_added_in_float_like_onnxruntime prints by how much).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx import numpy_helper as nh

import firmnet
from firmnet import cbuild, resources
from firmnet.ops import OPS
from firmnet.ops import quantize as quantize_op
from firmnet.kernels import params_ort_s8
from firmnet.reference import ort_s8
from firmnet.verify import verify

from support.compare import assert_array_equal_first
from support.qdq import SESSIONS, ort_session

ALL_BYTES = np.arange(256).astype(np.uint8)
HEADERS = ("fn_common.h", "fn_activation_ort_s8.h")
SOURCES = ("fn_lut_s8.c", "fn_softmax_ort_s8.c")


@pytest.fixture(scope="module")
def rt():
    inc = resources.runtime_include_dir()
    objects = cbuild.compile_objects([resources.runtime_dir() / "src" / s for s in SOURCES], [inc])
    wrapper = "".join(f'#include "{h}"\n' for h in HEADERS)
    return cbuild.build_extension(cbuild.header_cdef([inc / h for h in HEADERS]), wrapper, objects, [inc])


def _model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _q_inits(x_q, y_q, signed):
    """Scale and zero-point initializers; int8-carried zero points become uint8 (+128) when unsigned."""
    dtype = np.int8 if signed else np.uint8
    shift = 0 if signed else 128
    return [nh.from_array(np.array(x_q[0], np.float32), "xs"), nh.from_array(np.array(x_q[1] + shift, dtype), "xz"),
            nh.from_array(np.array(y_q[0], np.float32), "ys"), nh.from_array(np.array(y_q[1] + shift, dtype), "yz")]


def ort_qdq_int8_io(op, attrs, x_carried, x_q, y_q, signed=True):
    """onnxruntime's DequantizeLinear -> op -> QuantizeLinear on an integer graph input; returns
    the output carried as int8 (uint8 - 128 when unsigned)."""
    etype = TensorProto.INT8 if signed else TensorProto.UINT8
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
             helper.make_node(op, ["xf"], ["yf"], **attrs),
             helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", etype, list(x_carried.shape))],
                   [helper.make_tensor_value_info("y", etype, None)], _q_inits(x_q, y_q, signed))
    x = x_carried if signed else (x_carried.astype(np.int16) + 128).astype(np.uint8)
    y = ort_session(model, "default").run(None, {"x": x})[0]
    return y if signed else (y.astype(np.int16) - 128).astype(np.int8)


def run_c(rt, function, struct, params, x, keep):
    ffi = rt.ffi
    fields = {k: v for k, v in params.items() if k != "table"}
    table = params["table"]
    ctype = "int8_t[]" if table.dtype == np.int8 else "float[]"
    c_table = ffi.new(ctype, table.tolist())
    p = ffi.new(f"{struct} *", fields)
    p.table = c_table
    x = np.ascontiguousarray(x, np.int8)
    out = np.full_like(x, 99)
    status = getattr(rt.lib, function)(p, ffi.cast("int8_t *", ffi.from_buffer(x)),
                                       ffi.cast("int8_t *", ffi.from_buffer(out)))
    assert status == 0, f"{function} returned {status}"
    keep.append(c_table)
    return out


scales = st.floats(2.0**-10, 2.0**2).map(lambda v: float(np.float32(v)))
zero_points = st.integers(-128, 127)

ACTIVATIONS = {   # kind: (ONNX op, attribute strategy)
    "sigmoid": ("Sigmoid", st.just({})),
    "tanh": ("Tanh", st.just({})),
    "leaky_relu": ("LeakyRelu", st.fixed_dictionaries({"alpha": st.floats(0.0, 1.0, width=32)})),
    "hard_sigmoid": ("HardSigmoid", st.fixed_dictionaries({"alpha": st.floats(0.0078125, 1.0, width=32),
                                                           "beta": st.floats(-1.0, 1.0, width=32)})),
    "hard_swish": ("HardSwish", st.just({})),
}


@pytest.mark.parametrize("kind", list(ACTIVATIONS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), x_q=st.tuples(scales, zero_points), y_q=st.tuples(scales, zero_points), signed=st.booleans())
def test_activation_table_equals_onnxruntime_and_c(rt, kind, data, x_q, y_q, signed):
    check_activation(rt, kind, data.draw(ACTIVATIONS[kind][1]), x_q, y_q, signed)


@pytest.mark.parametrize("kind, attrs", [("leaky_relu", {"alpha": 0.5}), ("hard_sigmoid", {"alpha": 0.5, "beta": 0.0}),
                                         ("hard_swish", {}), ("sigmoid", {})])
def test_activation_table_rounds_ties_to_even(rt, kind, attrs):
    """Scales that make many outputs exact halves (x / 2 in steps of 1): onnxruntime rounds them to even."""
    check_activation(rt, kind, attrs, (0.5, 0), (1.0, 0), True)
    check_activation(rt, kind, attrs, (0.25, -3), (1 / 64, 5), False)


def check_activation(rt, kind, attrs, x_q, y_q, signed):
    op = ACTIVATIONS[kind][0]
    x = ALL_BYTES.view(np.int8).reshape(1, 256)
    expected = ort_qdq_int8_io(op, attrs, x, x_q, y_q, signed).reshape(256)
    alpha, beta = attrs.get("alpha", 0.0), attrs.get("beta", 0.0)
    ours = ort_s8.ort_activation_s8(x.reshape(256), kind, x_q=x_q, y_q=y_q, alpha=alpha, beta=beta)
    assert_array_equal_first(ours, expected, f"{kind} table vs onnxruntime, x_q={x_q} y_q={y_q} signed={signed}")
    keep = []
    table = ort_s8.ort_activation_table(kind, x_q, y_q, alpha, beta)
    c = run_c(rt, "fn_lut_s8", "fn_lut_s8_params", params_ort_s8.lut_s8_params(256, table), x.reshape(256), keep)
    assert_array_equal_first(c, ours, f"fn_lut_s8 vs reference ({kind})")


def ort_softmax(x, axis, x_q, y_q, signed):
    return ort_qdq_int8_io("Softmax", {"axis": axis}, x, x_q, y_q, signed)


@st.composite
def softmax_cases(draw):
    outer, axis_len, inner = draw(st.integers(1, 4)), draw(st.integers(1, 300)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    style = draw(st.sampled_from(["random", "narrow", "one_hot", "equal"]))
    shape = (outer, axis_len, inner)
    if style == "random":
        x = rng.integers(-128, 128, shape)
    elif style == "narrow":
        x = rng.integers(-10, 10, shape) + draw(st.integers(-100, 100))
    elif style == "one_hot":
        x = np.full(shape, -128)
        x[:, rng.integers(0, axis_len), :] = 127
    else:
        x = np.full(shape, draw(zero_points))
    y_q = draw(st.sampled_from([(1 / 255, -128), (1 / 256, -128), (1 / 256, 0)]) | st.tuples(
        st.floats(2.0**-12, 1.0).map(lambda v: float(np.float32(v))), zero_points))
    return x.astype(np.int8), (draw(st.floats(2.0**-8, 2.0).map(lambda v: float(np.float32(v)))), draw(zero_points)), y_q


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=softmax_cases())
def test_softmax_equals_onnxruntime_and_c(rt, case):
    x, x_q, y_q = case
    p = params_ort_s8.softmax_ort_s8_params(x.shape, 1, x_q, y_q)
    ours = ort_s8.softmax_ort_s8(x, axis=1, x_q=x_q, y_q=y_q)
    for signed in (True, False):
        assert_array_equal_first(ours, ort_softmax(x, 1, x_q, y_q, signed),
                                 f"softmax {x.shape} x_q={x_q} y_q={y_q} vs onnxruntime ({'int8' if signed else 'uint8'})")
    keep = []
    c = run_c(rt, "fn_softmax_ort_s8", "fn_softmax_ort_s8_params", p, x, keep)
    assert_array_equal_first(c, ours, "fn_softmax_ort_s8 vs reference")


def test_softmax_saturates_at_the_top():
    """A lane with one dominant value and output 1/256, zero point -128: 256 steps - 128 = 128
    saturates to 127 in onnxruntime's int8 and uint8 kernels and here."""
    x = np.array([[-128, 127, -128]], np.int8).reshape(1, 3, 1)
    assert ort_s8.softmax_ort_s8(x, axis=1, x_q=(1.0, 0), y_q=(1 / 256, -128)).reshape(3).tolist() == [-128, 127, -128]
    for signed in (True, False):
        assert ort_softmax(x, 1, (1.0, 0), (1 / 256, -128), signed).reshape(3).tolist() == [-128, 127, -128]


# ----------------------------------------------------------------------------- end to end

def qdq_single_op(op, attrs, shape, x_q, y_q, signed, extra=None):
    """A float-input model as quantize_static writes one layer: Q -> DQ -> op -> Q -> DQ."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"])]
    inputs = ["xd"]
    if extra is not None:            # a second quantized operand (binary ops, concat)
        nodes += [helper.make_node("QuantizeLinear", ["x2", "bs", "bz"], ["bq"]),
                  helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["bd"])]
        inputs.append("bd")
    nodes += [helper.make_node(op, inputs, ["y"], **attrs),
              helper.make_node("QuantizeLinear", ["y", "ys", "yz"], ["yq"]),
              helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["out"])]
    inits = _q_inits(x_q, y_q, signed)
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))]
    if extra is not None:
        b_shape, b_q = extra
        dtype, shift = (np.int8, 0) if signed else (np.uint8, 128)
        inits += [nh.from_array(np.array(b_q[0], np.float32), "bs"), nh.from_array(np.array(b_q[1] + shift, dtype), "bz")]
        graph_inputs.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, list(b_shape)))
    return _model(nodes, graph_inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)


SINGLE_OPS = {   # name: (ONNX op, attributes, input shape, x_q, y_q, second operand (shape, q) or None)
    "sigmoid": ("Sigmoid", {}, (1, 8, 5, 5), (0.0371, 7), (1 / 255, -128), None),
    "tanh": ("Tanh", {}, (1, 8, 5, 5), (0.0213, -3), (0.0079, 1), None),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.1}, (1, 8, 5, 5), (0.0371, 7), (0.0213, -40), None),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, (1, 8, 5, 5), (0.0371, 7), (1 / 255, -128), None),
    "hard_swish": ("HardSwish", {}, (1, 8, 5, 5), (0.0371, 7), (0.0213, -100), None),
    "softmax_255": ("Softmax", {"axis": 1}, (1, 10), (0.0833, 11), (1 / 255, -128), None),
    "softmax_256": ("Softmax", {"axis": -1}, (2, 3, 7), (0.1294, -5), (1 / 256, -128), None),
    "global_average_pool": ("GlobalAveragePool", {}, (1, 8, 5, 5), (0.0371, 7), (0.0113, -2), None),
    "average_pool_valid": ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
                           (1, 8, 9, 9), (0.0371, 7), (0.0213, -2), None),
    "average_pool_pad": ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
                         (1, 8, 9, 9), (0.0371, 7), (0.0213, -2), None),
    "add": ("Add", {}, (1, 8, 5, 5), (0.0371, 7), (0.0513, -6), ((1, 8, 5, 5), (0.0293, -11))),
    "mul_broadcast": ("Mul", {}, (1, 8, 5, 5), (0.0371, 7), (0.0613, 3), ((1, 8, 1, 1), (0.0077, -128))),
    "concat": ("Concat", {"axis": 1}, (1, 8, 5, 5), (0.0371, 7), (0.0413, -1), ((1, 3, 5, 5), (0.0293, -11))),
    "relu": ("Relu", {}, (1, 8, 5, 5), (0.0371, 7), (0.0213, -20), None),
    "relu_same_quant": ("Relu", {}, (1, 8, 5, 5), (0.0371, 7), (0.0371, 7), None),
}


def _int8_input(cm, x, k=0):
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[k]]
    return OPS["quantize"].reference(quantize_op.Attrs(t.quant, "ort"), x)[0]


@pytest.mark.parametrize("signed", [True, False], ids=["int8", "uint8"])
@pytest.mark.parametrize("name", list(SINGLE_OPS))
def test_single_op_model_equals_onnxruntime(name, signed, tmp_path):
    op, attrs, shape, x_q, y_q, extra = SINGLE_OPS[name]
    model = qdq_single_op(op, attrs, shape, x_q, y_q, signed, extra)
    cm = firmnet.compile(model, tmp_path, name="m", requant="ort")
    g = cm.lowered_graph
    assert all(g.types[n.outputs[0]].dtype == "int8" for n in g.nodes), "a float island is left"
    rng = np.random.default_rng(sum(map(ord, name)) + signed)
    host = cm.build_host()
    out_q = g.types[g.outputs[0]].quant
    for _ in range(3):
        xs = [(rng.standard_normal(shape) * 2).astype(np.float32)]
        if extra is not None:
            xs.append((rng.standard_normal(extra[0]) * 2).astype(np.float32))
        feeds = dict(zip(["x", "x2"], xs))
        xq = [_int8_input(cm, x, k) for k, x in enumerate(xs)]
        c = host.run_raw(xq)[0]
        assert verify(cm, xq).ok
        for session in SESSIONS:
            y = ort_session(model, session).run(None, feeds)[0]
            expected = (np.rint(y / np.float32(out_q.scale[0])) + out_q.zero_point[0]).astype(np.int8)
            assert_array_equal_first(c, expected, f"{name} ({'int8' if signed else 'uint8'}) vs onnxruntime {session}")


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m0plus"])
def test_kernels_cross_compile_warning_free(cpu, tmp_path):
    """The new kernels with arm-none-eabi-gcc (FPU-less Cortex-M0+ too: soft float)."""
    import shutil
    import subprocess
    gcc = shutil.which("arm-none-eabi-gcc")
    assert gcc, "arm-none-eabi-gcc is not installed (scripts/test installs it with apt-get when run as root)"
    inc = resources.runtime_include_dir()
    for src in SOURCES:
        res = subprocess.run([gcc, f"-mcpu={cpu}", "-mthumb", "-std=c99", "-pedantic", "-O2", "-Wall", "-Wextra",
                              "-Werror", f"-I{inc}", "-c", str(resources.runtime_dir() / "src" / src),
                              "-o", str(tmp_path / "k.o")], capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr, f"{src} on {cpu}:\n{res.stderr}"


# ----------------------------------------------------------------------------- com.microsoft operators

def _contrib_model(op, attrs, shape, x_q, y_q, signed):
    """float x -> QuantizeLinear -> com.microsoft op -> DequantizeLinear (QOperator format)."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node(op, ["xq", "xs", "xz", "ys", "yz"], ["yq"], domain="com.microsoft", **attrs),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["out"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              _q_inits(x_q, y_q, signed))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                             ir_version=8)


@pytest.mark.parametrize("signed", [True, False], ids=["int8", "uint8"])
@pytest.mark.parametrize("op, attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.2}),
                                       ("QLinearSoftmax", {"axis": 1, "opset": 13}),
                                       ("QLinearSoftmax", {"axis": 1, "opset": 11}),
                                       ("QLinearAveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]}),
                                       ("QLinearGlobalAveragePool", {})])
def test_contrib_operator_equals_onnxruntime(op, attrs, signed, tmp_path):
    shape = (1, 6, 4, 4)
    y_q = (1 / 255, -128) if op in ("QLinearSigmoid", "QLinearSoftmax") else (0.0213, -5)
    model = _contrib_model(op, attrs, shape, (0.0371, 3), y_q, signed)
    cm = firmnet.compile(model, tmp_path, name="m", requant="ort")
    g = cm.lowered_graph
    assert all(g.types[n.outputs[0]].dtype == "int8" for n in g.nodes), "a float island is left"
    x = (np.random.default_rng(7).standard_normal(shape) * 3).astype(np.float32)
    xq = [_int8_input(cm, x)]
    c = cm.build_host().run_raw(xq)[0]
    out_q = g.types[g.outputs[0]].quant
    for session in SESSIONS:
        y = ort_session(model, session).run(None, {"x": x})[0]
        expected = (np.rint(y / np.float32(out_q.scale[0])) + out_q.zero_point[0]).astype(np.int8)
        assert_array_equal_first(c, expected, f"{op} {attrs} vs onnxruntime ({session})")
    assert verify(cm, xq).ok


def test_contrib_operators_refused_with_the_supported_list(tmp_path):
    model = _contrib_model("QLinearGlobalAveragePool", {"channels_last": 1}, (1, 4, 4, 6), (0.1, 0), (0.1, 0), True)
    with pytest.raises(firmnet.FirmnetError, match=r"channels_last=1 \(NHWC\) is not supported"):
        firmnet.compile(model, tmp_path / "a", name="m", requant="ort")
    model.graph.node[1].op_type = "QLinearWhere"
    del model.graph.node[1].attribute[:]
    with pytest.raises(firmnet.FirmnetError, match=r"\(com\.microsoft\.QLinearWhere\) uses a custom operator domain.*"
                                                   r"of com\.microsoft: QGemm, QLinearAdd"):
        firmnet.compile(model, tmp_path / "b", name="m", requant="ort")


def test_report_counts_the_tables(tmp_path):
    """Each lookup table is 256 bytes of flash, the softmax table 1 KB; the report says so per layer
    and in total (tables_bytes, beside weights_bytes)."""
    model = qdq_single_op("Sigmoid", {}, (1, 10), (0.05, 0), (1 / 255, -128), True)
    softmax = helper.make_node("Softmax", ["out"], ["p"], axis=1)
    q = helper.make_node("QuantizeLinear", ["p", "ps", "pz"], ["pq"])
    dq = helper.make_node("DequantizeLinear", ["pq", "ps", "pz"], ["prob"])
    model.graph.node.extend([softmax, q, dq])
    model.graph.initializer.extend([nh.from_array(np.array(1 / 255, np.float32), "ps"),
                                    nh.from_array(np.array(-128, np.int8), "pz")])
    model.graph.output[0].name = "prob"
    cm = firmnet.compile(model, tmp_path, name="m", requant="ort")
    tables = {layer["kernel"]: layer["table_bytes"] for layer in cm.report["layers"]}
    assert tables == {"fn_lut_s8": 256, "fn_softmax_ort_s8": 1024}
    assert cm.report["tables_bytes"] == 1280


# Scales whose ratios make many averages and products land near x.5: where onnxruntime adds
# the output zero point in float (QLinearMul, QLinearAveragePool), a uint8 model's zero point
# (zp + 128) rounds those differently from an int8 model's, and firmnet follows the model's type.
NEAR_TIES = {
    "mul": ("Mul", {}, (1, 4, 8, 8), (0.05, 3), (0.1, -2), ((1, 4, 8, 8), (0.025, 5))),
    "average_pool": ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, (1, 4, 8, 8), (0.05, 3),
                     (0.03, -2), None),
}


@pytest.mark.parametrize("signed", [True, False], ids=["int8", "uint8"])
@pytest.mark.parametrize("name", list(NEAR_TIES))
def test_uint8_zero_point_added_in_float_like_onnxruntime(name, signed, tmp_path):
    """uint8 models: equal to onnxruntime in both sessions. int8 models: equal to the int8 session
    (onnxruntime's default x86 session converts int8 QDQ groups to uint8 and then rounds these
    near-ties as a uint8 model: the difference is printed)."""
    op, attrs, shape, x_q, y_q, extra = NEAR_TIES[name]
    model = qdq_single_op(op, attrs, shape, x_q, y_q, signed, extra)
    cm = firmnet.compile(model, tmp_path, name="m", requant="ort")
    g = cm.lowered_graph
    assert g.types[g.outputs[0]].quant.uint8 == (not signed)
    host = cm.build_host()
    out_q = g.types[g.outputs[0]].quant
    rng = np.random.default_rng(3)
    differ = {s: 0 for s in SESSIONS}
    total = 0
    for _ in range(4):
        xs = [(rng.standard_normal(shape) * 2).astype(np.float32)]
        if extra is not None:
            xs.append((rng.standard_normal(extra[0]) * 2).astype(np.float32))
        c = host.run_raw([_int8_input(cm, x, k) for k, x in enumerate(xs)])[0]
        total += c.size
        for session in SESSIONS:
            y = ort_session(model, session).run(None, dict(zip(["x", "x2"], xs)))[0]
            expected = (np.rint(y / np.float32(out_q.scale[0])) + out_q.zero_point[0]).astype(np.int8)
            differ[session] += int(np.sum(c != expected))
    print(f"\n{name} ({'int8' if signed else 'uint8'}): bytes differing from onnxruntime of {total}: {differ}")
    assert differ["int8"] == 0
    if not signed:
        assert differ["default"] == 0


@st.composite
def qdq_op_cases(draw):
    """One-op QDQ models as quantize_static writes them, with drawn scales, zero points, shapes
    and element type."""
    name = draw(st.sampled_from(["sigmoid", "tanh", "leaky_relu", "hard_sigmoid", "hard_swish", "softmax",
                                 "global_average_pool", "average_pool", "add", "mul", "concat"]))
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(2, 7)), draw(st.integers(2, 7))
    shape = (1, c, h, w)
    quant = st.tuples(st.floats(2.0**-9, 0.5).map(lambda v: float(np.float32(v))), st.integers(-100, 100))
    x_q, y_q = draw(quant), draw(quant)
    op, attrs, extra = {
        "sigmoid": ("Sigmoid", {}, None), "tanh": ("Tanh", {}, None),
        "leaky_relu": ("LeakyRelu", {"alpha": draw(st.floats(0.0, 1.0, width=32))}, None),
        "hard_sigmoid": ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, None),
        "hard_swish": ("HardSwish", {}, None),
        "softmax": ("Softmax", {"axis": draw(st.integers(-4, 3))}, None),
        "global_average_pool": ("GlobalAveragePool", {}, None),
        "average_pool": ("AveragePool", {"kernel_shape": [2, 2], "strides": [draw(st.integers(1, 2))] * 2,
                                         "pads": [draw(st.integers(0, 1))] * 4,
                                         "count_include_pad": draw(st.integers(0, 1))}, None),
        "add": ("Add", {}, (shape, draw(quant))),
        "mul": ("Mul", {}, (draw(st.sampled_from([shape, (1, c, 1, 1), (1, 1, h, w)])), draw(quant))),
        "concat": ("Concat", {"axis": 1}, ((1, draw(st.integers(1, 4)), h, w), draw(quant))),
    }[name]
    if name == "softmax" and draw(st.booleans()):
        y_q = (1 / 255, -128)                     # what quantize_static writes for a softmax
    if name in ("softmax", "sigmoid", "hard_sigmoid") and y_q[0] > 1 / 64:
        y_q = (1 / 256, y_q[1])
    return name, op, attrs, shape, x_q, y_q, extra, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(case=qdq_op_cases())
def test_drawn_qdq_op_models_equal_onnxruntime(case, tmp_path_factory):
    """C == numpy reference == onnxruntime, int8 and uint8, drawn quantizations: uint8 models against
    the default session; int8 models against session.qdqisint8allowed=1, since the default x86
    session runs them as uint8, which rounds QLinearMul/QLinearAveragePool near-ties as a uint8
    model (test_uint8_zero_point_added_in_float_like_onnxruntime) and simple drawn scales hit those."""
    name, op, attrs, shape, x_q, y_q, extra, signed, seed = case
    model = qdq_single_op(op, attrs, shape, x_q, y_q, signed, extra)
    cm = firmnet.compile(model, tmp_path_factory.mktemp("drawn"), name="m", requant="ort")
    g = cm.lowered_graph
    assert all(g.types[n.outputs[0]].dtype == "int8" for n in g.nodes), f"{name}: a float island is left"
    rng = np.random.default_rng(seed)
    xs = [(rng.standard_normal(shape) * 3).astype(np.float32)]
    if extra is not None:
        xs.append((rng.standard_normal(extra[0]) * 3).astype(np.float32))
    xq = [_int8_input(cm, x, k) for k, x in enumerate(xs)]
    c = cm.build_host().run_raw(xq)[0]
    from firmnet import reference
    assert_array_equal_first(reference.run(g, xq)[0], c, f"{name}: reference vs C")
    out_q = g.types[g.outputs[0]].quant
    y = ort_session(model, "int8" if signed else "default").run(None, dict(zip(["x", "x2"], xs)))[0]
    expected = (np.rint(y / np.float32(out_q.scale[0])) + out_q.zero_point[0]).astype(np.int8)
    assert_array_equal_first(c, expected, f"{name} x_q={x_q} y_q={y_q} {'int8' if signed else 'uint8'} vs onnxruntime")


# ----------------------------------------------------------------------------- on Cortex-M

def _board_file(tmp_path, board):
    """mps2-an386 as is (Cortex-M4F); 'rp2040-pico' as its ARMv6-M code (Cortex-M0+, soft float) on
    QEMU's Cortex-M3 AN385 (as tests/test_boards.py runs the real boards)."""
    if board == "mps2-an386":
        return board
    import re
    text = (resources.boards_dir() / f"{board}.toml").read_text()
    for key, value in (("flash_origin", "0x00000000"), ("flash_bytes", 4194304), ("boot2_bytes", 0)):
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    text += '\n[emulation]\nqemu = "qemu-system-arm"\nmachine = "mps2-an385"\nsysclk_hz = 25000000\n'
    path = tmp_path / f"{board}-as-an385.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("board", ["mps2-an386", "rp2040-pico"])
def test_float_arithmetic_kernels_same_bytes_on_cortex_m(board, tmp_path):
    """The softmax's float32 divisions and products, QLinearMul's and the pooling's float
    requantization on a Cortex-M4F (hardware single precision) and a Cortex-M0+ (libgcc's soft
    float): the host's bytes (squeezenet_tiny: QLinearSoftmax with output 1/255;
    mbv3_block: tables, QLinearMul, QLinearAdd, QLinearGlobalAveragePool)."""
    from firmnet import qemu
    from support.paths import FIXTURES
    for model in ("squeezenet_tiny", "mbv3_block"):
        path = FIXTURES / f"{model}.qdq.onnx"
        host_cm = firmnet.compile(path, tmp_path / f"{model}_host", name=model, requant="ort")
        xs = np.load(FIXTURES / f"{model}.qdq.npz")["inputs"][:2]
        xq = [[_int8_input(host_cm, x)] for x in xs]
        expected = [host_cm.build_host().run_raw(x)[0] for x in xq]
        cm = firmnet.compile(path, tmp_path / f"{model}_{board}", board=_board_file(tmp_path, board), name=model,
                             requant="ort")
        for x, want in zip(xq, expected):
            got = qemu.run(cm.out_dir, _board_file(tmp_path, board), x, werror=True).outputs[0]
            assert got.tobytes() == want.tobytes(), f"{model} on {board}: {got.ravel()[:10]} != host {want.ravel()[:10]}"

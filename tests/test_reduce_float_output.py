"""An int8 reduction the model leaves in float is still an int8 layer.

The dynamo exporter writes global pooling as ReduceMean, which onnxruntime's quantize_static does
not quantize. Two patterns follow (bench/zoo.py found both):

- DequantizeLinear -> ReduceMean -> (Reshape ->) graph output (squeezenet1_1): an int8 mean with a
  float output, fn_mean_s8_f32: the exact integer sum of x - zp dequantized once (onnxruntime's
  float sum of the dequantized values in ort mode, where it reads rows in onnxruntime's order);
- DequantizeLinear -> HardSwish -> ReduceMean -> QuantizeLinear (mobilenet_v3_small without
  quant_pre_process): in ort mode the hard swish becomes a 256-entry table of onnxruntime's float
  results that the int8 mean adds (`pre`); in tflm/single mode both stay float, named with reasons.

Kernel: C == numpy reference, exactly, float outputs included (the same float operations in the
same order). Models: 0 float layers; the C's output equals onnxruntime's (both sessions) byte for
byte in ort mode; in tflm mode the float output is within 1e-6 of onnxruntime's (relative to the
largest output) and equals firmnet's reference exactly.
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import reference
from firmnet.ops import OPS
from firmnet.ops import quantize as quantize_op
from firmnet.kernels import params_reduce_s8 as P
from firmnet.reference import ort_s8
from firmnet.reference import reduce_s8 as R

from support.compare import assert_array_equal_first
from support.qdq import SESSIONS, ort_session, recover_int8
from support.sanitize import run_sanitized

FN_OK, FN_ERR_ARG = 0, 1


# ---------------------------------------------------------------- kernel: C == reference

@st.composite
def mean_cases(draw):
    rank = draw(st.integers(1, 4))
    shape = [draw(st.integers(1, 6)) for _ in range(rank)]
    if draw(st.booleans()):            # a long reduced axis: several of onnxruntime's 4-lane packets
        shape[draw(st.integers(0, rank - 1))] = draw(st.integers(7, 80))
    axes = tuple(sorted(draw(st.sets(st.integers(0, rank - 1), max_size=rank))))
    mode = draw(st.sampled_from(["tflm", "single", "ort"]))
    s_in = float(np.float32(2.0 ** draw(st.floats(-14, 4))))
    zp_in = draw(st.integers(-128, 127))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, size=shape).astype(np.int8)
    table = None
    if mode == "ort" and draw(st.booleans()):   # values of any sign and size: the float order matters
        table = (rng.standard_normal(256) * 10.0 ** rng.integers(-3, 6, 256)).astype(np.float32)
    return x, axes, mode, s_in, zp_in, draw(st.booleans()), draw(st.booleans()), table


def _params(x, axes, mode, s_in, zp_in, compute_sum, ort_rows, table, s_out=0.5, zp_out=3, float_out=True):
    p = P.mean_s8_params(x.shape, axes, s_in, zp_in, s_in if float_out else s_out, zp_in if float_out else zp_out,
                         compute_sum, mode, ort_rows)
    if float_out:
        p = {k: v for k, v in p.items() if k not in ("output_zero_point", "multiplier", "shift", "output_scale")}
    if table is not None:
        p["table"] = table
    return p


def _ref(x, axes, mode, s_in, zp_in, compute_sum, ort_rows, table, s_out=0.5, zp_out=3, float_out=True):
    """The reference from the same quantities as _params."""
    common = dict(axes=axes, input_scale=s_in, input_zero_point=zp_in, compute_sum=compute_sum, ort_rows=ort_rows,
                  table=table)
    if float_out:
        return R.mean_s8_f32(x, mode=mode, **common)
    return R.mean_s8(x, output_scale=s_out, output_zero_point=zp_out, mode=mode, **common)


def _c_params(runtime, p):
    """The params struct, its table kept alive beside it."""
    ffi = runtime.ffi
    fields = {k: v for k, v in p.items() if k != "table"}
    keep = []
    if p.get("table") is not None:
        keep.append(ffi.new("float[256]", [float(v) for v in p["table"]]))
        fields["table"] = keep[0]
    return ffi.new("fn_mean_s8_params *", fields), keep


def run_c(runtime, p, x, float_out):
    ffi, lib = runtime.ffi, runtime.lib
    n_out = int(np.prod([1 if r else d for d, r in zip(p["dims"], p["reduce"])]))
    xs = np.ascontiguousarray(x)
    params, keep = _c_params(runtime, p)
    if float_out:
        out = np.full(n_out, np.nan, np.float32)
        status = lib.fn_mean_s8_f32(params, ffi.cast("int8_t *", ffi.from_buffer(xs)),
                                    ffi.cast("float *", ffi.from_buffer(out)))
    else:
        out = np.full(n_out, 99, np.int8)
        status = lib.fn_mean_s8(params, ffi.cast("int8_t *", ffi.from_buffer(xs)),
                                ffi.cast("int8_t *", ffi.from_buffer(out)))
    del keep
    assert status == FN_OK, f"returned {status} for {p}"
    return out


@settings(max_examples=400, deadline=None)
@given(mean_cases(), st.booleans())
def test_mean_float_output_and_table_c_equal_reference(runtime, case, float_out):
    x, axes, mode, s_in, zp_in, compute_sum, ort_rows, table = case
    p = _params(x, axes, mode, s_in, zp_in, compute_sum, ort_rows, table, float_out=float_out)
    ref = _ref(x, axes, mode, s_in, zp_in, compute_sum, ort_rows, table, float_out=float_out)
    if float_out:
        assert ref.dtype == np.float32
    got = run_c(runtime, p, x, float_out).reshape(ref.shape)
    assert_array_equal_first(got, ref, f"{'float' if float_out else 'int8'} mean {mode} {p}")


def test_float_output_is_the_exact_mean_rounded():
    """Without a table the sum is the exact integer one: within 2 float32 roundings of the real mean."""
    rng = np.random.default_rng(3)
    for s_in, zp in [(0.05, -3), (2.0**-9, 127), (7.25, -128)]:
        x = rng.integers(-128, 128, size=(2, 6, 7, 5)).astype(np.int8)
        real = (x.astype(np.float64) - zp).mean(axis=(1, 2), keepdims=True) * np.float64(np.float32(s_in))
        got = _ref(x, (1, 2), "tflm", s_in, zp, False, False, None)
        assert np.all(np.abs(got - real) <= 2 * np.finfo(np.float32).eps * np.abs(real))


def test_identity_table_equals_dequantization():
    """A table of the dequantized values gives the dequantizing path's floats bit for bit (ort_rows)."""
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, size=(1, 9, 11, 3)).astype(np.int8)
    dq = (np.arange(-128, 128) - 5).astype(np.float32) * np.float32(0.03)
    plain = _ref(x, (1, 2), "ort", 0.03, 5, False, True, None)
    tabled = _ref(x, (1, 2), "ort", 0.03, 5, False, True, dq)
    assert np.array_equal(plain, tabled)


def test_float_output_argument_checks(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.zeros((1, 2, 2, 1), np.int8)
    p = _params(x, (1, 2), "tflm", 0.1, 0, False, False, None)
    out = np.zeros(1, np.float32)
    for bad in (dict(p, input_scale=0.0), dict(p, count=0), dict(p, input_zero_point=128), dict(p, dims=[1, 2, 0, 1])):
        params, _ = _c_params(runtime, bad)
        assert lib.fn_mean_s8_f32(params, ffi.cast("int8_t *", ffi.from_buffer(x)),
                                  ffi.cast("float *", ffi.from_buffer(out))) == FN_ERR_ARG
    params, _ = _c_params(runtime, p)
    assert lib.fn_mean_s8_f32(params, ffi.NULL, ffi.cast("float *", ffi.from_buffer(out))) == FN_ERR_ARG


def test_hard_swish_table_is_onnxruntimes_float_hard_swish():
    """The table holds onnxruntime's own float HardSwish of each dequantized int8 value."""
    s, zp = 0.07, -9
    x = ((np.arange(-128, 128) - zp) * np.float32(s)).astype(np.float32).reshape(1, 256)
    model = helper.make_model(helper.make_graph(
        [helper.make_node("HardSwish", ["x"], ["y"])], "hs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])]), opset_imports=[helper.make_opsetid("", 18)])
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert np.array_equal(ort_s8.ort_float_table("hard_swish", (s, zp)), want.reshape(-1))


# ---------------------------------------------------------------- models against onnxruntime

SCALE, ZP = 0.05, 3


def _model(hard_swish: bool, quantized_output: bool, shape=(1, 8, 5, 6)) -> onnx.ModelProto:
    """x -> Q -> DQ [-> HardSwish] -> ReduceMean over H, W (opset 18, axes as an input, as the dynamo
    exporter writes it) -> Reshape [N, C] [-> Q -> DQ] -> y."""
    n, c = shape[0], shape[1]
    inits = [numpy_helper.from_array(np.float32(SCALE), "s"), numpy_helper.from_array(np.int8(ZP), "z"),
             numpy_helper.from_array(np.float32(0.02), "s_out"), numpy_helper.from_array(np.int8(-7), "z_out"),
             numpy_helper.from_array(np.array([-1, -2], np.int64), "axes"),
             numpy_helper.from_array(np.array([n, c], np.int64), "flat")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_in")]
    src = "xd"
    if hard_swish:
        nodes.append(helper.make_node("HardSwish", [src], ["hs"], name="the_hardswish"))
        src = "hs"
    nodes += [helper.make_node("ReduceMean", [src, "axes"], ["m"], keepdims=1, name="the_mean"),
              helper.make_node("Reshape", ["m", "flat"], ["v" if quantized_output else "y"], name="flatten")]
    if quantized_output:
        nodes += [helper.make_node("QuantizeLinear", ["v", "s_out", "z_out"], ["vq"], name="q_out"),
                  helper.make_node("DequantizeLinear", ["vq", "s_out", "z_out"], ["y"], name="dq_out")]
    graph = helper.make_graph(nodes, "reduce_float", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, c])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


def _ort(model, session, x):
    return ort_session(model, session).run(None, {"x": x})[0]


def _inputs(shape, count=4):
    rng = np.random.default_rng(11)
    return [(rng.standard_normal(shape) * 2.5).astype(np.float32) for _ in range(count)]


def _compile(model, path, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(model, path, requant=mode)


def _raw_input(cm, x):
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[0]]
    return OPS["quantize"].reference(quantize_op.Attrs(t.quant, "ort"), x)[0]


def _c_equals_reference(cm, host, x):
    xq = _raw_input(cm, x)
    (got,) = host.run_raw([xq])
    (want,) = reference.run(cm.lowered_graph, [xq])
    assert_array_equal_first(got, want, "C vs reference")
    return got


def _the_reduce(cm):
    (node,) = [n for n in cm.lowered_graph.nodes if n.op == "reduce"]
    return node


@pytest.mark.parametrize("hard_swish", [False, True])
def test_dequantize_reduce_mean_to_float_output_is_int8(tmp_path, hard_swish):
    """DQ [-> HardSwish] -> ReduceMean -> Reshape -> float graph output (ort mode): one int8 mean with a
    float output, no float layer, and onnxruntime's float bytes exactly in both sessions."""
    model = _model(hard_swish, quantized_output=False)
    cm = _compile(model, tmp_path / "m", "ort")
    assert cm.report["float_layers"] == []
    node = _the_reduce(cm)
    assert node.attrs.quant.output is None and cm.lowered_graph.types[node.outputs[0]].dtype == "float32"
    assert (node.attrs.pre is not None and node.attrs.pre.kind == "hard_swish") == hard_swish
    assert [n.op for n in cm.lowered_graph.nodes] == ["reduce", "reshape"]    # nothing else computes
    host = cm.build_host()
    for x in _inputs((1, 8, 5, 6)):
        got = _c_equals_reference(cm, host, x)
        for session in SESSIONS:
            want = _ort(model, session, x)
            assert got.dtype == np.float32 and np.array_equal(got, want), session


def test_float_output_in_tflm_mode_within_tolerance(tmp_path):
    """--requant tflm: the exact integer sum dequantized once, within 1e-6 of onnxruntime's float sum
    (relative to the largest output), and equal to firmnet's reference."""
    model = _model(False, quantized_output=False, shape=(1, 16, 9, 7))
    cm = _compile(model, tmp_path / "t", "tflm")
    assert cm.report["float_layers"] == [] and _the_reduce(cm).attrs.quant.output is None
    host = cm.build_host()
    worst = 0.0
    for x in _inputs((1, 16, 9, 7)):
        got = _c_equals_reference(cm, host, x).astype(np.float64)
        want = _ort(model, "default", x).astype(np.float64)
        worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
    assert worst <= 1e-6


def test_hard_swish_then_mean_then_quantize_is_int8_in_ort_mode(tmp_path):
    """mobilenet_v3_small's tail as quantize_static leaves it: DQ -> HardSwish -> ReduceMean -> Reshape ->
    Q. ort mode: one int8 mean over the hard swish table, onnxruntime's int8 bytes in both sessions."""
    model = _model(True, quantized_output=True)
    cm = _compile(model, tmp_path / "o", "ort")
    assert cm.report["float_layers"] == []
    node = _the_reduce(cm)
    assert node.attrs.pre.kind == "hard_swish" and cm.lowered_graph.types[node.outputs[0]].dtype == "int8"
    host = cm.build_host()
    out_q = cm.lowered_graph.types[cm.lowered_graph.outputs[0]].quant
    for x in _inputs((1, 8, 5, 6)):
        got = _c_equals_reference(cm, host, x)
        for session in SESSIONS:
            assert np.array_equal(got, recover_int8(_ort(model, session, x), out_q)), session


def test_hard_swish_then_mean_stays_float_in_tflm_mode_with_reasons(tmp_path):
    """TFLite has no integer form of a float activation feeding a mean: in tflm mode both layers
    stay float and are named."""
    cm = _compile(_model(True, quantized_output=True), tmp_path / "f", "tflm")
    assert [(layer["name"], layer["op"]) for layer in cm.report["float_layers"]] == [
        ("the_hardswish", "unary"), ("the_mean", "reduce")]
    assert "read in float by node 'the_mean' (reduce)" in cm.report["float_layers"][0]["reason"]


@pytest.mark.parametrize("hard_swish, quantized_output", [(False, False), (True, False), (True, True)])
def test_sanitizers_clean(tmp_path, hard_swish, quantized_output):
    """The float-output and table paths under ASan+UBSan give the host build's bytes."""
    cm = _compile(_model(hard_swish, quantized_output), tmp_path / "s", "ort")
    xq = [_raw_input(cm, _inputs((1, 8, 5, 6), 1)[0])]
    (sanitized,) = run_sanitized(cm, xq, tmp_path)
    (host,) = cm.build_host().run_raw(xq)
    assert sanitized.dtype == host.dtype and np.array_equal(sanitized, host)

"""The int8 conv, depthwise and fully connected kernels against the runtimes they emulate,
byte for byte: in TFLM mode the tflite-micro interpreter (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED built with its model_editor); in ORT mode onnxruntime itself
(QLinearConv, QLinearMatMul and a QDQ Conv).

What onnxruntime 1.31 does here (x86-64, CPUExecutionProvider), measured by these tests:
  QLinearConv (int8, per-channel weights; general, grouped, depthwise): integer GEMM
      then MlasRequantizeOutput — our ORT mode matches exactly.
  QLinearMatMul (int8, per-column weights): the same requantization — exact.
  QDQ Conv with int8 activations: on x86 onnxruntime does not fuse it into QLinearConv
      (its QDQ selectors refuse int8 activations there), it runs DQ -> float Conv -> Q.
      Our ORT mode emulates the fused integer path, so equality is not guaranteed there;
      the test measures it and allows 1 LSB.
"""
from __future__ import annotations

import numpy as np
import pytest

from firmnet.kernels.params_conv_s8 import depthwise_conv2d_s8_params, fc_s8_params, pack_depthwise_filter
from firmnet.reference import fixedpoint as fx
from firmnet.reference.conv_s8 import depthwise_filter_from_onnx
from support.compare import assert_array_equal_first
from support.oracles import ORT_LEVELS, ort_session
from support.s8_cases import MODES, ort_conv_case
from support.s8_kernels import check_conv, check_dw, check_fc, run_dw


# ---------------------------------------------------------------- onnxruntime (ORT mode)


def onnx_model(nodes, inits, x_shape, opset):
    from onnx import TensorProto, helper
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT8, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def conv_inits(w_ohwi, bias, q, qdq):
    from onnx import numpy_helper as nh
    f32 = np.float32
    oc = w_ohwi.shape[0]
    s_w = np.asarray(q["weight_scales"], f32)
    inits = [nh.from_array(np.array(q["input_scale"], f32), "xs"), nh.from_array(np.array(q["input_zero_point"], np.int8), "xzp"),
             nh.from_array(np.ascontiguousarray(w_ohwi.transpose(0, 3, 1, 2)), "w"), nh.from_array(s_w, "ws"),
             nh.from_array(np.zeros(oc, np.int8), "wzp"), nh.from_array(np.array(q["output_scale"], f32), "ys"),
             nh.from_array(np.array(q["output_zero_point"], np.int8), "yzp")]
    if bias is not None:
        inits.append(nh.from_array(bias, "b"))
        if qdq:   # bias scale s_in * s_w[c] in float32, zero point 0
            inits += [nh.from_array((f32(q["input_scale"]) * s_w).astype(f32), "bs"), nh.from_array(np.zeros(oc, np.int32), "bzp")]
    return inits


def conv_attrs(q, w_ohwi):
    return dict(group=q["groups"], strides=list(q["strides"]), dilations=list(q["dilations"]),
                pads=list(q["pads"]), kernel_shape=list(w_ohwi.shape[1:3]))


def qlinearconv_model(x, w, bias, q, opset):
    from onnx import helper
    ins = ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp"] + (["b"] if bias is not None else [])
    node = helper.make_node("QLinearConv", ins, ["y"], **conv_attrs(q, w))
    return onnx_model([node], conv_inits(w, bias, q, False), x.transpose(0, 3, 1, 2).shape, opset)


def qdq_conv_model(x, w, bias, q, opset):
    from onnx import helper
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xzp"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wzp"], ["wf"], axis=0)]
    conv_in = ["xf", "wf"]
    if bias is not None:
        nodes.append(helper.make_node("DequantizeLinear", ["b", "bs", "bzp"], ["bf"], axis=0))
        conv_in.append("bf")
    nodes += [helper.make_node("Conv", conv_in, ["yf"], **conv_attrs(q, w)),
              helper.make_node("QuantizeLinear", ["yf", "ys", "yzp"], ["y"])]
    return onnx_model(nodes, conv_inits(w, bias, q, True), x.transpose(0, 3, 1, 2).shape, opset)


def c_conv_ort(runtime, x, w, bias, q):
    return check_conv(runtime, x, w, bias, dict(q, mode="ort"))


def run_ort_nhwc(sess, x):
    return sess.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)


@pytest.mark.parametrize("level", ORT_LEVELS)
@pytest.mark.parametrize("kind", ["general", "grouped", "depthwise"])
def test_ort_qlinearconv_is_matched_exactly(runtime, kind, level):
    rng = np.random.default_rng({"general": 1, "grouped": 2, "depthwise": 3}[kind])
    for i in range(25):
        x, w, bias, q = ort_conv_case(rng, kind)
        expected = run_ort_nhwc(ort_session(qlinearconv_model(x, w, bias, q, opset=13 + i % 5), level), x)
        assert_array_equal_first(c_conv_ort(runtime, x, w, bias, q), expected, f"QLinearConv {kind} case {i}")
        if kind == "depthwise":   # the depthwise kernel, fed the same ONNX weights
            params, arrays = depthwise_conv2d_s8_params(
                x.shape, (1, *w.shape[1:3], w.shape[0]), mode="ort",
                **{k: v for k, v in q.items() if k != "groups"})
            packed = pack_depthwise_filter(depthwise_filter_from_onnx(w.transpose(0, 3, 1, 2)))
            status, out = run_dw(runtime, params, arrays, x, packed, bias)
            assert status == runtime.lib.FN_OK
            assert_array_equal_first(out, expected, f"depthwise kernel vs QLinearConv case {i}")


@pytest.mark.parametrize("level", ORT_LEVELS)
def test_ort_qlinearmatmul_is_matched_exactly(runtime, level):
    from onnx import helper
    from onnx import numpy_helper as nh
    rng = np.random.default_rng(4)
    for i in range(30):
        n, k, m = int(rng.integers(1, 5)), int(rng.integers(1, 300)), int(rng.integers(1, 20))
        if i == 0:   # |acc| > 2^24: float(acc) rounds in both runtimes
            n, k, m = 2, 4096, 3
        x = rng.integers(-128, 128, (n, k), dtype=np.int8) if i else np.full((n, k), 127, np.int8)
        w = rng.integers(-128, 128, (m, k), dtype=np.int8) if i else np.full((m, k), 127, np.int8)
        s_in, s_out = float(rng.uniform(0.005, 0.1)), float(rng.uniform(0.01, 1.0))
        s_w = (60.0 / (np.sqrt(k) * 75 * 75) if i else 1e-7) * 2.0 ** rng.uniform(-2, 3, m) * s_out / s_in
        zp_in = -128 if i == 0 else int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        q = dict(input_scale=s_in, input_zero_point=zp_in, weight_scales=s_w, output_scale=s_out,
                 output_zero_point=zp_out)
        f32 = np.float32
        inits = [nh.from_array(np.array(s_in, f32), "xs"), nh.from_array(np.array(zp_in, np.int8), "xzp"),
                 nh.from_array(np.ascontiguousarray(w.T), "w"), nh.from_array(s_w.astype(f32), "ws"),
                 nh.from_array(np.zeros(m, np.int8), "wzp"), nh.from_array(np.array(s_out, f32), "ys"),
                 nh.from_array(np.array(zp_out, np.int8), "yzp")]
        node = helper.make_node("QLinearMatMul", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp"], ["y"])
        expected = ort_session(onnx_model([node], inits, x.shape, opset=13 + i % 5), level).run(None, {"x": x})[0]
        out = check_fc(runtime, x, w, None, dict(q, mode="ort"))
        assert_array_equal_first(out, expected, f"QLinearMatMul case {i}")


def test_ort_mode_differs_from_tflm_on_ties(runtime):
    """The comparisons above are sensitive: on power-of-two scales TFLite's rounding
    (ties away from zero) and onnxruntime's (ties to even) disagree somewhere."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    w = np.ones((1, 1, 1, 1), np.int8)
    q = dict(input_scale=0.5, input_zero_point=0, weight_scales=[1.0], output_scale=1.0, output_zero_point=0)
    outs = {mode: check_conv(runtime, x, w, None, dict(q, mode=mode))
            for mode in MODES}
    odd = (x % 2 == 1)
    assert np.all(outs["ort"][odd] % 2 == 0) and np.any(outs["tflm"] != outs["ort"])


def test_ort_qdq_conv(runtime, tmp_path):
    """DequantizeLinear -> Conv -> QuantizeLinear. If onnxruntime fuses it into QLinearConv
    the match must be exact; unfused (its float path: float conv, then y / s_out) it may
    differ by 1 LSB near ties, so at most 1 is allowed and the count is reported."""
    import onnx
    rng = np.random.default_rng(5)
    stats = {}
    for level in ORT_LEVELS:
        diffs, total, fused = 0, 0, set()
        for i in range(40):
            x, w, bias, q = ort_conv_case(rng, ["general", "grouped", "depthwise"][i % 3])
            opt = tmp_path / f"opt_{level}_{i}.onnx"
            sess = ort_session(qdq_conv_model(x, w, bias, q, opset=13 + i % 5), level, optimized_path=opt)
            fused.add("QLinearConv" in {n.op_type for n in onnx.load(str(opt)).graph.node})
            expected = run_ort_nhwc(sess, x)
            out = c_conv_ort(runtime, x, w, bias, q)
            d = np.abs(out.astype(np.int32) - expected)
            if True in fused:
                assert_array_equal_first(out, expected, f"fused QDQ Conv case {i}")
            assert d.max() <= 1, f"QDQ Conv case {i} ({level}): max |diff| {d.max()}"
            diffs += int((d > 0).sum())
            total += d.size
        stats[level] = (sorted(fused), diffs, total)
    print("QDQ Conv vs ORT mode (fused?, elements differing by 1, elements):", stats)


# ---------------------------------------------------------------- tflite-micro (TFLM mode)

def tflm_modules():
    import tflite_micro  # noqa: F401  (test dependency: the TFLM oracle)
    from tflite_micro.python.tflite_micro import runtime as tflm_runtime
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return tflm_runtime, model_editor, schema


def tflm_run(kind, x, w, bias, q, y_shape, options):
    """One-operator .tflite model run by the TFLM interpreter. q: the float scales and zero
    points as for the params builders; w in TFLite's layout."""
    tflm_runtime, me, schema = tflm_modules()
    f32 = np.float32
    s_w = [float(v) for v in np.atleast_1d(np.asarray(q["weight_scales"], f32))]
    axis = 3 if kind == "depthwise" else 0
    sg = me.Subgraph()
    tx = sg.add_tensor(shape=x.shape, dtype=schema.TensorType.INT8, name="x",
                       quantization=me.Quantization(float(f32(q["input_scale"])), q["input_zero_point"]))
    tw = sg.add_tensor(shape=w.shape, dtype=schema.TensorType.INT8, data=w, name="w",
                       quantization=me.Quantization(s_w, [0] * len(s_w), axis))
    tb = sg.add_tensor(shape=bias.shape, dtype=schema.TensorType.INT32, data=bias, name="b",
                       quantization=me.Quantization([float(f32(q["input_scale"]) * f32(v)) for v in s_w],
                                                    [0] * len(s_w), 0))
    ty = sg.add_tensor(shape=y_shape, dtype=schema.TensorType.INT8, name="y",
                       quantization=me.Quantization(float(f32(q["output_scale"])), q["output_zero_point"]))
    opcode, opt_type = {"conv": (schema.BuiltinOperator.CONV_2D, schema.BuiltinOptions.Conv2DOptions),
                        "depthwise": (schema.BuiltinOperator.DEPTHWISE_CONV_2D,
                                      schema.BuiltinOptions.DepthwiseConv2DOptions),
                        "fc": (schema.BuiltinOperator.FULLY_CONNECTED,
                               schema.BuiltinOptions.FullyConnectedOptions)}[kind]
    op = sg.add_operator(opcode=opcode, inputs=[tx, tw, tb], outputs=[ty])
    op._fb.builtinOptionsType = opt_type
    op._fb.builtinOptions = options
    sg.inputs, sg.outputs = [tx], [ty]
    interpreter = tflm_runtime.Interpreter.from_bytes(bytes(me.Model(subgraphs=[sg]).build()))
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return interpreter.get_output(0)


def tflite_same_or_valid(size, kernel, stride, dilation, same):
    """(out, pad_before, pad_after) as TFLite computes them (ComputePaddingHeightWidth)."""
    extent = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride if same else (size - extent) // stride + 1
    total = max(0, (out - 1) * stride + extent - size)
    return out, total // 2, total - total // 2


def tflite_act_range(act, scale, zp):
    """CalculateActivationRangeQuantized: zp + round(float32(f) / float32(scale)), half away."""
    def quantize(f):
        v = float(np.float32(f) / np.float32(scale))
        return zp + int(np.sign(v) * np.floor(abs(v) + 0.5))
    return {"NONE": (-128, 127), "RELU": (max(-128, quantize(0.0)), 127),
            "RELU6": (max(-128, quantize(0.0)), min(127, quantize(6.0))),
            "RELU_N1_TO_1": (max(-128, quantize(-1.0)), min(127, quantize(1.0)))}[act]


def tflm_case(rng, kind):
    """A random layer for TFLM: data, TFLite-layout weights, float quantization, geometry."""
    c = int(rng.integers(1, 9))
    groups = 1
    if kind == "grouped":
        groups = int(rng.choice([2, 3]))
        c = groups * int(rng.integers(1, 4))
    oc = c * int(rng.integers(1, 4)) if kind == "depthwise" else groups * int(rng.integers(1, 5))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    strides = tuple(int(v) for v in rng.integers(1, 3, 2))
    dilations = tuple(int(v) for v in rng.integers(1, 3, 2))
    same = bool(rng.integers(0, 2))
    h = int((kh - 1) * dilations[0] + 1 + rng.integers(0, 6))
    w = int((kw - 1) * dilations[1] + 1 + rng.integers(0, 6))
    x = rng.integers(-128, 128, (int(rng.integers(1, 3)), h, w, c), dtype=np.int8)
    depth = kh * kw * (1 if kind == "depthwise" else c // groups)
    n_scales = oc if rng.random() < 0.8 else 1
    s_in, s_out = float(rng.uniform(0.005, 0.1)), float(rng.uniform(0.01, 1.0))
    s_w = 60.0 / (np.sqrt(depth) * 75 * 75) * 2.0 ** rng.uniform(-2, 3, n_scales) * s_out / s_in
    zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    act = str(rng.choice(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))
    q = dict(input_scale=s_in, input_zero_point=zp_in, weight_scales=s_w, output_scale=s_out,
             output_zero_point=zp_out, act=tflite_act_range(act, s_out, zp_out), mode="tflm")
    oh, pt, pb = tflite_same_or_valid(h, kh, strides[0], dilations[0], same)
    ow, pl, pr = tflite_same_or_valid(w, kw, strides[1], dilations[1], same)
    geo = dict(strides=strides, dilations=dilations, pads=(pt, pl, pb, pr))
    bias = rng.integers(-2**15, 2**15, oc).astype(np.int32)
    return x, oc, (kh, kw), groups, bias, q, geo, act, same, (oh, ow)


@pytest.mark.parametrize("kind", ["conv", "grouped", "depthwise"])
def test_tflm_conv_is_matched_exactly(runtime, kind):
    _, _, schema = tflm_modules()
    rng = np.random.default_rng({"conv": 11, "grouped": 12, "depthwise": 13}[kind])
    for i in range(30):
        x, oc, (kh, kw), groups, bias, q, geo, act, same, (oh, ow) = tflm_case(rng, kind)
        c = x.shape[3]
        if kind == "depthwise":
            options = schema.DepthwiseConv2DOptionsT()
            options.depthMultiplier = oc // c
            w = rng.integers(-127, 128, (1, kh, kw, oc), dtype=np.int8)
            out = check_dw(runtime, x, w, bias, dict(**geo, **q))
        else:
            options = schema.Conv2DOptionsT()
            w = rng.integers(-127, 128, (oc, kh, kw, c // groups), dtype=np.int8)
            out = check_conv(runtime, x, w, bias, dict(groups=groups, **geo, **q))
        options.padding = schema.Padding.SAME if same else schema.Padding.VALID
        options.strideH, options.strideW = geo["strides"]
        options.dilationHFactor, options.dilationWFactor = geo["dilations"]
        options.fusedActivationFunction = getattr(schema.ActivationFunctionType, act)
        expected = tflm_run("depthwise" if kind == "depthwise" else "conv", x, w, bias, q,
                            (x.shape[0], oh, ow, oc), options)
        assert_array_equal_first(out, expected, f"TFLM {kind} case {i} ({act}, {'SAME' if same else 'VALID'})")


@pytest.mark.parametrize("per_channel", [False, True])
def test_tflm_fully_connected_is_matched_exactly(runtime, per_channel):
    _, _, schema = tflm_modules()
    rng = np.random.default_rng(14 + per_channel)
    for i in range(30):
        n, k, m = int(rng.integers(1, 4)), int(rng.integers(1, 300)), int(rng.integers(1, 12))
        x = rng.integers(-128, 128, (n, k), dtype=np.int8)
        w = rng.integers(-127, 128, (m, k), dtype=np.int8)
        bias = rng.integers(-2**15, 2**15, m).astype(np.int32)
        s_in, s_out = float(rng.uniform(0.005, 0.1)), float(rng.uniform(0.01, 1.0))
        s_w = 60.0 / (np.sqrt(k) * 75 * 75) * 2.0 ** rng.uniform(-2, 3, m if per_channel else 1) * s_out / s_in
        zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        act = str(rng.choice(["NONE", "RELU", "RELU6"]))
        q = dict(input_scale=s_in, input_zero_point=zp_in, weight_scales=s_w, output_scale=s_out,
                 output_zero_point=zp_out, act=tflite_act_range(act, s_out, zp_out), mode="tflm")
        out = check_fc(runtime, x, w, bias, q)
        options = schema.FullyConnectedOptionsT()
        options.fusedActivationFunction = getattr(schema.ActivationFunctionType, act)
        assert_array_equal_first(out, tflm_run("fc", x, w, bias, q, (n, m), options), f"TFLM FC case {i}")


def test_tflm_multiplier_uses_the_double_product(runtime):
    """Some TFLite versions round s_in * s_w to float32 before dividing by s_out for a
    per-tensor FullyConnected. Accumulators placed (through the bias, with x = zp)
    exactly where the two roundings of the multiplier requantize differently show that
    the pinned TFLM uses the double product, as fc_s8_params does."""
    _, _, schema = tflm_modules()
    f32 = np.float32
    rng = np.random.default_rng(16)
    checked = 0
    while checked < 3:
        s_in, s_w = (float(f32(v)) for v in 2.0 ** rng.uniform(-12, -4, 2))
        s_out = float(f32(2.0 ** rng.uniform(-2, 4)))
        m_double = fx.quantize_multiplier(s_in * s_w / s_out)
        m_float = fx.quantize_multiplier(float(f32(f32(s_in) * f32(s_w))) / s_out)
        if m_double == m_float:
            continue
        accs = [acc for t in range(-120, 120) for acc in range(int((t + 0.5) * s_out / (s_in * s_w)) - 4,
                                                               int((t + 0.5) * s_out / (s_in * s_w)) + 5)
                if fx.mul_by_quantized_mul_tflm(acc, *m_double) != fx.mul_by_quantized_mul_tflm(acc, *m_float)]
        if not accs:
            continue
        bias = np.array(accs[:48], np.int32)
        x, w = np.zeros((1, 1), np.int8), np.ones((bias.size, 1), np.int8)
        q = dict(input_scale=s_in, input_zero_point=0, weight_scales=[s_w], output_scale=s_out,
                 output_zero_point=0, mode="tflm")
        params, arrays = fc_s8_params(x.shape, w.shape, **q)
        assert (int(arrays["multiplier"][0]), int(arrays["shift"][0])) == m_double
        out = check_fc(runtime, x, w, bias, q)
        expected = tflm_run("fc", x, w, bias, q, (1, bias.size), schema.FullyConnectedOptionsT())
        assert_array_equal_first(out, expected, "per-tensor FC at the multiplier's rounding boundary")
        checked += 1

"""Models built from the element-wise math operators (frontend/onnx_math_ops.py), compiled
to C: onnxruntime's outputs within verify's float tolerance (1e-4 of the largest output),
every node against the numpy reference, clean under ASan+UBSan, warning-free with gcc,
clang and arm-none-eabi-gcc; the decompositions exporters write (erf-form GELU,
SiLU as Sigmoid·Mul, an instance norm as Pow/Sqrt/Div), LogSoftmax before opset 13,
and a quantized model where these ops stay float islands between DequantizeLinear and
QuantizeLinear.
"""
from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.ir import FirmnetError
from firmnet.ops import OPS
from firmnet.ops import quantize as quantize_op
from firmnet.verify import verify
from support.compare import assert_close, assert_every_step_traced
from support.oracles import onnxruntime_outputs
from support.sanitize import run_sanitized

C, H, W = 8, 5, 6
SHAPE = (1, 4, H, W)


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def math_model(opset=20) -> onnx.ModelProto:
    """Every math operator once, on branches of a 1x1 conv's output (so the NHWC layout
    pass runs, and the constants of PRelu/Min/Where follow it)."""
    rng = np.random.default_rng(3)
    inits = [
        _const("w", (rng.standard_normal((C, 4, 1, 1)) * 0.7).astype(np.float32)),
        _const("slope", (rng.standard_normal((C, 1, 1)) * 0.2).astype(np.float32)),
        _const("half", np.float32(0.5)), _const("one", np.float32(1.0)), _const("sqrt2", np.float32(math.sqrt(2))),
        _const("two", np.float32(2.0)), _const("three", np.float32(3.0)), _const("p17", np.float32(1.7)),
        _const("p05", np.float32(0.5)), _const("eps", np.float32(1e-5)), _const("small", np.float32(0.1)),
        _const("expo", (rng.random((1, C, 1, W)) * 2).astype(np.float32)),
        _const("cap", (rng.standard_normal((C, 1, 1)) + 1).astype(np.float32)),
        _const("floor", np.float32(-0.5)),
        _const("cond", rng.random((1, C, 1, W)) < 0.5),
        _const("alt", (rng.standard_normal((1, 1, H, W))).astype(np.float32)),
    ]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w"], ["y"]),
        n("PRelu", ["y", "slope"], ["prelu"]),
        n("Gelu", ["y"], ["gelu"]),
        n("Gelu", ["y"], ["gelu_tanh"], approximate="tanh"),
        # GELU as older exporters write it: x * 0.5 * (1 + erf(x / sqrt 2))
        n("Div", ["y", "sqrt2"], ["g1"]), n("Erf", ["g1"], ["g2"]), n("Add", ["g2", "one"], ["g3"]),
        n("Mul", ["y", "half"], ["g4"]), n("Mul", ["g4", "g3"], ["gelu_erf"]),
        n("Elu", ["y"], ["elu"], alpha=0.7), n("Selu", ["y"], ["selu"]), n("Softplus", ["y"], ["softplus"]),
        n("Sigmoid", ["y"], ["sig"]), n("Mul", ["y", "sig"], ["silu"]),
        # instance norm as exporters decompose it (mean by global pooling here)
        n("GlobalAveragePool", ["y"], ["mean"]), n("Sub", ["y", "mean"], ["centred"]),
        n("Pow", ["centred", "two"], ["sq"]), n("GlobalAveragePool", ["sq"], ["var"]),
        n("Add", ["var", "eps"], ["var_eps"]), n("Sqrt", ["var_eps"], ["std"]), n("Div", ["centred", "std"], ["norm"]),
        n("Abs", ["y"], ["abs"]), n("Add", ["abs", "small"], ["pos"]),
        n("Pow", ["pos", "three"], ["cube"]), n("Pow", ["pos", "p17"], ["p17_out"]), n("Pow", ["pos", "p05"], ["root"]),
        n("Pow", ["pos", "expo"], ["pow_t"]), n("Reciprocal", ["pos"], ["recip"]), n("Log", ["pos"], ["log"]),
        n("Neg", ["y"], ["neg"]), n("Exp", ["neg"], ["exp"]),
        n("Min", ["y", "cap", "gelu"], ["min"]), n("Max", ["y", "floor"], ["max"]),
        n("Where", ["cond", "y", "alt"], ["where"]),
        n("Greater", ["y", "floor"], ["gt"]), n("Where", ["gt", "neg", "y"], ["where2"]),
        n("Sum", ["where2", "prelu", "gelu", "gelu_tanh", "gelu_erf", "elu", "selu", "softplus", "silu", "norm", "cube",
                  "p17_out", "root", "pow_t", "recip", "log", "exp", "min", "max", "where"], ["total"]),
        n("LogSoftmax", ["total"], ["out"], axis=1),
    ]
    # Sum is not ours: replace it by a chain of Adds
    total = nodes.pop(-2)
    acc = total.input[0]
    for k, term in enumerate(total.input[1:]):
        out = "total" if k == len(total.input) - 2 else f"sum{k}"
        nodes.insert(-1, n("Add", [acc, term], [out]))
        acc = out
    graph = helper.make_graph(nodes, "mathnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("gelu_erf", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("where", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def inputs(seed=0):
    return [(np.random.default_rng(seed).standard_normal(SHAPE) * 1.5).astype(np.float32)]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return firmnet.compile(math_model(), tmp_path_factory.mktemp("mathnet"), name="mathnet")


def test_matches_onnxruntime_and_reference(compiled):
    for seed in range(3):
        x = inputs(seed)
        ort = onnxruntime_outputs(math_model(), x)
        for c, o, r, name in zip(compiled.build_host().run(x), ort, firmnet.reference.run(compiled.graph, x),
                                 compiled.graph.outputs):
            assert_close(c, o, f"{name}: C vs onnxruntime")
            assert_close(r, o, f"{name}: reference vs onnxruntime")


def test_every_node_matches_reference(compiled):
    result = verify(compiled, inputs(1))
    assert result.ok, result.summary()
    assert_every_step_traced(result, compiled)


def test_kernels_used(compiled):
    """The ops arrive as the kinds they should (the layout pass did not break them up)."""
    g = compiled.lowered_graph
    kinds = {n.attrs.kind for n in g.nodes if n.op in ("unary", "binary")}
    assert {"prelu", "gelu", "gelu_tanh", "erf", "elu", "selu", "softplus", "silu", "pow", "sqrt", "abs",
            "reciprocal", "log", "neg", "exp", "min", "max"} <= kinds
    assert "sigmoid" not in kinds            # Sigmoid·Mul became one silu node (passes/silu.py)
    assert sum(n.op == "where" for n in g.nodes) == 2 and any(n.op == "compare" for n in g.nodes)
    assert any(n.op == "softmax" and n.attrs.log for n in g.nodes)


def test_sanitizers_clean(compiled, tmp_path):
    x = inputs(2)
    x[0][0, 0, 0, :3] = [np.inf, -np.inf, np.nan]     # special values through every kernel
    for s, c in zip(run_sanitized(compiled, x, tmp_path), compiled.build_host().run(x)):
        assert_close(s, c, "sanitized build vs host build")


@pytest.mark.parametrize("cc,flags", [
    ("gcc", []), ("clang", []),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m0plus", "-mthumb"]),
])
def test_warning_free(compiled, cc, flags):
    assert shutil.which(cc), f"{cc} is not installed"
    folder = compiled.out_dir
    sources = sorted(folder.glob("*.c")) + sorted((folder / "runtime" / "src").glob("*.c"))
    names = {s.name for s in sources}
    assert {"fn_math_f32.c", "fn_erf_f32.c", "fn_pow_f32.c", "fn_unary_math_f32.c", "fn_binary_f32.c", "fn_where_f32.c",
            "fn_log_softmax_f32.c", "fn_binary_select_f32.c", "fn_compare_f32.c"} <= names
    for src in sources:
        res = subprocess.run([cc, *flags, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", "-c",
                              "-o", "/dev/null", f"-I{folder}", f"-I{folder / 'runtime' / 'include'}", str(src)],
                             capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr, f"{cc} {flags} on {src.name}:\n{res.stderr}"


def test_silu_fusion(tmp_path):
    """x * Sigmoid(x) in either order becomes one silu node, a following Relu its clamp; a
    sigmoid with a second reader stays (the product and the sigmoid are both needed)."""
    n = helper.make_node
    nodes = [n("Sigmoid", ["x"], ["s"]), n("Mul", ["s", "x"], ["m"]), n("Relu", ["m"], ["r"]),
             n("Sigmoid", ["r"], ["s2"]), n("Mul", ["r", "s2"], ["m2"]), n("Add", ["m2", "s2"], ["y"])]
    graph = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (2, 16))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    cm = firmnet.compile(model, tmp_path, name="silu")
    g = cm.lowered_graph
    assert [(n.op, getattr(n.attrs, "kind", None)) for n in g.nodes] == \
        [("unary", "silu"), ("unary", "sigmoid"), ("binary", "mul"), ("binary", "add")]
    assert g.nodes[0].attrs.act == (0.0, math.inf)
    x = [(np.random.default_rng(8).standard_normal((2, 16)) * 4).astype(np.float32)]
    assert_close(cm.build_host().run(x)[0], onnxruntime_outputs(model, x)[0], "C vs onnxruntime")
    assert verify(cm, x).ok


@pytest.mark.parametrize("opset", [13, 18])
def test_decomposed_layer_norm(tmp_path, opset):
    """LayerNorm over the last axis as the TorchScript exporter writes it before
    LayerNormalization existed: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul, Add
    (ReduceMean's axes an attribute before opset 18, an input from 18)."""
    n = helper.make_node
    rng = np.random.default_rng(9)
    axes = {"axes": [-1]} if opset < 18 else {}
    mean_in = ["x"] if opset < 18 else ["x", "ax"]
    var_in = ["sq"] if opset < 18 else ["sq", "ax"]
    nodes = [n("ReduceMean", mean_in, ["mu"], keepdims=1, **axes), n("Sub", ["x", "mu"], ["d"]),
             n("Pow", ["d", "two"], ["sq"]), n("ReduceMean", var_in, ["var"], keepdims=1, **axes),
             n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]), n("Div", ["d", "sd"], ["nrm"]),
             n("Mul", ["nrm", "gamma"], ["sc"]), n("Add", ["sc", "beta"], ["y"])]
    inits = [_const("two", np.float32(2.0)), _const("eps", np.float32(1e-5)),
             _const("gamma", rng.standard_normal(24).astype(np.float32)),
             _const("beta", rng.standard_normal(24).astype(np.float32)), _const("ax", np.array([-1], np.int64))]
    graph = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 10, 24))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [i for i in inits if opset >= 18 or i.name != "ax"])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    x = [(rng.standard_normal((1, 10, 24)) * 3 + 5).astype(np.float32)]
    cm = firmnet.compile(model, tmp_path, name="ln")
    assert {("unary", "square"), ("unary", "sqrt")} <= {(n.op, float_kind(n)) for n in cm.lowered_graph.nodes}
    assert_close(cm.build_host().run(x)[0], onnxruntime_outputs(model, x)[0], "C vs onnxruntime")
    assert verify(cm, x).ok


def float_kind(node):
    """The C op a unary node lowers to (Pow by 2 is 'square')."""
    from firmnet.ops.unary import float_kernel
    return float_kernel(node.attrs.kind, node.attrs.alpha)[1] if node.op == "unary" else None


def _single_op_model(node, in_shape, opset, inits=()):
    graph = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("opset,axis", [(11, 1), (11, None), (11, -1), (13, 1), (13, 0), (18, -2)])
def test_log_softmax_axis_semantics(tmp_path, opset, axis):
    """Before opset 13 LogSoftmax runs over the flattened trailing dims from axis (default 1)."""
    kwargs = {} if axis is None else {"axis": axis}
    model = _single_op_model(helper.make_node("LogSoftmax", ["x"], ["y"], **kwargs), (2, 3, 4), opset)
    x = [(np.random.default_rng(4).standard_normal((2, 3, 4)) * 3).astype(np.float32)]
    cm = firmnet.compile(model, tmp_path, name="ls")
    assert_close(cm.build_host().run(x)[0], onnxruntime_outputs(model, x)[0], f"opset {opset} axis {axis}")


def test_refusals_name_the_node(tmp_path):
    model = _single_op_model(helper.make_node("Gelu", ["x"], ["y"], approximate="fast", name="g"), (2, 3), 20)
    with pytest.raises(FirmnetError, match=r"node 'g' \(Gelu\).*approximate='fast' is not supported \(none, tanh\)"):
        firmnet.compile(model, tmp_path, name="m")
    node = helper.make_node("PRelu", ["x", "s"], ["y"], name="p")
    model = _single_op_model(node, (2, 3), 16, [_const("s", np.ones((2, 1, 3), np.float32))])
    with pytest.raises(FirmnetError, match=r"node 'p' \(PRelu\).*slope's shape \[2, 1, 3\] does not broadcast to "
                                           r"the input's \[2, 3\]"):
        firmnet.compile(model, tmp_path, name="m")
    graph = helper.make_graph([helper.make_node("Where", ["c", "x", "x"], ["y"], name="w")], "w",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, (2, 3)),
                               helper.make_tensor_value_info("c", TensorProto.BOOL, (1, 3))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    with pytest.raises(FirmnetError, match=r"node 'w' \(Where\).*condition \('c'\) is computed at run time with "
                                           r"shape \[1, 3\]; a run-time condition must have the output's shape \[2, 3\]"):
        firmnet.compile(model, tmp_path, name="m")


@pytest.mark.parametrize("op", ["Greater", "Less", "GreaterOrEqual", "LessOrEqual"])
def test_runtime_condition(tmp_path, op):
    """nn.Softplus as the dynamo exporter writes it: Where(x > threshold, x, Softplus(x)), and
    the other comparisons feeding Where with a broadcast constant branch."""
    n = helper.make_node
    nodes = [n("Softplus", ["x"], ["sp"]), n(op, ["x", "t"], ["c"]), n("Where", ["c", "x", "sp"], ["y"]),
             n(op, ["k", "x"], ["c2"]), n("Where", ["c2", "alt", "y"], ["z"])]
    graph = helper.make_graph(nodes, "cmp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 4, 5))],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
                              [_const("t", np.float32(1.0)), _const("k", np.float32(-0.5)),
                               _const("alt", np.arange(5, dtype=np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = (np.random.default_rng(6).standard_normal((1, 3, 4, 5)) * 2).astype(np.float32)
    x[0, 0, 0, :2] = [1.0, -0.5]                       # ties with the thresholds
    cm = firmnet.compile(model, tmp_path, name="cmp")
    assert_close(cm.build_host().run([x])[0], onnxruntime_outputs(model, [x])[0], f"{op}: C vs onnxruntime")
    result = verify(cm, [x])
    assert result.ok, result.summary()
    assert sum(n.op == "compare" for n in cm.lowered_graph.nodes) == 2


# ----------------------------------------------------------------------------- quantized models

def qdq_island_model() -> onnx.ModelProto:
    """x → Q → DQ → Gelu → Q → DQ → Softplus → Q → DQ → LogSoftmax → out: no int8 kernel
    exists for these, so each must run in float between its DQ and Q."""
    n = helper.make_node
    s_in, s_mid, s_out = np.float32(0.03), np.float32(0.02), np.float32(0.05)
    inits = [_const("s_in", s_in), _const("s_mid", s_mid), _const("s_out", s_out), _const("zp", np.int8(0)),
             _const("zp2", np.int8(-20))]
    nodes = [
        n("QuantizeLinear", ["x", "s_in", "zp"], ["xq"]), n("DequantizeLinear", ["xq", "s_in", "zp"], ["xd"]),
        n("Gelu", ["xd"], ["g"]),
        n("QuantizeLinear", ["g", "s_mid", "zp2"], ["gq"]), n("DequantizeLinear", ["gq", "s_mid", "zp2"], ["gd"]),
        n("Softplus", ["gd"], ["sp"]),
        n("QuantizeLinear", ["sp", "s_mid", "zp2"], ["sq"]), n("DequantizeLinear", ["sq", "s_mid", "zp2"], ["sd"]),
        n("LogSoftmax", ["sd"], ["ls"], axis=-1),
        n("QuantizeLinear", ["ls", "s_out", "zp"], ["oq"]), n("DequantizeLinear", ["oq", "s_out", "zp"], ["out"]),
    ]
    graph = helper.make_graph(nodes, "island", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (2, 64))],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model


def test_qdq_float_islands(tmp_path):
    model = qdq_island_model()
    cm = firmnet.compile(model, tmp_path, name="island")
    g = cm.lowered_graph
    float_ops = [n for n in g.nodes if g.types[n.outputs[0]].dtype == "float32"
                 and n.op not in ("dequantize", "reshape", "transpose")]
    assert sorted((n.op, getattr(n.attrs, "kind", None)) for n in float_ops) == \
        [("softmax", None), ("unary", "gelu"), ("unary", "softplus")]
    t_in = g.types[g.inputs[0]]
    assert t_in.dtype == "int8"
    x = (np.random.default_rng(5).standard_normal((2, 64)) * 2).astype(np.float32)
    xq = OPS["quantize"].reference(quantize_op.Attrs(t_in.quant, "ort"), x)[0]
    c = cm.build_host().run_raw([xq])[0]
    result = verify(cm, [xq])                          # every step; int8 tensors bit-exact
    assert result.ok, result.summary()
    out_q = g.types[g.outputs[0]].quant
    ort = onnxruntime_outputs(model, [(xq.astype(np.float32) * np.float32(0.03)).astype(np.float32)])[0]
    want = np.clip(np.rint(ort / np.float32(out_q.scale[0])) + out_q.zero_point[0], -128, 127).astype(np.int8)
    diff = np.abs(c.astype(int) - want.astype(int))
    # float islands: the C's float math differs from onnxruntime's by ulps, which can move a
    # value across a rounding boundary of the quantizer; never by more than one step
    assert diff.max() <= 1 and np.mean(diff == 0) >= 0.97, f"{np.mean(diff == 0):.3f} equal, max {diff.max()}"

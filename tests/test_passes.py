"""Unit tests of the graph passes (python/firmnet/passes/) on small hand-made IR graphs.

Every test checks both the structure the pass leaves (which nodes, which attributes,
which constants) and the numerics: the numpy reference gives the same outputs on the
graph before and after the pass, on random inputs, within firmnet.verify.compare's
float tolerance.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import reference
from firmnet.frontend.builder import GraphBuilder
from firmnet.ir import FirmnetError, TensorType
from firmnet.ops import batchnorm, binary, concat, conv2d, dense, pad, pool2d, reshape, softmax, transpose, unary
from firmnet.passes import (batchnorm_to_affine, fold_batchnorm, fold_constants, fuse_activations,
                            remove_dead_nodes, run_pipeline, simplify_layout, to_nhwc)
from firmnet.passes.check import verify
from firmnet.verify import compare
from support.oracles import onnxruntime_outputs
from support.paths import EXAMPLE, FIXTURES

INF = math.inf
NO_CLAMP = (-INF, INF)
RELU = (0.0, INF)
NHWC = (0, 2, 3, 1)


# ---------------------------------------------------------------------------------------------
# graph construction

def rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def f32(shape):
    return TensorType(tuple(shape), "float32")


def new_graph(*inputs):
    """A builder with float32 inputs x0, x1, ... of the given shapes."""
    b = GraphBuilder("test")
    for k, shape in enumerate(inputs):
        b.add_input(f"x{k}", f32(shape))
    return b


def add_conv(b, x, oc, k=3, pad=1, bias=True, act=NO_CLAMP, name="conv", groups=1, seed=1):
    c = b.types[x].shape[1]
    w = b.const(rand((oc, c // groups, k, k), seed, 0.3), f"{name}/w")
    bias_name = b.const(rand((oc,), seed + 100), f"{name}/b") if bias else ""
    attrs = conv2d.Attrs(pads=(pad,) * 4, groups=groups, act=act)
    return b.add("conv2d", [x, w, bias_name], attrs, name=name)[0]


def add_dense(b, x, m, bias=True, act=NO_CLAMP, name="fc", seed=2):
    k = b.types[x].shape[1]
    w = b.const(rand((m, k), seed, 0.3), f"{name}/w")
    bias_name = b.const(rand((m,), seed + 100), f"{name}/b") if bias else ""
    return b.add("dense", [x, w, bias_name], dense.Attrs(act=act), name=name)[0]


def add_bn(b, x, name="bn", seed=3):
    c = b.types[x].shape[1]
    rng = np.random.default_rng(seed)
    params = [rng.uniform(0.5, 2.0, c), rng.standard_normal(c), rng.standard_normal(c), rng.uniform(0.5, 2.0, c)]
    names = [b.const(p.astype(np.float32), f"{name}/{what}")
             for p, what in zip(params, ("scale", "bias", "mean", "var"))]
    return b.add("batchnorm", [x, *names], batchnorm.Attrs(1e-5), name=name)[0]


def add_clamp(b, x, act, name="relu"):
    return b.add("unary", [x], unary.Attrs("identity", act=act), name=name)[0]


def add_binary(b, x, y, kind="add", name="add", act=NO_CLAMP):
    return b.add("binary", [x, y], binary.Attrs(kind, act=act), name=name)[0]


def add_pool(b, x, kind="max", k=2, stride=2, name="pool"):
    return b.add("pool2d", [x], pool2d.Attrs(kind, (k, k), strides=(stride, stride)), name=name)[0]


def onnx_model(nodes, inputs, outputs, initializers=(), opset=13):
    """A small float32 ONNX model: inputs {name: shape}, outputs [name], initializers {name: array}."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in dict(initializers).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8   # readable by older onnxruntime releases too
    return model


# ---------------------------------------------------------------------------------------------
# checks

def ops(g):
    return [n.op for n in g.nodes]


def node(g, name):
    (found,) = [n for n in g.nodes if n.name == name]
    return found


def producer(g, tensor):
    return g.producers()[tensor]


def transposes(g):
    return [n for n in g.nodes if n.op == "transpose"]


def inner_transposes(g):
    """Transposes that neither read a graph input nor produce a graph output."""
    return [n for n in transposes(g) if n.inputs[0] not in g.inputs and n.outputs[0] not in g.outputs]


def assert_same_numerics(before, after, seeds=(0, 1)):
    """The IR check passes and the reference computes the same outputs before and after."""
    verify(before)
    verify(after)
    assert after.inputs == before.inputs and after.outputs == before.outputs
    for name in before.inputs + before.outputs:
        assert after.types[name] == before.types[name], f"type of '{name}' changed"
    for seed in seeds:
        rng = np.random.default_rng(seed)
        xs = [rng.standard_normal(before.types[i].shape).astype(np.float32) for i in before.inputs]
        for name, a, e in zip(before.outputs, reference.run(after, xs), reference.run(before, xs)):
            ok, diff, where = compare(a, e)
            assert ok, f"output '{name}' differs after the pass: max |diff| {diff:.3g} at {where}"


def run_checked(graph, *passes):
    """Apply passes through run_pipeline (the IR is checked after each) and compare numerics."""
    after = run_pipeline(graph, passes=passes)
    assert_same_numerics(graph, after)
    return after


# ---------------------------------------------------------------------------------------------
# fold_constants

def test_fold_constants_folds_all_constant_node():
    b = new_graph((2, 3))
    c = add_binary(b, b.const(rand((2, 3), 5), "a"), b.const(rand((2, 3), 6), "b"), "mul", name="const_mul")
    t = b.add("transpose", [c], transpose.Attrs((1, 0)), name="const_t")[0]
    r = b.add("reshape", [t], reshape.Attrs((2, 3)), name="const_r")[0]
    y = add_binary(b, "x0", r, "add", name="use")
    g = b.build([y])
    after = run_checked(g, fold_constants)
    assert ops(after) == ["binary"] and after.nodes[0].name == "use"
    assert after.is_constant(r) and not after.is_constant(c)   # intermediate constants pruned
    expected = (rand((2, 3), 5).astype(np.float64) * rand((2, 3), 6)).astype(np.float32).T.reshape(2, 3)
    np.testing.assert_array_equal(after.constants[r], expected)
    assert after.types[r] == f32((2, 3))
    assert not after.constants[r].flags.writeable


def test_fold_constants_keeps_node_producing_graph_output():
    b = new_graph((2, 3))
    const_out = add_binary(b, b.const(rand((2, 3), 5), "a"), b.const(rand((2, 3), 6), "b"), name="const_add")
    y = add_clamp(b, "x0", RELU)
    g = b.build([y, const_out])
    after = run_checked(g, fold_constants)
    assert sorted(n.name for n in after.nodes) == ["const_add", "relu"]
    assert not after.is_constant(const_out)


def test_fold_constants_leaves_dynamic_graph_alone():
    b = new_graph((1, 2, 4, 4))
    y = add_conv(b, "x0", 3)
    g = b.build([y])
    after = run_checked(g, fold_constants)
    assert ops(after) == ["conv2d"]


# ---------------------------------------------------------------------------------------------
# fold_batchnorm, batchnorm_to_affine

def _bn_scale_shift(g, bn_name):
    bn = node(g, bn_name)
    return batchnorm.scale_shift(bn.attrs, *(g.constants[i] for i in bn.inputs[1:]))


@pytest.mark.parametrize("bias", [True, False])
def test_fold_batchnorm_into_conv(bias):
    b = new_graph((1, 3, 6, 6))
    y = add_bn(b, add_conv(b, "x0", 4, bias=bias, groups=1))
    g = b.build([y])
    after = run_checked(g, fold_batchnorm)
    assert ops(after) == ["conv2d"]
    conv = after.nodes[0]
    assert conv.name == "conv" and conv.outputs == (y,) and conv.attrs == node(g, "conv").attrs
    s, t = _bn_scale_shift(g, "bn")
    w0 = g.constants["conv/w"].astype(np.float64)
    b0 = g.constants["conv/b"].astype(np.float64) if bias else np.zeros(4)
    np.testing.assert_allclose(after.constants[conv.inputs[1]], w0 * s[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(after.constants[conv.inputs[2]], b0 * s + t, rtol=1e-6, atol=1e-6)
    assert "conv/w" not in after.constants   # the old weights are pruned


def test_fold_batchnorm_into_depthwise_conv():
    b = new_graph((1, 4, 5, 5))
    y = add_bn(b, add_conv(b, "x0", 4, groups=4))
    g = b.build([y])
    after = run_checked(g, fold_batchnorm)
    assert ops(after) == ["conv2d"] and after.nodes[0].attrs.groups == 4


def test_fold_batchnorm_into_dense():
    b = new_graph((2, 5))
    y = add_bn(b, add_dense(b, "x0", 3))
    g = b.build([y])
    after = run_checked(g, fold_batchnorm)
    assert ops(after) == ["dense"]
    fc = after.nodes[0]
    s, t = _bn_scale_shift(g, "bn")
    np.testing.assert_allclose(after.constants[fc.inputs[1]], g.constants["fc/w"] * s[:, None], rtol=1e-6)
    np.testing.assert_allclose(after.constants[fc.inputs[2]], g.constants["fc/b"] * s + t, rtol=1e-6, atol=1e-6)


def _assert_not_folded(g):
    after = run_checked(g, fold_batchnorm)
    assert ops(after) == ops(g)
    assert node(after, "conv").inputs == node(g, "conv").inputs   # weights untouched
    return after


def test_fold_batchnorm_refuses_conv_with_second_consumer():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_bn(b, c)
    z = add_clamp(b, c, RELU)
    _assert_not_folded(b.build([y, z]))


def test_fold_batchnorm_refuses_conv_that_is_graph_output():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_bn(b, c)
    _assert_not_folded(b.build([y, c]))


def test_fold_batchnorm_refuses_conv_with_clamp():
    b = new_graph((1, 3, 6, 6))
    y = add_bn(b, add_conv(b, "x0", 4, act=RELU))
    after = _assert_not_folded(b.build([y]))
    assert node(after, "conv").attrs.act == RELU


def test_batchnorm_to_affine_rewrites_unfolded_batchnorm():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_bn(b, c)
    z = add_clamp(b, c, RELU)
    g = b.build([y, z])
    after = run_checked(g, fold_batchnorm, batchnorm_to_affine)
    assert "batchnorm" not in ops(after)
    mul, add = node(after, "bn/mul"), node(after, "bn")
    assert (mul.op, mul.attrs.kind, add.op, add.attrs.kind) == ("binary", "mul", "binary", "add")
    assert mul.inputs[0] == c and add.inputs[0] == mul.outputs[0] and add.outputs == (y,)
    s, t = _bn_scale_shift(g, "bn")
    np.testing.assert_allclose(after.constants[mul.inputs[1]], s.astype(np.float32).reshape(4, 1, 1))
    np.testing.assert_allclose(after.constants[add.inputs[1]], t.astype(np.float32).reshape(4, 1, 1))


@pytest.mark.parametrize("shape", [(2, 5), (1, 3, 7), (1, 3, 4, 4)])
def test_batchnorm_to_affine_any_rank(shape):
    b = new_graph(shape)
    g = b.build([add_bn(b, "x0")])
    after = run_checked(g, fold_batchnorm, batchnorm_to_affine)
    assert [(n.op, n.attrs.kind) for n in after.nodes] == [("binary", "mul"), ("binary", "add")]
    assert after.constants[after.nodes[0].inputs[1]].shape == (shape[1],) + (1,) * (len(shape) - 2)


# ---------------------------------------------------------------------------------------------
# fuse_activations

def test_fuse_relu_into_conv():
    b = new_graph((1, 3, 6, 6))
    y = add_clamp(b, add_conv(b, "x0", 4), RELU)
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d"]
    assert after.nodes[0].attrs.act == RELU and after.nodes[0].outputs == (y,)


def test_fuse_relu_then_clip_chain_intersects_ranges():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4, act=(-1.0, 5.0))
    y = add_clamp(b, add_clamp(b, c, RELU, "relu"), (-2.0, 0.5), "clip")
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d"]
    assert after.nodes[0].attrs.act == (0.0, 0.5) and after.nodes[0].outputs == (y,)


def test_fuse_relu6_into_dense_and_unary():
    b = new_graph((2, 5))
    y = add_clamp(b, add_dense(b, "x0", 3), (0.0, 6.0), "relu6")
    z = add_clamp(b, b.add("unary", [y], unary.Attrs("tanh"), name="tanh")[0], (-0.5, 0.5), "clip")
    g = b.build([z])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["dense", "unary"]
    assert after.nodes[0].attrs.act == (0.0, 6.0)
    assert after.nodes[1].attrs.kind == "tanh" and after.nodes[1].attrs.act == (-0.5, 0.5)


def test_fuse_clip_min_greater_than_max_from_onnx():
    """ONNX Clip with min > max sets every value to max; fused into the conv it stays so."""
    w = rand((2, 1, 3, 3), 1)
    model = onnx_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Clip", ["r", "lo", "hi"], ["y"])],
        {"x": (1, 1, 4, 4)}, ["y"],
        {"w": w, "lo": np.array(2.0, np.float32), "hi": np.array(-1.5, np.float32)})
    g = firmnet.load(model)
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d"] and after.nodes[0].attrs.act == (-1.5, -1.5)
    x = rand((1, 1, 4, 4), 0)
    (out,) = reference.run(after, [x])
    assert (out == -1.5).all()
    (expected,) = onnxruntime_outputs(model, [x])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("producer_act, clamp_act", [
    ((0.0, INF), (-2.0, -1.0)),    # clamp entirely below the producer's range
    ((-INF, 1.0), (2.0, 3.0)),     # clamp entirely above the producer's range
])
def test_fuse_disjoint_ranges(producer_act, clamp_act):
    b = new_graph((1, 2, 4, 4))
    y = add_clamp(b, add_conv(b, "x0", 2, act=producer_act), clamp_act)
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d"]
    lo, hi = after.nodes[0].attrs.act
    assert lo == hi and lo in clamp_act


@pytest.mark.parametrize("producer_act, clamp_act", [((-INF, 1.0), (5.0, 3.0)), ((5.0, 3.0), (0.0, INF))])
def test_clamp_ranges_must_be_intervals_in_ir(producer_act, clamp_act):
    """lo > hi is not a clamp the IR accepts (Clip(min > max) is rewritten on import),
    so fusion only ever intersects intervals."""
    b = new_graph((1, 2, 4, 4))
    with pytest.raises(FirmnetError, match="not an interval"):
        add_clamp(b, add_conv(b, "x0", 2, act=producer_act), clamp_act)



def test_fuse_relu_into_pool():
    b = new_graph((1, 3, 6, 6))
    y = add_clamp(b, add_pool(b, "x0", "avg"), RELU)
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["pool2d"] and after.nodes[0].attrs.act == RELU


def test_fuse_relu_into_add():
    b = new_graph((1, 3, 4, 4), (1, 3, 4, 4))
    y = add_clamp(b, add_binary(b, "x0", "x1"), RELU)
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["binary"] and after.nodes[0].attrs.act == RELU and after.nodes[0].outputs == (y,)


def test_no_fusion_when_producer_output_has_two_consumers():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_clamp(b, c, RELU)
    z = add_binary(b, c, y, "mul")
    g = b.build([z])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d", "unary", "binary"] and node(after, "conv").attrs.act == NO_CLAMP


def test_no_fusion_when_producer_output_is_graph_output():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_clamp(b, c, RELU)
    g = b.build([y, c])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["conv2d", "unary"] and node(after, "conv").attrs.act == NO_CLAMP


def test_no_fusion_into_ops_without_clamp():
    b = new_graph((1, 3, 4, 4))
    r = b.add("reshape", ["x0"], reshape.Attrs((1, 48)), name="flat")[0]
    y = add_clamp(b, b.add("softmax", [r], softmax.Attrs(-1), name="sm")[0], (0.0, 0.5))
    g = b.build([y])
    after = run_checked(g, fuse_activations)
    assert ops(after) == ["reshape", "softmax", "unary"]


# ---------------------------------------------------------------------------------------------
# to_nhwc

def test_to_nhwc_conv_and_pool_switch_layout():
    b = new_graph((1, 3, 8, 8))
    c = add_conv(b, "x0", 4, act=RELU)
    y = add_pool(b, c, "max")
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    conv, pool = node(after, "conv"), node(after, "pool")
    assert conv.attrs.layout == "NHWC" and pool.attrs.layout == "NHWC"
    assert conv.attrs.act == RELU and conv.attrs.pads == (1, 1, 1, 1)
    np.testing.assert_array_equal(after.constants[conv.inputs[1]], g.constants["conv/w"].transpose(0, 2, 3, 1))
    assert conv.inputs[2] == "conv/b"
    assert after.types[conv.outputs[0]] == f32((1, 8, 8, 4))
    # the model's layout at the edges: one transpose in, one out, nothing inside
    assert [(n.inputs[0], n.attrs.perm) for n in transposes(after)] == [("x0", NHWC), (pool.outputs[0], (0, 3, 1, 2))]
    assert after.types[y] == f32((1, 4, 4, 4))


def test_to_nhwc_does_not_fire_without_spatial_ops():
    b = new_graph((2, 5))
    g = b.build([add_clamp(b, add_dense(b, "x0", 3), RELU)])
    assert to_nhwc(g) is g


def test_to_nhwc_elementwise_between_nhwc_tensors():
    b = new_graph((1, 2, 6, 6))
    c1 = add_conv(b, "x0", 4, name="c1", seed=1)
    c2 = add_conv(b, "x0", 4, name="c2", seed=2)
    s = add_binary(b, c1, c2, "add", name="add")
    m = add_binary(b, s, add_clamp(b, c1, (-1.0, 1.0), "clip"), "mul", name="mul")
    u = b.add("unary", [m], unary.Attrs("sigmoid"), name="sig")[0]
    y = add_conv(b, u, 3, name="c3", seed=3)
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert inner_transposes(after) == []
    for name in ("add", "mul", "sig", "clip"):
        assert len(after.types[node(after, name).outputs[0]].shape) == 4
        assert after.types[node(after, name).outputs[0]].shape[3] == 4    # channels last


@pytest.mark.parametrize("axis", [1, -3])
def test_to_nhwc_concat_on_channels(axis):
    b = new_graph((1, 3, 5, 5))
    c1 = add_conv(b, "x0", 2, name="c1", seed=1)
    c2 = add_conv(b, "x0", 3, name="c2", seed=2)
    cat = b.add("concat", [c1, c2], concat.Attrs(axis), name="cat")[0]
    y = add_conv(b, cat, 4, name="c3", seed=3)
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert node(after, "cat").attrs.axis == 3
    assert inner_transposes(after) == []


@pytest.mark.parametrize("axis, stored_axis", [(1, 3), (-1, 2), (2, 1)])
def test_to_nhwc_softmax_axis_remapped(axis, stored_axis):
    b = new_graph((1, 3, 4, 5))
    y = b.add("softmax", [add_conv(b, "x0", 4)], softmax.Attrs(axis), name="sm")[0]
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert node(after, "sm").attrs.axis == stored_axis
    assert inner_transposes(after) == []


def test_to_nhwc_pad_after_conv_permutes_pads():
    b = new_graph((1, 3, 4, 5))
    p = b.add("pad", [add_conv(b, "x0", 4)], pad.Attrs((0, 1, 2, 3), (0, 4, 0, 1), 0.5), name="pad")[0]
    y = add_conv(b, p, 2, name="c2")
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert node(after, "pad").attrs.before == (0, 2, 3, 1) and node(after, "pad").attrs.after == (0, 0, 1, 4)
    assert inner_transposes(after) == []


def _flatten_gemm_model(channels):
    w = rand((4, channels, 3, 3), 1, 0.3)
    fc = rand((10, 4 * 5 * 6), 2, 0.1)
    model = onnx_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Flatten", ["r"], ["f"]),
         helper.make_node("Gemm", ["f", "fc", "fb"], ["y"], transB=1)],
        {"x": (1, channels, 5, 6)}, ["y"], {"w": w, "fc": fc, "fb": rand((10,), 3)})
    return firmnet.load(model), fc


@pytest.mark.parametrize("channels", [1, 3])
def test_to_nhwc_flatten_gemm_permutes_dense_columns(channels):
    g, fc = _flatten_gemm_model(channels)
    after = run_checked(g, to_nhwc)
    assert inner_transposes(after) == []
    (flat,) = [n for n in after.nodes if n.op == "reshape"]
    assert after.types[flat.inputs[0]] == f32((1, 5, 6, 4))   # the flatten reads the NHWC Relu output
    (gemm,) = [n for n in after.nodes if n.op == "dense"]
    w = after.constants[gemm.inputs[1]]
    # stored column (h, w, c) holds logical column (c, h, w)
    expected = fc.reshape(10, 4, 5, 6).transpose(0, 2, 3, 1).reshape(10, -1)
    np.testing.assert_array_equal(w, expected)
    simplified = run_checked(after, simplify_layout)
    assert len(transposes(simplified)) == (1 if channels > 1 else 0)


def test_to_nhwc_reshape_moving_only_size_one_dims():
    b = new_graph((1, 3, 6, 6))
    gp = b.add("pool2d", [add_conv(b, "x0", 4)], pool2d.Attrs("avg", (6, 6)), name="gap")[0]
    sq = b.add("reshape", [gp], reshape.Attrs((1, 4)), name="squeeze")[0]
    y = b.add("softmax", [add_dense(b, sq, 5)], softmax.Attrs(-1), name="sm")[0]
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert node(after, "squeeze").inputs == (gp,)
    assert inner_transposes(after) == []
    assert [n.inputs[0] for n in transposes(after)] == ["x0"]


def test_to_nhwc_reshape_mixing_channels_goes_back_to_model_layout():
    """[1,C,H,W] → [1,C,H*W] is not a flatten for dense: it needs the logical layout back."""
    b = new_graph((1, 3, 4, 4))
    r = b.add("reshape", [add_conv(b, "x0", 2)], reshape.Attrs((1, 2, 16)), name="r")[0]
    y = b.add("softmax", [r], softmax.Attrs(-1), name="sm")[0]
    g = b.build([y])
    after = run_checked(g, to_nhwc, simplify_layout)
    assert producer(after, node(after, "r").inputs[0]).op == "transpose"


@pytest.mark.parametrize("perm", [(0, 2, 3, 1), (0, 3, 2, 1), (2, 0, 1, 3)])
@pytest.mark.parametrize("as_output", [True, False])
def test_to_nhwc_conv_then_user_transpose(perm, as_output):
    b = new_graph((1, 3, 4, 5))
    t = b.add("transpose", [add_conv(b, "x0", 2)], transpose.Attrs(perm), name="user_t")[0]
    y = t if as_output else add_clamp(b, t, RELU)
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    expected_rel = tuple(NHWC.index(p) for p in perm)
    assert node(after, "user_t").attrs.perm == expected_rel
    assert after.types[t] == g.types[t]
    simplified = run_checked(after, simplify_layout)
    if perm == NHWC:   # the user asked for exactly the stored layout: no data movement left
        assert inner_transposes(simplified) == [] and len(transposes(simplified)) == 1


@pytest.mark.parametrize("const_shape", [(4, 1, 1), (1, 4, 1, 1), (7,), (4, 6, 7)])
def test_to_nhwc_binary_with_broadcast_constant(const_shape):
    b = new_graph((1, 3, 6, 7))
    value = rand(const_shape, 9)
    k = b.const(value, "k")
    y = add_conv(b, add_binary(b, add_conv(b, "x0", 4), k, "mul", name="scale"), 2, name="c2")
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    scale = node(after, "scale")
    assert inner_transposes(after) == []
    stored = after.constants[scale.inputs[1]]
    full = value.reshape((1,) * (4 - value.ndim) + value.shape)
    np.testing.assert_array_equal(stored, full.transpose(NHWC))


def test_to_nhwc_graph_input_joins_nhwc_tensor():
    b = new_graph((1, 3, 4, 4), (1, 4, 4, 4))
    y = add_binary(b, add_conv(b, "x0", 4), "x1", "sub", name="sub")
    g = b.build([y])
    after = run_checked(g, to_nhwc)
    assert inner_transposes(after) == []
    assert after.types[y] == f32((1, 4, 4, 4))


def test_to_nhwc_conv_output_is_also_read_inside():
    """A conv output that is a graph output and also feeds another conv."""
    b = new_graph((1, 2, 5, 5))
    c1 = add_conv(b, "x0", 3, name="c1")
    y = add_conv(b, c1, 2, name="c2")
    g = b.build([c1, y])
    after = run_checked(g, to_nhwc)
    assert node(after, "c2").inputs[0] == node(after, "c1").outputs[0]
    assert inner_transposes(after) == []
    assert len(transposes(after)) == 3   # x0 in, c1 and c2 out


# ---------------------------------------------------------------------------------------------
# simplify_layout

def _two_transposes(shape, p1, p2, as_output=False):
    b = new_graph(shape)
    t1 = b.add("transpose", ["x0"], transpose.Attrs(p1), name="t1")[0]
    t2 = b.add("transpose", [t1], transpose.Attrs(p2), name="t2")[0]
    y = t2 if as_output else add_clamp(b, t2, RELU)
    return b.build([y])


def test_simplify_composes_transposes():
    g = _two_transposes((2, 3, 4), (1, 0, 2), (0, 2, 1))
    after = run_checked(g, simplify_layout)
    assert ops(after) == ["transpose", "unary"]
    assert node(after, "t2").inputs == ("x0",) and node(after, "t2").attrs.perm == (1, 2, 0)


def test_simplify_cancels_inverse_transposes():
    g = _two_transposes((2, 3, 4), (1, 2, 0), (2, 0, 1))
    after = run_checked(g, simplify_layout)
    assert ops(after) == ["unary"] and after.nodes[0].inputs == ("x0",)


def test_simplify_inverse_transposes_producing_graph_output_leave_one_reshape():
    g = _two_transposes((2, 3, 4), (1, 2, 0), (2, 0, 1), as_output=True)
    after = run_checked(g, simplify_layout)
    assert ops(after) == ["reshape"] and after.nodes[0].inputs == ("x0",)


def test_simplify_keeps_transpose_with_two_consumers():
    b = new_graph((2, 3, 4))
    t1 = b.add("transpose", ["x0"], transpose.Attrs((1, 0, 2)), name="t1")[0]
    t2 = b.add("transpose", [t1], transpose.Attrs((0, 2, 1)), name="t2")[0]
    g = b.build([add_clamp(b, t2, RELU), add_clamp(b, t1, RELU, "relu2")])
    after = run_checked(g, simplify_layout)
    assert ops(after) == ops(g)


@pytest.mark.parametrize("shape, perm", [((3, 1, 4), (1, 0, 2)), ((1, 1, 5, 1), (0, 2, 3, 1)),
                                         ((1, 6, 1, 1), (0, 2, 3, 1))])
def test_simplify_memory_order_transpose_becomes_reshape(shape, perm):
    b = new_graph(shape)
    t = b.add("transpose", ["x0"], transpose.Attrs(perm), name="t")[0]
    g = b.build([add_clamp(b, t, RELU)])
    after = run_checked(g, simplify_layout)
    assert ops(after) == ["reshape", "unary"]
    assert node(after, "t").attrs.shape == tuple(shape[p] for p in perm)


def test_simplify_keeps_real_transpose():
    b = new_graph((2, 3, 4))
    t = b.add("transpose", ["x0"], transpose.Attrs((0, 2, 1)), name="t")[0]
    g = b.build([add_clamp(b, t, RELU)])
    after = run_checked(g, simplify_layout)
    assert ops(after) == ["transpose", "unary"]


def test_simplify_removes_identity_reshape_except_graph_output():
    b = new_graph((2, 3))
    r1 = b.add("reshape", [add_clamp(b, "x0", RELU, "relu1")], reshape.Attrs((2, 3)), name="r1")[0]
    r2 = b.add("reshape", [add_clamp(b, r1, (-1.0, 1.0), "clip")], reshape.Attrs((2, 3)), name="r2")[0]
    g = b.build([r2])
    after = run_checked(g, simplify_layout)
    assert [n.name for n in after.nodes] == ["relu1", "clip", "r2"]
    assert node(after, "clip").inputs == node(after, "relu1").outputs


# ---------------------------------------------------------------------------------------------
# remove_dead_nodes

def test_remove_dead_nodes_drops_unused_branches():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    dead = add_clamp(b, add_pool(b, c, name="dead_pool"), RELU, "dead_relu")
    add_binary(b, dead, b.const(rand((4, 1, 1), 4), "dead_k"), name="dead_add")
    y = add_clamp(b, c, (-1.0, 1.0), "clip")
    g = b.build([y])
    after = run_checked(g, remove_dead_nodes)
    assert [n.name for n in after.nodes] == ["conv", "clip"]
    assert "dead_k" not in after.constants and dead not in after.types


def test_remove_dead_nodes_keeps_everything_needed():
    b = new_graph((1, 3, 6, 6))
    c = add_conv(b, "x0", 4)
    y = add_binary(b, add_pool(b, c, k=1, stride=1), c, "sub")
    g = b.build([y, c])
    assert remove_dead_nodes(g) is g


# ---------------------------------------------------------------------------------------------
# the whole pipeline and its IR check

def test_pipeline_conv_bn_relu_becomes_one_nhwc_conv():
    b = new_graph((1, 1, 6, 6))
    y = add_clamp(b, add_bn(b, add_conv(b, "x0", 4)), (0.0, 6.0))
    g = b.build([y])
    after = run_checked(g, *firmnet.passes.PIPELINE)
    conv = node(after, "conv")
    assert conv.attrs.layout == "NHWC" and conv.attrs.act == (0.0, 6.0)
    assert "batchnorm" not in ops(after) and "unary" not in ops(after)
    # 1-channel input: its NCHW→NHWC transpose became a reshape; the output goes back to NCHW
    left = [(n.inputs[0], n.outputs[0], n.attrs.perm) for n in transposes(after)]
    assert left == [(conv.outputs[0], y, (0, 3, 1, 2))]
    assert producer(after, conv.inputs[0]).op == "reshape"


def _drop_last_node(graph):
    return graph.replace(nodes=graph.nodes[:-1])


def _retype_first_output(graph):
    out = graph.nodes[0].outputs[0]
    types = dict(graph.types)
    types[out] = f32((1,) + graph.types[out].shape)
    return graph.replace(types=types)


@pytest.mark.parametrize("broken, message", [(_drop_last_node, "is never produced"),
                                             (_retype_first_output, "op infers")])
def test_run_pipeline_checks_ir_after_each_pass(broken, message):
    b = new_graph((1, 3, 6, 6))
    g = b.build([add_clamp(b, add_conv(b, "x0", 4), RELU)])
    with pytest.raises(FirmnetError, match="IR check failed") as info:
        run_pipeline(g, passes=(fold_constants, broken, fuse_activations))
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# transposes left in real models

MODEL_PATHS = {p.stem: p for p in sorted(FIXTURES.glob("*.onnx"))
               if ".qdq" not in p.name and ".qop" not in p.name}  # float models
MODEL_PATHS["digits_cnn"] = EXAMPLE


@pytest.mark.parametrize("name", sorted(MODEL_PATHS))
def test_lowered_models_keep_at_most_the_input_transpose(name, tmp_path):
    cm = firmnet.compile(MODEL_PATHS[name], tmp_path, name=name.replace("-", "_"))
    g = cm.lowered_graph
    left = transposes(g)
    (x,) = cm.graph.inputs
    channels = cm.graph.types[x].shape[1]
    print(f"{name}: {len(left)} transpose(s) in the lowered graph, input {cm.graph.types[x]}")
    assert len(left) <= (1 if channels > 1 else 0), [(n.name, n.attrs.perm) for n in left]
    for t in left:
        assert t.inputs == (x,) and t.attrs.perm == NHWC
    assert_same_numerics(cm.graph, g, seeds=(0,))

"""End to end: a small model in the shape PyTorch exporters write for ShuffleNet-style blocks
and global pooling (Split / Slice channel split, channel shuffle, a flipping Slice, Gather,
ReduceMean over H x W as global average pooling, ReduceMax, ReduceSum), float and QDQ int8
(onnxruntime's quantize_static with the reductions included), compiled, run on the host
and under ASan+UBSan, and compared with onnxruntime.

- float: within 1e-5 of onnxruntime relative to the largest output (float32 sums in
  another order).
- int8, --requant ort: every compute op is integer; bytes equal onnxruntime's except where
  onnxruntime's float ReduceMean rounds differently (it adds the dequantized floats in an
  order the C cannot reproduce, fn_reduce_s8.h): max |diff| <= 1 there, and the fraction
  of equal bytes is printed. With power-of-two scales every float sum is exact, so there
  the bytes must be equal.
- int8, --requant tflm: within 1 LSB of onnxruntime per output of the reductions.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import firmnet
from firmnet.verify import verify
from support.compare import assert_close
from support.oracles import onnxruntime_outputs
from support.sanitize import run_sanitized

INT64_MAX = 2**63 - 1


def _init(name, value):
    return nh.from_array(np.asarray(value), name)


def shuffle_model(split_style: str = "split", opset: int = 18, seed: int = 0) -> onnx.ModelProto:
    """x [1,3,8,8] → conv → relu → channel split (Split or two Slices) → 1x1 conv on one half →
    concat → channel shuffle → W flipped by a negative-step Slice of one half + the other half →
    (ReduceMean over H, W ‖ ReduceMax over H, W) → Gemm; a second output gathers two channels
    and sums over H."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("w1", (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)),
        _init("b1", (rng.standard_normal(8) * 0.1).astype(np.float32)),
        _init("w2", (rng.standard_normal((4, 4, 1, 1)) * 0.5).astype(np.float32)),
        _init("b2", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        _init("wf", (rng.standard_normal((5, 8)) * 0.5).astype(np.float32)),
        _init("bf", (rng.standard_normal(5) * 0.1).astype(np.float32)),
        _init("shape5", np.array([1, 2, 4, 8, 8], np.int64)),
        _init("shape4", np.array([1, 8, 8, 8], np.int64)),
        _init("hw", np.array([-1, -2], np.int64)),
        _init("h", np.array([2], np.int64)),
        _init("idx", np.array([3, 1], np.int64)),
        _init("split", np.array([4, 4], np.int64)),
        _init("c0", np.array([0], np.int64)), _init("c4", np.array([4], np.int64)),
        _init("cmax", np.array([INT64_MAX], np.int64)), _init("ax1", np.array([1], np.int64)),
        _init("flip_s", np.array([-1], np.int64)), _init("flip_e", np.array([-INT64_MAX], np.int64)),
        _init("ax3", np.array([3], np.int64)), _init("step_m1", np.array([-1], np.int64)),
    ]
    nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c1"], ["r1"])]
    if split_style == "split":
        nodes.append(h.make_node("Split", ["r1", "split"], ["a", "b"], axis=1))
    else:   # TorchScript's x[:, :4], x[:, 4:]
        nodes += [h.make_node("Slice", ["r1", "c0", "c4", "ax1"], ["a"]),
                  h.make_node("Slice", ["r1", "c4", "cmax", "ax1"], ["b"])]
    nodes += [
        h.make_node("Conv", ["b", "w2", "b2"], ["c2"]),
        h.make_node("Relu", ["c2"], ["r2"]),
        h.make_node("Concat", ["a", "r2"], ["cat"], axis=1),
        h.make_node("Reshape", ["cat", "shape5"], ["g5"]),
        h.make_node("Transpose", ["g5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        h.make_node("Reshape", ["t5", "shape4"], ["shuf"]),
        h.make_node("Slice", ["shuf", "c0", "c4", "ax1"], ["lo"]),
        h.make_node("Slice", ["shuf", "c4", "cmax", "ax1"], ["hi"]),
        h.make_node("Slice", ["hi", "flip_s", "flip_e", "ax3", "step_m1"], ["hi_flip"]),
        h.make_node("Add", ["lo", "hi_flip"], ["d"]),
    ]
    if opset >= 18:
        nodes += [h.make_node("ReduceMean", ["d", "hw"], ["gap"], keepdims=1),
                  h.make_node("ReduceMax", ["d", "hw"], ["gmp"], keepdims=0)]
    else:
        nodes += [h.make_node("ReduceMean", ["d"], ["gap"], axes=[-1, -2], keepdims=1),
                  h.make_node("ReduceMax", ["d"], ["gmp"], axes=[2, 3], keepdims=0)]
    nodes += [
        h.make_node("Flatten", ["gap"], ["gapf"]),
        h.make_node("Concat", ["gapf", "gmp"], ["feat"], axis=1),
        h.make_node("Gemm", ["feat", "wf", "bf"], ["y"], transB=1),
        h.make_node("Gather", ["d", "idx"], ["gath"], axis=1),
        h.make_node("ReduceSum", ["gath", "h"], ["y2"], keepdims=0),
    ]
    graph = h.make_graph(nodes, "shuffle", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 5]), h.make_tensor_value_info("y2", T.FLOAT, [1, 2, 8])],
                         inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def inputs(n=4, seed=1):
    return [np.random.default_rng(seed + k).standard_normal((1, 3, 8, 8)).astype(np.float32) for k in range(n)]


@pytest.mark.parametrize("split_style,opset", [("split", 18), ("slice", 18), ("split", 13)])
def test_float_model_matches_onnxruntime(split_style, opset, tmp_path):
    model = shuffle_model(split_style, opset)
    cm = firmnet.compile(model, tmp_path, name="shuffle")
    host = cm.build_host()
    ops = {n.op for n in cm.lowered_graph.nodes}
    assert {"slice", "reduce"} <= ops
    for x in inputs():
        want = onnxruntime_outputs(model, [x])
        got = host.run([x])
        for g, w, name in zip(got, want, ("y", "y2")):
            assert_close(g, w, f"{split_style} opset {opset} {name}")
            assert np.abs(g - w).max() <= 1e-5 * max(np.abs(w).max(), 1.0)
    result = verify(cm, inputs(1))
    assert result.ok, result.summary()
    sanitized = run_sanitized(cm, inputs(1), tmp_path)
    for s, g in zip(sanitized, host.run(inputs(1))):
        assert np.array_equal(s, g)


# ---------------------------------------------------------------- int8 (QDQ)

QUANTIZED_OPS = ["Conv", "Relu", "Split", "Slice", "Concat", "Reshape", "Transpose", "Add", "ReduceMean", "ReduceMax",
                 "ReduceSum", "Flatten", "Gemm", "Gather"]


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory):
    """shuffle_model quantized by onnxruntime's quantize_static (QDQ, int8), reductions included."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.data = iter([{"x": x} for x in inputs(16, 100)])

        def get_next(self):
            return next(self.data, None)
    d = tmp_path_factory.mktemp("qdq")
    onnx.save(shuffle_model("split", 18), d / "float.onnx")
    quantize_static(str(d / "float.onnx"), str(d / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=QUANTIZED_OPS)
    return onnx.load(str(d / "qdq.onnx"))


@pytest.mark.parametrize("mode", ["ort", "tflm"])
def test_int8_model_matches_onnxruntime(qdq_model, mode, tmp_path):
    from support.qdq import firmnet_float_nodes, int8_inputs, ort_session, recover_int8
    cm = firmnet.compile(qdq_model, tmp_path, name="shuffle_q", requant=mode)
    assert firmnet_float_nodes(cm) == [], "every compute op runs on int8"
    assert next(n for n in cm.lowered_graph.nodes if n.name.startswith("ReduceMean")).attrs.ort_rows
    g = cm.lowered_graph
    xs = inputs(8, 50)
    xq = int8_inputs(cm, xs)
    host = cm.build_host()
    for session in ("default", "int8"):
        sess = ort_session(qdq_model, session)
        equal = total = worst = 0
        for x, q in zip(xs, xq):
            want = sess.run(None, {"x": x})
            got = host.run_raw([q])
            for gv, wv, name in zip(got, want, g.outputs):
                wq = recover_int8(wv, g.types[name].quant)
                diff = np.abs(gv.astype(np.int32) - wq)
                equal, total, worst = equal + int((diff == 0).sum()), total + diff.size, max(worst, int(diff.max()))
        print(f"\nshuffle_q --requant {mode} vs onnxruntime ({session}): {equal / total:.2%} of {total} bytes equal, "
              f"max |diff| {worst}")
        assert worst <= (1 if mode == "ort" else 2)
    result = verify(cm, xq[:1])
    assert result.ok, result.summary()
    sanitized = run_sanitized(cm, xq[:1], tmp_path)
    for s, c in zip(sanitized, host.run_raw(xq[:1])):
        assert np.array_equal(s, c)


def reduce_qdq_model(shape, axes, keep, op, q_in, q_out, opset=18):
    """DequantizeLinear → one op → QuantizeLinear on an int8 input."""
    inits = [_init("si", np.float32(q_in[0])), _init("zi", np.int8(q_in[1])),
             _init("so", np.float32(q_out[0])), _init("zo", np.int8(q_out[1]))]
    if op.startswith("Reduce"):
        inits.append(_init("axes", np.array(axes, np.int64)))
        node = h.make_node(op, ["xf", "axes"], ["yf"], keepdims=keep)
    elif op == "Slice":   # axes: (axis, start, end, step)
        a, s, e, st = axes
        inits += [_init("s", np.array([s], np.int64)), _init("e", np.array([e], np.int64)),
                  _init("a", np.array([a], np.int64)), _init("st", np.array([st], np.int64))]
        node = h.make_node("Slice", ["xf", "s", "e", "a", "st"], ["yf"])
    else:   # Gather: axes = (axis, indices)
        inits.append(_init("idx", np.array(axes[1], np.int64)))
        node = h.make_node("Gather", ["xf", "idx"], ["yf"], axis=axes[0])
    nodes = [h.make_node("DequantizeLinear", ["x", "si", "zi"], ["xf"]), node,
             h.make_node("QuantizeLinear", ["yf", "so", "zo"], ["y"])]
    graph = h.make_graph(nodes, "one", [h.make_tensor_value_info("x", T.INT8, shape)],
                         [h.make_tensor_value_info("y", T.INT8, None)], inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def _one_op_cases(seed, n):
    rng = np.random.default_rng(seed)
    for k in range(n):
        rank = int(rng.integers(2, 5))
        shape = tuple(int(rng.integers(1, 7)) for _ in range(rank))
        picked = rng.choice(rank, int(rng.integers(1, rank + 1)), replace=False)
        axes = sorted(int(a) - rank * int(rng.integers(0, 2)) for a in picked)   # some counted from the end
        yield k, rng, shape, axes, bool(rng.integers(0, 2))


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"])
def test_int8_reduce_ort_mode_exact_with_power_of_two_scales(op, tmp_path):
    """Power-of-two scales: onnxruntime's float sums are exact, so --requant ort must give its bytes."""
    for k, rng, shape, axes, keep in _one_op_cases(hash(op) % 1000, 12):
        q_in = (2.0 ** -int(rng.integers(2, 7)), int(rng.integers(-10, 10)))
        q_out = (2.0 ** -int(rng.integers(0, 7)), int(rng.integers(-10, 10)))
        model = reduce_qdq_model(shape, axes, int(keep), op, q_in, q_out)
        x = rng.integers(-128, 128, shape).astype(np.int8)
        want = onnxruntime_outputs(model, [x])[0]
        cm = firmnet.compile(model, tmp_path / str(k), name="one", requant="ort")
        assert all(t.dtype == "int8" for t in cm.lowered_graph.types.values() if t.dtype != "int32")
        got = cm.build_host().run([x])[0]
        assert np.array_equal(got, want.reshape(got.shape)), f"{op} {shape} axes {axes} keep {keep} {q_in} {q_out}"


def test_int8_reduce_mean_ort_mode_any_scales(tmp_path):
    """Arbitrary scales. Global average pooling (onnxruntime's contiguous-row case, which the C
    adds in onnxruntime's order): equal bytes. Other axis sets (exact integer sum, then float):
    within 1 LSB, equal in the large majority (printed)."""
    rng = np.random.default_rng(7)
    for k in range(12):
        shape = (1, int(rng.integers(1, 17)), int(rng.integers(1, 15)), int(rng.integers(1, 15)))
        q_in = (float(np.float32(rng.uniform(0.002, 0.2))), int(rng.integers(-20, 20)))
        q_out = (float(np.float32(q_in[0] * rng.uniform(0.3, 2.0))), int(rng.integers(-20, 20)))
        model = reduce_qdq_model(shape, [-1, -2], 1, "ReduceMean", q_in, q_out)
        x = rng.integers(-128, 128, shape).astype(np.int8)
        want = onnxruntime_outputs(model, [x])[0]
        got = firmnet.compile(model, tmp_path / f"gap{k}", name="one", requant="ort").build_host().run([x])[0]
        assert np.array_equal(got, want), f"global pooling {shape} {q_in} {q_out}"
    equal = total = 0
    for k, rng, shape, axes, keep in _one_op_cases(7, 16):
        q_in = (float(np.float32(rng.uniform(0.002, 0.2))), int(rng.integers(-20, 20)))
        q_out = (float(np.float32(q_in[0] * rng.uniform(0.3, 2.0))), int(rng.integers(-20, 20)))
        model = reduce_qdq_model(shape, axes, int(keep), "ReduceMean", q_in, q_out)
        x = rng.integers(-128, 128, shape).astype(np.int8)
        want = onnxruntime_outputs(model, [x])[0]
        got = firmnet.compile(model, tmp_path / str(k), name="one", requant="ort").build_host().run([x])[0]
        diff = np.abs(got.astype(np.int32) - want.reshape(got.shape))
        assert diff.max() <= 1, f"{shape} axes {axes}"
        equal, total = equal + int((diff == 0).sum()), total + diff.size
    print(f"\nint8 ReduceMean --requant ort vs onnxruntime, arbitrary scales and axes: {equal / total:.2%} of "
          f"{total} equal")
    assert equal / total >= 0.98


def test_global_pooling_in_nhwc_keeps_onnxruntime_rows(tmp_path):
    """Conv -> ReduceMean over H, W: the reduction runs on the NHWC tensor (axes 1, 2) and still
    visits each channel's H x W values in onnxruntime's order (H before W), so ort_rows stays."""
    rng = np.random.default_rng(0)
    nodes = [h.make_node("Conv", ["x", "w"], ["c"]), h.make_node("ReduceMean", ["c", "hw"], ["y"], keepdims=0)]
    graph = h.make_graph(nodes, "gap", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 6, 5])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 4])],
                         [_init("w", rng.standard_normal((4, 3, 1, 1)).astype(np.float32)),
                          _init("hw", np.array([2, 3], np.int64))])
    cm = firmnet.compile(h.make_model(graph, opset_imports=[h.make_opsetid("", 18)]), tmp_path, name="gap")
    (r,) = [n for n in cm.lowered_graph.nodes if n.op == "reduce"]
    assert r.attrs.axes == (1, 2) and r.attrs.ort_rows and not r.attrs.keep_dims


@pytest.mark.parametrize("op,spec", [("Slice", (1, -1, -100, -2)), ("Slice", (2, 1, 5, 2)), ("Gather", (1, [2, 0, 2])),
                                     ("Gather", (-1, 1))])
@pytest.mark.parametrize("mode", ["ort", "tflm"])
def test_int8_slice_gather_match_onnxruntime(op, spec, mode, tmp_path):
    """Slice and Gather move int8 bytes (equal quantizations: no requantization at all)."""
    rng = np.random.default_rng(5)
    shape = (1, 4, 6, 3)
    q = (0.05, 3)
    model = reduce_qdq_model(shape, spec, 1, op, q, q)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    want = onnxruntime_outputs(model, [x])[0]
    cm = firmnet.compile(model, tmp_path, name="one", requant=mode)
    assert [n.op for n in cm.lowered_graph.nodes if n.op != "reshape"] == ["slice"]
    assert np.array_equal(cm.build_host().run([x])[0], want)


@pytest.mark.parametrize("cc", ["gcc", "clang", "arm-none-eabi-gcc"])
def test_generated_c_warning_free(qdq_model, cc, tmp_path):
    """The new kernels (fn_strided_copy, fn_reduce_f32, fn_reduce_minmax_s8, fn_mean_s8) in
    generated projects, float and int8, compile with -Wall -Wextra -Werror -pedantic."""
    import shutil
    import subprocess
    assert shutil.which(cc), f"{cc} is not installed (scripts/test installs it)"
    target = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if cc.startswith("arm") else []
    flags = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", "-c", "-o", "/dev/null", *target]
    kernels = set()
    for k, model in enumerate((shuffle_model("split", 18), qdq_model)):
        out = firmnet.compile(model, tmp_path / str(k), name="shuffle").out_dir
        sources = sorted(out.glob("*.c")) + sorted((out / "runtime" / "src").glob("*.c"))
        kernels |= {s.stem for s in sources}
        for src in sources:
            res = subprocess.run([cc, *flags, f"-I{out}", f"-I{out / 'runtime' / 'include'}", str(src)],
                                 capture_output=True, text=True)
            assert res.returncode == 0 and not res.stderr, f"{cc} on {src.name}:\n{res.stderr}"
    assert {"fn_strided_copy", "fn_reduce_f32", "fn_reduce_minmax_s8", "fn_mean_s8"} <= kernels


@pytest.mark.parametrize("quantized", [False, True])
def test_emulated_cortex_m4_same_bytes_as_host(qdq_model, quantized, tmp_path):
    """Cross-built (-Werror) for mps2-an386 (Cortex-M4F) and run in QEMU: the same output
    bytes as the host build, float and int8."""
    from firmnet import qemu
    from support.qemu_harness import BOARD_TOOLS, require_tools
    require_tools(BOARD_TOOLS)
    model = qdq_model if quantized else shuffle_model("split", 18)
    board = firmnet.compile(model, tmp_path / "board", board="mps2-an386", name="shuffle")
    host = firmnet.compile(model, tmp_path / "host", name="shuffle").build_host()
    x = inputs(1, 9)
    if quantized:
        from support.qdq import int8_inputs
        x = int8_inputs(board, x)
    run = qemu.run(board.out_dir, "mps2-an386", x, werror=True)
    for got, want in zip(run.outputs, host.run_raw(x)):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    print(f"\nshuffle {'int8' if quantized else 'float'} on mps2-an386: {run.instructions} instructions")


def _split_model(through_relu: bool) -> onnx.ModelProto:
    """x [2,6,3,4] → (Relu →) Split on channels [2, 4] → (Relu each →) y1, y2; and Gather of
    batch entry 1 → y3. Without the Relus the slices read a graph input and write graph outputs."""
    nodes, src = [], "x"
    if through_relu:
        nodes.append(h.make_node("Relu", ["x"], ["r"]))
        src = "r"
    outs = ["a", "b"] if through_relu else ["y1", "y2"]
    nodes.append(h.make_node("Split", [src, "split"], outs, axis=1))
    nodes.append(h.make_node("Gather", [src, "one"], ["g" if through_relu else "y3"], axis=0))
    if through_relu:
        nodes += [h.make_node("Relu", ["a"], ["y1"]), h.make_node("Relu", ["b"], ["y2"]),
                  h.make_node("Relu", ["g"], ["y3"])]
    graph = h.make_graph(nodes, "split", [h.make_tensor_value_info("x", T.FLOAT, [2, 6, 3, 4])],
                         [h.make_tensor_value_info("y1", T.FLOAT, [2, 2, 3, 4]),
                          h.make_tensor_value_info("y2", T.FLOAT, [2, 4, 3, 4]),
                          h.make_tensor_value_info("y3", T.FLOAT, [6, 3, 4])],
                         [_init("split", np.array([2, 4], np.int64)), _init("one", np.array(1, np.int64))])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])


@pytest.mark.parametrize("through_relu", [True, False])
def test_contiguous_slices_are_views(through_relu, tmp_path):
    """A batch entry is one contiguous run: a zero-copy view into the input's buffer; a channel
    split of a batch of 2 is not (two runs): a strided copy. Between interface tensors (graph
    input to graph outputs) the view becomes a memcpy from the right offset."""
    model = _split_model(through_relu)
    cm = firmnet.compile(model, tmp_path, name="split")
    from firmnet.lowering import Alias, KernelCall
    g, mem = cm.lowered_graph, cm.memory
    gather = next(n for n in g.nodes if n.name.startswith("Gather"))
    split = [n for n in g.nodes if n.name.startswith("Split")]
    assert cm.lowered[gather.name] == Alias(offset=6 * 3 * 4 * 4)   # batch entry 1 of float [2, 6, 3, 4]
    assert all(isinstance(cm.lowered[n.name], KernelCall) for n in split)
    if through_relu:   # the view lives inside the Relu output's buffer, 288 bytes in
        assert mem.storage[gather.outputs[0]].key == mem.storage[gather.inputs[0]].key
        assert mem.offset(gather.outputs[0]) == mem.offset(gather.inputs[0]) + 288
    else:   # the view of the input, then its reshape into the graph output copies from the offset
        assert f"{gather.name}/shape" in mem.copies and mem.offset(gather.outputs[0]) == mem.offset("x") + 288
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 4)).astype(np.float32)
    want = onnxruntime_outputs(model, [x])
    got = cm.build_host().run([x])
    for gv, wv in zip(got, want):
        assert np.array_equal(gv, wv)
    for s, wv in zip(run_sanitized(cm, [x], tmp_path), want):
        assert np.array_equal(s, wv)


def test_view_between_interface_tensors_copies_from_its_offset(tmp_path):
    """Slice x[1:] of a graph input straight into a graph output: one memcpy from byte 48."""
    nodes = [h.make_node("Slice", ["x", "s", "e", "a"], ["y"])]
    graph = h.make_graph(nodes, "cut", [h.make_tensor_value_info("x", T.FLOAT, [3, 12])],
                         [h.make_tensor_value_info("y", T.FLOAT, [2, 12])],
                         [_init("s", np.array([1], np.int64)), _init("e", np.array([3], np.int64)),
                          _init("a", np.array([0], np.int64))])
    cm = firmnet.compile(h.make_model(graph, opset_imports=[h.make_opsetid("", 18)]), tmp_path, name="cut")
    (node,) = cm.lowered_graph.nodes
    assert node.name in cm.memory.copies and cm.lowered[node.name].offset == 48
    x = np.arange(36, dtype=np.float32).reshape(3, 12)
    assert np.array_equal(cm.build_host().run([x])[0], x[1:])
    assert np.array_equal(run_sanitized(cm, [x], tmp_path)[0], x[1:])

"""Broken and mutated model files, made deterministically from a seed: the hostile-input corpus.

`corpus(n)` yields n cases `Case(kind, name, data, suffix, invalid)`. `invalid` is True
where the file is known to be wrong or beyond firmnet by construction (compiling it is then a
defect: "accepted invalid"); random byte flips and truncations may give a valid model, which
must then compile and verify. `outcome(case, tmp)` runs a case through the command line
(`firmnet compile`, then `firmnet verify` where it compiled) in this process and classifies it.

Used by tests/test_hostile_inputs.py (a few hundred cases in the suite) and bench/fuzz.py
(any number, with the outcome table).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from support import tflite_models as tm
from support.paths import REPO
from support.tflite_models import S
from support.tflite_sparse import SparseFormat

SHARED_MODELS = REPO.parent / "shared" / "models"


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    data: bytes
    suffix: str          # ".onnx" or ".tflite"
    invalid: bool        # known invalid (or beyond firmnet) by construction
    expect: str = ""     # a name the error message must mention (the node or tensor at fault)


# ---- seeds: small valid models -------------------------------------------------------------------

def _onnx_cnn(seed=0, in_shape=(1, 2, 6, 6)) -> onnx.ModelProto:
    """conv → batchnorm → leaky relu → flatten → gemm, float32, small."""
    rng = np.random.default_rng(seed)
    c = in_shape[1]
    inits = [numpy_helper.from_array(rng.standard_normal((4, c, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
             numpy_helper.from_array(np.ones(4, np.float32), "bn_scale"),
             numpy_helper.from_array(np.zeros(4, np.float32), "bn_bias"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "bn_mean"),
             numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), "bn_var"),
             numpy_helper.from_array(rng.standard_normal((3, 4 * in_shape[2] * in_shape[3])).astype(np.float32),
                                     "fc_w"),
             numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "fc_b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1],
                              dilations=[1, 1], kernel_shape=[3, 3], group=1),
             helper.make_node("BatchNormalization", ["c", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["n"],
                              name="bn"),
             helper.make_node("LeakyRelu", ["n"], ["r"], name="act", alpha=0.1),
             helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [in_shape[0], 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _onnx_qdq(seed=0) -> onnx.ModelProto:
    """Q → DQ → conv(DQ int8 weights, per channel) → Q → DQ: the QDQ form."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "xs"),
             numpy_helper.from_array(np.array(3, np.int8), "xz"),
             numpy_helper.from_array(w, "wq"),
             numpy_helper.from_array(rng.uniform(0.01, 0.02, 4).astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "wz"),
             numpy_helper.from_array(np.array(0.1, np.float32), "ys"),
             numpy_helper.from_array(np.array(-2, np.int8), "yz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], name="dq_w", axis=0),
             helper.make_node("Conv", ["xd", "wd"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["y"], name="dq_out")]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _sparse_fc() -> bytes:
    """A pruned FULLY_CONNECTED whose weights are stored sparse (uint8 segments, uint16 indices)."""
    mask = np.random.default_rng(8).random((8, 16)) < 0.3
    return tm.sparse_weights_model(8, "fc", mask, SparseFormat(segments_type="uint8", indices_type="uint16"))


def _tflite_seeds() -> list[tuple[str, bytes]]:
    seeds = [("conv2d", tm.conv2d_model(1)), ("depthwise", tm.depthwise_model(2)), ("fc", tm.fc_model(3)),
             ("softmax", tm.softmax_model(4)), ("pool", tm.pool_model(5, "avg")), ("mean", tm.mean_model(6)),
             ("concat", tm.concat_model(7)), ("fc_sparse", _sparse_fc())]
    for name in ("ad01_int8", "kws_ref_model"):
        path = SHARED_MODELS / f"{name}.tflite"
        if path.is_file():
            seeds.append((name, path.read_bytes()))
    return seeds


# ---- mutations ------------------------------------------------------------------------------------

def _flip(rng, data: bytes) -> bytes:
    b = bytearray(data)
    start = len(b) // 2 if rng.random() < 0.5 else 0   # the second half holds TFLite's weight buffers
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(start, len(b)))
        b[i] = int(rng.integers(0, 256)) if rng.random() < 0.5 else b[i] ^ (1 << int(rng.integers(0, 8)))
    return bytes(b)


def _truncate(rng, data: bytes) -> bytes:
    return data[:-1] if rng.random() < 0.3 else data[:int(rng.integers(0, len(data)))]


def _set_attr(model, node_name, name, value):
    node = next(n for n in model.graph.node if n.name == node_name)
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))
    return model


def _init(model, name) -> onnx.TensorProto:
    return next(t for t in model.graph.initializer if t.name == name)


def _set_init(model, name, array):
    _init(model, name).CopyFrom(numpy_helper.from_array(np.asarray(array), name))
    return model


def _onnx_breakers():
    """(kind, name the error must mention, function(rng) -> ModelProto); each gives an invalid or
    unsupported model."""
    def cnn():
        return _onnx_cnn()

    def conv_attr(attr, values):
        return lambda rng: _set_attr(cnn(), "conv", attr, values[int(rng.integers(0, len(values)))])

    def weights(name, value):
        def make(rng):
            m = cnn()
            w = numpy_helper.to_array(_init(m, name)).copy()
            w.flat[int(rng.integers(0, w.size))] = value
            return _set_init(m, name, w)
        return make

    def input_rank(rng):
        m = cnn()
        shape = [[1, 72], [1, 2, 36], [1, 2, 6, 6, 1]][int(rng.integers(0, 3))]
        m.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, shape))
        return m

    def output(rng):
        m = cnn()
        target = ["", "x", "w", "nothing_makes_this"][int(rng.integers(0, 4))]
        m.graph.output[0].name = target
        return m

    def duplicate_attr(rng):
        m = cnn()
        next(n for n in m.graph.node if n.name == "conv").attribute.append(helper.make_attribute("group", 1))
        return m

    def extra_inputs(rng):
        m = cnn()
        next(n for n in m.graph.node if n.name == "fc").input.extend(["fc_b", "fc_b"])
        return m

    def extra_outputs(rng):
        m = cnn()
        next(n for n in m.graph.node if n.name == "act").output.append("r2")
        return m

    def input_twice(rng):
        m = cnn()
        m.graph.input.append(m.graph.input[0])
        return m

    def two_opsets(rng):
        m = cnn()
        m.opset_import.append(helper.make_opsetid("", 13))
        return m

    def produced_twice(rng):
        m = cnn()
        next(n for n in m.graph.node if n.name == "act").output[0] = "n"
        return m

    def dynamic(rng):
        m = cnn()
        m.graph.input[0].type.tensor_type.shape.dim[int(rng.integers(0, 4))].dim_param = "N"
        return m

    def huge(rng):
        """conv → batchnorm → activation on a 2 x 70000 x 70000 input: 39 GB of activations."""
        m = cnn()
        side = int(rng.choice([70000, 33000]))
        m.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, side, side]))
        del m.graph.node[3:]
        m.graph.output[0].CopyFrom(helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 4, side, side]))
        return m

    def qdq(mutate):
        def make(rng):
            m = _onnx_qdq()
            mutate(m, rng)
            return m
        return make

    def scale_count(m, rng):
        _set_init(m, "ws", np.full(int(rng.choice([3, 5, 1 + 4 * 2])), 0.01, np.float32))

    def zp_count(m, rng):
        _set_init(m, "wz", np.zeros(int(rng.choice([2, 3, 5])), np.int8))

    def dq_axis(m, rng):
        _set_attr(m, "dq_w", "axis", int(rng.choice([7, -9, 2, 3])))

    def bad_scale(m, rng):
        _set_init(m, "xs" if rng.random() < 0.5 else "ys", np.float32([0.0, -0.1, np.nan, np.inf][int(rng.integers(0, 4))]))

    def int32_weights(m, rng):
        _set_init(m, "wq", numpy_helper.to_array(_init(m, "wq")).astype(np.int32))

    return [
        ("onnx conv strides", "conv", conv_attr("strides", [[0, 1], [-1, 1], [1.5, 1.0]])),
        ("onnx conv pads", "conv", conv_attr("pads", [[-1, 0, 0, 0], [1, 1], [1, 1, 1, 1, 1, 1], [10**6] * 4])),
        ("onnx conv kernel_shape", "conv", conv_attr("kernel_shape", [[0, 3], [3, 3, 3], [5, 5]])),
        ("onnx conv dilations", "conv", conv_attr("dilations", [[0, 1], [1000, 1000], [-2, 1]])),
        ("onnx conv group", "conv", conv_attr("group", [0, "2", 3, -1])),
        ("onnx NaN/Inf weights", "", lambda rng: weights(["w", "b", "fc_w"][int(rng.integers(0, 3))],
                                                      [np.nan, np.inf, -np.inf][int(rng.integers(0, 3))])(rng)),
        ("onnx batchnorm negative variance", "bn_var", weights("bn_var", -4.0)),
        ("onnx NaN leaky alpha", "act", lambda rng: _set_attr(cnn(), "act", "alpha", float("nan"))),
        ("onnx input rank", "conv", input_rank),
        ("onnx graph output", "", output),
        ("onnx duplicate attribute", "conv", duplicate_attr),
        ("onnx extra inputs", "fc", extra_inputs),
        ("onnx extra outputs", "act", extra_outputs),
        ("onnx input listed twice", "x", input_twice),
        ("onnx two opset imports", "opset", two_opsets),
        ("onnx tensor produced twice", "n", produced_twice),
        ("onnx dynamic shape", "x", dynamic),
        ("onnx huge tensors", "", huge),
        ("onnx qdq scale count", "dq_w", qdq(scale_count)),
        ("onnx qdq zero-point count", "dq_w", qdq(zp_count)),
        ("onnx qdq axis", "dq_w", qdq(dq_axis)),
        ("onnx qdq bad scale", "", qdq(bad_scale)),
        ("onnx qdq int32 weights", "dq_w", qdq(int32_weights)),
    ]


def _tflite_model(data: bytes):
    return S.ModelT.InitFromPackedBuf(data, 0)


def _tflite_bytes(model) -> bytes:
    import flatbuffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tflite_breakers():
    """(kind, function(rng, model: ModelT) -> None) mutating a parsed seed into an invalid one."""
    def ops(m, rng, with_options=None):
        cands = [o for o in m.subgraphs[0].operators
                 if with_options is None or type(o.builtinOptions).__name__ in with_options]
        return cands[int(rng.integers(0, len(cands)))] if cands else None

    def conv_opts(field, values):
        def mutate(m, rng):
            op = ops(m, rng, ("Conv2DOptionsT", "DepthwiseConv2DOptionsT"))
            if op is None:
                return False
            setattr(op.builtinOptions, field, values[int(rng.integers(0, len(values)))])
        return mutate

    def tensors(m, rng, pred):
        cands = [t for t in m.subgraphs[0].tensors if pred(t)]
        return cands[int(rng.integers(0, len(cands)))] if cands else None

    def quantized_weight(m, rng):
        return tensors(m, rng, lambda t: t.buffer and t.quantization is not None and t.type == S.TensorType.INT8
                       and t.quantization.scale is not None and len(t.quantization.scale) > 1)

    def q_axis(m, rng):
        t = quantized_weight(m, rng)
        if t is None:
            return False
        t.quantization.quantizedDimension = int(rng.choice([7, 1, 2, -1]))

    def q_count(m, rng):
        t = quantized_weight(m, rng)
        if t is None:
            return False
        t.quantization.scale = list(t.quantization.scale) + [0.5]

    def weight_zp(m, rng):
        t = quantized_weight(m, rng)
        if t is None:
            return False
        t.quantization.zeroPoint = [5] * len(t.quantization.scale)

    def opcode_index(m, rng):
        ops(m, rng).opcodeIndex = len(m.operatorCodes) + int(rng.integers(0, 100))

    def tensor_index(m, rng):
        op = ops(m, rng)
        field = "inputs" if rng.random() < 0.5 else "outputs"
        values = list(getattr(op, field))
        values[int(rng.integers(0, len(values)))] = int(rng.choice([len(m.subgraphs[0].tensors), 9999, -5]))
        setattr(op, field, values)

    def buffer_index(m, rng):
        t = tensors(m, rng, lambda t: True)
        t.buffer = len(m.buffers) + int(rng.integers(0, 50))

    def short_buffer(m, rng):
        used = {t.buffer for t in m.subgraphs[0].tensors}   # not e.g. a metadata buffer
        bufs = [b for k, b in enumerate(m.buffers) if k in used and b.data is not None and len(b.data)]
        if not bufs:
            return False
        b = bufs[int(rng.integers(0, len(bufs)))]
        b.data = b.data[:-1]

    def graph_outputs(m, rng):
        sg = m.subgraphs[0]
        constants = [i for i, t in enumerate(sg.tensors) if t.buffer]
        sg.outputs = [[-1], [], list(sg.inputs), constants[:1] or [-1]][int(rng.integers(0, 4))]

    def dynamic(m, rng):
        t = tensors(m, rng, lambda t: not t.buffer and len(t.shape))
        t.shape = [-1 if k == 0 else d for k, d in enumerate(t.shape)]

    def tensor_type(m, rng):
        tensors(m, rng, lambda t: True).type = int(rng.choice([99, 5, 12]))

    def builtin_code(m, rng):
        code = m.operatorCodes[int(rng.integers(0, len(m.operatorCodes)))]
        code.builtinCode = code.deprecatedBuiltinCode = int(rng.choice([126, 120, 99]))   # unknown or unsupported

    def options_type(m, rng):
        op = ops(m, rng, ("Conv2DOptionsT", "DepthwiseConv2DOptionsT", "FullyConnectedOptionsT", "Pool2DOptionsT",
                          "SoftmaxOptionsT", "ConcatenationOptionsT", "ReducerOptionsT"))
        if op is None:
            return False
        op.builtinOptionsType = int(rng.choice([S.BuiltinOptions.ReshapeOptions, S.BuiltinOptions.AddOptions, 117]))

    def nan_scale(m, rng):
        t = tensors(m, rng, lambda t: t.quantization is not None and t.quantization.scale is not None)
        if t is None:
            return False
        t.quantization.scale = [float(rng.choice([np.nan, np.inf, 0.0, -1.0]))] * len(t.quantization.scale)

    def fused_act(m, rng):
        op = ops(m, rng, ("Conv2DOptionsT", "DepthwiseConv2DOptionsT", "FullyConnectedOptionsT"))
        if op is None:
            return False
        op.builtinOptions.fusedActivationFunction = int(rng.choice([4, 5, 17]))

    def sparsity(m, rng):
        """One of five ways to break a sparse constant's block (the fc_sparse seed's layout:
        a dense row level, then CSR columns with uint8 segments and uint16 indices)."""
        t = tensors(m, rng, lambda t: t.sparsity is not None)
        if t is None:
            return False
        sp = t.sparsity
        dense_level, csr = sp.dimMetadata
        segments, indices = list(csr.arraySegments.values), list(csr.arrayIndices.values)
        kind = int(rng.integers(0, 5))
        if kind == 0:     # a column index beyond the dimension
            indices[int(rng.integers(0, len(indices)))] = int(rng.integers(t.shape[1], 65536))
        elif kind == 1:   # a segment that breaks the rise from 0 to the index count
            segments[int(rng.integers(1, len(segments)))] = 255
        elif kind == 2:
            dense_level.denseSize = int(rng.choice([0, t.shape[0] + 1, 2**31 - 1]))
        elif kind == 3:
            sp.traversalOrder = [0, 0]
        else:             # one stored value fewer than the metadata describes
            m.buffers[t.buffer].data = m.buffers[t.buffer].data[:-1]
        csr.arraySegments.values, csr.arrayIndices.values = segments, indices

    return [
        ("tflite sparsity block", sparsity),
        ("tflite padding enum", conv_opts("padding", [9, 2, 127, -1])),
        ("tflite stride", conv_opts("strideH", [0, -1])),
        ("tflite dilation", conv_opts("dilationHFactor", [0, -3])),   # 1000 is valid on a 1-tap kernel
        ("tflite fused activation", fused_act),
        ("tflite quantized axis", q_axis),
        ("tflite scale count", q_count),
        ("tflite weight zero point", weight_zp),
        ("tflite opcode index", opcode_index),
        ("tflite tensor index", tensor_index),
        ("tflite buffer index", buffer_index),
        ("tflite buffer size", short_buffer),
        ("tflite graph outputs", graph_outputs),
        ("tflite dynamic shape", dynamic),
        ("tflite tensor type", tensor_type),
        ("tflite builtin code", builtin_code),
        ("tflite options type", options_type),
        ("tflite bad scale", nan_scale),
    ]


def corpus(n: int, seed: int = 0):
    """n cases cycling over every kind: a third random byte flips/truncations of the seeds,
    the rest hand-broken models (each with its own random choices)."""
    rng = np.random.default_rng(seed)
    onnx_seeds = [("cnn", _onnx_cnn().SerializeToString()), ("qdq", _onnx_qdq().SerializeToString())]
    tfl_seeds = [s for s in _tflite_seeds() if len(s[1]) < 64_000]   # big files: flips land in weights
    onnx_breakers, tfl_breakers = _onnx_breakers(), _tflite_breakers()
    broken = 0
    for k in range(n):
        if k % 3 == 2:   # random byte-level damage
            name, data = (onnx_seeds + tfl_seeds)[int(rng.integers(0, len(onnx_seeds) + len(tfl_seeds)))]
            suffix = ".tflite" if data[4:8] == b"TFL3" else ".onnx"
            damage = _flip if k % 2 else _truncate
            yield Case(f"{suffix[1:]} {damage.__name__[1:]}", f"{k:04d}-{name}", damage(rng, data), suffix, False)
            continue
        slot, broken = broken % (len(onnx_breakers) + len(tfl_breakers)), broken + 1
        if slot < len(onnx_breakers):
            kind, expect, make = onnx_breakers[slot]
            yield Case(kind, f"{k:04d}", make(rng).SerializeToString(), ".onnx", True, expect)
        else:
            kind, mutate = tfl_breakers[slot - len(onnx_breakers)]
            seeds = _tflite_seeds()
            for _ in range(100):   # a seed the mutation applies to (e.g. one with per-channel weights)
                name, data = seeds[int(rng.integers(0, len(seeds)))]
                model = _tflite_model(data)
                try:
                    if mutate(model, rng) is not False:
                        break
                except (AttributeError, TypeError):   # the seed lacks the field the mutation needs
                    continue
            else:
                raise RuntimeError(f"no seed model takes the mutation '{kind}'")
            yield Case(kind, f"{k:04d}-{name}", _tflite_bytes(model), ".tflite", True)


# ---- running a case --------------------------------------------------------------------------------

OUTCOMES = ("clean error", "compiles and verifies", "internal error", "accepted invalid", "C != reference",
            "misleading error", "unclear error")


def _cli(args) -> tuple[int, str]:
    from firmnet import cli
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(args)
        except SystemExit as exc:   # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def outcome(case: Case, tmp: Path) -> tuple[str, str]:
    """(outcome, the message firmnet printed) for one case."""
    model = tmp / f"{case.name}{case.suffix}"
    model.write_bytes(case.data)
    out = tmp / f"{case.name}-out"
    code, err = _cli(["compile", str(model), "-o", str(out), "--name", "m"])
    if code == 0:
        if case.invalid:
            return "accepted invalid", err
        code, err = _cli(["verify", str(out)])
        if code == 0:
            return "compiles and verifies", err
        if code == 1:
            return "C != reference", err
    if code == 3 or "internal error" in err or "Traceback" in err:
        return "internal error", err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if code == 2 and lines and lines[0].startswith("firmnet: error:"):
        if case.expect and f"'{case.expect}'" not in err and case.expect not in ("opset",):
            return "misleading error", err
        if case.expect == "opset" and "opset" not in err:
            return "misleading error", err
        return "clean error", err
    return "unclear error", err

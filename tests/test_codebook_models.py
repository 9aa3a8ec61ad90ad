"""Palettized models through the whole compiler (README "Codebook weights"): the digits CNN
(float and int8, K = 16 per layer) and the small test models of support/prune_models.py
(per-channel codebooks), written by firmnet.compress.codebook.

With --codebook-kernels on every conv/dense layer runs a codebook kernel, and the outputs are
those of the dense-decoded model (the same ONNX with each Gather replaced by numpy's
codebook[indices] as a plain initializer, compiled with the dense kernels): int8 bytes
equal (and equal to the numpy reference), float values equal (the kernels add in the dense
kernels' order). Flash is counted as indices + codebook. The loader refuses malformed
codebook forms, naming the node. Also: the CLI (compile, verify, report), the sanitizer
build and the emulated Cortex-M4 (mps2-an386 in QEMU).
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import firmnet
from firmnet import qemu
from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
from firmnet.cli import main
from firmnet.compress.codebook import codebook
from firmnet.ir import FirmnetError
from firmnet.resources import boards_dir
from support import prune_models as pm
from support.paths import EXAMPLE
from support.qdq import int8_inputs
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized
from support.sparse_models import write

CODEBOOK_KERNELS = {"fn_fc_s8_codebook", "fn_fc_s8_codebook_dsp", "fn_conv2d_s8_codebook", "fn_conv2d_s8_codebook_dsp",
                    "fn_fc_f32_codebook", "fn_conv2d_f32_codebook"}


def pointwise(seed=0):
    """int8 QDQ: 1x1 conv 8 -> 12 over 7 x 5 pixels (blocks of 4 pixels and leftovers), relu,
    1x1 conv 12 -> 8, global pool, gemm 8 -> 4: the DSP variant's two loops."""
    b = pm.ModelBuilder(seed, qdq=True)
    x = b.input([1, 8, 7, 5])
    x = b.relu(b.conv(x, 8, 12, k=1, name="pw1"))
    x = b.relu(b.conv(x, 12, 8, k=1, name="pw2"))
    b.output(b.gemm(b.flatten(b.gap(x)), 8, 4, name="fc"), [1, 4])
    return b.model()


def _decoded(model) -> onnx.ModelProto:
    """The model with each Gather of constants replaced by numpy's codebook[indices]."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {t.name: numpy_helper.to_array(t) for t in out.graph.initializer}
    for node in [n for n in out.graph.node if n.op_type == "Gather"]:
        out.graph.initializer.append(numpy_helper.from_array(inits[node.input[0]][inits[node.input[1]]],
                                                             node.output[0]))
        out.graph.node.remove(node)
    return out


def _palettized(source, k, per_channel=False) -> onnx.ModelProto:
    model = onnx.load(source) if not isinstance(source, onnx.ModelProto) else source
    codebook(model, k, per_channel=per_channel)
    return model


MODELS = {
    "digits_int8": lambda: _palettized(EXAMPLE.with_name("digits_cnn.int8.onnx"), 16),
    "digits_float": lambda: _palettized(EXAMPLE, 16),
    "small_qdq_channel": lambda: _palettized(pm.digits_like(qdq=True)[0].model(), 4, per_channel=True),
    "small_float_channel": lambda: _palettized(pm.residual()[0].model(), 4, per_channel=True),
    "small_qdq_pointwise": lambda: _palettized(pointwise(), 4),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("codebook_models")
    paths = {}
    for name, make in MODELS.items():
        model = make()
        paths[name] = root / f"{name}.onnx"
        onnx.save(model, str(paths[name]))
        onnx.save(_decoded(model), str(root / f"{name}.decoded.onnx"))
    return paths


def _compile(path, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="m", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l["kernel"] for l in cm.report["layers"] if l["op"] in ("conv2d", "dense")}


def _inputs(cm, seed=0):
    g = cm.graph
    return [np.random.default_rng(seed).standard_normal(g.types[g.inputs[0]].shape).astype(np.float32)]


def _int8_input(cm) -> bool:
    g = cm.lowered_graph
    return g.types[g.inputs[0]].dtype == "int8"


def _run(cm, xs):
    host = cm.build_host()
    return host.run_raw(int8_inputs(cm, xs)) if _int8_input(cm) else host.run(xs)


@pytest.mark.parametrize("name", list(MODELS))
def test_codebook_kernels_give_the_dense_decoded_models_outputs(models, tmp_path, name):
    int8 = "int8" in name or "qdq" in name
    kw = {"requant": "tflm"} if int8 else {}
    on = _compile(models[name], tmp_path / "on", codebook_kernels="on", **kw)
    # the dense kernels that add in the codebook kernels' order (Winograd would not)
    dense = _compile(models[name].with_name(f"{name}.decoded.onnx"), tmp_path / "dense", codebook_kernels="off",
                     winograd="off", **kw)
    kernels = _kernels(on)
    # every layer a codebook kernel can take (one group) runs one
    one_group = {l for l, k in _kernels(dense).items() if "depthwise" not in k}
    assert {l for l, k in kernels.items() if k in CODEBOOK_KERNELS} == one_group
    assert not CODEBOOK_KERNELS & set(_kernels(dense).values())
    for seed in range(3):
        xs = _inputs(on, seed)
        got, want = _run(on, xs), _run(dense, xs)
        for g, w in zip(got, want):
            assert np.array_equal(g, w), (name, seed)
        if _int8_input(on):
            ref = firmnet.reference.run(on.lowered_graph, int8_inputs(on, xs))
            assert all(np.array_equal(g, r) for g, r in zip(got, ref))
    # flash: indices + codebook for every codebook layer
    assert on.report["weights_bytes"] < dense.report["weights_bytes"]
    for layer in on.report["layers"]:
        if layer["kernel"] in CODEBOOK_KERNELS:
            assert "codebook K=" in layer["why"] and "-bit indices" in layer["why"]


def test_digits_int8_k16_weight_flash_halves(models, tmp_path):
    on = _compile(models["digits_int8"], tmp_path / "on", codebook_kernels="on", board="mps2-an386")
    off = _compile(models["digits_int8"], tmp_path / "off", codebook_kernels="off", board="mps2-an386")
    assert not CODEBOOK_KERNELS & set(_kernels(off).values())
    weights = {}
    for mode, cm in (("on", on), ("off", off)):
        layers = {l["name"]: l for l in cm.report["layers"] if l["op"] in ("conv2d", "dense")}
        weights[mode] = sum(cm.lowered_graph.constants[n.inputs[1]].nbytes if layers[n.name]["kernel"]
                            not in CODEBOOK_KERNELS else _flash(n, cm) for n in cm.lowered_graph.nodes
                            if n.name in layers)
    assert weights["off"] / weights["on"] >= 1.9, weights


def _flash(node, cm):
    from firmnet.kernels import _codebook
    return _codebook.flash(node, cm.lowered_graph)[1]


def test_auto_keeps_the_dense_kernels_unless_the_flash_binds(models, tmp_path):
    """On the M4 the digits convolutions run Winograd, faster than any codebook kernel
    (bench/codebook.py): auto keeps the dense kernels. On a board whose flash holds the weights
    only with 1,000 B fewer (the boards' code estimate beside them), Winograd's larger
    weights no longer fit conv2 and conv3, and among the direct kernels the DSP codebook
    convolution is the fastest (bench/codebook.py: 0.87x fn_conv2d_s8_dsp on KWS's first
    convolution) and packs smaller: those two take it, saying why, which saves 560 + 1,136 B,
    so the fully connected layer stays dense. With 700 B fewer still, auto also moves the
    fully connected layer (the largest saving left, 2,560 -> 1,296 B), because the dense
    weights do not fit. --codebook-kernels off keeps every layer dense.
    (Changed with fn_conv2d_s8_codebook_dsp: before it only the portable codebook
    convolution existed, slower than the direct kernels, and the fc layer moved alone.)"""
    path = models["digits_int8"]
    auto = _compile(path, tmp_path / "auto", board="mps2-an386", write=False)
    assert not CODEBOOK_KERNELS & set(_kernels(auto).values())
    g = auto.lowered_graph
    weights = sum(a.nbytes for a in g.constants.values())
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + weights - 1000

    def small_board(name, flash_bytes):
        board = tmp_path / f"{name}.toml"
        board.write_text((boards_dir() / "mps2-an386.toml").read_text()
                         .replace("flash_bytes = 4194304", f"flash_bytes = {flash_bytes}"))
        return str(board)

    cm = _compile(path, tmp_path / "small", board=small_board("small-m4", flash), write=False)
    chosen = [l for l in cm.report["layers"] if l["kernel"] in CODEBOOK_KERNELS]
    assert [(l["name"], l["kernel"]) for l in chosen] == [("/conv2/Conv", "fn_conv2d_s8_codebook_dsp"),
                                                          ("/conv3/Conv", "fn_conv2d_s8_codebook_dsp")]
    assert all("not Winograd" in l["why"] and "would not fit" in l["why"] for l in chosen)
    assert _kernels(cm)["/fc/Gemm"] == "fn_fc_s8_dsp"
    tighter = _compile(path, tmp_path / "tighter", board=small_board("tighter-m4", flash - 700), write=False)
    moved = {l["name"]: l for l in tighter.report["layers"] if l["kernel"] in CODEBOOK_KERNELS}
    assert sorted(moved) == ["/conv2/Conv", "/conv3/Conv", "/fc/Gemm"]
    assert moved["/fc/Gemm"]["kernel"] == "fn_fc_s8_codebook_dsp" and "do not fit" in moved["/fc/Gemm"]["why"]
    off = _compile(path, tmp_path / "off", board=small_board("small-m4", flash), codebook_kernels="off",
                   write=False)
    assert not CODEBOOK_KERNELS & set(_kernels(off).values())


def test_cli_compile_verify_report(models, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["compile", str(models["digits_int8"]), "-o", str(out), "--codebook-kernels", "on",
                 "--requant", "tflm"]) == 0
    assert (out / "runtime" / "src" / "fn_conv2d_s8_codebook.c").is_file()
    assert (out / "runtime" / "src" / "fn_fc_s8_codebook.c").is_file()
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(l for l in text.splitlines() if l.strip().startswith("#") and "/fc/Gemm:" in l)
    assert "fn_fc_s8_codebook: codebook K=16 (4-bit indices, per layer), weights 1,296 B (dense 2,560 B)" in line


def test_sanitizers_clean(models, tmp_path):
    for name in ("digits_int8", "small_qdq_channel"):
        cm = _compile(models[name], tmp_path / name, codebook_kernels="on", requant="tflm")
        xs = int8_inputs(cm, _inputs(cm)) if _int8_input(cm) else _inputs(cm)
        host = cm.build_host()
        want = host.run_raw(xs) if _int8_input(cm) else host.run(xs)
        for s, c in zip(run_sanitized(cm, xs, tmp_path), want):
            assert np.array_equal(s, c)


@pytest.mark.parametrize("name", ["digits_int8", "digits_float", "small_qdq_channel", "small_qdq_pointwise"])
def test_codebook_models_on_the_emulated_m4(models, tmp_path, name):
    """The codebook kernels cross-compiled (arm-none-eabi-gcc -O2, Cortex-M4F) and run in QEMU:
    the host's bytes (int8; fn_fc_s8_codebook_dsp's and fn_conv2d_s8_codebook_dsp's SMLAD loops
    on the board, their portable reading of the same indices on the host), the host's values within float tolerance
    (float: the board's FPU may contract multiply-adds)."""
    require_tools(BOARD_TOOLS)
    int8 = "int8" in name or "qdq" in name
    cm = _compile(models[name], tmp_path / name, board="mps2-an386", codebook_kernels="on",
                  **({"requant": "tflm"} if int8 else {}))
    assert CODEBOOK_KERNELS & set(_kernels(cm).values())
    if name == "digits_int8":
        assert "fn_fc_s8_codebook_dsp" in _kernels(cm).values()
    if name == "small_qdq_pointwise":     # its int8 1x1 layer: blocks of 4 pixels and the leftovers
        assert "fn_conv2d_s8_codebook_dsp" in _kernels(cm).values()
    xs = int8_inputs(cm, _inputs(cm)) if _int8_input(cm) else _inputs(cm)
    board = qemu.run(cm.out_dir, "mps2-an386", xs)
    host = cm.build_host().run_raw(xs) if _int8_input(cm) else cm.build_host().run(xs)
    for b, h in zip(board.outputs, host):
        if int8:
            assert np.array_equal(b, h)
        else:
            np.testing.assert_allclose(b, h, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- malformed forms

def _gemm_model(book, idx, under_dq=False, runtime_indices=False, axis=None):
    """x -> Gemm(transB=1) with W = Gather(book, idx) (under DequantizeLinear)."""
    w_shape = idx.shape + book.shape[1:]
    nodes, inits = [], [numpy_helper.from_array(book, "book")]
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, w_shape[1]])]
    if runtime_indices:
        inputs.append(helper.make_tensor_value_info("idx", onnx.TensorProto.INT64, list(idx.shape)))
    else:
        inits.append(numpy_helper.from_array(idx, "idx"))
    extra = {} if axis is None else {"axis": axis}
    nodes.append(helper.make_node("Gather", ["book", "idx"], ["w"], name="palette", **extra))
    weight = "w"
    if under_dq:
        inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "s"))
        nodes.append(helper.make_node("DequantizeLinear", ["w", "s"], ["wf"], name="dq"))
        weight = "wf"
    nodes.append(helper.make_node("Gemm", ["x", weight], ["y"], name="fc", transB=1))
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, w_shape[0]])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("case, message", [
    (dict(book=np.arange(4, dtype=np.float32), idx=np.array([[0, 1, 2, 4]] * 3)),
     "node 'palette' (Gather): palettized weight of 'fc' (Gemm): indices from 0 to 4 are out of the codebook's 4 "
     "entries"),
    (dict(book=np.arange(4, dtype=np.float32), idx=np.array([[0, -1, 2, 3]] * 3)),
     "indices from -1 to 3 are out of the codebook's 4 entries"),
    (dict(book=np.arange(4, dtype=np.float32), idx=np.zeros((3, 4), np.int64), runtime_indices=True),
     "its indices 'idx' is computed at run time"),
    (dict(book=np.arange(16, dtype=np.float32).reshape(4, 4), idx=np.array([0, 1, 2])),
     "the codebook must be 1-D and gathered along axis 0"),
    (dict(book=np.arange(4, dtype=np.int32), idx=np.zeros((3, 4), np.int64), under_dq=True),
     "a codebook under DequantizeLinear holds int8 or uint8 values, got int32"),
    (dict(book=np.arange(300, dtype=np.float32), idx=np.zeros((3, 4), np.int64)),
     "a codebook of 300 entries is per output channel: 3 channels x K <= 256 entries"),
])
def test_malformed_codebook_forms_are_refused_naming_the_node(tmp_path, case, message):
    with pytest.raises(FirmnetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _compile(_gemm_model(**case), tmp_path / "o", write=False)


def test_per_channel_form_is_read(tmp_path):
    """C_out * K entries with channel c's indices in c*K .. c*K + K - 1: read and run by the
    codebook kernel (a codebook of 20 x 16 entries, more than 256)."""
    rng = np.random.default_rng(0)
    book = rng.standard_normal(320).astype(np.float32)
    idx = (np.arange(20)[:, None] * 16 + rng.integers(0, 16, (20, 64))).astype(np.int64)
    model = _gemm_model(book, idx)
    cm = _compile(model, tmp_path / "o", codebook_kernels="on")
    assert _kernels(cm)["fc"] == "fn_fc_f32_codebook"
    x = rng.standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_allclose(cm.build_host().run([x])[0], x @ book[idx].T, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- selection of the DSP codebook kernels

def _kws_layer(path, first: bool):
    """KWS's first convolution (49 x 10 x 1 -> 64, 10x4, stride 2, pads 4/1/5/1) or its 64 -> 64
    pointwise layer (25 x 5), int8 (QDQ), its weights in 16 codewords per layer."""
    rng = np.random.default_rng(2)
    x_shape, w_shape, attrs = (([1, 1, 49, 10], (64, 1, 10, 4), dict(strides=[2, 2], pads=[4, 1, 5, 1])) if first
                               else ([1, 64, 25, 5], (64, 64, 1, 1), {}))
    inits = [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32) * 0.1, "w"),
             numpy_helper.from_array(rng.standard_normal(64).astype(np.float32) * 0.1, "b")]
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="layer", **attrs)], "kws",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 64, 25, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model = onnx.load(write(model, path, True))
    codebook(model, 16, layers=["layer"])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("first, auto", [(True, "fn_conv2d_s8_codebook_dsp"), (False, "fn_conv2d_1x1_s8_w16_dsp")])
def test_auto_picks_the_faster_kernel_for_palettized_kws_layers(tmp_path, first, auto):
    """On mps2-an386 (bench/codebook.py, K = 16): KWS's first convolution runs faster as
    fn_conv2d_s8_codebook_dsp (792,320 instructions) than as fn_conv2d_s8_dsp (912,840), so
    auto takes the codebook kernel; its pointwise layer runs slower as
    fn_conv2d_s8_codebook_dsp (835,040) than as fn_conv2d_1x1_s8_w16_dsp (480,160,
    bench/kernels_qemu.py), so auto keeps the dense kernel, and --codebook-kernels on takes fn_conv2d_s8_codebook_dsp (estimated
    faster than fn_fc_s8_codebook_dsp: 1,471,240)."""
    path = _kws_layer(tmp_path / "kws.onnx", first)
    cm = _compile(path, tmp_path / "auto", board="mps2-an386", write=False)
    assert _kernels(cm)["layer"] == auto
    on = _compile(path, tmp_path / "on", board="mps2-an386", codebook_kernels="on", write=False)
    assert _kernels(on)["layer"] == "fn_conv2d_s8_codebook_dsp"

"""The int8 Winograd kernels through the whole compiler, on a small ResNet-8-shaped int8 TFLite
model (support/mlperf_shapes.py: 16x16 input, widths 8, 16, 32; 3x3 stride-1 layers at 16x16x3,
16x16x8, 8x8x16 and 4x4x32, stride-2 and 1x1 layers that Winograd does not take).

--winograd on, auto and off give the numpy reference's bytes on the host; on takes a Winograd
kernel for every 3x3 stride-1 layer (the DSP one on a DSP board, the portable one elsewhere),
off for none, auto where its estimate is below the direct kernel's; the report gives both
options per layer and why the others cannot run; the CLI (compile --winograd on, verify,
report); the sanitizer build; the model on the emulated Cortex-M4 (mps2-an386, QEMU) gives the
host's bytes; a board whose flash holds the direct weights but not all Winograd ones keeps the
direct kernel where Winograd adds the most, saying why.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import firmnet
from firmnet import qemu
from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
from firmnet.cli import main
from firmnet.ir import FirmnetError
from firmnet.resources import boards_dir
from support.mlperf_shapes import resnet8_model
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized

WINOGRAD = {"fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("winograd") / "resnet8_small.tflite"
    path.write_bytes(resnet8_model(3, input_hw=16, widths=(8, 16, 32)))
    return path


def _compile(path, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="r8", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l["kernel"] for l in cm.report["layers"] if l["op"] == "conv2d"}


def _three_by_three_s1(cm) -> set:
    g = cm.lowered_graph
    return {n.name for n in g.nodes if n.op == "conv2d" and n.attrs.strides == (1, 1) and
            g.types[n.inputs[1]].shape[1:3] == (3, 3)}


def _inputs(cm, seed=0):
    g = cm.lowered_graph
    return [np.random.default_rng(seed).integers(-128, 128, g.types[g.inputs[0]].shape).astype(np.int8)]


@pytest.mark.parametrize("board", ["mps2-an386", "host"])
def test_winograd_modes_give_the_reference_bytes(model, tmp_path, board):
    outs, kernels = {}, {}
    for mode in ("on", "auto", "off"):
        cm = _compile(model, tmp_path / mode, board=board, winograd=mode)
        kernels[mode] = _kernels(cm)
        xs = _inputs(cm)
        outs[mode] = cm.build_host().run_raw(xs)
        for got, want in zip(outs[mode], firmnet.reference.run(cm.lowered_graph, xs)):
            assert got.dtype == np.int8 and np.array_equal(got, want), mode
        for layer in cm.report["layers"]:
            if layer["name"] in _three_by_three_s1(cm):
                options = layer["winograd"]
                faster = options["winograd"]["instructions"] < options["direct"]["instructions"]
                if mode == "auto":
                    assert (layer["kernel"] in WINOGRAD) == faster, layer["name"]
    layers = _three_by_three_s1(cm)
    assert len(layers) == 5   # the first conv (3 -> 8) and two in each stack
    want = "fn_conv2d_s8_winograd_dsp" if board == "mps2-an386" else "fn_conv2d_s8_winograd"
    assert {kernels["on"][n] for n in layers} == {want}
    assert not WINOGRAD & set(kernels["on"][n] for n in kernels["on"] if n not in layers)
    assert not WINOGRAD & set(kernels["off"].values())
    assert WINOGRAD & set(kernels["auto"].values())
    for mode in ("auto", "off"):
        for a, b in zip(outs[mode], outs["on"]):
            assert np.array_equal(a, b), mode


def test_report_gives_both_options_and_refusals(model, tmp_path):
    cm = _compile(model, tmp_path / "o", board="mps2-an386", winograd="on", write=False)
    layers = {l["name"]: l for l in cm.report["layers"]}
    for name in _three_by_three_s1(cm):
        layer = layers[name]
        direct, wino = layer["winograd"]["direct"], layer["winograd"]["winograd"]
        assert wino["kernel"] == "fn_conv2d_s8_winograd_dsp" and layer["kernel"] == wino["kernel"]
        node = next(n for n in cm.lowered_graph.nodes if n.name == name)
        oc, _, _, cin = cm.lowered_graph.types[node.inputs[1]].shape
        # 9 int8 against 16 int16 per (output, input) channel pair, the channels padded to even
        assert direct["weight_bytes"] == oc * 9 * cin and wino["weight_bytes"] == oc * 32 * (cin + cin % 2)
        assert "Winograd F(2x2,3x3)" in layer["why"]
        assert any(r["reason"].startswith("--winograd on") for r in layer["rejected"])
    strided = next(n for n in cm.lowered_graph.nodes if n.op == "conv2d" and n.attrs.strides == (2, 2) and
                   cm.lowered_graph.types[n.inputs[1]].shape[1:3] == (3, 3))
    reasons = {r["kernel"]: r["reason"] for r in layers[strided.name]["rejected"]}
    assert reasons["fn_conv2d_s8_winograd_dsp"] == "stride (2, 2) (1 only)"
    assert "winograd" not in layers[strided.name]


def test_cli_compile_winograd_on_verify_and_report(model, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["compile", str(model), "-o", str(out), "--winograd", "on", "--board", "mps2-an386"]) == 0
    assert json.loads((out / "firmnet.json").read_text())["winograd"] == "on"
    assert (out / "runtime" / "src" / "fn_conv2d_s8_winograd_dsp.c").is_file()
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    lines = [l for l in text.splitlines() if "fn_conv2d_s8_winograd_dsp: 3x3 stride 1" in l]
    assert len(lines) == 5, text
    for line in lines:
        assert re.search(r"\[winograd: direct fn_conv2d_s8\S* est\. [\d,]+ instructions, [\d,]+ B \| "
                         r"Winograd fn_conv2d_s8_winograd_dsp est\. [\d,]+ instructions, [\d,]+ B\]", line), line


def test_cli_rejects_an_unknown_winograd_mode(model, tmp_path):
    with pytest.raises(SystemExit):
        main(["compile", str(model), "-o", str(tmp_path / "x"), "--winograd", "sometimes"])
    with pytest.raises(FirmnetError, match="unknown --winograd mode 'sometimes'"):
        _compile(model, tmp_path / "y", winograd="sometimes")


@pytest.mark.parametrize("board", ["mps2-an386", "host"])
def test_sanitizers_clean(model, tmp_path, board):
    """The generated C with every 3x3 stride-1 layer in Winograd (the DSP variant's host path on
    mps2-an386) under ASan + UBSan: the host build's bytes."""
    cm = _compile(model, tmp_path / "o", board=board, winograd="on")
    xs = _inputs(cm, 1)
    for s, c in zip(run_sanitized(cm, xs, tmp_path), cm.build_host().run_raw(xs)):
        assert s.dtype == np.int8 and np.array_equal(s, c)


def test_winograd_model_on_the_emulated_m4(model, tmp_path):
    """The DSP Winograd kernel cross-compiled (arm-none-eabi-gcc -O2, Cortex-M4F) and run in QEMU:
    the host's bytes, which are --winograd off's."""
    require_tools(BOARD_TOOLS)
    cm = _compile(model, tmp_path / "on", board="mps2-an386", winograd="on")
    xs = _inputs(cm, 2)
    board = qemu.run(cm.out_dir, "mps2-an386", xs).outputs
    off = _compile(model, tmp_path / "off", board="mps2-an386", winograd="off")
    for b, h, d in zip(board, cm.build_host().run_raw(xs), off.build_host().run_raw(xs)):
        assert np.array_equal(b, h) and np.array_equal(h, d)


def test_flash_bound_board_keeps_direct_kernels(model, tmp_path):
    """A board whose flash (less the boards' code estimate) holds the direct weights plus the
    smallest Winograd layer's growth only: auto moves the others back to their direct kernels,
    the largest growth first, and says why; --winograd on still takes Winograd everywhere."""
    # on a board that holds every Winograd layer's growth but not, beside it, the int16-weight
    # direct kernel's (fn_conv2d_s8_w16_dsp refuses the model then), auto takes Winograd where
    # it is estimated faster than the int8-weight direct kernels
    full = _compile(model, tmp_path / "full", board="mps2-an386", write=False)
    g = full.lowered_graph
    constants = sum(a.nbytes for a in g.constants.values())
    every = sum(l["winograd"]["winograd"]["weight_bytes"] - l["winograd"]["direct"]["weight_bytes"]
                for l in full.report["layers"] if l.get("winograd"))
    toml = (boards_dir() / "mps2-an386.toml").read_text()
    mid = tmp_path / "mid-m4.toml"
    mid.write_text(toml.replace("flash_bytes = 4194304", f"flash_bytes = "
                                f"{CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + every}"))
    big = _compile(model, tmp_path / "big", board=str(mid), write=False)
    assert "fn_conv2d_s8_w16_dsp" not in _kernels(big).values()
    growth = {l["name"]: l["winograd"]["winograd"]["weight_bytes"] - l["winograd"]["direct"]["weight_bytes"]
              for l in big.report["layers"] if l["kernel"] == "fn_conv2d_s8_winograd_dsp"}
    assert len(growth) >= 2
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + min(growth.values())
    small = tmp_path / "small-m4.toml"
    small.write_text(toml.replace("flash_bytes = 4194304", f"flash_bytes = {flash}"))
    cm = _compile(model, tmp_path / "small", board=str(small), write=False)
    kept = min(growth, key=growth.get)
    layers = {l["name"]: l for l in cm.report["layers"]}
    assert layers[kept]["kernel"] == "fn_conv2d_s8_winograd_dsp"
    for name in set(growth) - {kept}:
        assert layers[name]["kernel"] not in WINOGRAD
        assert f"not Winograd: its weights (+{growth[name]:,} B) would not fit small-m4's flash" in layers[name]["why"]
        reasons = {r["kernel"]: r["reason"] for r in layers[name]["rejected"]}
        assert "would not fit" in reasons["fn_conv2d_s8_winograd_dsp"]
    on = _compile(model, tmp_path / "on", board=str(small), winograd="on", write=False)
    assert all(_kernels(on)[n] == "fn_conv2d_s8_winograd_dsp" for n in growth)

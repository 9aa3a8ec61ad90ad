"""Pruned models through the whole compiler with the CSR kernels (tests/support/sparse_models.py:
AD01's 640 -> 128 fully connected layer and KWS's 64 -> 64 pointwise layer pruned to 90 %,
each followed by a layer pruned to 10 %; float and int8 QDQ).

--sparse on, auto and off give the same int8 bytes (the numpy reference's, computed on the
dense graph) and float outputs within the float kernels' tolerance; auto picks CSR for the
90 % layer and the dense kernel for the 10 % one (bench/sparse.py's figures); the CLI
(compile --sparse on, verify, report with the densities and both options); the sanitizer
build; the models on the emulated Cortex-M4 (mps2-an386: the CSR kernels cross-compiled and
run in QEMU) give the host's bytes; a board whose flash holds the CSR weights but not the
dense ones gets CSR even where it is slower.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import firmnet
from firmnet import qemu
from firmnet.cli import main
from firmnet.ir import FirmnetError
from firmnet.resources import boards_dir
from support.qdq import int8_inputs
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized
from support.sparse_models import conv_model, fc_model, pw_model, write

MODELS = {"fc": fc_model, "pw": pw_model}
FIRST = {"fc": "fc1", "pw": "pw1"}
SECOND = {"fc": "fc2", "pw": "pw2"}
CSR = {True: "fn_fc_s8_csr", False: "fn_fc_f32_csr"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sparse_models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {(kind, int8): write(make(0.9), root / f"{kind}_{'int8' if int8 else 'float'}.onnx", int8)
                for kind, make in MODELS.items() for int8 in (True, False)}


def _compile(path, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="m", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l["kernel"] for l in cm.report["layers"] if l["op"] in ("conv2d", "dense")}


def _inputs(cm, seed=0):
    g = cm.graph
    x = np.random.default_rng(seed).standard_normal(g.types[g.inputs[0]].shape).astype(np.float32)
    return [x]


@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_sparse_modes_give_the_dense_bytes(models, tmp_path, kind, int8):
    path = models[(kind, int8)]
    outs, kernels = {}, {}
    for mode in ("on", "auto", "off"):
        cm = _compile(path, tmp_path / mode, board="mps2-an386", sparse=mode)
        kernels[mode] = _kernels(cm)
        xs = _inputs(cm)
        host = cm.build_host()
        outs[mode] = host.run_raw(int8_inputs(cm, xs)) if int8 else host.run(xs)
        ref = firmnet.reference.run(cm.lowered_graph, int8_inputs(cm, xs) if int8 else xs)
        for got, want in zip(outs[mode], ref):
            if int8:
                assert got.dtype == np.int8 and np.array_equal(got, want), mode
            else:
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert kernels["on"] == {FIRST[kind]: CSR[int8], SECOND[kind]: CSR[int8]}
    assert kernels["auto"][FIRST[kind]] == CSR[int8]
    assert kernels["auto"][SECOND[kind]] == kernels["off"][SECOND[kind]] != CSR[int8]
    assert CSR[int8] not in kernels["off"].values()
    for mode in ("on", "auto"):
        for a, b in zip(outs[mode], outs["off"]):
            if int8 or kind == "fc":   # fn_fc_f32_csr adds fn_fc_f32's terms in its order
                assert np.array_equal(a, b), mode
            else:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sparsity, want_csr", [(0.9, True), (0.1, False)])
@pytest.mark.parametrize("board", ["mps2-an386", "host"])
def test_auto_picks_csr_at_90_and_dense_at_10_percent(tmp_path, board, sparsity, want_csr):
    for int8 in (True, False):
        path = write(fc_model(sparsity, second=sparsity), tmp_path / f"fc_{int8}.onnx", int8)
        kernels = _kernels(_compile(path, tmp_path / f"out_{int8}", board=board, write=False))
        assert (kernels["fc1"] == CSR[int8]) == want_csr, (int8, kernels)


def test_report_gives_density_and_both_options(models, tmp_path):
    cm = _compile(models[("fc", True)], tmp_path / "o", board="mps2-an386")
    layer = next(l for l in cm.report["layers"] if l["name"] == "fc1")
    sparse = layer["sparse"]
    assert 0.05 < sparse["density"] < 0.15
    # the best dense kernel on the M4 is fn_fc_s8_w16_dsp: its packed weights, 2 bytes per weight + 16 per output
    assert sparse["dense"]["kernel"] == "fn_fc_s8_w16_dsp" and sparse["dense"]["weight_bytes"] == 2 * 640 * 128 + 16 * 128
    assert sparse["sparse"]["kernel"] == "fn_fc_s8_csr"
    assert 3 * sparse["sparse"]["weight_bytes"] < sparse["dense"]["weight_bytes"]
    assert sparse["sparse"]["instructions"] < sparse["dense"]["instructions"]


def test_cli_compile_sparse_on_verify_and_report(models, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["compile", str(models[("pw", True)]), "-o", str(out), "--sparse", "on", "--requant", "tflm"]) == 0
    assert json.loads((out / "firmnet.json").read_text())["sparse"] == "on"
    assert (out / "runtime" / "src" / "fn_fc_s8_csr.c").is_file()
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(l for l in text.splitlines() if l.strip().startswith("#") and "pw1:" in l)
    assert "fn_fc_s8_csr" in line
    assert re.search(r"\[sparse: density \d+\.\d%: dense fn_conv2d_\S+ est\. [\d,]+ instructions, 4,096 B \| "
                     r"CSR fn_fc_s8_csr est\. [\d,]+ instructions, [\d,]+ B\]", line), line


def test_cli_rejects_an_unknown_sparse_mode(models, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["compile", str(models[("fc", True)]), "-o", str(tmp_path / "x"), "--sparse", "sometimes"])
    with pytest.raises(FirmnetError, match="unknown --sparse mode 'sometimes'"):
        _compile(models[("fc", True)], tmp_path / "y", sparse="sometimes")


@pytest.mark.parametrize("kind", list(MODELS))
def test_sanitizers_clean(models, tmp_path, kind):
    cm = _compile(models[(kind, True)], tmp_path / "o", sparse="on", requant="tflm")
    xq = int8_inputs(cm, _inputs(cm))
    for s, c in zip(run_sanitized(cm, xq, tmp_path), cm.build_host().run_raw(xq)):
        assert s.dtype == np.int8 and np.array_equal(s, c)


@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
def test_csr_models_on_the_emulated_m4(models, tmp_path, int8):
    """Both CSR kernels cross-compiled (arm-none-eabi-gcc -O2, Cortex-M4F) and run in QEMU: the
    host's bytes (int8), the host's values within float tolerance (float; the board's FPU may
    contract multiply-adds)."""
    require_tools(BOARD_TOOLS)
    for kind in MODELS:
        cm = _compile(models[(kind, int8)], tmp_path / f"{kind}", board="mps2-an386", sparse="on",
                      **({"requant": "tflm"} if int8 else {}))
        assert CSR[int8] in _kernels(cm).values()
        xs = _inputs(cm)
        xs = int8_inputs(cm, xs) if int8 else xs
        board = qemu.run(cm.out_dir, "mps2-an386", xs)
        host = cm.build_host().run_raw(xs) if int8 else cm.build_host().run(xs)
        for b, h in zip(board.outputs, host):
            if int8:
                assert np.array_equal(b, h), kind
            else:
                assert np.array_equal(b, h), kind


@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
def test_general_conv_csr_gives_the_dense_outputs_on_host_and_m4(tmp_path, int8):
    """fn_conv2d_s8_csr / fn_conv2d_f32_csr in a model (padded, strided, dilated 3x3 layers):
    --sparse on gives the reference's and --sparse off's bytes (int8), fn_conv2d_f32's values
    (float: the same order of terms), on the host and on the emulated M4."""
    require_tools(BOARD_TOOLS)
    path = write(conv_model(0.9), tmp_path / "conv.onnx", int8)
    kw = {"requant": "tflm"} if int8 else {}
    on = _compile(path, tmp_path / "on", board="mps2-an386", sparse="on", **kw)
    # float: the direct kernel, whose order of terms the CSR kernel keeps (not a Winograd variant)
    off = _compile(path, tmp_path / "off", board="mps2-an386", sparse="off",
                   **(kw if int8 else {"kernels": {"conv1": "fn_conv2d_f32", "conv2": "fn_conv2d_f32"}}))
    kernel = "fn_conv2d_s8_csr" if int8 else "fn_conv2d_f32_csr"
    assert set(_kernels(on).values()) == {kernel}
    assert kernel not in _kernels(off).values()
    xs = _inputs(on)
    if int8:
        xs = int8_inputs(on, xs)
        ref = firmnet.reference.run(on.lowered_graph, xs)
        host, dense = on.build_host().run_raw(xs), off.build_host().run_raw(xs)
    else:
        ref = firmnet.reference.run(on.lowered_graph, xs)
        host, dense = on.build_host().run(xs), off.build_host().run(xs)
    board = qemu.run(on.out_dir, "mps2-an386", xs).outputs
    for h, b, d, r in zip(host, board, dense, ref):
        assert np.array_equal(h, d)
        if int8:
            assert np.array_equal(h, r) and np.array_equal(b, r)
        else:
            np.testing.assert_allclose(h, r, rtol=1e-5, atol=1e-5)
            assert np.array_equal(b, h)


def test_flash_bound_board_takes_csr_where_it_is_slower(tmp_path):
    """fc1 at 70 %: CSR is slower on the M4 (bench/sparse.py: 0.79x) but 48,670 bytes against
    81,920; on a board with 140 KB of flash (64 KB of it the code estimate) only the CSR weights
    fit (by the boards' conservative code estimate: the selection cannot link), and auto takes
    CSR there, saying why; --sparse off keeps the dense kernel."""
    path = write(fc_model(0.7), tmp_path / "fc70.onnx", True)
    assert _kernels(_compile(path, tmp_path / "big", board="mps2-an386", write=False))["fc1"] == "fn_fc_s8_w16_dsp"
    toml = ((boards_dir() / "mps2-an386.toml").read_text()
            .replace("flash_bytes = 4194304", f"flash_bytes = {140 * 1024}"))
    small = tmp_path / "small-m4.toml"
    small.write_text(toml)
    cm = _compile(path, tmp_path / "small", board=str(small), write=False)
    assert _kernels(cm)["fc1"] == "fn_fc_s8_csr"
    layer = next(l for l in cm.report["layers"] if l["name"] == "fc1")
    assert "do not fit" in layer["why"]
    off = _compile(path, tmp_path / "off", board=str(small), sparse="off", write=False)
    assert _kernels(off)["fc1"] == "fn_fc_s8_dsp"

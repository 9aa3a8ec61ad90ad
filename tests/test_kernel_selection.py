"""Kernel selection (firmnet/kernels/): the cheapest supported candidate per layer on the
target, the reason and the rejected candidates in the report, --kernel overrides and their
errors, and the error when no candidate supports a layer.

mobilenet_tiny.qdq has a 3x3 stem conv, three depthwise 3x3 + pointwise 1x1 blocks and a
fully connected layer. The expected kernels follow the measured figures of
bench/kernels_qemu.py (bench/README.md): on a CPU with the DSP extension every layer takes a
DSP variant (fn_s8_dsp.h), the pointwise ones the int16-weight 1x1 variant
fn_conv2d_1x1_s8_w16_dsp (0.94 instructions per MAC on KWS's 64 -> 64 layer, 1.4x fewer than the
1x1 DSP variant there, 2.7 against 3.3 and 8.8 (general conv's DSP variant) at 8 -> 16), the stem the int16-weight variant
fn_conv2d_s8_w16_dsp (about 2.2 per MAC on 3-channel 3x3 layers); without DSP the portable 1x1 kernel
takes 4.289 against the general conv's 4.237, so the general conv runs the pointwise layers
there."""
from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

import firmnet
from firmnet.boards import get_board
from firmnet.cli import main
from firmnet.ir import FirmnetError
from firmnet.kernels import CANDIDATES
from firmnet.kernels.select import choose
from firmnet.ops import OPS
from firmnet.report import format_report
from support.paths import FIXTURES

MODEL = FIXTURES / "mobilenet_tiny.qdq.onnx"
POINTWISE = "/blocks/blocks.1/pw/pw.0/Conv"
STEM = "/stem/stem.0/Conv"


def _compile(tmp_path, board, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(MODEL, tmp_path / board, board=board, name="m", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l["kernel"] for l in cm.report["layers"] if l["op"] in ("conv2d", "dense")}


def test_every_op_has_candidates_with_the_variant_interface():
    assert set(CANDIDATES) == set(OPS)
    for op, candidates in CANDIDATES.items():
        assert candidates, op
        assert len({k.NAME for k in candidates}) == len(candidates), op
        for k in candidates:
            for attr in ("supports", "why", "cost", "scratch_bytes", "call"):
                assert callable(getattr(k, attr)), (op, k.NAME, attr)


PORTABLE = dict(stem="fn_conv2d_s8", fc="fn_fc_s8", dw="fn_depthwise_conv2d_s8", pw="fn_conv2d_s8")
DSP = dict(stem="fn_conv2d_s8_w16_dsp", fc="fn_fc_s8_w16_dsp", dw="fn_depthwise_conv2d_s8_rows_dsp",
           pw="fn_conv2d_1x1_s8_w16_dsp")


@pytest.mark.parametrize("board, want", [("mps2-an386", DSP), ("host", PORTABLE), ("rp2040-pico", PORTABLE)])
def test_selection_by_target(tmp_path, board, want):
    cm = _compile(tmp_path, board)
    kernels = _kernels(cm)
    assert kernels[STEM] == want["stem"]
    assert kernels["/fc/Gemm"] == want["fc"]
    for b in range(3):
        assert kernels[f"/blocks/blocks.{b}/dw/dw.0/Conv"] == want["dw"]
        assert kernels[f"/blocks/blocks.{b}/pw/pw.0/Conv"] == want["pw"]
    # only the variants chosen are copied into the project
    copied = {p.stem for p in (tmp_path / board / "runtime" / "src").glob("fn_*.c")}
    assert set(want.values()) <= copied
    variants = {k.NAME for op in ("conv2d", "dense") for k in CANDIDATES[op]}
    assert copied & variants == set(want.values()), "a variant the model does not call was copied"


def test_dsp_variants_need_the_extension_and_verify_on_the_host(tmp_path, capsys):
    """A DSP variant forced on a CPU without the extension is refused with the reason; a
    project compiled for a DSP CPU still verifies on the host (fn_s8_dsp.h: each variant is its
    portable kernel there)."""
    with pytest.raises(FirmnetError, match="needs the DSP extension"):
        _compile(tmp_path, "host", kernels={POINTWISE: "fn_conv2d_1x1_s8_dsp"})
    out = tmp_path / "dsp"
    assert main(["compile", str(MODEL), "-o", str(out), "--board", "mps2-an386"]) == 0
    assert "fn_conv2d_1x1_s8_dsp(" in (out / "m.c").read_text() if (out / "m.c").exists() else True
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()


def test_report_names_kernel_reason_and_rejected(tmp_path):
    cm = _compile(tmp_path, "mps2-an386")
    layer = next(l for l in cm.report["layers"] if l["name"] == POINTWISE)
    assert layer["why"].startswith("1x1, stride 1, int16 weights 1,024 B (int8 512 B), DSP")
    rejected = {r["kernel"]: r["reason"] for r in layer["rejected"]}
    assert set(rejected) == {k.NAME for k in CANDIDATES["conv2d"]} - {"fn_conv2d_1x1_s8_w16_dsp"}
    assert rejected["fn_conv2d_1x1_s8_dsp"].startswith("est. 1.4x slower")
    assert rejected["fn_conv2d_s8_dsp"].startswith("est. 3.1x slower")
    assert rejected["fn_conv2d_1x1_s8"].startswith("est. 2.8x slower")
    assert rejected["fn_depthwise_conv2d_s8"].startswith("not depthwise")
    assert rejected["fn_depthwise_conv2d_s8_rows_dsp"].startswith("not depthwise")
    stem = next(l for l in cm.report["layers"] if l["name"] == STEM)
    stem_rejected = {r["kernel"]: r["reason"] for r in stem["rejected"]}
    assert stem_rejected["fn_conv2d_1x1_s8"] == stem_rejected["fn_conv2d_1x1_s8_dsp"] == \
        stem_rejected["fn_conv2d_1x1_s8_w16_dsp"] == "3x3 filter (1x1 only)"
    text = format_report(json.loads((tmp_path / "mps2-an386" / "report.json").read_text()))
    line = next(t for t in text.splitlines() if POINTWISE in t and "fn_conv2d_1x1_s8_w16_dsp: 1x1" in t)
    assert "rejected" in line and "fn_conv2d_1x1_s8_dsp: est. 1.4x slower" in line
    # the kernels that cannot run it are named after the runnable ones, without their reasons
    runnable, refused = line.split("; cannot run it: ")
    assert "fn_depthwise_conv2d_s8" in refused and "not depthwise" not in line
    assert {r["kernel"] for r in layer["rejected"] if not r["runs"]} == set(refused.split(", "))
    assert all(r["runs"] == r["reason"].startswith("est.") for r in layer["rejected"])


def test_forced_kernel_runs_and_matches_the_reference(tmp_path):
    cm = _compile(tmp_path, "host", kernels={POINTWISE: "fn_conv2d_1x1_s8"})
    layer = next(l for l in cm.report["layers"] if l["name"] == POINTWISE)
    assert (layer["kernel"], layer["why"]) == ("fn_conv2d_1x1_s8", "forced by --kernel")
    assert "fn_conv2d_1x1_s8" in (tmp_path / "host" / "m.c").read_text()
    x = np.random.default_rng(1).standard_normal(cm.graph.types[cm.graph.inputs[0]].shape).astype(np.float32)
    got = cm.build_host().run([x])
    want = firmnet.reference.run(cm.graph, [x])
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_forced_kernel_errors(tmp_path):
    with pytest.raises(FirmnetError) as e:
        _compile(tmp_path, "host", kernels={STEM: "fn_conv2d_1x1_s8"})
    assert "3x3 filter (1x1 only)" in str(e.value) and "kernels that can: fn_conv2d_s8" in str(e.value)
    with pytest.raises(FirmnetError) as e:
        _compile(tmp_path, "host", kernels={STEM: "fn_conv2d_wino"})
    assert "no such kernel" in str(e.value)
    for name in ("fn_conv2d_1x1_s8", "fn_depthwise_conv2d_s8", "fn_conv2d_s8", "fn_conv2d_s8_s32", "fn_conv2d_f32"):
        assert name in str(e.value)
    with pytest.raises(FirmnetError, match="no layer named 'nope'"):
        _compile(tmp_path, "host", kernels={"nope": "fn_conv2d_s8"})


def test_no_candidate_names_every_candidate(tmp_path):
    cm = _compile(tmp_path, "mps2-an386")
    node = next(n for n in cm.lowered_graph.nodes if n.name == POINTWISE)
    q = node.attrs.quant
    bad_out = dataclasses.replace(q.output, zero_point=(300,))    # no int8 output stage can hold it
    node = dataclasses.replace(node, attrs=dataclasses.replace(node.attrs, quant=dataclasses.replace(q, output=bad_out)))
    with pytest.raises(FirmnetError) as e:
        choose(node, cm.lowered_graph, get_board("mps2-an386"))
    message = str(e.value)
    assert "no kernel supports this layer" in message and POINTWISE in message
    for name in CANDIDATES["conv2d"]:
        assert f"{name.NAME}: " in message
    assert message.count("zero point 300") >= 2     # the 1x1 and general kernels' own reason


def test_cli_kernel_option(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["compile", str(MODEL), "-o", str(out), "--kernel", f"{POINTWISE}=fn_conv2d_1x1_s8"])
    assert code == 0
    assert json.loads((out / "firmnet.json").read_text())["kernels"] == {POINTWISE: "fn_conv2d_1x1_s8"}
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()
    assert main(["compile", str(MODEL), "-o", str(out), "--kernel", "fn_conv2d_s8"]) == 2
    assert "is not LAYER=KERNEL" in capsys.readouterr().err
    assert main(["compile", str(MODEL), "-o", str(out), "--kernel", f"{STEM}=fn_fc_s8"]) == 2
    assert "no such kernel for a conv2d layer" in capsys.readouterr().err


def test_float_layers_reject_the_int8_kernels_as_such(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(FIXTURES / "lenet5.onnx", tmp_path / "f", board="mps2-an386", name="f", write=False)
    layers = [l for l in cm.report["layers"] if l["op"] in ("conv2d", "dense")]
    assert {l["kernel"] for l in layers} <= {"fn_conv2d_f32", "fn_fc_f32", "fn_conv2d_f32_csr", "fn_fc_f32_csr"}
    for l in layers:
        int8_kernels = [r for r in l["rejected"] if "_f32" not in r["kernel"]]   # the float kernels compete
        assert int8_kernels and all(r["reason"] == "float layer (int8 kernel)" for r in int8_kernels), l

"""firmnet compress --quantize int8, and what the int8 model's C API and report expose."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest

import firmnet
from firmnet.cli import main
from firmnet.codegen.c_literals import float_literal
from support.paths import EXAMPLE

CALIB = EXAMPLE.with_name("digits_calib.npz")
TEST = EXAMPLE.with_name("digits_test.npz")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("calibration", ["minmax", "percentile"])
def test_compress_writes_qdq_model_that_compiles_to_int8(tmp_path, capsys, calibration):
    out = tmp_path / "d8.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--quantize", "int8", "--calib", CALIB,
                           "--calibration", calibration)
    assert code == 0, err
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    cm = firmnet.compile(out, tmp_path / "c", name="d8")
    kernels = {getattr(c, "function", None) for c in cm.lowered.values()}
    assert {"fn_conv2d_s8", "fn_fc_s8", "fn_maxpool2d_s8"} <= kernels
    assert not kernels & {"fn_conv2d_f32", "fn_fc_f32"}


def test_compress_eval_prints_float_and_int8_accuracy(tmp_path, capsys):
    code, text, _ = _run(capsys, "compress", EXAMPLE, "-o", tmp_path / "d8.onnx", "--quantize", "int8",
                         "--calib", CALIB, "--eval", TEST, "--requant", "tflm")
    assert code == 0
    m = re.search(r"accuracy of the generated C on 450 samples: float (\S+), int8 \(tflm\) (\S+)", text)
    assert m, text
    float_acc, int8_acc = float(m.group(1)), float(m.group(2))
    recorded = float(EXAMPLE.with_name("ACCURACY.txt").read_text().split(":")[-1])
    assert abs(float_acc - recorded) < 1e-9
    assert int8_acc >= float_acc - 0.02


def test_compress_errors(tmp_path, capsys):
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", tmp_path / "x.onnx", "--quantize", "int8")
    assert code == 2 and "--calib" in err
    bad = tmp_path / "bad.npz"
    np.savez(bad, input=np.zeros((4, 3, 8, 8), np.float32))
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", tmp_path / "x.onnx", "--quantize", "int8", "--calib", bad)
    assert code == 2 and "[samples, 1, 8, 8]" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", tmp_path / "x.onnx")
    assert code == 2 and "--quantize int8" in err


def test_int8_header_gives_boundary_scales_and_report_lists_quantization(tmp_path, capsys):
    model = EXAMPLE.with_name("digits_cnn.int8.onnx")
    cm = firmnet.compile(model, tmp_path, name="d8", requant="tflm")
    header = (tmp_path / "d8.h").read_text()
    assert "int d8_invoke(const int8_t *input, int8_t *output);" in header
    for port, name in (("INPUT", "input"), ("OUTPUT", "logits")):
        q = cm.lowered_graph.types[name].quant
        assert f"#define D8_{port}_SCALE {float_literal(q.scale[0])}" in header
        assert f"#define D8_{port}_ZERO_POINT ({q.zero_point[0]})" in header
    code, text, _ = _run(capsys, "report", tmp_path)
    assert code == 0 and "int8 layers" in text
    int8_section = text.split("int8 layers (scale, zero point")[1]   # the kernels section names the layer too
    conv_lines = [line for line in int8_section.splitlines() if "/conv1/Conv:" in line]
    assert conv_lines and "multiplier=" in conv_lines[0] and "shift=" in conv_lines[0] and "[tflm]" in conv_lines[0]

"""firmnet compress --prune / --prune-per-layer / --prune-structured as a user runs them."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import firmnet
from firmnet.cli import main
from support import prune_models as pm
from support.paths import EXAMPLE

CALIB = EXAMPLE.with_name("digits_calib.npz")
TEST = EXAMPLE.with_name("digits_test.npz")
INT8 = EXAMPLE.with_name("digits_cnn.int8.onnx")


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _zeros(path, name):
    return float(np.mean(numpy_helper.to_array(next(t for t in onnx.load(path).graph.initializer
                                                    if t.name == name)) == 0))


def _row(text, layer):
    """(before, after, rule) of a layer's line in the sparsity table."""
    m = re.search(rf"^{re.escape(layer)} +\w+ +[\d,]+ +([\d.]+)% +([\d.]+)%  (.*)$", text, re.M)
    assert m, text
    return float(m.group(1)) / 100, float(m.group(2)) / 100, m.group(3)


def test_prune_reports_each_layer_and_writes_the_zeros(tmp_path, capsys):
    out = tmp_path / "d80.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", "0.8")
    assert code == 0, err
    assert _row(text, "/conv1/Conv") == (0.0, 0.0, "skipped: first conv")
    for layer, weight in (("/conv2/Conv", "conv2.weight"), ("/conv3/Conv", "conv3.weight"), ("/fc/Gemm", "fc.weight")):
        _, after, rule = _row(text, layer)
        assert rule == "global" and after == pytest.approx(_zeros(out, weight), abs=5e-4)
    assert "pruned layers: 80.0% of 6,016 weights are 0" in text
    onnx.checker.check_model(onnx.load(out))


def test_prune_per_layer_then_quantize_keeps_the_zeros_in_int8(tmp_path, capsys):
    out = tmp_path / "d.int8.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune-per-layer", "/conv1/Conv=0.5,/fc/Gemm=0.9",
                           "--quantize", "int8", "--calib", CALIB)
    assert code == 0, err
    assert _row(text, "/conv1/Conv")[1:] == (0.5, "--prune-per-layer 0.5")
    assert _row(text, "/conv2/Conv")[2] == "skipped: not asked"
    assert "(int8 QDQ" in text
    assert _zeros(out, "fc.weight_quantized") >= 0.9          # symmetric int8: a 0 stays 0
    # int8 kernels: the dense ones with --sparse off, and the 90 % fc goes CSR by default
    dense = firmnet.compile(out, tmp_path / "c", name="d8", sparse="off")
    assert {"fn_conv2d_s8", "fn_fc_s8"} <= {getattr(c, "function", None) for c in dense.lowered.values()}
    auto = firmnet.compile(out, tmp_path / "d", name="d8")
    assert "fn_fc_s8_csr" in {getattr(c, "function", None) for c in auto.lowered.values()}


def test_prune_eval_prints_accuracy_before_and_after(tmp_path, capsys):
    code, text, _ = _run(capsys, "compress", EXAMPLE, "-o", tmp_path / "d.onnx", "--prune", "0.3", "--eval", TEST)
    assert code == 0
    m = re.search(r"accuracy of the generated C on 450 samples: float (\S+), pruned 30% (\S+)", text)
    assert m, text
    recorded = float(EXAMPLE.with_name("ACCURACY.txt").read_text().split(":")[-1])
    assert abs(float(m.group(1)) - recorded) < 1e-9
    assert float(m.group(2)) >= recorded - 0.02        # 30 % of the smallest weights matter little


@pytest.mark.parametrize("model", [EXAMPLE, INT8])
def test_prune_structured_makes_a_smaller_model_that_compiles(tmp_path, capsys, model):
    out = tmp_path / "s.onnx"
    code, text, err = _run(capsys, "compress", model, "-o", out, "--prune-structured", "0.5")
    assert code == 0, err
    assert re.search(r"^/conv2/Conv +16 +8 *$", text, re.M), text
    assert "kept whole: makes the model output 'logits'" in text
    before = firmnet.compile(model, tmp_path / "a", board="mps2-an386", write=False).report
    after = firmnet.compile(out, tmp_path / "b", board="mps2-an386", write=False).report
    assert after["weights_bytes"] < 0.6 * before["weights_bytes"] and after["macs"] < 0.5 * before["macs"]


def test_prune_bad_inputs(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    for value in ("1", "-0.2", "1.5"):
        code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", value)
        assert code == 2 and "in [0, 1)" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune-structured", "1.0")
    assert code == 2 and "--prune-structured 1.0" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune-per-layer", "conv2=0.5")
    assert code == 2 and "no prunable layer named 'conv2'" in err and "/conv2/Conv, /conv3/Conv, /fc/Gemm" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", "0.99")
    assert code == 2 and "cannot be reached with a per-layer floor of 0.05" in err
    residual = tmp_path / "residual.onnx"
    onnx.save(pm.residual_to_output()[0].model(), residual)
    code, _, err = _run(capsys, "compress", residual, "-o", out, "--prune-structured", "0.5")
    assert code == 2 and "cannot be reached" in err and "stem, rb" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out)
    assert code == 2 and "--prune 0.8" in err
    not_onnx = tmp_path / "model.tflite"
    not_onnx.write_bytes(b"TFL3")
    code, _, err = _run(capsys, "compress", not_onnx, "-o", out, "--prune", "0.5")
    assert code == 2 and "firmnet compress works on ONNX models" in err
    code, _, err = _run(capsys, "compress", tmp_path / "missing.onnx", "-o", out, "--prune", "0.5")
    assert code == 2 and "cannot read" in err and "missing.onnx" in err
    assert not out.exists()


def test_fine_tuned_models_of_the_example_hold_their_sparsity_and_accuracy():
    """examples/digits/pruned/*.ft.onnx (prune_finetune.py): the zeros firmnet's pruning chose
    survive fine-tuning, and the 90 % model's C stays near the dense model's accuracy."""
    for sparsity in (50, 80, 90):
        path = EXAMPLE.parent / "pruned" / f"digits_cnn.p{sparsity}.ft.onnx"
        model = onnx.load(path)
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        weights = [inits[n.input[1]] for n in model.graph.node if n.name in ("/conv2/Conv", "/conv3/Conv", "/fc/Gemm")]
        assert len(weights) == 3
        zeros = sum(int(np.sum(w == 0)) for w in weights)
        assert zeros == round(sparsity / 100 * sum(w.size for w in weights))
    samples = firmnet.compress.read_samples(TEST, onnx.load(EXAMPLE), what="evaluation")
    assert firmnet.compress.accuracy(path, samples, firmnet.compress.read_labels(TEST)) >= 0.96


def test_prune_floor_help_states_the_default():
    from firmnet.cli import parser
    from firmnet.compress.prune import DEFAULT_FLOOR
    compress = parser()._subparsers._group_actions[0].choices["compress"]
    floor = next(a for a in compress._actions if a.dest == "prune_floor")
    assert f"(default {DEFAULT_FLOOR:g})" in floor.help

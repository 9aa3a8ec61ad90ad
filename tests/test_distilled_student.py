"""The distilled digits student (examples/digits/distill.py, committed in
examples/digits/distilled/): firmnet compiles it like any model, `firmnet verify` passes on
the test images, and the accuracy of its C is the one RESULTS.md records."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest

import firmnet
from firmnet.cli import main
from firmnet.compress import accuracy, read_labels, read_samples
from support.paths import EXAMPLE

DISTILLED = EXAMPLE.parent / "distilled"
TEST = EXAMPLE.with_name("digits_test.npz")


def _recorded(row_start: str) -> float:
    """The accuracy of the generated C a RESULTS.md row records."""
    text = (DISTILLED / "RESULTS.md").read_text()
    m = re.search(rf"^\| {re.escape(row_start)}[^|]* \| [\d,-]+ \| [\d,]+ \| [\d.]+% \| ([\d.]+)% \|$", text, re.M)
    assert m, text
    return float(m.group(1)) / 100


@pytest.mark.parametrize("name, row, dtype", [
    ("student.onnx", "student 4/8/8, distilled", "float32"),
    ("student.int8.onnx", "distilled student int8", "int8"),
])
def test_committed_student_compiles_verifies_and_keeps_its_accuracy(tmp_path, capsys, name, row, dtype):
    path = DISTILLED / name
    out = tmp_path / "student"
    assert main(["compile", str(path), "-o", str(out), "--name", "student"]) == 0
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, input=np.load(TEST)["x"][:1])
    code = main(["verify", str(out), "--inputs", str(inputs)])
    text = capsys.readouterr().out
    assert code == 0 and "verdict: PASS" in text, text
    cm = firmnet.compile(path, tmp_path / "c", name="student")
    compute = [layer for layer in cm.report["layers"] if layer["op"] in ("conv2d", "dense")]
    assert len(compute) == 4 and {layer["dtype"] for layer in compute} == {dtype}
    recorded = _recorded(row)
    samples = read_samples(TEST, onnx.load(path), what="evaluation")
    assert accuracy(path, samples, read_labels(TEST)) == pytest.approx(recorded,
                                                                                                           abs=5e-5)


def test_student_is_smaller_than_the_teacher():
    teacher = firmnet.compile(EXAMPLE, "unused", write=False).report
    student = firmnet.compile(DISTILLED / "student.onnx", "unused", write=False).report
    assert student["weights_bytes"] < 0.4 * teacher["weights_bytes"] and student["macs"] < 0.4 * teacher["macs"]

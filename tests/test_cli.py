"""The command line end to end: compile → verify → report, and verify naming the first bad node."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from firmnet.cli import main
from helpers import EXAMPLE, FIXTURES


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_compile_verify_report(tmp_path, capsys):
    out = tmp_path / "digits"
    code, text, _ = _run(capsys, "compile", EXAMPLE, "-o", out, "--name", "digits")
    assert code == 0 and "arena" in text
    assert {"digits.c", "digits.h", "digits_weights.h", "CMakeLists.txt", "report.json"} <= \
        {p.name for p in out.iterdir()}
    code, text, _ = _run(capsys, "verify", out, "--inputs", EXAMPLE.with_name("sample_input.npz"))
    assert code == 0 and "verdict: PASS" in text and "7 steps traced" in text
    code, text, _ = _run(capsys, "report", out)
    assert code == 0
    header = text.splitlines()[0]
    for column in ("layer", "op", "kernel", "output", "MACs", "weights B", "arena off", "bytes"):
        assert column in header
    assert re.search(r"arena \(RAM\):\s+6,144 bytes", text)
    assert re.search(r"lower bound \(max live\):\s+6,144 bytes", text)


def test_verify_names_first_differing_node(tmp_path, capsys):
    """Corrupt one weight of the second conv in the generated C: verify exits 1 and blames that node."""
    out = tmp_path / "lenet"
    inputs = tmp_path / "x.npz"
    np.savez(inputs, input=np.load(FIXTURES / "lenet5.npz")["input"])
    assert _run(capsys, "compile", FIXTURES / "lenet5.onnx", "-o", out, "--name", "lenet")[0] == 0
    from firmnet.cli import _load_compiled
    from firmnet.codegen.c_literals import c_identifier
    cm = _load_compiled(out)
    target = [n for n in cm.lowered_graph.nodes if n.op == "conv2d"][1]
    index = cm.lowered_graph.nodes.index(target)
    weights = out / "lenet_weights.h"
    text = weights.read_text()
    body = text.index("{", text.index(f"lenet_w_{c_identifier(target.inputs[1])}[")) + 1
    weights.write_text(text[:body] + "\n    1000.0f" + text[text.index(",", body):])

    code, text, _ = _run(capsys, "verify", out, "--inputs", inputs)
    assert code == 1, text
    assert f"first differing node: #{index} '{target.name}' (conv2d)" in text
    assert "verdict: FAIL" in text


def test_firmnet_command_from_any_directory(tmp_path):
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "compile", str(EXAMPLE), "-o", str(tmp_path / "o"),
                          "--name", "digits"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "verify", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd="/")
    assert res.returncode == 0 and "verdict: PASS" in res.stdout, res.stdout + res.stderr

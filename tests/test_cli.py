"""The command line end to end: compile → verify → report, and verify naming the first bad node."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import firmnet
from firmnet.cli import main
from support.paths import EXAMPLE, FIXTURES, REPO


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_compile_verify_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path("out") / "digits"   # relative, as in scripts/example
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
    # conv2 (Winograd F(4x4,3x3)) holds its input (2,048 B), output (4,096 B) and scratch
    # (4 * (2 * 36 * 8 + 8 * 36) = 3,456 B) at once
    assert re.search(r"arena \(RAM\):\s+9,600 bytes", text)
    assert re.search(r"lower bound \(max live\):\s+9,600 bytes", text)


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
    body = text.index("{", text.index(f"lenet_{c_identifier(target.name).strip('_')}_weights[")) + 1
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


def test_compile_for_a_real_board_reports_the_firmware_sizes(tmp_path, capsys):
    """`firmnet compile --board nucleo-l4r5zi` links the example firmware and prints its flash
    and RAM beside the memory plan's weights and arena and the board's capacity; a board file
    of the user's with too little flash for weights + code is refused (exit 2) with the numbers."""
    for tool, package in (("cmake", "cmake"), ("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")):
        if shutil.which(tool) is None:
            pytest.fail(f"missing {tool}: install it (Debian/Ubuntu: apt-get install {package})")
    int8 = EXAMPLE.with_name("digits_cnn.int8.onnx")
    # --winograd off and every int16-weight kernel's layer (fn_conv2d_s8_w16_dsp, fn_fc_s8_w16_dsp)
    # on its int8-weight counterpart: with less flash, auto would keep the int8 weights, and the two
    # firmwares compared below would differ
    probe = firmnet.compile(int8, "unused", board="nucleo-l4r5zi", name="probe", write=False, winograd="off")
    int8_weights = [a for l in probe.report["layers"] if l["kernel"].endswith("_w16_dsp")
                    for a in ("--kernel", f"{l['name']}={l['kernel'].replace('_w16_dsp', '_dsp')}")]
    code, text, _ = _run(capsys, "compile", int8, "-o", tmp_path / "n", "--name", "digits", "--board", "nucleo-l4r5zi",
                         "--winograd", "off", *int8_weights)
    assert code == 0, text
    report = json.loads((tmp_path / "n" / "report.json").read_text())
    weights, arena = report["weights_bytes"], report["arena_bytes"]
    assert weights > 6288   # the tensors and the parameter arrays and structs the C defines
    m = re.search(rf"nucleo-l4r5zi firmware (\S+digits_firmware\.elf): flash ([\d,]+) B \(weights {weights:,} \+ code "
                  rf"([\d,]+)\) of 2,097,152; RAM ([\d,]+) B \.data \+ \.bss \(arena {arena:,}\) \+ 8,192 B stack "
                  r"= ([\d,]+) of 655,360", text)
    assert m, text
    flash, code_bytes, ram, total = (int(g.replace(",", "")) for g in m.groups()[1:])
    assert flash == weights + code_bytes and total == ram + 8192 and ram >= arena
    code, text, _ = _run(capsys, "report", tmp_path / "n")
    assert code == 0 and f"flash:                   {flash:,} bytes = code and initial data {code_bytes:,} + " \
        f"weights {weights:,} (the linked firmware)" in text, text
    board = tmp_path / "tiny.toml"
    board.write_text(re.sub(r"(?m)^flash_bytes = .*$", "flash_bytes = 8192",
                            (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()))
    code, _, err = _run(capsys, "compile", int8, "-o", tmp_path / "t", "--name", "digits", "--board", board,
                        "--winograd", "off", *int8_weights)
    assert code == 2
    assert re.search(r"firmnet: error: the model does not fit board 'tiny' \(the firmware does not link, ld: region "
                     rf"FLASH overflowed by {flash - 8192:,} bytes; .*\): flash: {flash:,} bytes \(weights {weights:,} \+ "
                     r"code and initial data [\d,]+\), the board has 8,192\. Try a smaller model", err), err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    import firmnet
    assert capsys.readouterr().out.strip() == f"firmnet {firmnet.__version__}"


def test_closed_pipe_gives_no_traceback(tmp_path):
    """`firmnet report OUT | head -1`: the reader goes away first; firmnet stops quietly (exit 0)."""
    out = tmp_path / "o"
    assert main(["compile", str(EXAMPLE), "-o", str(out)]) == 0
    p = subprocess.Popen([sys.executable, "-m", "firmnet.cli", "report", str(out), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()   # before firmnet writes anything
    err = p.stderr.read().decode()
    assert p.wait() == 0 and err == "", err


def test_progress_line_for_slow_steps_only_on_a_terminal():
    """A step over the delay says what it does and then how long it took; a quick one says
    nothing; a stream that is not a terminal (a log, a pipe, a test capture) gets nothing."""
    import io
    import time

    from firmnet.progress import step

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    slow, quick, log = Terminal(), Terminal(), io.StringIO()
    with step("cross-building for x", stream=slow, delay=0.05):
        time.sleep(0.3)
    with step("compiling m.onnx", stream=quick, delay=5):
        pass
    with step("cross-building for x", stream=log, delay=0.0):
        time.sleep(0.05)
    lines = slow.getvalue().splitlines()
    assert lines[0] == "firmnet: cross-building for x ..."
    assert re.fullmatch(r"firmnet: cross-building for x: \d+\.\d s", lines[1]) and float(lines[1].split()[-2]) >= 0.3
    assert quick.getvalue() == "" and log.getvalue() == ""

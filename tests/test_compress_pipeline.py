"""firmnet compress as a pipeline (compress/pipeline.py): the stage order, the intermediate
models, the stage table (text, --board, --json), and a stage added to STAGES."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import firmnet
from firmnet.cli import main
from firmnet.compress import pipeline
from firmnet.firmware import board_info
from support.paths import EXAMPLE

CALIB = EXAMPLE.with_name("digits_calib.npz")
TEST = EXAMPLE.with_name("digits_test.npz")
BOARD = "mps2-an386"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _table(text: str) -> dict[str, list[str]]:
    """{row name: cells} of the stage table (the lines after its 'stage' header)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("stage "))
    rows = {}
    for line in lines[start + 1:]:
        m = re.match(r"^(\S.*?)\s{2,}(\S.*)$", line)
        if not m or line.startswith(("on ", "accuracy ")):
            break
        rows[m.group(1)] = m.group(2).split()
    return rows


def _compiled(path, tmp_path, board="host"):
    return firmnet.compile(path, tmp_path / f"c-{path.stem}-{board}", board=board, name="m")


def test_stages_run_in_order_write_each_model_and_report_its_figures(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--quantize", "int8", "--calib", CALIB,
                           "--prune", "0.5", "--prune-structured", "0.25")
    assert code == 0, err
    structured, pruned = tmp_path / "d.structured.onnx", tmp_path / "d.pruned.onnx"
    # structured pruning, then pruning, then int8: each prints its table and the file it wrote
    order = [text.index(s) for s in (f"wrote {structured} (pruned)", f"wrote {pruned} (pruned)",
                                     f"wrote {out} (int8 QDQ")]
    assert order == sorted(order)
    assert text.index("/conv2/Conv") < order[0] < text.index("pruned layers:") < order[1]
    rows = _table(text)
    assert list(rows) == ["float", "pruned structured 25%", "pruned 50%", "int8 (ort)"]
    for name, path in zip(rows, (EXAMPLE, structured, pruned, out)):
        report = _compiled(path, tmp_path).report
        assert rows[name] == [f"{report['weights_bytes']:,}", f"{report['macs']:,}"], name
    # each stage works on the previous one's model: the zeros of pruning survive quantization
    q = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    p = {t.name: numpy_helper.to_array(t) for t in onnx.load(pruned).graph.initializer}
    assert p["fc.weight"].shape[1] < 256 and np.array_equal(q["fc.weight_quantized"] == 0, p["fc.weight"] == 0)


def test_board_adds_flash_arena_and_the_cost_models_instructions(tmp_path, capsys):
    out = tmp_path / "d8.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--quantize", "int8", "--calib", CALIB,
                           "--board", BOARD)
    assert code == 0, err
    assert re.search(r"^stage +weight bytes +MACs +flash +arena +est\. instructions$", text, re.M), text
    rows = _table(text)
    for name, path in (("float", EXAMPLE), ("int8 (ort)", out)):
        cm = _compiled(path, tmp_path, BOARD)
        firmware = board_info(cm.out_dir)["firmware"]
        # the chosen kernel's estimate is in each layer's reason: "(est. N instructions)"
        estimates = [int(m.replace(",", "")) for layer in cm.report["layers"]
                     for m in re.findall(r"\(est\. ([\d,]+) instructions\)", layer["why"])]
        assert rows[name] == [f"{cm.report['weights_bytes']:,}", f"{cm.report['macs']:,}", f"{firmware['flash']:,}",
                              f"{cm.report['arena_bytes']:,}", f"{sum(estimates):,}"], name
        assert sum(estimates) > cm.report["macs"]
    assert f"on {BOARD}: flash of the linked firmware" in text


def test_json_gives_the_same_table_and_each_stages_rows(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    argv = ["compress", EXAMPLE, "-o", out, "--prune", "0.5", "--quantize", "int8", "--calib", CALIB, "--eval", TEST]
    code, text, err = _run(capsys, *argv)
    assert code == 0, err
    code, doc, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    doc = json.loads(doc)              # nothing but the document on stdout
    assert doc["samples"] == 450 and doc["board"] is None
    assert [s["stage"] for s in doc["stages"]] == ["input", "pruned", "int8"]
    rows = _table(text)
    for stage in doc["stages"]:
        assert rows[stage["name"]] == [f"{stage['accuracy']:.4f}", f"{stage['weights_bytes']:,}", f"{stage['macs']:,}"]
    assert doc["stages"][2]["requant"] == "ort" and doc["stages"][0]["requant"] is None
    layers = {r["layer"]: r for r in doc["stages"][1]["rows"]}
    assert layers["/conv1/Conv"]["note"] == "skipped: first conv" and layers["/fc/Gemm"]["after"] > 0.4
    assert doc["stages"][2]["model"] == str(out)
    assert re.search(r"accuracy of the generated C on 450 samples: float 0\.\d{4}, pruned 50% 0\.\d{4}, "
                     r"int8 \(ort\) 0\.\d{4}$", text.strip())


@dataclass(frozen=True)
class _BiasRow:
    layer: str
    zeroed: int


def _zero_fc_bias(model, options):
    """A stage as another module would write it: rewrite the model, return one row per layer."""
    init = next(t for t in model.graph.initializer if t.name == "fc.bias")
    init.CopyFrom(numpy_helper.from_array(np.zeros(10, np.float32), "fc.bias"))
    return model, [_BiasRow("/fc/Gemm", 10)]


def test_a_stage_added_to_stages_runs_in_its_place(tmp_path, capsys, monkeypatch):
    stage = pipeline.Stage("nobias", lambda o: "no fc bias", lambda o: True, _zero_fc_bias)
    int8 = [s.key for s in pipeline.STAGES].index("int8")
    monkeypatch.setattr(pipeline, "STAGES", pipeline.STAGES[:int8] + (stage,) + pipeline.STAGES[int8:])
    out = tmp_path / "d.onnx"
    code, text, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--quantize", "int8", "--calib", CALIB)
    assert code == 0, err
    assert re.search(r"^layer +zeroed\n/fc/Gemm +10\nwrote \S+d\.nobias\.onnx \(no fc bias\)$", text, re.M), text
    assert list(_table(text)) == ["float", "no fc bias", "int8 (ort)"]
    bias = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}["fc.bias_quantized"]
    assert not bias.any()


def test_a_model_firmnet_cannot_compile_gets_a_row_with_the_reason(tmp_path, capsys):
    model = onnx.load(EXAMPLE)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"   # no static shape to compile
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    code, text, err = _run(capsys, "compress", path, "-o", tmp_path / "p.onnx", "--prune", "0.5")
    assert code == 0, err
    assert _table(text)["float"] == ["-", "-"]
    assert re.search(r"^float: not compiled: .+", text, re.M), text
    assert len([line for line in text.splitlines() if line.startswith("float: not compiled")]) == 1


def test_bad_options_fail_before_any_stage(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", "0.5", "--quantize", "int8")
    assert code == 2 and "--calib" in err
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", "0.5", "--board", "no-such-board")
    assert code == 2 and "no-such-board" in err
    labels = tmp_path / "few.npz"
    np.savez(labels, input=np.zeros((4, 1, 8, 8), np.float32), y=np.zeros(2, np.int64))
    code, _, err = _run(capsys, "compress", EXAMPLE, "-o", out, "--prune", "0.5", "--eval", labels)
    assert code == 2 and "4 samples but only 2 labels" in err
    assert not out.exists() and not out.with_name("x.pruned.onnx").exists()


@pytest.mark.parametrize("flag", ["--prune", "--prune-structured"])
def test_every_flag_of_a_stage_is_in_the_parser(flag):
    from firmnet.cli import parser
    compress = parser()._subparsers._group_actions[0].choices["compress"]
    assert flag in compress._option_string_actions

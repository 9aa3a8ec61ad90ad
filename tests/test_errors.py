"""Bad input gets one clear message naming the node or tensor, exit code 2, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.cli import main
from firmnet.ir import FirmnetError


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _cli(capsys, *argv):
    code = main(list(map(str, argv)))
    err = capsys.readouterr().err
    return code, err


CASES = {
    "unsupported op": (
        lambda: _model([helper.make_node("Cos", ["x"], ["y"], name="the_cos")], [_vi("x", [1, 4])], [_vi("y", [1, 4])]),
        ["the_cos", "Cos", "not supported", "supported operators"]),
    "unsupported attribute": (
        lambda: _model([helper.make_node("Pad", ["x", "p"], ["y"], name="pad0", mode="reflect")],
                       [_vi("x", [1, 4])], [_vi("y", [1, 6])],
                       [numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "p")]),
        ["pad0", "reflect", "constant"]),
    "unsupported dtype": (
        lambda: _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [1, 4], TensorProto.DOUBLE)],
                       [_vi("y", [1, 4], TensorProto.DOUBLE)]),
        ["'r'", "float64"]),
    "dynamic dimension": (
        lambda: _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["batch", 4])], [_vi("y", ["batch", 4])]),
        ["'x'", "dynamic", "--input-shape x="]),
    "missing initializer": (
        lambda: _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")], [_vi("x", [1, 1, 4, 4])],
                       [_vi("y", [1, 1, 4, 4])]),
        ["conv1", "'w'", "initializers are missing"]),
    "old opset": (
        lambda: _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])], opset=6),
        ["opset 6", "7..28", "newer opset"]),
    "dynamic quantization": (
        lambda: _model([helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dq")],
                       [_vi("x", [1, 4])], [_vi("q", [1, 4], TensorProto.UINT8)]),
        ["'dq'", "static scales", "firmnet compress"]),
    "runtime-computed weights": (
        lambda: _model([helper.make_node("MatMul", ["x", "z"], ["y"], name="mm")], [_vi("x", [2, 3]), _vi("z", [3, 2])],
                       [_vi("y", [2, 2])]),
        ["'mm'", "must be a constant"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_clear_error_and_exit_code_2(case, tmp_path, capsys):
    make, fragments = CASES[case]
    path = _save(tmp_path, make())
    code, err = _cli(capsys, "compile", path, "-o", tmp_path / "out")
    assert code == 2
    assert err.startswith("firmnet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, f"{f!r} not in {err!r}"


def test_malformed_file(tmp_path, capsys):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\x07this is not protobuf\xff\xff")
    code, err = _cli(capsys, "compile", path, "-o", tmp_path / "out")
    assert code == 2 and "garbage.onnx" in err and "not a readable ONNX model" in err


def test_missing_file(tmp_path, capsys):
    code, err = _cli(capsys, "compile", tmp_path / "nope.onnx", "-o", tmp_path / "out")
    assert code == 2 and "no such file" in err


def test_input_shape_option_resolves_dynamic_dimension(tmp_path, capsys):
    path = _save(tmp_path, CASES["dynamic dimension"][0]())
    code, _ = _cli(capsys, "compile", path, "-o", tmp_path / "out", "--input-shape", "x=2,4")
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["inputs"] == [{"name": "x", "shape": [2, 4], "dtype": "float32"}]


def test_bad_input_shape_option(tmp_path, capsys):
    path = _save(tmp_path, CASES["dynamic dimension"][0]())
    code, err = _cli(capsys, "compile", path, "-o", tmp_path / "out", "--input-shape", "x=2,5,1")
    assert code == 2 and "does not fit" in err
    code, err = _cli(capsys, "compile", path, "-o", tmp_path / "out", "--input-shape", "x:2")
    assert code == 2 and "NAME=D1,D2" in err


def test_wrong_input_shape_at_run_time(tmp_path):
    path = _save(tmp_path, _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])]))
    host = firmnet.compile(path, tmp_path / "out").build_host()
    with pytest.raises(FirmnetError, match=r"input 'x' must have shape \[1, 4\], got \[4\]"):
        host.run([np.zeros(4, np.float32)])


def test_unknown_board(tmp_path, capsys):
    path = _save(tmp_path, _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 4])], [_vi("y", [1, 4])]))
    code, err = _cli(capsys, "compile", path, "-o", tmp_path / "out", "--board", "nosuch")
    assert code == 2 and "unknown board 'nosuch'" in err and "host" in err


def test_console_script_installed():
    """`firmnet` works as an installed command (python -m as the portable spelling)."""
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "boards"], capture_output=True, text=True)
    assert res.returncode == 0 and "host" in res.stdout


def test_every_unsupported_node_is_named_in_one_error(tmp_path, capsys):
    """Cos → Relu → ReduceProd → Pad(reflect) → Sin: one compile lists the four nodes firmnet
    refuses, each with its reason or the closest supported form, in model order; the Relu between
    them converts (its input type comes from ONNX shape inference) and is not named."""
    nodes = [helper.make_node("Cos", ["x"], ["a"], name="cos1"),
             helper.make_node("Relu", ["a"], ["b"], name="relu"),
             helper.make_node("ReduceProd", ["b", "hw"], ["c"], name="gap", keepdims=1),
             helper.make_node("Pad", ["c", "p"], ["d"], name="pad0", mode="reflect"),
             helper.make_node("Sin", ["d"], ["y"], name="sin1")]
    model = _model(nodes, [_vi("x", [1, 2, 4, 4])], [_vi("y", [1, 2, 3, 3])],
                   [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "p"),
                    numpy_helper.from_array(np.array([2, 3], np.int64), "hw")], opset=20)
    code, err = _cli(capsys, "compile", _save(tmp_path, model), "-o", tmp_path / "out")
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "firmnet: error: 4 node(s) cannot be compiled:"
    named = [l.split("'")[1] for l in lines[1:5]]
    assert named == ["cos1", "gap", "pad0", "sin1"], lines
    assert "Pad mode 'reflect' is not supported (only 'constant')" in lines[3]
    assert all("(" in l and "):" in l for l in lines[1:5])
    assert lines[5].startswith("supported operators: ") and "'relu'" not in err
    assert not (tmp_path / "out").exists()


def test_nodes_after_an_untyped_refused_output_are_counted(tmp_path, capsys):
    """A refused node whose output type shape inference does not know (a dynamic Reshape target):
    the nodes reading it cannot be checked, and the error says how many."""
    nodes = [helper.make_node("Cos", ["x"], ["a"], name="cos1"),
             helper.make_node("NonZero", ["a"], ["nz"], name="nonzero"),
             helper.make_node("Cast", ["nz"], ["y"], name="cast", to=TensorProto.FLOAT)]
    model = _model(nodes, [_vi("x", [1, 4])], [_vi("y", None)])
    code, err = _cli(capsys, "compile", _save(tmp_path, model), "-o", tmp_path / "out")
    assert code == 2
    assert "2 node(s) cannot be compiled" in err and "'cos1'" in err and "'nonzero'" in err
    assert "1 later node(s) read their outputs and were not checked: node 'cast' (Cast)" in err


def test_internal_error_is_one_line_with_version_and_hint(tmp_path, capsys, monkeypatch):
    """A bug that reaches the top: one line with firmnet's version, the exception and how to
    report it; --traceback shows the Python traceback instead."""
    def broken(*args, **kwargs):
        raise KeyError("multi\nline")
    monkeypatch.setattr(firmnet.compiler, "load", broken)
    code, err = _cli(capsys, "compile", tmp_path / "m.onnx", "-o", tmp_path / "out")
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"firmnet {firmnet.__version__}: internal error: KeyError: ")
    assert "report it" in lines[0] and "--traceback" in lines[0]
    with pytest.raises(KeyError):
        main(["--traceback", "compile", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out")])


def test_verify_checks_input_files_before_reading_them(tmp_path, capsys):
    """An .npz whose array is far larger than the model's input is refused from its header
    (nothing is allocated); a file that is not an .npz gets a clear error too."""
    from support.paths import EXAMPLE
    out = tmp_path / "out"
    assert _cli(capsys, "compile", EXAMPLE, "-o", out)[0] == 0
    big = tmp_path / "big.npz"
    import zipfile
    with zipfile.ZipFile(big, "w") as z:   # a header claiming 10^10 float32 values, no data
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
        header["shape"] = (10**5, 10**5)
        with z.open("input.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
    code, err = _cli(capsys, "verify", out, "--inputs", big)
    assert code == 2 and "10,000,000,000 values" in err and "takes 64" in err, err
    plain = tmp_path / "x.npy"
    np.save(plain, np.zeros((1, 1, 8, 8), np.float32))
    code, err = _cli(capsys, "verify", out, "--inputs", plain)
    assert code == 2 and "not an .npz archive" in err, err

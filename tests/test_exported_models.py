"""Layers as PyTorch's exporters write them: dynamo at opset 20 (torch 2.14's default) and 18,
TorchScript at 17 (tests/fixtures/models/exported/, made by tests/fixtures/make_export_fixtures.py;
these tests never need torch).

For every fixture: if every operator the model computes at run time is in firmnet's ONNX
converter table, the compiled C must match onnxruntime within 1e-4 of the largest output
(and so must the numpy reference); otherwise compiling must fail with one FirmnetError that
names a node of each unsupported operator. The split follows the converter table, so a
fixture moves from the second kind to the first as soon as its operators land, and from then
on must compute the right numbers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import firmnet
from firmnet.frontend.onnx_loader import CONVERTERS
from firmnet.ir import FirmnetError
from support.oracles import onnxruntime_outputs
from support.paths import FIXTURES

EXPORTED = FIXTURES / "exported"
MODELS = sorted(EXPORTED.glob("*.onnx"))
EXPORTERS = ("dynamo", "dynamo18", "torchscript")
TOLERANCE = 1e-4   # of the largest |output|: float kernels, another summation order than onnxruntime's


def run_time_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The nodes the loader cannot fold to constants: those with an input computed from the
    graph inputs (Shape of a pinned input folds, as in the loader)."""
    constant = {init.name for init in model.graph.initializer} | {""}
    computed = []
    for node in model.graph.node:
        if all(i in constant for i in node.input) or node.op_type == "Shape":
            constant.update(node.output)
        else:
            computed.append(node)
    return computed


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    ops = [n.op_type for n in run_time_nodes(model)]
    return sorted({op for op in ops if op not in CONVERTERS}, key=ops.index)


def _outputs(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    data = np.load(path.with_suffix(".npz"))
    names = sorted((k for k in data.files if k.startswith("output")), key=lambda k: (len(k), k))
    outputs = [data[k] for k in names]                      # output, output1, output2, ...
    return data["input"], outputs


def _max_relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


def test_every_fixture_has_every_exporter_and_data():
    stems = {p.name.split(".")[0] for p in MODELS}
    assert len(stems) >= 40
    for stem in stems:
        for exporter in EXPORTERS:
            path = EXPORTED / f"{stem}.{exporter}.onnx"
            assert path.exists() and path.with_suffix(".npz").exists(), path


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_saved_outputs_are_onnxruntimes(path):
    """The stored outputs are what this onnxruntime computes (the fixtures have not gone stale)."""
    x, saved = _outputs(path)
    live = onnxruntime_outputs(path, [x])
    assert len(live) == len(saved)
    for got, want in zip(live, saved):
        assert _max_relative_error(got, want) <= 1e-6


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_exported_model(path, tmp_path):
    model = onnx.load(str(path))
    missing = unsupported_ops(model)
    if missing:
        with pytest.raises(FirmnetError) as info:
            firmnet.compile(path, tmp_path, name="m")
        message = str(info.value)
        unnamed = [op for op in missing if f"({op})" not in message]   # node labels read "node 'x' (Op)"
        assert not unnamed, f"the error names no {', '.join(unnamed)} node: {message}"
        return
    x, expected = _outputs(path)
    cm = firmnet.compile(path, tmp_path, name="m")
    got = cm.build_host().run([x])
    ref = firmnet.reference.run(cm.graph, [x])
    assert len(got) == len(expected)
    for k, (c, r, want) in enumerate(zip(got, ref, expected)):
        err = _max_relative_error(c, want)
        assert err <= TOLERANCE, f"output {k}: C vs onnxruntime {err:.3g} of the largest output"
        err = _max_relative_error(r, want)
        assert err <= TOLERANCE, f"output {k}: reference vs onnxruntime {err:.3g} of the largest output"

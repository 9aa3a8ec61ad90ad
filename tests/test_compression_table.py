"""examples/digits/compression_table.py makes each row's model with firmnet compress's
pipeline: every row's starting model is there, and each made model is what its method says
(the QEMU measurements are the script's own business, not the tests')."""
from __future__ import annotations

import importlib.util
import sys

import onnx

from firmnet.compress.measure import is_quantized
from support.paths import EXAMPLE

SCRIPT = EXAMPLE.parent / "compression_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("compression_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # (its dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


def test_every_row_is_made_as_its_method_says(tmp_path):
    table = _script()
    for row in table.ROWS:
        assert row.model.is_file(), row
        made = onnx.load(table.make(row, tmp_path))
        ops = [n.op_type for n in made.graph.node]
        assert is_quantized(made) == ("int8" in row.method), row.method
        if "codebook" in row.method:
            assert ops.count("Gather") == 4, row.method      # one per Conv/Gemm weight
        if "binary" in row.method:
            assert ops.count("Sign") == 2, row.method
        if "SVD" in row.method:
            assert ops.count("Gemm") == 2, row.method
            assert any(list(t.dims) == [table.SVD_RANK, 256] for t in made.graph.initializer), row.method

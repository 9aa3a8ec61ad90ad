"""fn_lut_s8_mve (runtime_c/src/fn_lut_s8_mve.c, contract in fn_s8_mve.h): the int8 unary layers
that run as a 256-entry table (fn_lut_s8: TFLM's logistic, tanh and hard swish, onnxruntime's
activation tables, requantizations that change bytes), the same table and bytes, on CPUs with
MVE (Helium): 16 elements per vector, a byte gather from the table.

Cost: 0, as the op's other candidate (OpLowering("unary"), which has no estimate): listed
first, this variant wins the table layers on MVE boards. Measured (bench/mve.py, 8,192
elements): 7,719 to 7,750 instructions on mps3-an547 (0.94 per element) against fn_lut_s8's
32,812 there (4.0 per element)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _s8_mve
from ._check import refusal

NAME = "fn_lut_s8_mve"


def supports(node, graph, target) -> str | None:
    from ..ops.unary import _int8_table, _is_table
    if node.op != "unary" or node.attrs.quant is None or not _is_table(node.attrs):
        return "int8 lookup-table kinds only (logistic, tanh, hard swish, requantization, ort tables)"
    reason = refusal(lambda: _int8_table(node.attrs))     # the table's builder refuses its parameters
    return reason if reason is not None else _s8_mve.refuse_target(target)


def why(node, graph, target) -> str:
    return "int8 256-entry table, MVE"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    from ..ops.unary import lower
    base = lower(node, graph)        # fn_lut_s8's struct and table: the MVE kernel shares them
    return KernelCall(NAME, "fn_s8_mve.h", base.params_type, base.params, base.args,
                      description=base.description + " (MVE: 16 elements per vector)")

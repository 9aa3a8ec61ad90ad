"""fn_mul_s8_mve (runtime_c/src/fn_mul_s8_mve.c, contract in fn_s8_mve.h): the int8 Mul layers
of fn_mul_s8 (the same parameter struct and bytes) on CPUs with MVE (Helium): operands of the
output's shape with TFLite's arithmetic (requant tflm) 8 elements per step; any other call
(broadcasting, the onnxruntime methods, requant single) runs fn_mul_s8 inside it.

Cost: 0, as the op's other candidate (OpLowering("binary"), which has no estimate): listed
first, this variant wins the int8 mul layers on MVE boards, and it is never slower than
fn_mul_s8, which it runs itself where its vector path does not apply. Measured (bench/mve.py,
a Mul of two 8,192-element operands): 33,938 instructions on mps3-an547 (4.14 per element)
against fn_mul_s8's 102,656 there (12.5 per element)."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _s8_mve

NAME = "fn_mul_s8_mve"


def supports(node, graph, target) -> str | None:
    if node.op != "binary" or node.attrs.quant is None or node.attrs.kind != "mul":
        return "int8 mul only"
    return _s8_mve.refuse_target(target)


def why(node, graph, target) -> str:
    return "int8 mul, MVE"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    from ..ops.binary import int8_call
    base = int8_call(node, graph)    # fn_mul_s8's struct: the MVE kernel shares it
    return KernelCall(NAME, "fn_s8_mve.h", base.params_type, base.params, base.args,
                      description=base.description + " (MVE: 8 elements per step)")

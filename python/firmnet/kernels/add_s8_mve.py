"""fn_add_s8_mve (runtime_c/src/fn_add_s8_mve.c, contract in fn_s8_mve.h): the int8 Add and Sub
layers of fn_add_s8 (the same parameter struct and bytes) on CPUs with MVE (Helium): operands of
the output's shape with TFLite's arithmetic (requant tflm) 4 elements per vector; any other call
(broadcasting, the onnxruntime methods, requant single) runs fn_add_s8 inside it.

Cost: 0, as the op's other candidate (OpLowering("binary"), which has no estimate): listed
first, this variant wins the int8 add/sub layers on MVE boards, and it is never slower than
fn_add_s8, which it runs itself where its vector path does not apply. Measured (bench/mve.py,
an Add of two 1 x 16 x 16 x 32 tensors): 92,344 instructions on mps3-an547 (11.3 per element)
against fn_add_s8's 1,279,760 on mps2-an386."""
from __future__ import annotations

from ..lowering import KernelCall
from . import _s8_mve

NAME = "fn_add_s8_mve"


def supports(node, graph, target) -> str | None:
    if node.op != "binary" or node.attrs.quant is None or node.attrs.kind not in ("add", "sub"):
        return "int8 add and sub only"
    return _s8_mve.refuse_target(target)


def why(node, graph, target) -> str:
    return "int8 add/sub, MVE"


def cost(node, graph, target) -> int:
    return 0


def scratch_bytes(node, graph) -> int:
    return 0


def call(node, graph) -> KernelCall:
    from ..ops.binary import int8_call
    base = int8_call(node, graph)    # fn_add_s8's struct, not the table Add's: the MVE kernel shares it
    return KernelCall(NAME, "fn_s8_mve.h", base.params_type, base.params, base.args,
                      description=base.description + " (MVE: 4 elements per vector)")

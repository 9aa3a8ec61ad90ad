"""What one model costs: the figures of a row of `firmnet compress`'s table.

Each figure comes from compiling the model as `firmnet compile` would: weight bytes (every
constant the C defines, in the board's ABI when a board is given) and MACs from the report;
with labelled data, the top-1 accuracy of the generated C (host build); with a board, the
flash of the linked firmware (or, when it cannot be linked here, the weights plus the
board's code estimate), the arena and the instructions of one inference estimated by the
kernels' cost model (kernels/select.estimated_instructions).
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass

from ..float_layers import FloatLayerWarning
from ..ir import FirmnetError
from .evaluate import Evaluation, compiled_accuracy

QUANT_OPS = ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger")


@dataclass(frozen=True)
class Figures:
    """One row of the table (None: not measured; error: why the model did not compile)."""
    weights_bytes: int | None = None
    macs: int | None = None
    requant: str | None = None          # the int8 arithmetic of a quantized model's C
    accuracy: float | None = None
    flash_bytes: int | None = None
    flash_linked: bool = False          # flash_bytes is the linked firmware's, not the estimate
    arena_bytes: int | None = None
    instructions: int | None = None     # cost-model estimate of one inference on the board
    error: str = ""


def is_quantized(model) -> bool:
    """Whether an onnx.ModelProto holds int8 layers (QDQ or QLinear/Integer ops)."""
    return any(n.op_type in QUANT_OPS for n in model.graph.node)


def measure(model, requant: str = "auto", evaluation: Evaluation | None = None, board: str | None = None,
            **options) -> Figures:
    """The figures of one model (onnx.ModelProto or path); with a board, the weight bytes are
    those of the board's ABI. options: further firmnet.compile options (a stage's). A model
    firmnet cannot compile gives a row with the reason."""
    from ..compiler import compile
    try:
        with tempfile.TemporaryDirectory(prefix="firmnet-measure-") as out, warnings.catch_warnings():
            warnings.simplefilter("ignore", FloatLayerWarning)   # the table is about sizes and accuracy
            figures = {}
            if evaluation is not None or board is None:
                cm = compile(model, f"{out}/host", name="measured", requant=requant, write=evaluation is not None,
                             **options)
                figures = {"weights_bytes": cm.report["weights_bytes"], "macs": cm.report["macs"]}
                if evaluation is not None:
                    figures["accuracy"] = compiled_accuracy(cm, evaluation)
            if board is not None:
                cm, on_board = _on_board(model, requant, board, out, options)
                figures.update(on_board)
    except FirmnetError as exc:
        return Figures(error=str(exc))
    quantized = any(t.quant is not None for t in cm.lowered_graph.types.values())
    return Figures(requant=cm.requant if quantized else None, **figures)


def _on_board(model, requant: str, board: str, work: str, options: dict):
    """The board's compiled model and its figures."""
    from ..boards import get_board
    from ..compiler import compile
    from ..firmware import board_info
    from ..kernels.select import estimated_instructions
    target = get_board(board)
    cm = compile(model, f"{work}/{target.name}", board=target.name, name="measured", requant=requant, **options)
    firmware = (board_info(cm.out_dir) or {}).get("firmware") or {}
    linked = bool(firmware.get("linked"))
    flash = firmware["flash"] if linked else cm.report["weights_bytes"] + target.code_estimate(cm.report)
    return cm, {"weights_bytes": cm.report["weights_bytes"], "macs": cm.report["macs"], "flash_bytes": flash,
                "flash_linked": linked, "arena_bytes": cm.report["arena_bytes"],
                "instructions": estimated_instructions(cm.lowered_graph, cm.lowered, target)}

"""fn_fc_s8_codebook_dsp (runtime_c/src/fn_fc_s8_codebook_dsp.c, contract in fn_s8_dsp.h):
fn_fc_s8_codebook's layers (the same bytes) on CPUs with the DSP extension, for a per-layer
codebook with 2- or 4-bit indices and a depth that is a multiple of 4: a table of the
codebook in the scratch (1 KB for 4-bit, 2 KB for 2-bit indices), two SMLADs per 4 weights;
indices stored pair-ordered, rows interleaved by blocks of 4 (params_codebook.rows4_interleaved).

Cost: codebook_costs.py (measured by bench/codebook.py) times _codebook.fc_terms."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall
from . import _codebook, _s8_dsp, fc_s8_codebook
# (dense, codebook) weight bytes, why: the codebook variants'
from ._codebook import flash, why  # noqa: F401
from .params_codebook import rows4_interleaved

NAME = "fn_fc_s8_codebook_dsp"
CODEBOOK = True


def supports(node, graph, target) -> str | None:
    reason = _s8_dsp.refuse_target(target) or fc_s8_codebook.supports(node, graph, target)
    if reason:
        return reason
    p = _codebook.palette(node, graph)
    if p.per_channel or p.bits == 8:
        return "per-channel codebook or 8-bit indices (a per-layer 2- or 4-bit codebook only)"
    if p.depth % 4:
        return f"{p.depth} inputs (a multiple of 4 only)"
    return None


def terms(node, graph) -> tuple:
    return _codebook.fc_terms(node, graph)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def scratch_bytes(node, graph) -> int:
    """The table of weight pairs (_s8_dsp.fc_codebook_scratch, = the C scratch size)."""
    return _s8_dsp.fc_codebook_scratch(fc_s8_codebook._params(node, graph)[0])


def call(node, graph) -> KernelCall:
    base = fc_s8_codebook.call(node, graph)
    p = _codebook.palette(node, graph)
    x, book, _, bias, y = base.args
    return KernelCall(NAME, "fn_s8_dsp.h", base.params_type, base.params,
                      (x, book, ConstArg(f"{node.inputs[1]}/indices_rows4", rows4_interleaved(p)), bias, y),
                      description=base.description.replace("codebook weights", "codebook weights (DSP: SMLAD on "
                                                           "a table of weight pairs)"))

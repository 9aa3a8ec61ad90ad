"""fn_conv2d_s8_codebook_dsp (runtime_c/src/fn_conv2d_s8_codebook_dsp.c, contract in
fn_s8_dsp.h): int8 convolutions with a per-layer 2- or 4-bit codebook on CPUs with the DSP
extension, 1x1 (KWS's pointwise layers, read in place) and general (one group, any filter,
stride, dilation, padding) alike, for a window (kernel_h * kernel_w * in_c) of up to
FN_CB_CONV_DEPTH values: 4 output pixels' windows widened into the scratch, each weight pair
looked up once in the codebook's table (fn_codebook_dsp_impl.h) for the 4 pixels; indices
pair-ordered, each row padded to a multiple of 4 (params_codebook.pair_ordered(pad=True):
flash() counts the padding). The same bytes as
fn_conv2d_s8_codebook (and fn_conv2d_s8 on the decoded filter).

Cost: codebook_costs.py (measured by bench/codebook.py) times terms(): (outputs, MACs of
the whole windows, padding included, taps gathered into the window buffer)."""
from __future__ import annotations

from ..lowering import ConstArg, KernelCall, params_of
from . import _codebook, _conv, _s8_dsp, conv2d_s8_codebook
from ._check import refusal
from .params_codebook import padded_nbytes, pair_ordered
from .params_requant import nest

NAME = "fn_conv2d_s8_codebook_dsp"
CODEBOOK = True


def supports(node, graph, target) -> str | None:
    reason = _s8_dsp.refuse_target(target)
    if reason:
        return reason
    if node.op != "conv2d":
        return "convolutions only"
    a = node.attrs
    if a.quant is None:
        return "float layer (int8 kernel)"
    if _conv.accumulates_only(node):
        return "int32 accumulator output (no output stage)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points"
    if a.layout != "NHWC":
        return "NCHW layout (runs after the layout pass)"
    if a.groups != 1:
        return f"{a.groups} groups (1 only)"
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant"
    b = _conv.bias(node)
    if b is not None and not graph.is_constant(b):
        return "bias is not a constant"
    reason = _codebook.palette_refusal(node, graph) or refusal(lambda: conv2d_s8_codebook._params(node, graph))
    if reason:
        return reason
    p = _codebook.palette(node, graph)
    if p.per_channel or p.bits == 8:
        return "per-channel codebook or 8-bit indices (a per-layer 2- or 4-bit codebook only)"
    if p.depth > _s8_dsp.FN_CB_CONV_DEPTH:
        return f"window of {p.depth} values (up to {_s8_dsp.FN_CB_CONV_DEPTH} only)"
    if padded_nbytes(p) >= p.rows * p.depth:
        return "indices padded to groups of 4 + codebook save no flash"
    return None


def flash(node, graph) -> tuple[int, int]:
    """(dense, codebook) bytes of the weight matrix: the rows of indices padded to groups of 4."""
    p = _codebook.palette(node, graph)
    return _codebook.matrix(node, graph).nbytes, padded_nbytes(p)


def why(node, graph, target=None) -> str:
    p = _codebook.palette(node, graph)
    dense, packed = flash(node, graph)
    form = "per channel" if p.per_channel else "per layer"
    return f"codebook K={p.used} ({p.bits}-bit indices, {form}), weights {packed:,} B (dense {dense:,} B)"


def terms(node, graph) -> tuple:
    """(outputs, MACs of whole windows rounded up to groups of 4, window taps gathered: 0 for
    a 1x1 layer read in place)."""
    a = node.attrs
    outputs = _conv.outputs(node, graph)
    p = _codebook.palette(node, graph)
    pixels = outputs // p.rows
    _, (_, kh, kw, cin) = _conv.shapes(node, graph)
    inplace = (kh, kw) == (1, 1) and a.strides == (1, 1) and a.pads == (0, 0, 0, 0) and cin % 4 == 0
    return (outputs, outputs * (-(-p.depth // 4) * 4), 0 if inplace else pixels * kh * kw)


def cost(node, graph, target) -> int:
    return _codebook.cost(NAME, node, graph, terms(node, graph))


def scratch_bytes(node, graph) -> int:
    """The table, 4 widened windows and an int8 window (_s8_dsp.conv_codebook_scratch, = the C
    scratch size)."""
    return _s8_dsp.conv_codebook_scratch(conv2d_s8_codebook._params(node, graph)[0])


def call(node, graph) -> KernelCall:
    params, arrays, p = conv2d_s8_codebook._params(node, graph)
    return KernelCall(NAME, "fn_s8_dsp.h", "fn_conv2d_s8_codebook_params", params_of(nest(params, arrays)),
                      (node.inputs[0], ConstArg(f"{node.inputs[1]}/codebook", p.codebook),
                       ConstArg(f"{node.inputs[1]}/indices_pairs", pair_ordered(p, pad=True)), _conv.bias(node),
                       node.outputs[0]),
                      description=f"int8 conv with codebook weights (K={p.used}, {p.bits}-bit indices; DSP: 4 "
                                  "pixels per looked-up weight pair)")

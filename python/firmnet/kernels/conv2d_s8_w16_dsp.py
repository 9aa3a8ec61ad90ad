"""fn_conv2d_s8_w16_dsp (runtime_c/src/fn_conv2d_s8_w16_dsp.c, contract and layout in
runtime_c/include/fn_conv2d_s8_w16_dsp.h): fn_conv2d_s8's layers (the same bytes) for one group
and symmetric weights on CPUs with the DSP extension, from weights widened to int16 and
interleaved at compile time (pack_filter): per output row the input rows not yet in the scratch
are widened into it (the right padding zero-filled there, the left padding not stored: the pixels
whose window starts in it are edge blocks), then 2 output channels x 2 pixels per block, 16 MACs
per 4 word pairs and 8 SMLADs; the output stage is fn_out6_s8 (fn_fixedpoint.h) where it applies.

Flash: 2 bytes per weight (in_c padded to a multiple of 4, out_c to even) against 1. The
variant refuses every layer of a model whose weights would not fit the board's flash if every
layer it (or a Winograd kernel, or fn_conv2d_1x1_s8_w16_dsp) could run took its larger weights
(flash_refusal): then the int8-weight kernels run the model.

Cost (instructions), fitted (least squares on relative error) to `python bench/kernels_qemu.py`
on mps2-an386 (its nine fn_conv2d_s8_w16_dsp rows: KWS 1x1 and 10x4/2, AD01's FCs as 1x1
convs, ResNet-8's five 3x3 layers; each estimate within 20 % of the measured figure, the 3x3
layers within 7 %), with S the inner steps (pixel pairs x channel pairs x kernel_h x kernel_w
x in_c_pad / 4: 16 MACs each; an odd pixel or channel counts as a pair) and B the blocks
(pixel pairs x channel pairs: output stage, widening and loop overhead):
    13.41 S + 115.4 B
"""
from __future__ import annotations

import weakref

import numpy as np

from ..lowering import ConstArg, KernelCall
from . import _conv, _s8_dsp, conv2d_s8

NAME = "fn_conv2d_s8_w16_dsp"
COEFFICIENTS = (13.41, 115.4)   # (S, B): bench/kernels_qemu.py, module docstring
MAX_DEPTH = 65536                  # FN_S8_MAX_DEPTH


def in_c_pad(in_c: int) -> int:
    """fn_w16_in_c_pad: in_c rounded up to a multiple of 4."""
    return (in_c + 3) // 4 * 4


def span_w(p: dict) -> int:
    """fn_w16_span_w (0 if not below 2^24)."""
    if min(p["out_w"], p["stride_w"], p["kernel_w"], p["dilation_w"]) < 1:
        return 0
    span = (p["out_w"] - 1) * p["stride_w"] + (p["kernel_w"] - 1) * p["dilation_w"] + 1
    return span if span < 2**24 else 0


def cols(p: dict) -> int:
    """fn_w16_cols: the columns from input column 0 to the last one an output row reads,
    span_w - pad_left (>= 0; those past in_w are the right padding)."""
    return max(0, span_w(p) - p["pad_left"])


def scratch(p: dict) -> int:
    """fn_conv2d_s8_w16_dsp_scratch_size: the kernel_h widened rows, columns 0 .. cols(p) - 1."""
    span = span_w(p)
    if (p["groups"] != 1 or span == 0 or not 1 <= p["in_c"] <= MAX_DEPTH or not 1 <= p["kernel_h"] <= MAX_DEPTH
            or not 1 <= p["out_c"] <= MAX_DEPTH):
        return 0
    size = 2 * p["kernel_h"] * max(cols(p), 1) * in_c_pad(p["in_c"])
    return size if size < 2**31 - 1 else 0


def pack_filter(w: np.ndarray) -> np.ndarray:
    """The OHWI int8 filter as the kernel reads it (fn_conv2d_s8_w16_dsp.h): int16
    [out_c_pad / 2][kw][kh][in_c_pad / 4][2][4], each group of 4 input channels in the order
    (0, 2, 1, 3), padding channels 0."""
    oc, kh, kw, ci = w.shape
    ocp, cip = oc + (oc & 1), in_c_pad(ci)
    full = np.zeros((ocp, kh, kw, cip), np.int16)
    full[:oc, :, :, :ci] = w
    g = full.reshape(ocp // 2, 2, kh, kw, cip // 4, 4)[..., [0, 2, 1, 3]]
    return np.ascontiguousarray(g.transpose(0, 3, 2, 4, 1, 5))


def flash(node, graph) -> tuple[int, int]:
    """(int8, int16) bytes of the layer's weights."""
    oc, kh, kw, ci = _conv.shapes(node, graph)[1]
    return oc * kh * kw * ci, 2 * (oc + (oc & 1)) * kh * kw * in_c_pad(ci)


def _shape_refusal(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or conv2d_s8.supports(node, graph, target)
    if refused:
        return refused
    if node.op != "conv2d":
        return "convolutions only"
    if node.attrs.layout != "NHWC":
        return "NCHW layout (runs after the layout pass)"
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant (widened at compile time)"
    if _conv.has_weight_zero_point(node):
        return "weights with zero points (symmetric weights only)"
    p, _ = _conv.general_params(node, graph)
    if p["groups"] != 1:
        return f"{p['groups']} groups (1 only)"
    if scratch(p) == 0:
        return "rows too wide for the scratch"
    return None


# graph id -> (weak reference to the graph, {(target name, flash bytes): flash_refusal's answer}):
# the answer is model-wide, and the selection asks every layer's candidates several times
_FLASH_CACHE: dict = {}


def flash_refusal(node, graph, target) -> str | None:
    """The model-wide flash check: None if the board has no flash size or the weights fit it
    with every layer this variant takes in int16 (or in Winograd's larger form where that is
    larger), else the reason."""
    limit_bytes = getattr(target, "code_flash_bytes", None)
    if not limit_bytes:
        return None
    ref, answers = _FLASH_CACHE.get(id(graph), (None, None))
    if ref is None or ref() is not graph:
        answers = {}
        _FLASH_CACHE.clear()   # one model at a time
        _FLASH_CACHE[id(graph)] = (weakref.ref(graph), answers)
    key = (target.name, limit_bytes)
    if key not in answers:
        answers[key] = _flash_refusal(graph, target, limit_bytes)
    return answers[key]


def _flash_refusal(graph, target, limit_bytes) -> str | None:
    from ..boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
    from . import conv2d_1x1_s8_w16_dsp
    from .conv2d_s8_winograd import CONV2D_S8_WINOGRAD
    limit = limit_bytes - CODE_ESTIMATE_BASE - CODE_ESTIMATE_PER_STEP * len(graph.nodes)
    total = sum(a.nbytes for a in graph.constants.values())
    extra = 0
    for n in graph.nodes:
        if n.op != "conv2d":
            continue
        grow = 0
        if _shape_refusal(n, graph, target) is None:
            small, big = flash(n, graph)
            grow = big - small
        if conv2d_1x1_s8_w16_dsp.shape_refusal(n, graph, target) is None:   # its own int16 form
            small, big = conv2d_1x1_s8_w16_dsp.flash(n, graph)
            grow = max(grow, big - small)
        if CONV2D_S8_WINOGRAD.supports(n, graph, target) is None:
            direct, wino = CONV2D_S8_WINOGRAD.flash(n, graph)
            grow = max(grow, wino - direct)
        extra += grow
    if total + extra <= limit:
        return None
    return (f"int16 weights would not fit {target.name}'s flash ({total + extra:,} B of weights with every "
            f"widened layer, {limit:,} B free)")


def supports(node, graph, target) -> str | None:
    return _shape_refusal(node, graph, target) or flash_refusal(node, graph, target)


def why(node, graph, target) -> str:
    small, big = flash(node, graph)
    return f"one group, int16 weights {big:,} B (int8 {small:,} B), DSP"


def terms(node, graph) -> tuple[int, int]:
    """(S, B) of the cost model (module docstring)."""
    p, _ = _conv.general_params(node, graph)
    blocks = p["batch"] * p["out_h"] * -(-p["out_w"] // 2) * -(-p["out_c"] // 2)
    return blocks * p["kernel_h"] * p["kernel_w"] * in_c_pad(p["in_c"]) // 4, blocks


def cost(node, graph, target) -> int:
    return round(sum(c * t for c, t in zip(COEFFICIENTS, terms(node, graph), strict=True)))


def scratch_bytes(node, graph) -> int:
    return scratch(_conv.general_params(node, graph)[0])


def call(node, graph) -> KernelCall:
    packed = pack_filter(graph.constants[node.inputs[1]])
    return KernelCall(NAME, "fn_conv2d_s8_w16_dsp.h", "fn_conv2d_s8_params", _conv.general_struct(node, graph),
                      _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/w16", packed)),
                      description="int8 conv, int16 weights, DSP (SMLAD, 2 channels x 2 pixels)")

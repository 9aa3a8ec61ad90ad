"""What the codebook variants (fc_s8_codebook.py, fc_f32_codebook.py, conv2d_s8_codebook.py,
conv2d_f32_codebook.py) share: the layers they take, the palette of a layer's weights
(params_codebook.palettize: per layer or per output channel, 2/4/8-bit indices), its flash
against the dense matrix, the report's reason, and the cost of a call: coefficients
bench/codebook.py measured on mps2-an386 (codebook_costs.py) times the variant's terms.

A layer is palettized when its constant weights hold at most 256 distinct values per layer
(or per output channel) and the packed indices + codebook take less flash than the dense
matrix: a codebook ONNX model (README "Codebook weights") always does after loading
(its Gather of constants folds to the decoded weight, whose values are the codebook's),
and so does any other weight with few values. Ordinary int8 weights (up to 256 values, 8-bit
indices + a table) save nothing and are refused.

Terms of the fully connected variants, for O outputs and M multiply-accumulates: (O, M in
blocks of 4 input rows, M of single rows); of the convolutions: (O, M over the in-bounds taps).
"""
from __future__ import annotations

import numpy as np

from . import _conv, _csr, codebook_costs
from .params_codebook import Palette, palettize


def matrix(node, graph) -> np.ndarray:
    """The weights as [out channels, depth] (OHWI filters flattened)."""
    return _csr.matrix(node, graph)


def palette(node, graph) -> Palette | None:
    return palettize(matrix(node, graph))


def palette_refusal(node, graph) -> str | None:
    """None if the layer's constant weights pack smaller as a codebook."""
    p = palette(node, graph)
    if p is None:
        return "more than 256 distinct weight values (not palettized)"
    dense = matrix(node, graph).nbytes
    if p.nbytes >= dense:
        return f"{p.used} distinct weight values: {p.bits}-bit indices + codebook save no flash ({p.nbytes:,} B vs {dense:,} B)"
    return None


def fc_refusal(node, graph) -> str | None:
    """None for a fully connected layer or an unpadded stride-1 one-group 1x1 convolution
    (NHWC) with constant palettized weights."""
    return _csr.shape_refusal(node, graph) or palette_refusal(node, graph)


def conv_refusal(node, graph) -> str | None:
    """None for a one-group NHWC convolution with constant palettized weights that the fully
    connected variants do not take."""
    a = node.attrs
    if node.op != "conv2d":
        return "convolutions only"
    if a.layout != "NHWC":
        return "NCHW layout (runs after the layout pass)"
    if a.groups != 1:
        return f"{a.groups} groups (1 only)"
    _, (_, kh, kw, _) = _conv.shapes(node, graph)
    if (kh, kw) == (1, 1) and a.strides == (1, 1) and a.pads == (0, 0, 0, 0):
        return "1x1, stride 1, unpadded (the codebook fully connected kernel's)"
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant"
    b = _conv.bias(node)
    if b is not None and not graph.is_constant(b):
        return "bias is not a constant"
    return palette_refusal(node, graph)


def flash(node, graph) -> tuple[int, int]:
    """(dense, codebook) bytes of the weight matrix."""
    return matrix(node, graph).nbytes, palette(node, graph).nbytes


def scratch_bytes(node, graph) -> int:
    """No buffer: each weight is looked up where it is multiplied."""
    return 0


def why(node, graph, target=None) -> str:
    p = palette(node, graph)
    dense, packed = flash(node, graph)
    form = "per channel" if p.per_channel else "per layer"
    return (f"codebook K={p.used} ({p.bits}-bit indices, {form}), weights {packed:,} B (dense {dense:,} B)")


def fc_terms(node, graph) -> tuple:
    """(outputs, MACs of the 4-row blocks, MACs of single rows) of a fully connected variant."""
    rows = _csr.rows_in(node, graph)
    w = matrix(node, graph)
    blocked = rows - rows % 4
    return (rows * w.shape[0], blocked * w.size, (rows - blocked) * w.size)


def conv_terms(node, graph) -> tuple:
    """(outputs, MACs over the in-bounds taps) of a convolution variant."""
    return (_conv.outputs(node, graph), _inside_macs(node, graph))


def _inside_macs(node, graph) -> int:
    """MACs of the taps inside the input (the kernels skip those in the padding)."""
    a = node.attrs
    (n, h, w, _), (oc, kh, kw, cin) = _conv.shapes(node, graph)
    _, oh, ow, _ = graph.types[node.outputs[0]].shape

    def inside(out, stride, pad, k, d, size):
        return sum(1 for o in range(out) for t in range(k) if 0 <= o * stride - pad + t * d < size)
    taps = inside(oh, a.strides[0], a.pads[0], kh, a.dilations[0], h) * \
        inside(ow, a.strides[1], a.pads[1], kw, a.dilations[1], w)
    return n * taps * oc * cin


def cost(kernel: str, node, graph, terms: tuple) -> int:
    """Instructions: the kernel's coefficients for the layer's index width times its terms."""
    coefficients = codebook_costs.coefficients(kernel, palette(node, graph).bits)
    return round(sum(c * t for c, t in zip(coefficients, terms, strict=True)))

"""What the CSR variants (fc_s8_csr.py, fc_f32_csr.py, conv2d_s8_csr.py, conv2d_f32_csr.py) share: the layers
the fully connected ones take (fully connected, and 1x1 convolutions as a fully connected
layer over the pixels), the weights as a [rows, cols] matrix, its packing, and the cost of a
call: coefficients bench/sparse.py measured on each emulated board (csr_costs.py) times the
variant's cost terms (its terms(node, graph), which the bench fits them to).

Terms of the fully connected variants, for R output channels, P input rows (pixels) and E
stored entries (nonzeros plus escape fillers): (1, R * P, E * ceil(P / 4), E * P): per call,
per output, per entry decoded (once per block of 4 rows) and per entry multiplied.
Terms of the convolution variants, for E stored entries: (outputs, E x windows inside the
input, E x windows reaching into the padding), the latter decoding each column; the int8
kernel splits the inside windows into blocks of 4 (one decode for 4) and single ones
(conv_terms). No per-call term: the few layer shapes measured would let it absorb the others.
"""
from __future__ import annotations

import math

import numpy as np

from . import _conv, csr_costs
from .params_csr import CsrMatrix, dense_nbytes, pack_conv, pack_csr

def shape_refusal(node, graph) -> str | None:
    """None for a fully connected layer or a 1x1 convolution with stride 1, no padding and
    one group in NHWC, whose weights (and bias) are constants."""
    a = node.attrs
    if node.op == "conv2d":
        if a.layout != "NHWC":
            return "NCHW layout (runs after the layout pass)"
        _, (_, kh, kw, _) = _conv.shapes(node, graph)
        if (kh, kw) != (1, 1):
            return f"{kh}x{kw} filter (1x1 only)"
        if a.groups != 1:
            return f"{a.groups} groups (1 only)"
        if a.strides != (1, 1) or a.dilations != (1, 1):
            return "strided or dilated (stride 1 only)"
        if a.pads != (0, 0, 0, 0):
            return "padded (no padding only)"
    elif node.op != "dense":
        return "fully connected and 1x1 convolutions only"
    return _constants_refusal(node, graph)


def _constants_refusal(node, graph) -> str | None:
    """None if the weights (and the bias, if any) are constants: CSR packs them at compile time."""
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant"
    bias = _conv.bias(node)
    if bias is not None and not graph.is_constant(bias):
        return "bias is not a constant"
    return None


def matrix(node, graph) -> np.ndarray:
    """The weights as [out channels, in features] (OHWI 1x1 filters flattened)."""
    w = graph.constants[node.inputs[1]]
    return np.asarray(w).reshape(w.shape[0], -1)


def rows_in(node, graph) -> int:
    """P: input rows of the matrix product (batch, or pixels of a 1x1 convolution)."""
    (n, h, w, _), _ = _conv.shapes(node, graph)
    return n * h * w


def packed(node, graph) -> CsrMatrix:
    return pack_csr(matrix(node, graph))


def terms(node, graph) -> tuple:
    """The fully connected variants' cost terms (above)."""
    m = packed(node, graph)
    p = rows_in(node, graph)
    return (1, m.rows * p, m.entries * math.ceil(p / 4), m.entries * p)


def estimate(kernel: str, cost_terms: tuple, target) -> int:
    """Instructions: the kernel's coefficients on the target's CPU times its cost terms."""
    return round(sum(c * t for c, t in zip(csr_costs.coefficients(kernel, target), cost_terms, strict=True)))


def density(node, graph) -> float:
    """Nonzero weights / all weights (the report; any variant's layer)."""
    w = graph.constants[node.inputs[1]]
    return float(np.count_nonzero(w)) / w.size


def scratch_bytes(node, graph) -> int:
    """The CSR kernels keep no buffer."""
    return 0


def flash(node, graph) -> tuple[int, int]:
    """(dense, CSR) bytes of the weight matrix."""
    w = matrix(node, graph)
    return dense_nbytes(w.shape, w.dtype.itemsize), packed(node, graph).nbytes


def why(node, graph, target=None) -> str:
    dense, csr = flash(node, graph)
    return f"CSR, density {density(node, graph):.0%}, weights {csr:,} B (dense {dense:,} B)"


# ---------------------------------------------------------------- convolutions


def conv_refusal(node, graph) -> str | None:
    """None for a one-group NHWC convolution with constant weights (and bias) that the fully
    connected variants do not take (1x1, stride 1, unpadded)."""
    a = node.attrs
    if node.op != "conv2d":
        return "convolutions only"
    if a.layout != "NHWC":
        return "NCHW layout (runs after the layout pass)"
    if a.groups != 1:
        return f"{a.groups} groups (1 only)"
    _, (_, kh, kw, _) = _conv.shapes(node, graph)
    if (kh, kw) == (1, 1) and a.strides == (1, 1) and a.pads == (0, 0, 0, 0):
        return "1x1, stride 1, unpadded (the CSR fully connected kernel's)"
    return _constants_refusal(node, graph)


def conv_packed(node, graph) -> CsrMatrix:
    x_shape, _ = _conv.shapes(node, graph)
    return pack_conv(graph.constants[node.inputs[1]], x_shape[2], x_shape[3], node.attrs.dilations)


def conv_flash(node, graph) -> tuple[int, int]:
    w = graph.constants[node.inputs[1]]
    return dense_nbytes(w.shape, w.dtype.itemsize), conv_packed(node, graph).nbytes


def _inside(out, stride, pad, span, size) -> int:
    """Windows of one axis that lie inside the input."""
    return sum(1 for o in range(out) if 0 <= o * stride - pad and o * stride - pad + span < size)


def _row_windows(out_w, stride, pad, span, size) -> tuple[int, int, int]:
    """(blocks of 4, single inside, padded) windows of one row of windows inside the input
    rows, walked as fn_conv2d_s8_csr walks them."""
    blocks = single = padded = 0
    ox = 0
    while ox < out_w:
        ix0 = ox * stride - pad
        inside = ix0 >= 0 and ix0 + span < size
        if inside and ox + 4 <= out_w and ix0 + 3 * stride + span < size:
            blocks, ox = blocks + 1, ox + 4
            continue
        single, padded, ox = single + inside, padded + (not inside), ox + 1
    return blocks, single, padded


def conv_terms(node, graph, blocked: bool = False) -> tuple:
    """(outputs, E x inside windows, E x padded windows), or with blocked (the int8 kernel's 4
    inside windows at a time) (outputs, E x blocks of 4, E x single inside windows, E x padded
    windows)."""
    a = node.attrs
    (n, h, w, _), (oc, kh, kw, _) = _conv.shapes(node, graph)
    _, oh, ow, _ = graph.types[node.outputs[0]].shape
    rows_in = _inside(oh, a.strides[0], a.pads[0], (kh - 1) * a.dilations[0], h)
    e = conv_packed(node, graph).entries
    windows = n * oh * ow
    blocks, single, _ = _row_windows(ow, a.strides[1], a.pads[1], (kw - 1) * a.dilations[1], w)
    blocks, single = n * rows_in * blocks, n * rows_in * single
    padded = windows - 4 * blocks - single
    if blocked:
        return (windows * oc, e * blocks, e * single, e * padded)
    return (windows * oc, e * (4 * blocks + single), e * padded)


def conv_why(node, graph, target=None) -> str:
    dense, csr = conv_flash(node, graph)
    return f"CSR conv, density {density(node, graph):.0%}, weights {csr:,} B (dense {dense:,} B)"

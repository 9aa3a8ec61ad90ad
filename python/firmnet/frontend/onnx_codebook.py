"""Palettized (codebook) weights in ONNX: the form firmnet reads (README "Codebook weights",
compress/codebook.py writes it):

    float:  W = Gather(codebook, indices)                     feeding a Conv/Gemm/MatMul weight
    int8:   W = DequantizeLinear(Gather(codebook, indices), scale, zero_point)

with a constant 1-D codebook (float32, or int8/uint8 under DequantizeLinear), constant
integer indices in [0, len(codebook)) and Gather's axis 0. A codebook longer than 256 is
per channel: C_out * K entries, output channel c's K values at c * K .. c * K + K - 1, and
every index of channel c in that range (C_out along the layer's output axis: Conv 0,
Gemm 0 with transB=1 else 1, MatMul 1).

The loader checks a weight Gather against this form (check_codebook), then folds it like any
constant Gather: the layers see the decoded weight, whose values are the codebook's, and the
codebook kernels (kernels/_codebook.py) pack it back into indices + codebook. A layer no
codebook kernel takes runs the dense weight.
"""
from __future__ import annotations

import numpy as np

from ..ir import FirmnetError

MAX_SHARED = 256   # a per-layer codebook's largest size (8-bit indices)


def weight_gathers(model) -> dict[str, tuple]:
    """{Gather output: (layer node, weight under DequantizeLinear)} for every Gather whose
    output is a Conv/Gemm/MatMul weight, directly or through a DequantizeLinear."""
    producers = {o: n for n in model.graph.node for o in n.output}
    found = {}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        src, under_dq = producers.get(node.input[1]), False
        if src is not None and src.op_type == "DequantizeLinear":
            src, under_dq = producers.get(src.input[0]), True
        if src is not None and src.op_type == "Gather":
            found[src.output[0]] = (node, under_dq)
    return found


def _out_axis(layer, ndim: int) -> int:
    if layer.op_type == "Conv":
        return 0
    if layer.op_type == "Gemm":
        trans_b = next((a.i for a in layer.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return ndim - 1


def check_codebook(constants: dict, node, layer, under_dq: bool) -> None:
    """Raise FirmnetError (the caller adds the node's label) where the Gather feeding layer's
    weight is not the documented codebook form."""
    what = f"palettized weight of '{layer.name or layer.output[0]}' ({layer.op_type})"
    for role, name in (("codebook", node.input[0]), ("indices", node.input[1])):
        if name not in constants:
            raise FirmnetError(f"{what}: its {role} '{name}' is computed at run time; the codebook form needs a "
                               "constant codebook and constant indices (README 'Codebook weights')")
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    book, idx = np.asarray(constants[node.input[0]]), np.asarray(constants[node.input[1]])
    if axis != 0 or book.ndim != 1:
        raise FirmnetError(f"{what}: the codebook must be 1-D and gathered along axis 0 (got shape "
                           f"{list(book.shape)}, axis {axis})")
    want = ("int8", "uint8") if under_dq else ("float32",)
    if str(book.dtype) not in want:
        raise FirmnetError(f"{what}: a codebook {'under DequantizeLinear ' if under_dq else ''}holds "
                           f"{' or '.join(want)} values, got {book.dtype}")
    if idx.dtype.kind not in "iu":
        raise FirmnetError(f"{what}: the indices must be integers, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= book.size):
        raise FirmnetError(f"{what}: indices from {idx.min()} to {idx.max()} are out of the codebook's "
                           f"{book.size} entries (valid: 0..{book.size - 1})")
    if book.size <= MAX_SHARED or not idx.ndim:
        return
    channels = idx.shape[_out_axis(layer, idx.ndim)]
    k = book.size // channels
    channel = np.moveaxis(idx, _out_axis(layer, idx.ndim), 0).reshape(channels, -1) // max(k, 1)
    if book.size % channels or k > MAX_SHARED or not np.all(channel == np.arange(channels)[:, None]):
        raise FirmnetError(f"{what}: a codebook of {book.size} entries is per output channel: {channels} channels "
                           f"x K <= {MAX_SHARED} entries, and channel c's indices in c*K .. c*K + K - 1 "
                           "(a per-layer codebook holds at most 256)")

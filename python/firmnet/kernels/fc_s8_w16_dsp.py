"""fn_fc_s8_w16_dsp (runtime_c/src/fn_fc_s8_w16_dsp.c, contract and layout in
runtime_c/include/fn_fc_s8_w16_dsp.h): fn_fc_s8's layers (the same bytes) with symmetric
constant weights on CPUs with the DSP extension, from weights widened to int16 and interleaved
at compile time (pack): per input row the row is widened once into the scratch (or, in the direct
mode, per group of 4 inputs in registers), then 4 output channels per block, 16 MACs per 5
word-pair loads (LDRD) and 8 SMLADs; the output stage is
fn_out6_s8 (fn_fixedpoint.h) from a per-channel table packed after each block's weights, where
it applies.

Flash: 2 bytes per weight (in_features padded to a multiple of 4, out_features to one of 4)
plus 16 bytes per output channel (the table) against 1 byte per weight. The variant refuses
every layer of a model whose weights would not fit the board's flash with every widened layer
(conv2d_s8_w16_dsp.flash_refusal, which counts these layers too).

Modes (widened): a layer runs with its row widened into the scratch (13 instructions per 16
MACs) where that scratch plus the layer's input and output fit under the model's arena floor
(the largest input + output of any layer), so that it does not raise the arena; else in the
direct mode (no scratch, each group of 4 inputs widened in registers per block: 15 per 16 MACs,
29 per 32 where the row is word-aligned: one LDRD of 8 inputs).
AD01: its 640-input and 640-output layers run direct, the others widened (arena 768 B).

Cost (instructions), fitted (least squares on relative error, each within 0.5 %) to
`python bench/kernels_qemu.py` on mps2-an386 (its fn_fc_s8_w16_dsp rows: AD01's 640 -> 128,
128 -> 128, 128 -> 8, 8 -> 128 and 128 -> 640 layers, in each mode), with S the inner steps
(batch x blocks of 4 outputs x groups of 4 inputs: 16 MACs each), B the blocks (batch x
blocks: output stage and loop overhead), R the rows' inputs (batch x in_features: widening)
and a call overhead:
    widened  13.00 S + 56.75 B + 3.54 R + 1.8      (640 -> 128: 70,960, 0.866 per MAC)
    direct   14.48 S + 61.76 B + 1.78 R + 1.9      (640 -> 128: 77,400, 0.945 per MAC)
"""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArg, KernelCall
from . import _conv, _s8_dsp, conv2d_s8_w16_dsp, fc_s8

NAME = "fn_fc_s8_w16_dsp"
WIDENED = True   # flash() = (int8 bytes, packed bytes): select.py reports the packed ones
COEFFICIENTS = {True: (13.00, 56.75, 3.54, 1.8),    # widened (S, B, R, call): bench/kernels_qemu.py,
                False: (14.48, 61.76, 1.78, 1.9)}   # direct; module docstring
OUT6_DEPTH = 16384                       # FN_FC_W16_OUT6_DEPTH
OUT6_LIMIT = 2**29                       # FN_OUT6_LIMIT


def in_pad(k: int) -> int:
    """fn_fc_w16_in_pad: in_features rounded up to a multiple of 4."""
    return (k + 3) // 4 * 4


def scratch(p: dict) -> int:
    """fn_fc_s8_w16_dsp_scratch_size: the widened row, 2 bytes per input (padded), rounded up to 8."""
    k = p["in_features"]
    if not 1 <= k <= conv2d_s8_w16_dsp.MAX_DEPTH:
        return 0
    return (2 * in_pad(k) + 7) // 8 * 8


def out6_table(params: dict, arrays: dict, bias) -> np.ndarray | None:
    """int32 [out_features, 4]: fn_out6_s8_init's (bias2, multiplier, addend, shift) per output
    channel, or None where the six-instruction stage does not apply to every channel (mode,
    clamp, shift, bias or depth out of its domain: fn_fixedpoint.h)."""
    rq, n = params["requant"], params["out_features"]
    if (int(rq["mode"]) != 0 or rq["act_min"] != -128 or rq["act_max"] != 127
            or in_pad(params["in_features"]) > OUT6_DEPTH):
        return None
    mult = np.broadcast_to(np.asarray(arrays["multiplier"], np.int64), (n,))
    shift = np.broadcast_to(np.asarray(arrays["shift"], np.int64), (n,))
    b = np.zeros(n, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(n)
    if np.any((shift > -1) | (shift < -22)) or np.any(np.abs(b) >= OUT6_LIMIT):
        return None
    k = -shift - 1
    addend = (1 << k) + int(rq["output_offset"]) * (2 << k)
    return np.stack([2 * b, mult, addend, k + 1], axis=1).astype(np.int32)


def pack(w: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """The [out, in] int8 weights and the output-stage table (or None: zeros) as the kernel reads
    them (fn_fc_s8_w16_dsp.h): int16, per block of 4 channels [in_pad / 4][4][4] weights (each
    group of 4 inputs in the order (0, 2, 1, 3)), then [4][4] int32 as int16 halves."""
    m, k = w.shape
    mp, kp = -(-m // 4) * 4, in_pad(k)
    full = np.zeros((mp, kp), np.int16)
    full[:m, :k] = w
    g = full.reshape(mp // 4, 4, kp // 4, 4)[..., [0, 2, 1, 3]].transpose(0, 2, 1, 3).reshape(mp // 4, 4 * kp)
    t = np.zeros((mp, 4), np.int32)
    if table is not None:
        t[:m] = table
    halves = t.reshape(mp // 4, 16).view(np.uint32).astype(np.uint32)
    lo, hi = (halves & 0xFFFF).astype(np.uint16), (halves >> 16).astype(np.uint16)
    tab = np.stack([lo, hi], axis=2).reshape(mp // 4, 32).view(np.int16)
    return np.ascontiguousarray(np.concatenate([g, tab], axis=1).ravel())


def flash(node, graph) -> tuple[int, int]:
    """(int8, packed) bytes of the layer's weights (the packed ones with the table)."""
    m, k = graph.types[node.inputs[1]].shape
    return m * k, 2 * (-(-m // 4)) * (4 * in_pad(k) + 32)


def _shape_refusal(node, graph, target) -> str | None:
    refused = _s8_dsp.refuse_target(target) or fc_s8.supports(node, graph, target)
    if refused:
        return refused
    if not graph.is_constant(node.inputs[1]):
        return "weights are not a constant (widened at compile time)"
    if len(graph.types[node.inputs[1]].shape) != 2:
        return "weights are not a matrix"
    return None


def supports(node, graph, target) -> str | None:
    return _shape_refusal(node, graph, target) or conv2d_s8_w16_dsp.flash_refusal(node, graph, target)


def why(node, graph, target) -> str:
    small, big = flash(node, graph)
    return f"fully connected, int16 weights {big:,} B (int8 {small:,} B; with the output-stage table), DSP"


def terms(node, graph) -> tuple[int, int, int, int]:
    """(S, B, R, 1) of the cost model (module docstring)."""
    p, _ = fc_s8._params(node, graph)
    blocks = p["batch"] * -(-p["out_features"] // 4)
    return blocks * in_pad(p["in_features"]) // 4, blocks, p["batch"] * p["in_features"], 1


def cost(node, graph, target) -> int:
    coefficients = COEFFICIENTS[widened(node, graph)]
    return round(sum(c * t for c, t in zip(coefficients, terms(node, graph), strict=True)))


def widened(node, graph) -> bool:
    """Whether the layer runs in the widened mode (its row widened into the scratch): when the
    scratch fits under the model's arena floor (ARENA_FLOOR), else the direct mode (no scratch)."""
    x, y = graph.types[node.inputs[0]], graph.types[node.outputs[0]]
    return x.nbytes + y.nbytes + scratch(fc_s8._params(node, graph)[0]) <= arena_floor(graph)


def arena_floor(graph) -> int:
    """The largest input + output bytes of a layer (constants aside): a lower bound of most plans'
    arenas, which a scratch below it does not raise."""
    return max((sum(graph.types[t].nbytes for t in (*n.inputs, *n.outputs) if t and not graph.is_constant(t))
                for n in graph.nodes), default=0)


def scratch_bytes(node, graph) -> int:
    return scratch(fc_s8._params(node, graph)[0]) if widened(node, graph) else 0


def call(node, graph) -> KernelCall:
    params, arrays = fc_s8._params(node, graph)
    bias = _conv.bias(node)
    table = None if bias and bias not in graph.constants else \
        out6_table(params, arrays, graph.constants[bias] if bias else None)
    packed = pack(graph.constants[node.inputs[1]], table)
    base = fc_s8.call(node, graph)
    args = _conv.tensor_args(node, ConstArg(f"{node.inputs[1]}/w16", packed))
    if not widened(node, graph):
        args += (None,)   # scratch NULL: the direct mode
    return KernelCall(NAME, "fn_fc_s8_w16_dsp.h", base.params_type, base.params, args,
                      description="int8 fully connected, int16 weights, DSP (SMLAD, 4 channels)")

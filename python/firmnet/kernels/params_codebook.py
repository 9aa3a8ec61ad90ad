"""Parameter structs of the codebook kernels (runtime_c/include/fn_codebook.h,
fn_fc_s8_codebook.h, fn_fc_f32_codebook.h, fn_conv2d_s8_codebook.h, fn_conv2d_f32_codebook.h):
a weight matrix as packed indices into a codebook, and the kernels' structs. The C
interface, not the arithmetic: the tests compare the kernels with the dense numpy
reference on the decoded weights.

The codebook is derived from the constant the compiler holds (the distinct values of the
matrix, or of each row), not carried from the ONNX file: the layout pass's transposes and
BatchNorm folding change the weights after loading, and any weight with few distinct values
(a palettized model, but also a ternary one) packs the same way. Index width: the fewest
of 2, 4, 8 bits that number the values; per-channel codebooks where they make the layer
smaller (fewer bits per index pays for the larger table).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import params_conv_s8 as kp
from .params_conv_f32 import conv_geometry
from .params_csr import fold_input_offset

BITS = (2, 4, 8)


@dataclass(frozen=True)
class Palette:
    """A [rows, depth] matrix as fn_codebook.h holds it."""
    rows: int
    depth: int
    bits: int
    per_channel: bool
    codebook: np.ndarray     # [(rows if per_channel else 1) << bits], the matrix's dtype
    indices: np.ndarray      # uint8 [rows * row_bytes]
    used: int                # codewords in use (the largest count of one codebook)

    @property
    def row_bytes(self) -> int:
        return (self.depth * self.bits + 7) // 8

    @property
    def nbytes(self) -> int:
        """Flash of the weights: packed indices + codebook."""
        return int(self.codebook.nbytes + self.indices.nbytes)

    @property
    def k(self) -> int:
        return 1 << self.bits


def bits_for(values: int) -> int | None:
    """Index bits numbering this many codewords (None above 256)."""
    return next((b for b in BITS if values <= 1 << b), None)


def pack_indices(idx: np.ndarray, bits: int) -> np.ndarray:
    """uint8 bytes of a [rows, depth] index matrix: each row packed lowest bits first into
    ceil(depth * bits / 8) bytes (fn_codebook.h)."""
    idx = np.asarray(idx, np.uint8)
    rows, depth = idx.shape
    per = 8 // bits
    padded = np.zeros((rows, -(-depth // per) * per), np.uint8)
    padded[:, :depth] = idx
    groups = padded.reshape(rows, -1, per).astype(np.uint32)
    shifts = (np.arange(per, dtype=np.uint32) * bits)
    return (groups << shifts).sum(axis=2).astype(np.uint8).reshape(-1)


def _keys(w: np.ndarray) -> np.ndarray:
    """Values compared bit for bit (a float's -0.0 and 0.0 stay apart)."""
    return w.view(np.uint32) if w.dtype == np.float32 else w


def _palette(w: np.ndarray, per_channel: bool) -> Palette | None:
    rows, depth = w.shape
    groups = w if per_channel else w.reshape(1, -1)
    found = [np.unique(_keys(np.ascontiguousarray(g)), return_inverse=True) for g in groups]
    used = max(u.size for u, _ in found)
    bits = bits_for(used)
    if bits is None:
        return None
    book = np.zeros((len(groups), 1 << bits), w.dtype)
    for g, (u, _) in enumerate(found):
        book[g, :u.size] = u.view(w.dtype) if w.dtype == np.float32 else u
    idx = np.concatenate([inv.reshape(-1) for _, inv in found]).reshape(rows, depth)
    return Palette(rows, depth, bits, per_channel, book.reshape(-1), pack_indices(idx, bits), used)


def palettize(w) -> Palette | None:
    """The smaller of the per-layer and per-channel palettes of the [rows, depth] matrix w
    (per layer on a tie), or None when a row holds more than 256 distinct values."""
    w = np.asarray(w)
    if w.ndim != 2 or min(w.shape) < 1:
        raise ValueError(f"codebook: the weights must be a [rows, depth] matrix, got shape {w.shape}")
    options = [p for p in (_palette(w, False), _palette(w, True)) if p is not None]
    return min(options, key=lambda p: p.nbytes) if options else None


def dense_nbytes(w) -> int:
    return int(np.asarray(w).nbytes)


def _fields(p: Palette) -> dict:
    return {"bits": p.bits, "per_channel": int(p.per_channel)}


def _require(w) -> Palette:
    p = palettize(w)
    if p is None:
        raise ValueError("codebook: a row holds more than 256 distinct weight values (8-bit indices at most)")
    return p


def fc_s8_codebook_params(x_shape, w, bias=None, *, input_scale, input_zero_point, weight_scales, output_scale,
                          output_zero_point, act=(kp.INT8_MIN, kp.INT8_MAX), mode: str = "tflm"):
    """(fn_fc_s8_codebook_params fields with the requantization block, its arrays, the
    palette, the folded bias) for x [N, K] and int8 w [M, K] (zero point 0)."""
    w = np.asarray(w)
    if w.dtype != np.int8:
        raise ValueError(f"codebook int8: the weights must be int8, got {w.dtype}")
    fc, arrays = kp.fc_s8_params(x_shape, w.shape, input_scale=input_scale, input_zero_point=input_zero_point,
                                 weight_scales=weight_scales, output_scale=output_scale,
                                 output_zero_point=output_zero_point, act=act, mode=mode)
    p = _require(w)
    params = {"batch": fc["batch"], "in_features": fc["in_features"], "out_features": fc["out_features"],
              **_fields(p), "requant": fc["requant"]}
    return params, arrays, p, fold_input_offset(w, bias, fc["input_offset"])


def fc_f32_codebook_params(x_shape, w, *, act=(-np.inf, np.inf)):
    """(fn_fc_f32_codebook_params fields, the palette) for x [N, K] and float w [M, K]."""
    w = np.asarray(w, np.float32)
    if len(x_shape) != 2 or int(x_shape[0]) < 1 or int(x_shape[1]) != w.shape[-1]:
        raise ValueError(f"fc: x must be [N, {w.shape[-1]}], got {tuple(x_shape)}")
    p = _require(w)
    return {"batch": int(x_shape[0]), "in_features": w.shape[1], "out_features": w.shape[0], **_fields(p),
            "act_min": float(act[0]), "act_max": float(act[1])}, p


def conv2d_s8_codebook_params(x_shape, w, *, input_scale, input_zero_point, weight_scales, output_scale,
                              output_zero_point, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                              act=(kp.INT8_MIN, kp.INT8_MAX), mode: str = "tflm"):
    """(fn_conv2d_s8_codebook_params fields, requant arrays, the palette) for x NHWC and the
    int8 OHWI filter w (one group, zero point 0)."""
    w = np.asarray(w)
    if w.dtype != np.int8 or w.ndim != 4:
        raise ValueError(f"codebook conv: the filter must be int8 OHWI, got {w.dtype} {w.shape}")
    conv, arrays = kp.conv2d_s8_params(x_shape, w.shape, input_scale=input_scale,
                                       input_zero_point=input_zero_point, weight_scales=weight_scales,
                                       output_scale=output_scale, output_zero_point=output_zero_point,
                                       strides=strides, dilations=dilations, pads=pads, act=act, mode=mode)
    p = _require(w.reshape(w.shape[0], -1))
    fields = {k: conv[k] for k in ("batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h",
                                   "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top",
                                   "pad_left", "input_offset")}
    arrays = {k: arrays[k] for k in ("multiplier", "shift", "scale")}
    return {**fields, **_fields(p), "requant": conv["requant"]}, arrays, p


def conv2d_f32_codebook_params(x_shape, w, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                               act=(-np.inf, np.inf)):
    """(fn_conv2d_f32_codebook_params fields, the palette) for x NHWC and the OHWI filter w."""
    w = np.asarray(w, np.float32)
    if w.ndim != 4:
        raise ValueError(f"codebook conv: the filter must be OHWI, got shape {w.shape}")
    conv = conv_geometry(x_shape, w.shape, strides, dilations, pads, 1)
    depth = w.shape[1] * w.shape[2] * w.shape[3]
    if depth >= 2**28:
        raise ValueError(f"codebook conv: {depth:,} weights per filter (under 2^28)")
    p = _require(w.reshape(w.shape[0], -1))
    fields = {k: v for k, v in conv.items() if k != "groups"}
    return {**fields, **_fields(p), "act_min": float(act[0]), "act_max": float(act[1])}, p


def pair_ordered(p: Palette, pad: bool = False) -> np.ndarray:
    """The palette's indices for the DSP codebook kernels (fn_s8_dsp.h): in each group of 4
    weights of a row, the indices of w0, w2, w1, w3 (their tables give the pairs (w0, w2) and
    (w1, w3)). The depth must be a multiple of 4, or with pad (fn_conv2d_s8_codebook_dsp)
    each row is padded with index 0 up to one."""
    if p.depth % 4 and not pad:
        raise ValueError(f"codebook DSP: {p.depth} weights per row (a multiple of 4 only)")
    per = 8 // p.bits
    raw = np.asarray(p.indices, np.uint8).reshape(p.rows, p.row_bytes)
    shifts = np.arange(per, dtype=np.uint8) * p.bits
    idx = ((raw[:, :, None] >> shifts) & ((1 << p.bits) - 1)).reshape(p.rows, -1)[:, :p.depth]
    depth4 = -(-p.depth // 4) * 4
    idx = np.concatenate([idx, np.zeros((p.rows, depth4 - p.depth), idx.dtype)], axis=1)
    order = (np.arange(depth4).reshape(-1, 4)[:, [0, 2, 1, 3]]).reshape(-1)
    return pack_indices(idx[:, order], p.bits)


def padded_nbytes(p: Palette) -> int:
    """Flash of pair_ordered(p, pad=True) + the codebook."""
    return int(p.codebook.nbytes + p.rows * ((-(-p.depth // 4) * 4 * p.bits + 7) // 8))


def rows4_interleaved(p: Palette) -> np.ndarray:
    """pair_ordered(p) with the rows interleaved by blocks of 4, as fn_fc_s8_codebook_dsp reads
    them (fn_s8_dsp.h): per block, each group's index bytes (bits / 2 of them) of rows 0, 1, 2,
    3 in turn, group after group; the rows past the last full block as they are."""
    step = p.bits // 2
    rows = pair_ordered(p).reshape(p.rows, p.row_bytes)
    full = p.rows - p.rows % 4
    blocks = rows[:full].reshape(full // 4, 4, p.row_bytes // step, step).transpose(0, 2, 1, 3)
    return np.concatenate([blocks.reshape(-1), rows[full:].reshape(-1)]).astype(np.uint8)

"""Parameter structs of the binary kernels (runtime_c/include/fn_binary_b1.h): geometry,
the output stage (fn_bout) with the integer thresholds of the bits output, and the
packing of +-1 filters into b1 words.

Threshold. The bits output is sign(y) with y(acc) = clamp(fl(fl(acc * scale) + offset), act)
in float32 (reference/binary.py). Rounding and clamping are monotone, so y is monotone in
the integer acc (non-decreasing for scale >= 0, non-increasing for scale < 0), and
{acc : y(acc) >= 0} is a ray of integers: the kernel's test `acc >= threshold`, negated
(flip) for scale < 0, is exact once threshold is the ray's first integer. It is found
by bisection over [-K, K + 1] evaluating y in float32 exactly as the reference does, so
ties (y == 0 exactly) and float rounding near them give the same bits."""
from __future__ import annotations

import numpy as np

from ..dtypes import pack_b1
from ..lowering import c_enum

BOUT_KINDS = {"int32": 0, "float": 1, "bits": 2}     # fn_bout_kind
_BOUT = c_enum(BOUT_KINDS, "FN_BOUT_")


def words(n: int) -> int:
    """uint32 words of a b1 row of n values."""
    return -(-int(n) // 32)


def _y(acc, scale, offset, act):
    """y(acc) of the header, per channel, in float32 (acc: int64 array of the channels' shape)."""
    y = acc.astype(np.float32) * scale + offset
    return np.clip(y, np.float32(act[0]), np.float32(act[1]))


def thresholds(scale, offset, act, k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(threshold int32 [O], flip bool [O]): bit = (acc >= threshold) != flip equals
    y(acc) >= 0 for every acc in [-k_max, k_max]."""
    scale, offset = np.asarray(scale, np.float32), np.asarray(offset, np.float32)
    if not (np.isfinite(scale).all() and np.isfinite(offset).all()):
        raise ValueError("binary layer: the folded per-channel scale and offset must be finite")
    flip = scale < 0
    # the first acc where pred holds; pred is false then true as acc grows
    def pred(acc):
        nonneg = _y(acc, scale, offset, act) >= 0
        return np.where(flip, ~nonneg, nonneg)
    lo = np.full(scale.shape, -k_max, np.int64)
    hi = np.full(scale.shape, k_max + 1, np.int64)
    while (lo < hi).any():
        mid = (lo + hi) // 2
        p = pred(mid) & (mid < hi)
        hi = np.where(p, mid, hi)
        lo = np.where(p | (lo >= hi), lo, mid + 1)
    return lo.astype(np.int32), flip


def bout_params(kind: str, out_c: int, k_max: int, scale=None, offset=None, act=(-np.inf, np.inf)) -> dict:
    """fn_bout for output kind (int32, float, bits) of out_c channels, accumulators in [-k_max, k_max]."""
    if kind not in BOUT_KINDS:
        raise ValueError(f"binary layer output kind '{kind}' unknown ({', '.join(BOUT_KINDS)})")
    fields = {"kind": _BOUT[kind], "scale": None, "offset": None, "act_min": -np.inf, "act_max": np.inf,
              "threshold": None, "flip": None}
    if kind == "float":
        fields.update(scale=np.asarray(scale, np.float32), offset=np.asarray(offset, np.float32),
                      act_min=float(act[0]), act_max=float(act[1]))
    elif kind == "bits":
        threshold, flip = thresholds(scale, offset, act, k_max)
        fields.update(threshold=threshold, flip=pack_b1(np.where(flip, 1, -1).astype(np.int8)))
    elif scale is not None or offset is not None:
        raise ValueError("the int32 output takes no scale or offset")
    return fields


def pack_filters(w_ohwi) -> np.ndarray:
    """b1 words [O, KH * KW * ceil(C / 32)] of a +-1 filter OHWI, each tap's channels in whole
    words (fn_fc_b1: the words of a flattened NHWC image)."""
    w = np.asarray(w_ohwi)
    return pack_b1(w).reshape(w.shape[0], -1)


def pack_dense_filters(w_ohwi) -> np.ndarray:
    """b1 words [O, ceil(KH * KW * C / 32)] of a +-1 filter OHWI as one dense bit string per
    filter (fn_bconv2d_b1)."""
    w = np.asarray(w_ohwi)
    return pack_b1(w.reshape(w.shape[0], -1))


def bconv2d_scratch(p: dict) -> int:
    """fn_bconv2d_b1_scratch_size: the gathered window and its mask, 2 * ceil(KH * KW * C / 32) words."""
    if min(p["kernel_h"], p["kernel_w"], p["in_c"]) < 1:
        return 0
    return 2 * words(p["kernel_h"] * p["kernel_w"] * p["in_c"]) * 4


def bconv2d_b1_params(x_shape, w_shape, out_shape, *, strides, pads, bout: dict, pad_value: int = 0) -> dict:
    """fn_bconv2d_b1_params for x NHWC, w OHWI, output NHWC; pad_value 0 (zero padding) or 1 (one padding)."""
    n, h, w, c = (int(v) for v in x_shape)
    o, kh, kw, cw = (int(v) for v in w_shape)
    _, oh, ow, oc = (int(v) for v in out_shape)
    if c != cw or oc != o or min(strides) < 1 or min(pads) < 0 or pad_value not in (0, 1):
        raise ValueError(f"bconv2d: x {tuple(x_shape)}, w {tuple(w_shape)}, strides {strides}, pads {pads}, "
                         f"pad value {pad_value}")
    return {"batch": n, "in_h": h, "in_w": w, "in_c": c, "out_h": oh, "out_w": ow, "out_c": o,
            "kernel_h": kh, "kernel_w": kw, "stride_h": int(strides[0]), "stride_w": int(strides[1]),
            "pad_top": int(pads[0]), "pad_left": int(pads[1]), "pad_value": int(pad_value), "out": bout}


def fc_b1_params(batch: int, in_shape, out_features: int, bout: dict) -> dict:
    """fn_fc_b1_params for rows of in_shape (the pixels [H, W, C] of a flattened NHWC b1 image)."""
    *pixels, c = (int(v) for v in in_shape)
    n_pixels = int(np.prod(pixels, dtype=np.int64)) if pixels else 1
    return {"batch": int(batch), "in_words": n_pixels * words(c), "in_bits": n_pixels * c,
            "out_features": int(out_features), "out": bout}


def bmaxpool2d_b1_params(x_shape, out_shape, *, kernel, strides, pads) -> dict:
    n, h, w, c = (int(v) for v in x_shape)
    _, oh, ow, _ = (int(v) for v in out_shape)
    return {"batch": n, "in_h": h, "in_w": w, "channels": c, "out_h": oh, "out_w": ow,
            "kernel_h": int(kernel[0]), "kernel_w": int(kernel[1]), "stride_h": int(strides[0]),
            "stride_w": int(strides[1]), "pad_top": int(pads[0]), "pad_left": int(pads[1])}


def binarize_params(shape, zero_point: int = 0) -> dict:
    """fn_binarize_params of a tensor of this shape (rows along its last axis)."""
    shape = tuple(int(v) for v in shape)
    return {"rows": int(np.prod(shape[:-1], dtype=np.int64)), "channels": shape[-1], "zero_point": int(zero_point)}

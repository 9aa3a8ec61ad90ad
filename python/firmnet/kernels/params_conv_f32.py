"""Parameter structs of the float convolution, fully connected and transposed convolution
kernels (runtime_c/include/fn_conv_f32.h, fn_fc_f32.h, fn_conv_transpose_f32.h), the
geometry they share with the int8 convolution's struct, and the transposed convolution's
filter repacking. The shapes are checked by the reference's own checks (reference/conv.py,
dense.py, conv_transpose.py); ValueError where a kernel cannot run the layer."""
from __future__ import annotations

import numpy as np

from ..reference.conv import _check_conv
from ..reference.conv_transpose import check_geometry as transpose_geometry
from ..reference.dense import check_fc_shapes

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]
CT_MAX_KERNEL = 32          # FN_CT_MAX_KERNEL


def _check_transpose(x_shape, w_shape, strides, dilations, pads, groups) -> tuple[int, int]:
    """(out_h, out_w), or ValueError beyond fn_conv_transpose2d_f32's limits (kernel size, int32
    coordinates)."""
    oh, ow = transpose_geometry(x_shape, w_shape, strides, dilations, pads, groups)
    kh, kw = (int(v) for v in w_shape[2:])
    if max(kh, kw) > CT_MAX_KERNEL:
        raise ValueError(f"conv_transpose2d: kernel {kh}x{kw} is larger than {CT_MAX_KERNEL} along an axis "
                         "(the C kernel's limit)")
    limit = 2**30
    for o, pad, k, d in ((oh, pads[0], kh, dilations[0]), (ow, pads[1], kw, dilations[1])):
        if abs(pad) >= limit or (o - 1) + abs(pad) + (k - 1) * d >= limit:
            raise ValueError(f"conv_transpose2d: geometry too large for int32 coordinates (pads {pads})")
    return oh, ow


def conv2d_f32_params(x_shape, w_shape, *, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                      pads: Pads = (0, 0, 0, 0), groups: int = 1,
                      act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_conv2d_f32_params for these arguments (same meaning as conv2d_f32's)."""
    return {**conv_geometry(x_shape, w_shape, strides, dilations, pads, groups),
            "act_min": float(act[0]), "act_max": float(act[1])}


def conv_geometry(x_shape, w_shape, strides, dilations, pads, groups) -> dict:
    """The geometry fields shared by fn_conv2d_f32_params and fn_conv2d_s8_params (checked)."""
    oh, ow = _check_conv(x_shape, w_shape, strides, dilations, pads, groups)
    n, h, w, c = (int(v) for v in x_shape)
    oc, kh, kw, _ = (int(v) for v in w_shape)
    return {
        "batch": n, "in_h": h, "in_w": w, "in_c": c,
        "out_h": oh, "out_w": ow, "out_c": oc,
        "kernel_h": kh, "kernel_w": kw,
        "stride_h": int(strides[0]), "stride_w": int(strides[1]),
        "dilation_h": int(dilations[0]), "dilation_w": int(dilations[1]),
        "pad_top": int(pads[0]), "pad_left": int(pads[1]),
        "groups": int(groups),
    }


def fc_f32_params(x_shape, w_shape, *, act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_fc_f32_params for x [N, K] and w [M, K]."""
    check_fc_shapes(x_shape, w_shape)
    return {
        "batch": int(x_shape[0]), "in_features": int(x_shape[1]), "out_features": int(w_shape[0]),
        "act_min": float(act[0]), "act_max": float(act[1]),
    }


def conv_transpose2d_f32_params(x_shape, w_shape, *, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                                pads: Pads = (0, 0, 0, 0), groups: int = 1,
                                act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_conv_transpose2d_f32_params (pads: top, left, bottom, right; any sign)."""
    oh, ow = _check_transpose(x_shape, w_shape, strides, dilations, pads, groups)
    n, h, w, c = (int(v) for v in x_shape)
    _, ocg, kh, kw = (int(v) for v in w_shape)
    return {
        "batch": n, "in_h": h, "in_w": w, "in_c": c,
        "out_h": oh, "out_w": ow, "out_c": ocg * int(groups),
        "kernel_h": kh, "kernel_w": kw,
        "stride_h": int(strides[0]), "stride_w": int(strides[1]),
        "dilation_h": int(dilations[0]), "dilation_w": int(dilations[1]),
        "pad_top": int(pads[0]), "pad_left": int(pads[1]),
        "groups": int(groups), "act_min": float(act[0]), "act_max": float(act[1]),
    }


def gather_filter(w: np.ndarray, groups: int) -> np.ndarray:
    """ONNX [in_c, out_c/groups, kh, kw] → the kernel's [out_c, kh, kw, in_c/groups]."""
    ci, ocg, kh, kw = w.shape
    cg = ci // groups
    wg = w.reshape(groups, cg, ocg, kh, kw).transpose(0, 2, 3, 4, 1)   # [G, OCg, KH, KW, Cg]
    return np.ascontiguousarray(wg.reshape(groups * ocg, kh, kw, cg))

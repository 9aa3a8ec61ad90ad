"""A numpy Winograd F(2x2, 3x3) int8 convolution, the kernel tests' second check beside the direct
reference (reference/conv_s8.py): its own transform matrices and tiling, int64 throughout (no
wrap-around), and the reference's output stage. Independent of firmnet.kernels.params_winograd."""
from __future__ import annotations

import numpy as np

from firmnet.reference.conv_s8 import add_bias, output_stage_s8, requantizer

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.int64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.int64)


def winograd_sums4(x, w, input_zero_point, pads) -> np.ndarray:
    """Y = 4 x the direct sums [N, OH, OW, OC] of x NHWC int8 and w OHWI 3x3 int8, stride 1, by
    F(2x2, 3x3) with the filter transform (2G) g (2G)^T, in exact int64."""
    n, h, wd, c = x.shape
    pt, pl, pb, pr = pads
    oh, ow = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = -(-oh // 2), -(-ow // 2)
    d = np.zeros((n, 2 * th + 2, 2 * tw + 2, c), np.int64)          # 0 = the zero point, past every edge
    d[:, pt:pt + h, pl:pl + wd] = x.astype(np.int64) - input_zero_point
    g2 = (2 * G).astype(np.int64)
    u = np.einsum("ik,oklc,jl->ocij", g2, w.astype(np.int64), g2)   # [oc, c, 4, 4]
    tiles = np.stack([np.stack([d[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] for j in range(tw)], 1)
                      for i in range(th)], 1)                          # [n, th, tw, 4, 4, c]
    v = np.einsum("ik,ntsklc,jl->ntscij", BT, tiles, BT)             # [n, th, tw, c, 4, 4]
    m = np.einsum("ntscij,ocij->ntsoij", v, u)
    y = np.einsum("ai,ntsoij,bj->ntsoab", AT, m, AT)                 # [n, th, tw, oc, 2, 2]
    y = y.transpose(0, 1, 4, 2, 5, 3).reshape(n, 2 * th, 2 * tw, -1)
    return y[:, :oh, :ow]


def winograd_conv2d_s8(x, w, bias, *, input_scale, input_zero_point, weight_scales, output_scale,
                       output_zero_point, pads=(0, 0, 0, 0), act=(-128, 127), mode="tflm", **_) -> np.ndarray:
    """The int8 output: Y / 4 (asserted exact), the bias modulo 2^32, the reference output stage."""
    y = winograd_sums4(x, w, input_zero_point, pads)
    assert not (y % 4).any(), "Y is not 4 x an integer"
    acc = add_bias(y // 4, bias)
    return output_stage_s8(acc, requantizer(input_scale, weight_scales, output_scale, mode), output_zero_point, act)

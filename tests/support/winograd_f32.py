"""The float Winograd convolutions' error measure and bound (fn_conv2d_f32_winograd.h), a numpy
Winograd convolution, and the host call of the C kernels, for tests/test_kernels_winograd_f32.py
and bench/winograd_float.py.

Error bound. An output of a Winograd tile carries rounding errors of every input of the tile
(a x a pixels, a = m + 2), not only of its 3x3 window: with
    E(o) = sum over input channels c of (max |x_c| over the tile's input) * (sum |w_o,c| over the taps)
the kernel's error against the exact convolution is bounded as
    |y - exact| <= K * (in_c + 2) * eps32 * (E(o) + |bias_o|) + n * FLT_MIN
(in_c + 2: the sum over channels of the products and the transforms' few roundings; K per tile
size, measured). The float64 direct reference rounded to float32 errs by at most eps32/2 *
(E + |bias|) more, inside the same bound since K >= 1."""
from __future__ import annotations

import numpy as np

from support.f32_bounds import EPS32, FLT_MIN, fptr

# K of the bound (fn_conv2d_f32_winograd.h): twice the largest measured ratio
# |error| / ((in_c + 2) * eps32 * (E + |bias|)) of test_kernels_winograd_f32.py's sweep
K_BOUND = {2: 1.5, 4: 32.0}


def tile_measure(x, w, bias, pads, tile) -> np.ndarray:
    """E(o) + |bias_o| (module docstring) for every output [N, OH, OW, OC] of a 3x3 stride-1
    convolution of x [N, H, W, C] with w [OC, 3, 3, C], pads (top, left, bottom, right)."""
    n, h, wd, c = x.shape
    pt, pl, pb, pr = pads
    oh, ow = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = -(-oh // tile), -(-ow // tile)
    a = tile + 2
    xp = np.zeros((n, th * tile + 2, tw * tile + 2, c))
    xp[:, pt:pt + h, pl:pl + wd, :] = np.abs(x)
    xp = xp[:, :th * tile + 2, :tw * tile + 2]
    xmax = np.zeros((n, th, tw, c))
    for ty in range(th):
        for tx in range(tw):
            xmax[:, ty, tx] = xp[:, ty * tile:ty * tile + a, tx * tile:tx * tile + a].max(axis=(1, 2))
    wsum = np.abs(w.astype(np.float64)).sum(axis=(1, 2))                  # [OC, C]
    e = np.einsum("ntsc,oc->ntso", xmax, wsum)
    e = np.repeat(np.repeat(e, tile, axis=1), tile, axis=2)[:, :oh, :ow]
    return e + (0.0 if bias is None else np.abs(bias.astype(np.float64)))


def error_bound(x, w, bias, pads, tile) -> np.ndarray:
    c = x.shape[3]
    return K_BOUND[tile] * (c + 2) * EPS32 * tile_measure(x, w, bias, pads, tile) + (9 * c + 1) * FLT_MIN


def numpy_winograd(x, w, bias, pads, transform) -> np.ndarray:
    """The Winograd convolution in float64 with the given transform's matrices (no clamp): a
    check of the matrices and the tiling independent of the C."""
    t = transform
    m, a = t.tile, t.a
    n, h, wd, c = x.shape
    pt, pl, pb, pr = pads
    oh, ow = h + pt + pb - 2, wd + pl + pr - 2
    th, tw = -(-oh // m), -(-ow // m)
    xp = np.zeros((n, th * m + 2, tw * m + 2, c))
    xp[:, pt:pt + h, pl:pl + wd, :] = x
    u = np.einsum("ik,okxc,jx->oijc", t.G, w.astype(np.float64), t.G)    # [OC, a, a, C]
    out = np.zeros((n, th * m, tw * m, w.shape[0]))
    for ty in range(th):
        for tx in range(tw):
            d = xp[:, ty * m:ty * m + a, tx * m:tx * m + a]                 # [N, a, a, C]
            v = np.einsum("ik,nklc,jl->nijc", t.BT, d, t.BT)
            prod = np.einsum("oijc,nijc->nijo", u, v)
            out[:, ty * m:ty * m + m, tx * m:tx * m + m] = np.einsum("pi,nijo,qj->npqo", t.AT, prod, t.AT)
    out = out[:, :oh, :ow]
    return out + (0.0 if bias is None else bias.astype(np.float64))


def run_c(runtime, tile, x, w, bias, pads=(0, 0, 0, 0), act=(-np.inf, np.inf), batch_fill=np.nan):
    """(status, output, scratch bytes of the C size function) of fn_conv2d_f32_winograd_f<tile>, the
    struct and transformed filters from the builders; the scratch is guarded past its end."""
    from firmnet.kernels.params_winograd_f32 import TRANSFORMS, filter_transform, winograd_f32_params
    ffi, lib = runtime.ffi, runtime.lib
    params = winograd_f32_params(x.shape, w.shape, pads=pads, act=act)
    p = ffi.new("fn_conv2d_f32_winograd_params *", params)
    size = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}_scratch_size")(p)
    guard = 64
    scratch = np.full(size // 4 + guard, 12345.0, np.float32)
    u = filter_transform(w, TRANSFORMS[tile])
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), batch_fill, np.float32)
    x = np.ascontiguousarray(x, np.float32)
    b = None if bias is None else np.ascontiguousarray(bias, np.float32)
    status = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}")(p, fptr(ffi, x), fptr(ffi, u), fptr(ffi, b),
                                                               fptr(ffi, out), fptr(ffi, scratch))
    assert np.all(scratch[size // 4:] == 12345.0), "the kernel wrote past its scratch size"
    return status, out, size

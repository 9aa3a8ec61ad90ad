"""int8 pooling cases drawn by hypothesis (input, the reference's keywords) and the builder's
struct for them, shared by the pool kernel, in-place and concat-view tests."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from firmnet.kernels.params_pool_s8 import avgpool2d_s8_params, maxpool2d_s8_params
from support.pool_geometry import pool_axis
from support.s8_cases import MODES, acts


def struct_of(kind, shape, kw):
    """The builder's struct for an int8 pooling of `shape` with the quantities kw (the reference's keywords)."""
    return (maxpool2d_s8_params if kind == "max" else avgpool2d_s8_params)(shape, **kw)


@st.composite
def quants(draw):
    """(scale, zero point): log-uniform scales, zero points often at the extremes."""
    scale = float(np.float32(2.0 ** draw(st.floats(-12, 3))))
    zp = draw(st.sampled_from([-128, 127, 0, None]))
    return scale, draw(st.integers(-128, 127)) if zp is None else zp


def random_s8(rng, shape, kind):
    if kind == "uniform":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    if kind == "extremes":                     # saturation: only -128 and 127
        return rng.choice(np.array([-128, 127], np.int8), size=shape)
    return rng.integers(-5, 6, size=shape, dtype=np.int8)    # near zero: rounding ties


@st.composite
def pool_cases(draw, kind):
    dil = (1, 1) if kind == "avg" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, kh, sh, pt, pb, oh = pool_axis(draw, dil[0])
    w, kw, sw, pl, pr, ow = pool_axis(draw, dil[1])
    x_q = draw(quants())
    y_q = x_q if draw(st.booleans()) else draw(quants())
    kwargs = dict(kernel=(kh, kw), strides=(sh, sw), pads=(pt, pl, pb, pr), x_q=x_q, y_q=y_q,
                  mode=draw(st.sampled_from(MODES)), act=draw(acts(y_q[1])))
    if oh is not None or ow is not None:
        fh = (pt + pb + h - dil[0] * (kh - 1) - 1) // sh + 1
        fw = (pl + pr + w - dil[1] * (kw - 1) - 1) // sw + 1
        kwargs["out_size"] = (oh or fh, ow or fw)
    if kind == "max":
        kwargs["dilations"] = dil
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 40)))
    try:
        struct_of(kind, shape, kwargs)
    except ValueError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return random_s8(rng, shape, draw(st.sampled_from(["uniform", "extremes", "small"]))), kwargs

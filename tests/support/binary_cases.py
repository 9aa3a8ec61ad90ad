"""Binary layer cases shared by the host tests (test_kernels_binary.py) and the Cortex-M55 ones
(test_mve_binary.py): +-1 tensors and hypothesis convolution layers whose channel counts cross
the 32-bit word boundary."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

CHANNELS = st.sampled_from([1, 2, 31, 32, 33, 64, 65, 70])
OUT_KINDS = ("int32", "float", "bits")


def pm1(rng, shape):
    return np.where(rng.random(shape) < 0.5, 1, -1).astype(np.int8)


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    h = max(1, kh - pads[0] - pads[2]) + draw(st.integers(0, 5))
    w = max(1, kw - pads[1] - pads[3]) + draw(st.integers(0, 5))
    return dict(n=draw(st.integers(1, 2)), h=h, w=w, c=draw(CHANNELS), o=draw(CHANNELS), kh=kh, kw=kw,
                strides=strides, pads=pads, kind=draw(st.sampled_from(OUT_KINDS)), ties=draw(st.booleans()),
                pad_value=draw(st.sampled_from((0, 1))), seed=draw(st.integers(0, 2**32 - 1)))

"""Pooling geometry drawn by hypothesis, shared by the float and int8 pool kernel tests."""
from __future__ import annotations

from hypothesis import strategies as st


def pool_axis(draw, dilation):
    """(input size, kernel, stride, pad_before, pad_after, out_size or None) of one axis."""
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    extent = dilation * (k - 1) + 1
    pb, pa = (draw(st.integers(0, min(3, extent - 1))) for _ in range(2))
    size = max(1, extent - pb - pa + draw(st.integers(0, 6)))
    span = size + pb + pa - extent
    floor, ceil = span // s + 1, -(-span // s) + 1
    out = draw(st.integers(floor, ceil)) if draw(st.booleans()) else None   # ceil mode
    return size, k, s, pb, pa, out

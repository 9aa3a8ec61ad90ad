"""fn_resize_nearest_params and fn_resize_bilinear_f32_params (runtime_c/include/fn_resize.h):
the geometry and the coordinate tables of reference/resize.py (nearest_table, linear_table)
as numpy arrays (the lowering turns them into C arrays)."""
from __future__ import annotations

from ..reference.resize import check_resize, linear_table, nearest_table


def resize_params(x_shape, out_hw, scales, *, mode="nearest", coord_mode="half_pixel",
                  nearest_mode="round_prefer_floor", elem_size=4) -> dict:
    """fn_resize_nearest_params (mode nearest) or fn_resize_bilinear_f32_params (mode linear);
    the tables are numpy arrays (the lowering turns them into C arrays)."""
    check_resize(x_shape, out_hw, scales, mode)
    n, h, w, c = (int(v) for v in x_shape)
    oh, ow = (int(v) for v in out_hw)
    geometry = {"batch": n, "in_h": h, "in_w": w, "channels": c, "out_h": oh, "out_w": ow}
    if mode == "nearest":
        return {**geometry, "elem_size": int(elem_size),
                "y_index": nearest_table(h, oh, scales[0], coord_mode, nearest_mode),
                "x_index": nearest_table(w, ow, scales[1], coord_mode, nearest_mode)}
    y0, y1, wy0, wy1 = linear_table(h, oh, scales[0], coord_mode)
    x0, x1, wx0, wx1 = linear_table(w, ow, scales[1], coord_mode)
    return {**geometry, "y0": y0, "y1": y1, "wy0": wy0, "wy1": wy1, "x0": x0, "x1": x1, "wx0": wx0, "wx1": wx1}

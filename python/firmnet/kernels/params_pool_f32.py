"""fn_pool2d_f32_params (runtime_c/include/fn_pool_f32.h): the pooling geometry checked by
the reference's pool_geometry, count_include_pad and the clamp as the float32 values the
struct holds."""
from __future__ import annotations

import numpy as np

from ..reference.pool import pool_geometry

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


def _params(x_shape, out_size, kernel, strides, dilations, pads, count_include_pad, act) -> dict:
    geometry = pool_geometry(x_shape, kernel=kernel, strides=strides, dilations=dilations, pads=pads,
                             out_size=out_size)
    return {**geometry, "count_include_pad": int(bool(count_include_pad)),
            "act_min": float(act[0]), "act_max": float(act[1]), "out_stride": 0}


def maxpool2d_f32_params(x_shape, *, kernel: Pair, strides: Pair = (1, 1), dilations: Pair = (1, 1),
                         pads: Pads = (0, 0, 0, 0), out_size: Pair | None = None,
                         act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_pool2d_f32_params for fn_maxpool2d_f32 (same meaning as maxpool2d_f32's arguments)."""
    return _params(x_shape, out_size, kernel, strides, dilations, pads, False, act)


def avgpool2d_f32_params(x_shape, *, kernel: Pair, strides: Pair = (1, 1), pads: Pads = (0, 0, 0, 0),
                         count_include_pad: bool = False, out_size: Pair | None = None,
                         act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_pool2d_f32_params for fn_avgpool2d_f32 (same meaning as avgpool2d_f32's arguments)."""
    return _params(x_shape, out_size, kernel, strides, (1, 1), pads, count_include_pad, act)

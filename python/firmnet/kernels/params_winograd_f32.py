"""Parameters of the float Winograd convolutions fn_conv2d_f32_winograd_f2 / _f4
(runtime_c/include/fn_conv2d_f32_winograd.h): the transform matrices of F(2x2,3x3) and F(4x4,3x3)
(Lavin and Gray 2016; points 0, +-1, infinity and 0, +-1, +-2, infinity), the filter transform
U = G g G^T done here at compile time, the params struct and the scratch size."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params_conv_f32 import conv_geometry

Pads = tuple[int, int, int, int]


@dataclass(frozen=True)
class Transform:
    """F(m x m, 3 x 3): output tile m, input tile a = m + 2; Y = A^T [(G g G^T) (.) (B^T d B)] A."""
    tile: int
    BT: np.ndarray      # [a, a]
    G: np.ndarray       # [a, 3]
    AT: np.ndarray      # [m, a]

    @property
    def a(self) -> int:
        return self.tile + 2


F2 = Transform(2,
               BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
               G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
               AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64))
F4 = Transform(4,
               BT=np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                            [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
               G=np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                           [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
               AT=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                            [0, 1, -1, 8, -8, 1]], np.float64))
TRANSFORMS = {2: F2, 4: F4}


def filter_transform(w: np.ndarray, t: Transform) -> np.ndarray:
    """OHWI 3x3 filters [out_c, 3, 3, in_c] -> U [out_c, a * a, in_c] (float64 products, one
    rounding to float32), the kernel's u argument."""
    w = np.asarray(w, np.float64)
    if w.ndim != 4 or w.shape[1:3] != (3, 3):
        raise ValueError(f"Winograd F({t.tile}x{t.tile},3x3): filters must be 3x3 OHWI, got {w.shape}")
    u = np.einsum("ik,okxc,jx->oijc", t.G, w, t.G)
    return np.ascontiguousarray(u.reshape(w.shape[0], t.a * t.a, w.shape[3]), dtype=np.float32)


def winograd_f32_params(x_shape, w_shape, *, strides=(1, 1), dilations=(1, 1), pads: Pads = (0, 0, 0, 0),
                        groups: int = 1, act: tuple[float, float] = (-np.inf, np.inf)) -> dict:
    """fn_conv2d_f32_winograd_params; ValueError for a layer the kernels do not run (filter not
    3x3, stride or dilation not 1, groups), naming what they take."""
    g = conv_geometry(x_shape, w_shape, strides, dilations, pads, groups)
    if (g["kernel_h"], g["kernel_w"]) != (3, 3):
        raise ValueError(f"{g['kernel_h']}x{g['kernel_w']} filter (3x3 only)")
    if (g["stride_h"], g["stride_w"]) != (1, 1):
        raise ValueError(f"stride {g['stride_h']}x{g['stride_w']} (1 only)")
    if (g["dilation_h"], g["dilation_w"]) != (1, 1):
        raise ValueError(f"dilation {g['dilation_h']}x{g['dilation_w']} (1 only)")
    if g["groups"] != 1:
        raise ValueError(f"{g['groups']} groups (1 only)")
    fields = ("batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "pad_top", "pad_left")
    return {**{k: g[k] for k in fields}, "act_min": float(act[0]), "act_max": float(act[1]), "out_stride": 0}


def scratch_size(p: dict, t: Transform) -> int:
    """fn_conv2d_f32_winograd_f<m>_scratch_size: (2 * a * a * in_c + 8 * a * a) floats."""
    return 4 * (2 * t.a * t.a * p["in_c"] + 8 * t.a * t.a)


def flash_bytes(w_shape, t: Transform | None) -> int:
    """Bytes of the float weights: 9 per filter-channel direct (t None), a * a transformed."""
    oc, kh, kw, c = (int(v) for v in w_shape)
    return 4 * oc * c * (kh * kw if t is None else t.a * t.a)

"""resize: ONNX Resize over the two spatial axes of a 4-D tensor, nearest (any element
type: a gather, so int8 tensors keep their quantization) or bilinear (float32).

Layout NCHW (as imported) or NHWC (after the layout pass). Both are lowered: NCHW runs
as batch * C one-channel images. The scales are the float32 values the coordinate
transformation divides by (the model's scales, or out/in when it gives sizes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import DTYPES, FirmnetError, TensorType
from ..kernels import params_resize
from ..lowering import KernelCall, params_of, with_arrays
from ..reference import resize as ref
from ._util import require


@dataclass(frozen=True)
class Attrs:
    size: tuple[int, int]                 # output (height, width)
    scales: tuple[float, float]           # (height, width) scales of the coordinate transformation
    mode: str = "nearest"                 # nearest | linear
    coord_mode: str = "half_pixel"        # ONNX coordinate_transformation_mode
    nearest_mode: str = "round_prefer_floor"
    layout: str = "NCHW"


def _nhwc(attrs, shape):
    return tuple(shape[i] for i in (0, 2, 3, 1)) if attrs.layout == "NCHW" else tuple(shape)


def _kernel_shape(attrs, shape):
    """The NHWC view the kernel runs on: NCHW data as batch * C one-channel images."""
    if attrs.layout == "NCHW":
        n, c, h, w = shape
        return (n * c, h, w, 1)
    return tuple(shape)


def _params(attrs, shape, elem_size):
    try:
        return params_resize.resize_params(_kernel_shape(attrs, shape), attrs.size, attrs.scales, mode=attrs.mode,
                                 coord_mode=attrs.coord_mode, nearest_mode=attrs.nearest_mode, elem_size=elem_size)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def infer(attrs, in_types):
    (x,) = in_types
    require(attrs.layout in ("NCHW", "NHWC"), f"resize: unknown layout {attrs.layout}")
    require(len(x.shape) == 4, f"resize needs a 4-D input, got {x}")
    if attrs.mode == "nearest":
        require(x.dtype in ("float32", "int8"), f"nearest resize: dtype {x.dtype} is not supported (float32, int8)")
    else:
        require(x.dtype == "float32", f"{attrs.mode} resize: dtype {x.dtype} is not supported (float32 only)")
    n, h, w, c = _nhwc(attrs, x.shape)
    try:
        ref.check_resize((n, h, w, c), attrs.size, attrs.scales, attrs.mode)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None
    oh, ow = attrs.size
    shape = (n, c, oh, ow) if attrs.layout == "NCHW" else (n, oh, ow, c)
    return [TensorType(shape, x.dtype, x.quant)]


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when the resize kernels cannot run this layer (until kernels/ selection states it)."""
    _params(attrs, in_types[0].shape, DTYPES[in_types[0].dtype].itemsize)


def _kwargs(attrs):
    return dict(mode=attrs.mode, coord_mode=attrs.coord_mode, nearest_mode=attrs.nearest_mode)


def reference(attrs, x):
    if attrs.layout == "NCHW":
        y = ref.resize_nhwc(x.transpose(0, 2, 3, 1), attrs.size, attrs.scales, **_kwargs(attrs))
        return [np.ascontiguousarray(y.transpose(0, 3, 1, 2))]
    return [ref.resize_nhwc(x, attrs.size, attrs.scales, **_kwargs(attrs))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    x = graph.types[node.inputs[0]]
    params = _params(node.attrs, x.shape, DTYPES[x.dtype].itemsize)
    tables = {k: v for k, v in params.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in params.items() if k not in tables}
    merged = params_of(with_arrays(scalars, tables))
    how = f"{node.attrs.coord_mode}" + (f", {node.attrs.nearest_mode}" if node.attrs.mode == "nearest" else "")
    if node.attrs.mode == "nearest":
        return KernelCall("fn_resize_nearest", "fn_resize.h", "fn_resize_nearest_params", merged,
                          (node.inputs[0], node.outputs[0]), description=f"{x.dtype} nearest resize ({how})")
    return KernelCall("fn_resize_bilinear_f32", "fn_resize.h", "fn_resize_bilinear_f32_params", merged,
                      (node.inputs[0], node.outputs[0]), description=f"float bilinear resize ({how})")

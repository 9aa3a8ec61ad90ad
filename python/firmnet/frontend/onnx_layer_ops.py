"""ONNX layer operators → IR nodes: ConvTranspose, Resize/Upsample and the fused
normalizations (LayerNormalization, InstanceNormalization, GroupNormalization).

Same conventions as onnx_ops.py: one function per ONNX op, keyword arguments are the
op's ONNX attributes with the spec's defaults (an attribute not listed is refused by
the loader with the list of handled ones).
"""
from __future__ import annotations

import numpy as np

from ..ir import UnsupportedError
from ..ops import conv_transpose
from .onnx_ops import _as_2d, _from_2d, _need_const, _spatial_rank, _weight


def _float_weight(b, n, name, what):
    """A constant as float32: an initializer, or the dequantized value of a quantized constant."""
    weight = _weight(b, n, name, what)
    if weight.quant is None:
        return np.asarray(weight.array, np.float32)
    q, a = weight.quant, weight.array.astype(np.float64)
    shape = [1] * a.ndim
    if q.axis is not None:
        shape[q.axis] = -1
    scale = np.asarray(q.scale, np.float32).reshape(shape)
    zp = np.asarray(q.zero_point, np.int64).reshape(shape)
    return ((a - zp).astype(np.float32) * scale).astype(np.float32)


def _float_const(b, n, name, what) -> str:
    """name itself if it is a float32 constant, else a new constant of its float32 value."""
    value = b.value(name)
    if value is not None and value.dtype == np.float32:
        return name
    return b.const(_float_weight(b, n, name, what), f"{name}/float")


def _transpose_pads(auto_pad, pads, output_shape, sizes, kernel, strides, dilations, output_padding):
    """(begin, end) per spatial axis, output_padding folded into end (end - output_padding),
    following the ONNX operator definition (and its reference implementation)."""
    rank = len(kernel)
    full = [strides[i] * (sizes[i] - 1) + (kernel[i] - 1) * dilations[i] + 1 for i in range(rank)]
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise UnsupportedError(f"auto_pad={auto_pad} is not supported (NOTSET, SAME_UPPER, SAME_LOWER, VALID)")
    if output_shape is not None:
        output_shape = list(output_shape)[-rank:]
        if len(output_shape) != rank or min(output_shape) < 1:
            raise UnsupportedError(f"output_shape {output_shape} does not give {rank} spatial sizes")
    if pads is not None and auto_pad in ("NOTSET", "VALID"):
        begin = list(pads[:rank])
        if output_shape is None:
            return tuple(begin), tuple(pads[rank + i] - output_padding[i] for i in range(rank))
        return tuple(begin), tuple(full[i] - begin[i] - output_shape[i] for i in range(rank))
    if auto_pad == "NOTSET" and output_shape is None or auto_pad == "VALID":
        return (0,) * rank, tuple(-p for p in output_padding)
    if output_shape is None:   # SAME_*: the output is the input times the stride
        output_shape = [sizes[i] * strides[i] for i in range(rank)]
    total = [full[i] + output_padding[i] - output_shape[i] for i in range(rank)]
    if auto_pad == "SAME_UPPER":
        begin = [t // 2 for t in total]
    else:
        begin = [t - t // 2 for t in total]
    return tuple(begin), tuple(full[i] - begin[i] - output_shape[i] for i in range(rank))


def ConvTranspose(b, n, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                  output_padding=None, output_shape=None, pads=None, strides=None):
    rank = _spatial_rank(b, X, n.op_type)
    w = _float_weight(b, n, W, "filter")
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise UnsupportedError(f"kernel_shape {kernel_shape} differs from the filter's shape {w.shape}")
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    output_padding = tuple(output_padding or (0,) * rank)
    if len(output_padding) != rank or any(not 0 <= p < max(s, d) for p, s, d in
                                          zip(output_padding, strides, dilations)):
        raise UnsupportedError(f"output_padding {list(output_padding)} must give one value per spatial axis, "
                               "each below its stride or dilation")
    bias = _float_const(b, n, B, "bias") if B else None
    begin, end = _transpose_pads(auto_pad, pads, output_shape, b.types[X].shape[2:], kernel, strides, dilations,
                                 output_padding)
    if rank == 1:
        strides, dilations, begin, end = (1,) + strides, (1,) + dilations, (0,) + begin, (0,) + end
        w = w[:, :, None, :]
    w_name = _float_const(b, n, W, "filter") if rank == 2 else b.const(w, f"{W}/2d")
    attrs = conv_transpose.Attrs(strides=strides, dilations=dilations, pads=(begin[0], begin[1], end[0], end[1]),
                                 groups=group)
    x4 = _as_2d(b, n, X, rank)
    y = b.add("conv_transpose", [x4, w_name, bias], attrs, outputs=None if rank == 1 else [n.output[0]],
              name=n.name)[0]
    _from_2d(b, n, y, rank)


CONVERTERS = {f.__name__: f for f in (ConvTranspose,)}

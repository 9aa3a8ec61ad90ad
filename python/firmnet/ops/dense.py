"""dense: fully connected layer y = x @ w.T + b with a fused clamp (x [N,K], w [M,K]).

The int8 arithmetic of layers whose weights have zero points, or that only accumulate
(MatMulInteger), is the general int8 convolution's, as a 1x1 convolution of a 1x1 image
with K channels (the same bytes in memory). The kernels: kernels/fc_*.py, kernels/conv2d_s8*.py."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import OpQuant
from ..reference import dense as ref
from ..reference import dense_s8 as ref_s8
from ._util import NO_CLAMP, check_types, output_type, require
from .conv2d import accumulates_only, has_weight_zero_point, int8_conv_reference

_AS_CONV = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1)


def _as_conv(attrs) -> bool:
    return accumulates_only(attrs.quant) or has_weight_zero_point(attrs.quant)


def _conv_shapes(x_shape, w_shape):
    return (x_shape[0], 1, 1, x_shape[1]), (w_shape[0], 1, 1, w_shape[1])


@dataclass(frozen=True)
class Attrs:
    act: tuple[float, float] = NO_CLAMP
    quant: OpQuant | None = None


def _fc_quantities(attrs) -> dict:
    q = attrs.quant
    return dict(input_scale=q.inputs[0].scale[0], input_zero_point=q.inputs[0].zero_point[0],
                weight_scales=q.inputs[1].scale, output_scale=q.output.scale[0],
                output_zero_point=q.output.zero_point[0], act=attrs.act, mode=q.mode)


def infer(attrs, in_types):
    x, w, b = (list(in_types) + [None])[:3]
    check_types(attrs, [x, w, b][:len(in_types)], weight_indices=(1,))
    require(len(x.shape) == 2 and len(w.shape) == 2 and x.shape[1] == w.shape[1],
            f"dense: input {x} and weights {w} do not match (need [N,K] and [M,K])")
    require(b is None or b.shape == (w.shape[0],), f"dense: bias must have shape ({w.shape[0]},), got {b}")
    return [output_type(attrs, (x.shape[0], w.shape[0]))]


def reference(attrs, x, w, b=None):
    if attrs.quant is not None and _as_conv(attrs):
        x_shape, w_shape = _conv_shapes(x.shape, w.shape)
        y = int8_conv_reference(attrs.quant, attrs.act, x.reshape(x_shape), w.reshape(w_shape), b, _AS_CONV)
        return [y.reshape(x.shape[0], w.shape[0])]
    if attrs.quant is not None:
        return [ref_s8.fc_s8(x, w, b, **_fc_quantities(attrs))]
    return [ref.fc_f32(x, w, b, act=attrs.act)]


def macs(attrs, in_types, out_types):
    return out_types[0].size * in_types[1].shape[1]

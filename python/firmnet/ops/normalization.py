"""normalization: float32 LayerNormalization ('layer': over every axis from `axis` on,
scale and bias of the normalized shape) and Instance/GroupNormalization ('channels':
over each group of channels and all spatial positions, scale and bias per channel;
instance norm is groups = channels).

Layout (for 'channels'): NCHW as imported, NHWC after the layout pass; both are lowered.
A 'layer' node run on an NHWC-stored tensor normalizes the same elements when the
normalized axes stay trailing; the layout pass then permutes its scale and bias.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import FirmnetError, TensorType
from ..kernels import params_norm_f32
from ..lowering import KernelCall, params_of
from ..reference import normalization as ref
from ._util import normalize_axis, require, require_float32

KINDS = ("layer", "channels")


@dataclass(frozen=True)
class Attrs:
    kind: str
    epsilon: float = 1e-5
    axis: int = -1            # 'layer': first normalized axis
    groups: int = 1           # 'channels': channel groups
    layout: str = "NCHW"      # 'channels': where the channel axis is
    stats: bool = False       # 'layer': also output Mean and InvStdDev (shape[:axis] + 1s)


def _view(attrs, shape):
    axis = normalize_axis(attrs.axis, len(shape)) if attrs.kind == "layer" else 1
    return ref.norm_view(shape, attrs.kind, axis, attrs.layout)


def _params(attrs, shape):
    try:
        return params_norm_f32.norm_f32_params(_view(attrs, shape), attrs.groups if attrs.kind == "channels" else 1,
                                   attrs.epsilon)
    except ValueError as exc:
        raise FirmnetError(str(exc)) from None


def param_shape(attrs, shape) -> tuple[int, ...]:
    """The shape scale and bias must have."""
    if attrs.kind == "layer":
        return tuple(shape[normalize_axis(attrs.axis, len(shape)):])
    return (shape[1] if attrs.layout == "NCHW" else shape[-1],)


def infer(attrs, in_types):
    x, scale, bias = (list(in_types) + [None])[:3]
    require_float32(x, scale, bias)
    require(attrs.kind in KINDS, f"normalization kind {attrs.kind} unknown (supported: {KINDS})")
    require(attrs.layout in ("NCHW", "NHWC"), f"normalization: unknown layout {attrs.layout}")
    require(attrs.kind == "layer" or len(x.shape) >= 3, f"instance/group normalization needs rank >= 3, got {x}")
    want = param_shape(attrs, x.shape)
    for t, what in ((scale, "scale"), (bias, "bias")):
        require(t is None or t.shape == want, f"normalization: {what} {t} must have shape {want}")
    require(scale is not None, "normalization needs a scale")
    groups = attrs.groups if attrs.kind == "channels" else 1
    channels = _view(attrs, x.shape)[2]
    require(groups >= 1 and channels % groups == 0, f"normalization: {groups} groups do not divide {channels} channels")
    if not attrs.stats:
        return [TensorType(x.shape, "float32")]
    require(attrs.kind == "layer", "only layer normalization outputs its statistics")
    return [TensorType(x.shape, "float32")] + [TensorType(_stats_shape(attrs, x.shape), "float32")] * 2


def _stats_shape(attrs, shape):
    axis = normalize_axis(attrs.axis, len(shape))
    return tuple(shape[:axis]) + (1,) * (len(shape) - axis)


def kernel_check(attrs, in_types) -> None:
    """FirmnetError when fn_norm_f32 cannot run this layer (until kernels/ selection states it)."""
    _params(attrs, in_types[0].shape)


def reference(attrs, x, scale, bias=None):
    groups = attrs.groups if attrs.kind == "channels" else 1
    y, mean, inv = ref.norm_f32_stats(x, scale.ravel(), None if bias is None else bias.ravel(),
                                      _view(attrs, x.shape), groups, attrs.epsilon)
    if not attrs.stats:
        return [y]
    return [y, mean.reshape(_stats_shape(attrs, x.shape)), inv.reshape(_stats_shape(attrs, x.shape))]


def macs(attrs, in_types, out_types):
    return 0


def lower(node, graph):
    params = _params(node.attrs, graph.types[node.inputs[0]].shape)
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    what = "layer" if node.attrs.kind == "layer" else f"{params['groups']}-group"
    return KernelCall("fn_norm_f32", "fn_norm_f32.h", "fn_norm_f32_params", params_of(params),
                      (node.inputs[0], node.inputs[1], bias, *node.outputs, *(None, None)[len(node.outputs) - 1:]),
                      description=f"float {what} normalization (two-pass statistics)")

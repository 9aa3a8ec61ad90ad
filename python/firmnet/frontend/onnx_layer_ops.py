"""ONNX layer operators → IR nodes: ConvTranspose, Resize and the fused normalizations
(LayerNormalization, InstanceNormalization, GroupNormalization). Upsample (opsets 7-9)
and Resize-10 arrive as opset-11 Resize after the loader's upgrade (keep_legacy_resize).

Same conventions as onnx_ops.py: one function per ONNX op, keyword arguments are the
op's ONNX attributes with the spec's defaults (an attribute not listed is refused by
the loader with the list of handled ones).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from onnx import helper

from ..ir import UnsupportedError
from ..ops import conv_transpose, normalization, resize
from ..reference.resize import COORDINATE_MODES, NEAREST_MODES, output_length
from .onnx_ops import _as_2d, _from_2d, _need_const, _spatial_rank, _weight


# Operators ONNX's shape inference leaves untyped (GroupNormalization, a function op, in
# onnx 1.23): their output has their first input's type.
SAME_TYPE_AS_INPUT = ("GroupNormalization", "BipolarQuant")


def type_untyped_outputs(model):
    """The model with value_info for the outputs of SAME_TYPE_AS_INPUT nodes that ONNX's shape
    inference cannot type (so that its strict mode accepts the nodes after them)."""
    import onnx
    if not any(n.op_type in SAME_TYPE_AS_INPUT for n in model.graph.node):
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())   # the caller's model stays as it was
    while True:
        inferred = onnx.shape_inference.infer_shapes(model)
        g = inferred.graph
        known = {v.name: v for v in list(g.input) + list(g.value_info) + list(g.output)
                 if v.type.tensor_type.elem_type}
        added = False
        for node in g.node:
            out = node.output[0] if node.output else ""
            if node.op_type in SAME_TYPE_AS_INPUT and out and out not in known and node.input[0] in known:
                vi = onnx.ValueInfoProto()
                vi.CopyFrom(known[node.input[0]])
                vi.name = out
                model.graph.value_info.append(vi)
                added = True
        if not added:
            return model


def keep_legacy_resize(old, upgraded):
    """The upgraded model with the semantics of its Upsample (opsets 7-9) and Resize-10 nodes:
    onnx.version_converter turns them into opset-11 Resize with the default half_pixel
    coordinates, but they map coordinates as asymmetric and round nearest down when upscaling,
    up when downscaling (onnxruntime's rule, nearest_mode 'simple' here)."""
    if not any(n.op_type in ("Upsample", "Resize") for n in old.graph.node):
        return upgraded
    legacy = {n.output[0] for n in old.graph.node if n.op_type in ("Upsample", "Resize")}
    for node in upgraded.graph.node:
        if node.op_type == "Resize" and node.output[0] in legacy:
            kept = [a for a in node.attribute if a.name not in ("coordinate_transformation_mode", "nearest_mode")]
            del node.attribute[:]
            node.attribute.extend(kept)
            node.attribute.extend([helper.make_attribute("coordinate_transformation_mode", "asymmetric"),
                                   helper.make_attribute("nearest_mode", "simple")])
    return upgraded


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


def _resize_targets(b, n, X, scales, sizes, axes, policy):
    """(output sizes, float32 scales) over all axes of X from Resize's scales or sizes input."""
    shape = b.types[X].shape
    rank = len(shape)
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    scale_values = b.value(scales) if scales else None
    size_values = b.value(sizes) if sizes else None
    if scales and scale_values is None or sizes and size_values is None:
        name = scales if scales and scale_values is None else sizes
        _need_const(b, n, name, "scales or sizes input")
    has_scales = scale_values is not None and scale_values.size > 0
    has_sizes = size_values is not None and size_values.size > 0
    if has_scales == has_sizes:
        raise UnsupportedError("Resize needs exactly one of scales and sizes (non-empty)")
    given = (scale_values if has_scales else size_values).ravel().tolist()
    if len(given) != len(axes):
        raise UnsupportedError(f"Resize: {len(given)} {'scales' if has_scales else 'sizes'} for {len(axes)} axes")
    f32 = np.float32
    out, factors = list(shape), [f32(1)] * rank
    if has_scales:
        for a, s in zip(axes, given):
            if not np.isfinite(s) or s <= 0:
                raise UnsupportedError(f"Resize scales must be positive and finite, got {given}")
            factors[a] = f32(s)
            out[a] = output_length(shape[a], s)
        return out, factors
    for a, size in zip(axes, given):
        factors[a] = f32(size) / f32(shape[a])
    if policy in ("not_larger", "not_smaller"):
        pick = min if policy == "not_larger" else max
        common = pick(factors[a] for a in axes)
        for a in axes:
            factors[a] = common
            out[a] = int(common * f32(shape[a]) + f32(0.5))
    elif policy != "stretch":
        raise UnsupportedError(f"keep_aspect_ratio_policy {policy!r} is not supported (stretch, not_larger, "
                               "not_smaller)")
    else:
        for a, size in zip(axes, given):
            out[a] = int(size)
    return out, factors


def _resize(b, n, X, out, factors, mode, coord_mode, nearest_mode):
    shape = b.types[X].shape
    rank = len(shape)
    if rank not in (3, 4):
        raise UnsupportedError(f"Resize of a rank-{rank} tensor is not supported (3-D [N, C, L] and 4-D NCHW are)")
    if min(out) < 1:
        raise UnsupportedError(f"Resize to an empty output {out}")
    if tuple(out[:2]) != tuple(shape[:2]) or any(f != 1 for f in factors[:2]):
        raise UnsupportedError(f"Resize of the batch or channel axis is not supported (scales {factors}, sizes "
                               f"{out} for input {list(shape)}); only the spatial axes may change")
    if mode not in ("nearest", "linear"):
        raise UnsupportedError(f"Resize mode '{mode}' is not supported (nearest, linear)")
    if coord_mode not in COORDINATE_MODES:
        raise UnsupportedError(f"coordinate_transformation_mode '{coord_mode}' is not supported "
                               f"({', '.join(COORDINATE_MODES)})")
    if mode == "nearest" and nearest_mode not in NEAREST_MODES:
        raise UnsupportedError(f"nearest_mode '{nearest_mode}' is not supported ({', '.join(NEAREST_MODES)})")
    size, scales = (int(out[-2]), int(out[-1])), (float(factors[-2]), float(factors[-1]))
    if rank == 3:
        size, scales = (1, int(out[-1])), (1.0, float(factors[-1]))
    attrs = resize.Attrs(size=size, scales=scales, mode=mode, coord_mode=coord_mode, nearest_mode=nearest_mode)
    x4 = _as_2d(b, n, X, rank - 2)
    y = b.add("resize", [x4], attrs, outputs=None if rank == 3 else [n.output[0]], name=n.name)[0]
    _from_2d(b, n, y, rank - 2)


def Resize(b, n, X, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
           nearest_mode="round_prefer_floor"):
    out, factors = _resize_targets(b, n, X, scales, sizes, axes, keep_aspect_ratio_policy)
    if antialias and mode != "nearest" and any(f < 1 for f in factors):
        raise UnsupportedError("Resize with antialias=1 when downscaling is not supported (export with "
                               "antialias=False)")
    if coordinate_transformation_mode == "tf_crop_and_resize":
        raise UnsupportedError("coordinate_transformation_mode 'tf_crop_and_resize' (a region of interest) is "
                               f"not supported ({', '.join(COORDINATE_MODES)})")
    _resize(b, n, X, out, factors, mode, coordinate_transformation_mode, nearest_mode)


def _norm_param(b, n, name, shape, what, repeat=1):
    """A constant scale or bias as a float32 constant of `shape` (broadcast, or each value repeated
    `repeat` times for per-group parameters)."""
    value = _float_weight(b, n, name, what)
    original = b.value(name)
    if repeat > 1:
        value = np.repeat(value.ravel(), repeat)
    try:
        full = np.ascontiguousarray(np.broadcast_to(value, shape), np.float32)
    except ValueError:
        raise UnsupportedError(f"its {what} of shape {list(value.shape)} does not broadcast to {list(shape)}") from None
    if original is not None and original.dtype == np.float32 and original.shape == full.shape:
        return name
    return b.const(full, f"{name}/full")


def _normalization(b, n, X, scale, bias, attrs, repeat=1):
    shape = normalization.param_shape(attrs, b.types[X].shape)
    inputs = [X, _norm_param(b, n, scale, shape, "scale", repeat)]
    if bias:
        inputs.append(_norm_param(b, n, bias, shape, "bias", repeat))
    outputs = [n.output[0]]
    if len(n.output) > 1 and any(n.output[1:]):   # LayerNormalization's Mean and InvStdDev
        attrs = dataclasses.replace(attrs, stats=True)
        outputs = [o or b.fresh(f"{n.name}:unused") for o in list(n.output[:3]) + [""] * (3 - len(n.output))]
    b.add("normalization", inputs, attrs, outputs=outputs, name=n.name)


def LayerNormalization(b, n, X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    """stash_type (the precision of mean and variance) is accepted as float32 either way."""
    rank = len(b.types[X].shape)
    if not -rank <= axis < rank:
        raise UnsupportedError(f"axis {axis} is out of range for rank {rank}")
    _normalization(b, n, X, Scale, B, normalization.Attrs("layer", float(np.float32(epsilon)), axis=axis % rank))


def InstanceNormalization(b, n, input, scale, B, *, epsilon=1e-5):
    if len(b.types[input].shape) < 3:
        raise UnsupportedError(f"InstanceNormalization needs rank >= 3 (N, C, spatial...), got {b.types[input]}")
    channels = b.types[input].shape[1]
    _normalization(b, n, input, scale, B, normalization.Attrs("channels", float(np.float32(epsilon)),
                                                               groups=channels))


def GroupNormalization(b, n, X, scale, bias, *, epsilon=1e-5, num_groups, stash_type=1):
    """Opset 18-20: scale and bias per group; opset 21: per channel (told apart by the opset, and
    checked against their length)."""
    shape = b.types[X].shape
    if len(shape) < 3:
        raise UnsupportedError(f"GroupNormalization needs rank >= 3 (N, C, spatial...), got {b.types[X]}")
    channels = shape[1]
    if num_groups < 1 or channels % num_groups:
        raise UnsupportedError(f"num_groups={num_groups} does not divide the {channels} channels")
    per_group = b.opset < 21
    want = num_groups if per_group else channels
    for name, what in ((scale, "scale"), (bias, "bias")):
        size = _float_weight(b, n, name, what).size
        if size != want:
            raise UnsupportedError(f"its {what} has {size} values; opset {b.opset} GroupNormalization takes one "
                                   f"per {'group' if per_group else 'channel'} ({want})")
    attrs = normalization.Attrs("channels", float(np.float32(epsilon)), groups=num_groups)
    _normalization(b, n, X, scale, bias, attrs, repeat=channels // num_groups if per_group else 1)


CONVERTERS = {f.__name__: f for f in (ConvTranspose, Resize, LayerNormalization, InstanceNormalization,
                                      GroupNormalization)}

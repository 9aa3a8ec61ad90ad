"""ONNX float operators → IR nodes (quantization operators: onnx_quant_ops.py). One
function per ONNX op; its keyword arguments are
the op's ONNX attributes with the spec's defaults, so an attribute we do not
handle is a TypeError that the loader turns into a clear error.

Each converter gets the builder `b`, the ONNX node `n` (for its output names and
the opset `b.opset`) and the node's inputs as tensor names ("" / None if absent).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import OpQuant, QuantParams, UnsupportedError
from ..ops import (batchnorm, binary, concat, conv2d, dense, dequantize, pad, pool2d, reshape, softmax, transpose,
                   unary)


def _need_const(b, n, name, what):
    value = b.value(name)
    if value is None:   # a DequantizeLinear of a constant is a constant where a float one is needed
        value = _dequantized_constant(b, name)
    if value is None:
        raise UnsupportedError(f"its {what} ('{name}') must be a constant (an initializer, or computable "
                               f"from constants and static shapes), but it is computed at run time")
    return value


def _dequantized_constant(b, name):
    """The float value of name = dequantize(constant), or None."""
    producer = b.producer(name) if name else None
    if producer is None or producer.op != "dequantize" or b.value(producer.inputs[0]) is None:
        return None
    return dequantize.reference(producer.attrs, b.value(producer.inputs[0]))[0]


def _const_name(b, n, name, what):
    """name, or a float constant holding its value if it is a dequantized constant."""
    value = _need_const(b, n, name, what)
    return name if b.value(name) is not None else b.const(value, f"{name}/float")


class Weight:
    """A constant operand: a float array, or an int8/int32 array under a dequantize (QDQ models)."""

    def __init__(self, array, quant=None):
        self.array, self.quant = array, quant

    def emit(self, b, hint, transform=lambda a: a, axis=None, scale=1.0):
        """Emit the (transformed) weight: a float constant, or dequantize(int8 constant).
        axis: where the per-channel axis lands after transform; scale: a factor on real values."""
        if self.quant is None:
            return b.const((transform(self.array).astype(np.float64) * scale).astype(np.float32), hint)
        q = self.quant
        if q.axis is not None and axis is None:
            raise UnsupportedError("per-channel quantized weights in an unsupported position")
        quant = QuantParams(tuple(float(np.float32(v * scale)) for v in q.scale), q.zero_point,
                            axis if q.axis is not None else None)
        data = b.const(np.ascontiguousarray(transform(self.array)), hint)
        return b.add("dequantize", [data], dequantize.Attrs(quant), name=f"{hint}/dequantize")[0]


def _weight(b, n, name, what) -> Weight:
    value = b.value(name)
    if value is not None:
        return Weight(value)
    producer = b.producer(name)
    if producer is not None and producer.op == "dequantize" and b.value(producer.inputs[0]) is not None:
        return Weight(b.value(producer.inputs[0]), producer.attrs.quant)
    return Weight(_need_const(b, n, name, what))


def _same_pads(size, kernel, stride, dilation, mode):
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    small, big = total // 2, total - total // 2
    return (small, big) if mode == "SAME_UPPER" else (big, small)


def _spatial_pads(auto_pad, pads, sizes, kernel, strides, dilations):
    """ONNX pads/auto_pad → ((begin_h, begin_w), (end_h, end_w))."""
    rank = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [_same_pads(sizes[i], kernel[i], strides[i], dilations[i], auto_pad) for i in range(rank)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    if auto_pad == "VALID":
        return (0,) * rank, (0,) * rank
    if auto_pad != "NOTSET":
        raise UnsupportedError(f"auto_pad={auto_pad} is not supported (NOTSET, SAME_UPPER, SAME_LOWER, VALID)")
    pads = list(pads) if pads is not None else [0] * (2 * rank)
    return tuple(pads[:rank]), tuple(pads[rank:])


def _as_2d(b, n, x, rank):
    """1-D ops run as 2-D ones over [N, C, 1, L]; returns the 4-D input name."""
    if rank == 2:
        return x
    shape = b.types[x].shape
    return b.add("reshape", [x], reshape.Attrs((shape[0], shape[1], 1, shape[2])), name=f"{n.name}/to2d")[0]


def _from_2d(b, n, y4, rank):
    """Connect the 4-D result to the node's output name (reshaping back for 1-D)."""
    if rank == 2:
        return
    s = b.types[y4].shape
    b.add("reshape", [y4], reshape.Attrs((s[0], s[1], s[3])), outputs=[n.output[0]], name=f"{n.name}/from2d")


def _spatial_rank(b, x, op):
    rank = len(b.types[x].shape) - 2
    if rank not in (1, 2):
        raise UnsupportedError(f"{op} over {rank} spatial dimensions is not supported (1-D and 2-D are)")
    return rank


def Conv(b, n, X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
         strides=None):
    _conv(b, n, X, W, B, None, auto_pad, dilations, group, kernel_shape, pads, strides)


def _conv(b, n, X, W, B, quant, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
          strides=None):
    """Conv, or with quant (ConvInteger) the integer conv writing int32 accumulators."""
    rank = _spatial_rank(b, X, n.op_type)
    weight = _weight(b, n, W, "filter")
    kernel = tuple(weight.array.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise UnsupportedError(f"kernel_shape {kernel_shape} differs from the filter's shape {weight.array.shape}")
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    begin, end = _spatial_pads(auto_pad, pads, b.types[X].shape[2:], kernel, strides, dilations)
    if rank == 1:
        strides, dilations, begin, end = (1,) + strides, (1,) + dilations, (0,) + begin, (0,) + end
    x4 = _as_2d(b, n, X, rank)
    attrs = conv2d.Attrs(strides=strides, dilations=dilations, pads=(begin[0], begin[1], end[0], end[1]),
                         groups=group, quant=quant)
    to_2d = (lambda a: a[:, :, None, :])
    if rank == 1:
        w_name = b.const(to_2d(weight.array), f"{W}/2d") if quant else weight.emit(b, W, to_2d, axis=0)
    else:
        w_name = W
    out = None if rank == 1 else [n.output[0]]
    y = b.add("conv2d", [x4, w_name, B], attrs, outputs=out, name=n.name)[0]
    _from_2d(b, n, y, rank)


def _pool(b, n, X, kind, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides, count_include_pad=0):
    rank = _spatial_rank(b, X, n.op_type)
    kernel = tuple(kernel_shape)
    strides = tuple(strides or (1,) * rank)
    dilations = tuple(dilations or (1,) * rank)
    begin, end = _spatial_pads(auto_pad, pads, b.types[X].shape[2:], kernel, strides, dilations)
    if rank == 1:
        kernel, strides, dilations = (1,) + kernel, (1,) + strides, (1,) + dilations
        begin, end = (0,) + begin, (0,) + end
    attrs = pool2d.Attrs(kind=kind, kernel=kernel, strides=strides, dilations=dilations,
                         pads=(begin[0], begin[1], end[0], end[1]), ceil_mode=bool(ceil_mode),
                         count_include_pad=bool(count_include_pad))
    x4 = _as_2d(b, n, X, rank)
    y = b.add("pool2d", [x4], attrs, outputs=None if rank == 1 else [n.output[0]], name=n.name)[0]
    _from_2d(b, n, y, rank)


def MaxPool(b, n, X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape, pads=None,
            storage_order=0, strides=None):
    if len(n.output) > 1 and n.output[1]:
        raise UnsupportedError("the Indices output of MaxPool is not supported")
    _pool(b, n, X, "max", auto_pad, ceil_mode, dilations, kernel_shape, pads, strides)


def AveragePool(b, n, X, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None, kernel_shape,
                pads=None, strides=None):
    if dilations is not None and any(d != 1 for d in dilations):
        raise UnsupportedError("AveragePool with dilations is not supported")
    _pool(b, n, X, "avg", auto_pad, ceil_mode, None, kernel_shape, pads, strides, count_include_pad)


def _global_pool(b, n, X, kind):
    _spatial_rank(b, X, n.op_type)   # refuses 3-D and higher
    kernel = tuple(b.types[X].shape[2:])
    _pool(b, n, X, kind, "NOTSET", 0, None, kernel, None, None)


def GlobalAveragePool(b, n, X):
    _global_pool(b, n, X, "avg")


def GlobalMaxPool(b, n, X):
    _global_pool(b, n, X, "max")


def Gemm(b, n, A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    weight = _weight(b, n, B, "B input (the weights)")
    if len(b.types[A].shape) != 2 or weight.array.ndim != 2:
        raise UnsupportedError("Gemm needs 2-D A and B")
    if transA:
        A = b.add("transpose", [A], transpose.Attrs((1, 0)), name=f"{n.name}/transA")[0]
    w_name = weight.emit(b, B, (lambda a: a) if transB else (lambda a: a.T), axis=0, scale=alpha)
    rows, m = b.types[A].shape[0], b.types[w_name].shape[0]
    bias, add_c = None, None
    if C:
        c = b.value(C)
        dq = b.producer(C)
        if c is None and dq is not None and dq.op == "dequantize" and b.value(dq.inputs[0]) is not None \
                and beta == 1.0 and b.types[C].shape == (m,):
            bias = C   # a quantized bias vector: kept for the QDQ pass
        elif c is None:
            add_c = C
        else:
            full = np.broadcast_to(c.astype(np.float64) * beta, (rows, m))
            if (full == full[:1]).all():
                bias = b.const(full[0].astype(np.float32), C)
            else:
                add_c = b.const(full.astype(np.float32), C)
    if add_c and beta != 1.0 and b.value(add_c) is None:
        beta_c = b.const(np.array(beta, np.float32), f"{n.name}/beta")
        add_c = b.add("binary", [add_c, beta_c], binary.Attrs("mul"), name=f"{n.name}/betaC")[0]
    out = [n.output[0]] if add_c is None else None
    y = b.add("dense", [A, w_name, bias], dense.Attrs(), outputs=out, name=n.name)[0]
    if add_c is not None:
        b.add("binary", [y, add_c], binary.Attrs("add"), outputs=[n.output[0]], name=f"{n.name}/addC")


def MatMul(b, n, A, B):
    _matmul(b, n, A, B, None)


def _matmul(b, n, A, B, quant):
    """MatMul, or with quant (MatMulInteger) the integer dense layer writing int32 accumulators."""
    weight = _weight(b, n, B, "second input (the weights)")
    a_shape = b.types[A].shape
    w_shape = weight.array.shape
    if len(w_shape) > 2 and int(np.prod(w_shape[:-2])) == 1:   # [1, ..., K, N]: one matrix
        weight = Weight(weight.array.reshape(w_shape[-2:]), weight.quant)
    elif len(w_shape) > 2 and len(a_shape) == len(w_shape) and a_shape[:-2] == w_shape[:-2]:
        _batched_matmul(b, n, A, B, weight, quant)
        return
    if weight.array.ndim != 2 or len(a_shape) < 2:
        raise UnsupportedError(f"MatMul is supported for A of rank >= 2 times a constant 2-D B, or a batch of "
                               f"constant matrices with A's batch shape, got {a_shape} x {w_shape}")
    k, m = weight.array.shape
    rows = int(np.prod(a_shape[:-1]))
    x = A if len(a_shape) == 2 else b.add("reshape", [A], reshape.Attrs((rows, k)), name=f"{n.name}/rows")[0]
    if quant:
        w_name = b.const(np.ascontiguousarray(weight.array.T), f"{B}/transposed")
    else:
        w_name = weight.emit(b, B, lambda a: a.T, axis=0)
    out = [n.output[0]] if len(a_shape) == 2 else None
    y = b.add("dense", [x, w_name], dense.Attrs(quant=quant), outputs=out, name=n.name)[0]
    if len(a_shape) != 2:
        b.add("reshape", [y], reshape.Attrs(tuple(a_shape[:-1]) + (m,)), outputs=[n.output[0]],
              name=f"{n.name}/unrows")


def _batched_matmul(b, n, A, B, weight, quant):
    """A [*batch, M, K] times constant B [*batch, K, N], one matrix per batch entry, as a
    grouped 1x1 convolution: group g reads A[g]'s rows as an M x 1 image with K channels.
        A → [G, K, M] → [1, G*K, M, 1] → conv(groups=G) → [1, G*N, M, 1] → [G, M, N]"""
    a_shape = b.types[A].shape
    m, k, n_cols = a_shape[-2], a_shape[-1], weight.array.shape[-1]
    g = int(np.prod(a_shape[:-2]))
    if weight.quant is not None and weight.quant.axis is not None:
        raise UnsupportedError("batched weights quantized per channel are not supported (per tensor are)")
    name = n.name
    x = b.add("reshape", [A], reshape.Attrs((g, m, k)), name=f"{name}/batches")[0]
    x = b.add("transpose", [x], transpose.Attrs((0, 2, 1)), name=f"{name}/columns")[0]
    x = b.add("reshape", [x], reshape.Attrs((1, g * k, m, 1)), name=f"{name}/as_image")[0]

    def to_filters(a):   # [G, K, N] → OIHW [G*N, K, 1, 1]: filter g*N + j is column j of batch g
        return np.ascontiguousarray(a.reshape(g, k, n_cols).transpose(0, 2, 1)).reshape(g * n_cols, k, 1, 1)
    if quant:
        w_name = b.const(to_filters(weight.array), f"{B}/filters")
        quant = OpQuant(quant.inputs + (None,), None, quant.mode)
    else:
        w_name = weight.emit(b, B, to_filters)
    y = b.add("conv2d", [x, w_name, None], conv2d.Attrs(groups=g, quant=quant), name=name)[0]
    y = b.add("reshape", [y], reshape.Attrs((g, n_cols, m)), name=f"{name}/per_batch")[0]
    y = b.add("transpose", [y], transpose.Attrs((0, 2, 1)), name=f"{name}/rows")[0]
    b.add("reshape", [y], reshape.Attrs(tuple(a_shape[:-2]) + (m, n_cols)), outputs=[n.output[0]],
          name=f"{name}/unbatch")


def _unary(b, n, X, kind, alpha=0.0, beta=0.0, act=(-math.inf, math.inf)):
    b.add("unary", [X], unary.Attrs(kind, float(alpha), float(beta), act), outputs=[n.output[0]], name=n.name)


def Relu(b, n, X):
    _unary(b, n, X, "identity", act=(0.0, math.inf))


def Clip(b, n, X, min=None, max=None):
    lo = -math.inf if not min else float(_need_const(b, n, min, "min"))
    hi = math.inf if not max else float(_need_const(b, n, max, "max"))
    _unary(b, n, X, "identity", act=(hi if lo > hi else lo, hi))   # min > max: every value becomes max


def LeakyRelu(b, n, X, *, alpha=0.01):
    _unary(b, n, X, "leaky_relu", alpha=alpha)


def Sigmoid(b, n, X):
    _unary(b, n, X, "sigmoid")


def Tanh(b, n, X):
    _unary(b, n, X, "tanh")


def HardSigmoid(b, n, X, *, alpha=0.2, beta=0.5):
    _unary(b, n, X, "hard_sigmoid", alpha=alpha, beta=beta)


def HardSwish(b, n, X):
    _unary(b, n, X, "hard_swish")


def _binary(b, n, A, B, kind):
    b.add("binary", [A, B], binary.Attrs(kind), outputs=[n.output[0]], name=n.name)


def Add(b, n, A, B):
    _binary(b, n, A, B, "add")


def Sub(b, n, A, B):
    _binary(b, n, A, B, "sub")


def Mul(b, n, A, B):
    _binary(b, n, A, B, "mul")


def Div(b, n, A, B):
    _binary(b, n, A, B, "div")


def Concat(b, n, *inputs, axis):
    b.add("concat", list(inputs), concat.Attrs(axis), outputs=[n.output[0]], name=n.name)


def _reshape_to(b, n, X, shape):
    b.add("reshape", [X], reshape.Attrs(tuple(int(d) for d in shape)), outputs=[n.output[0]], name=n.name)


def Reshape(b, n, data, shape, *, allowzero=0):
    target = [int(d) for d in _need_const(b, n, shape, "shape")]
    src = b.types[data].shape
    if not allowzero:
        target = [src[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = int(np.prod(src)) // known if known else 0
    _reshape_to(b, n, data, target)


def Flatten(b, n, X, *, axis=1):
    shape = b.types[X].shape
    axis = axis % len(shape) if axis < 0 else axis
    _reshape_to(b, n, X, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))


def _axes(b, n, axes_input, axes_attr):
    if axes_input:
        return [int(a) for a in _need_const(b, n, axes_input, "axes")]
    return list(axes_attr) if axes_attr is not None else None


def Squeeze(b, n, data, axes=None, **attrs):
    shape = b.types[data].shape
    axes = _axes(b, n, axes, attrs.pop("axes", None))
    if attrs:
        raise TypeError(f"unexpected attribute {next(iter(attrs))}")
    axes = [i for i, d in enumerate(shape) if d == 1] if axes is None else [a % len(shape) for a in axes]
    _reshape_to(b, n, data, [d for i, d in enumerate(shape) if i not in axes])


def Unsqueeze(b, n, data, axes=None, **attrs):
    shape = list(b.types[data].shape)
    axes = _axes(b, n, axes, attrs.pop("axes", None))
    if attrs or axes is None:
        raise TypeError("Unsqueeze needs axes")
    rank = len(shape) + len(axes)
    for a in sorted(x % rank for x in axes):
        shape.insert(a, 1)
    _reshape_to(b, n, data, shape)


def Transpose(b, n, data, *, perm=None):
    rank = len(b.types[data].shape)
    perm = tuple(perm) if perm is not None else tuple(reversed(range(rank)))
    b.add("transpose", [data], transpose.Attrs(perm), outputs=[n.output[0]], name=n.name)


def Softmax(b, n, input, *, axis=None):
    softmax_like(b, n, input, axis)


def softmax_like(b, n, input, axis, log=False):
    """Softmax (or with log, LogSoftmax): opset 13's single axis, or before opset 13 the
    flattened trailing dimensions from `axis`."""
    shape = b.types[input].shape
    if b.opset >= 13:
        b.add("softmax", [input], softmax.Attrs(-1 if axis is None else axis, log=log), outputs=[n.output[0]],
              name=n.name)
        return
    # opsets < 13: softmax over the flattened trailing dimensions from `axis`
    axis = (1 if axis is None else axis) % len(shape)
    flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    x2 = b.add("reshape", [input], reshape.Attrs(flat), name=f"{n.name}/flatten")[0]
    y2 = b.add("softmax", [x2], softmax.Attrs(1, log=log), name=n.name)[0]
    b.add("reshape", [y2], reshape.Attrs(shape), outputs=[n.output[0]], name=f"{n.name}/unflatten")


def BatchNormalization(b, n, X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9,
                       training_mode=0, spatial=1):
    if training_mode or (len(n.output) > 1 and any(n.output[1:])):
        raise UnsupportedError("training-mode BatchNormalization is not supported: export the model in eval mode")
    if not spatial:
        raise UnsupportedError("BatchNormalization with spatial=0 is not supported")
    params = [_const_name(b, n, name, what) for name, what in
              ((scale, "scale"), (B, "bias"), (input_mean, "mean"), (input_var, "variance"))]
    variance = b.value(params[3])
    if variance is not None and not np.all(variance.astype(np.float64) + epsilon > 0):
        raise UnsupportedError(f"variance '{input_var}' + epsilon {epsilon} must be positive, got "
                               f"{float(np.min(variance.astype(np.float64) + epsilon))} (a trained model never has "
                               "a negative variance: check the export)")
    b.add("batchnorm", [X, *params], batchnorm.Attrs(float(epsilon)),
          outputs=[n.output[0]], name=n.name)


def Pad(b, n, data, pads=None, constant_value=None, axes=None, *, mode="constant"):
    if mode != "constant":
        raise UnsupportedError(f"Pad mode '{mode}' is not supported (only 'constant')")
    rank = len(b.types[data].shape)
    p = [int(v) for v in _need_const(b, n, pads, "pads")]
    ax = list(range(rank)) if not axes else [int(a) % rank for a in _need_const(b, n, axes, "axes")]
    before, after = [0] * rank, [0] * rank
    for i, a in enumerate(ax):
        before[a], after[a] = p[i], p[i + len(ax)]
    value = 0.0 if not constant_value else float(_need_const(b, n, constant_value, "constant_value"))
    b.add("pad", [data], pad.Attrs(tuple(before), tuple(after), value), outputs=[n.output[0]], name=n.name)


def Identity(b, n, input):
    _reshape_to(b, n, input, b.types[input].shape)


def Dropout(b, n, data, ratio=None, training_mode=None, *, seed=0, is_test=0):
    if len(n.output) > 1 and n.output[1]:
        raise UnsupportedError("the mask output of Dropout is not supported")
    if training_mode and b.value(training_mode) is not None and bool(b.value(training_mode)):
        raise UnsupportedError("Dropout in training mode is not supported: export the model in eval mode")
    _reshape_to(b, n, data, b.types[data].shape)


CONVERTERS = {f.__name__: f for f in (
    Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Gemm, MatMul, Relu, Clip, LeakyRelu,
    Sigmoid, Tanh, HardSigmoid, HardSwish, Add, Sub, Mul, Div, Concat, Reshape, Flatten, Squeeze, Unsqueeze,
    Transpose, Softmax, BatchNormalization, Pad, Identity, Dropout)}

# Supported only where they fold to constants (shape arithmetic written by exporters).
FOLD_ONLY = ("Constant", "Shape", "Cast", "ConstantOfShape", "Size", "Range", "Equal", "Expand")

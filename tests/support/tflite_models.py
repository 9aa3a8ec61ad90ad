"""Small int8 .tflite models built in Python, and TensorFlow Lite Micro as their oracle.

Builders: every function below returns the bytes of a .tflite flatbuffer with one op (or a
short chain), quantized the way the TFLite converter quantizes: int8 activations with a
per-tensor scale and zero point derived from a float range that contains 0; int8
symmetric weights (zero point 0, values in [-127, 127], per output channel unless asked
otherwise: axis 0 for CONV_2D and FULLY_CONNECTED, axis 3 for DEPTHWISE_CONV_2D); int32
bias with scale float32(s_in * s_w[c]); softmax and logistic outputs (1/256, -128), tanh
outputs (1/128, 0); pooling, reshape, squeeze and pad keep their input's quantization.
Output ranges of one-op models are estimated from the weights and the input range (about
3 sigma), so outputs use the whole int8 range and saturate now and then; in chains every
activation is calibrated with TFLM on random inputs (Builder.calibrate), as the converter
calibrates. Each builder is deterministic in its arguments (seed). Pruned weights can be
written in TFLite's sparse format (Builder masks/sparse, sparse_weights_model; the format
itself is in tflite_sparse.py), with the same seed giving the same model written dense.

Running them (TFLM as the oracle, and the generated C): tflite_oracle.py.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

from support.tflite_sparse import encode, sparsity_table

f32 = np.float32
ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
ACT_RANGES = {"NONE": (-np.inf, np.inf), "RELU": (0.0, np.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
NP_TYPES = {S.TensorType.INT8: np.int8, S.TensorType.INT32: np.int32, S.TensorType.FLOAT32: np.float32,
            S.TensorType.INT64: np.int64}
TF_TYPES = {np.dtype(v): k for k, v in NP_TYPES.items()}
# The op versions the converter writes for int8 models (informative: TFLM ignores them).
VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "AVERAGE_POOL_2D": 2, "MAX_POOL_2D": 2,
            "ADD": 2, "SUB": 2, "MUL": 2, "SOFTMAX": 2, "LOGISTIC": 2, "TANH": 2, "RELU": 2, "RELU6": 2,
            "CONCATENATION": 2, "PAD": 2, "MEAN": 2, "QUANTIZE": 2, "DEQUANTIZE": 2, "GATHER": 2}


def seed_of(*parts) -> int:
    """A stable seed from any printable parts (ids)."""
    return zlib.crc32(repr(parts).encode())


# ----------------------------------------------------------------------------- quantization


def quant_from_range(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) of an int8 tensor holding [lo, hi], nudged to contain 0, as the converter does."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-6:
        hi = lo + 1e-6
    scale = float(f32((hi - lo) / 255.0))
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return scale, zp


def real_range(q) -> tuple[float, float]:
    scale, zp = q
    return scale * (-128 - zp), scale * (127 - zp)


def symmetric_weights(w: np.ndarray, axis: int | None):
    """int8 symmetric quantization of float weights: (q, scales); per channel along axis."""
    if axis is None:
        scales = np.array([np.abs(w).max() / 127.0])
        q = np.round(w / scales[0])
    else:
        moved = np.moveaxis(w, axis, 0)
        scales = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1) / 127.0
        scales = np.where(scales > 0, scales, 1e-6)
        q = np.moveaxis(np.round(moved / scales.reshape(-1, *[1] * (moved.ndim - 1))), 0, axis)
    return np.clip(q, -127, 127).astype(np.int8), scales.astype(f32)


def second_moment(q) -> float:
    """E[x^2] of a float uniformly spread over the tensor's range (random int8 inputs)."""
    lo, hi = real_range(q)
    return (lo * lo + lo * hi + hi * hi) / 3.0


def output_quant(lo: float, hi: float, act: str = "NONE", loose: bool = False) -> tuple[float, int]:
    """The output quantization for a pre-activation range: the converter records the range
    after the fused activation; loose keeps the pre-activation range (so the clamp matters)."""
    if not loose:
        a_lo, a_hi = ACT_RANGES[act]
        lo, hi = max(lo, a_lo), min(hi, a_hi)
        if hi <= lo:
            hi = lo + 1.0
    return quant_from_range(lo, hi)


def input_quant(rng) -> tuple[float, int]:
    """A random activation quantization: a range of a few units around 0 (any zero point)."""
    return quant_from_range(-rng.uniform(0.2, 6.0), rng.uniform(0.2, 6.0))


# ----------------------------------------------------------------------------- flatbuffer builder


@dataclass
class T:
    """A tensor of the model being built (its index in the subgraph)."""
    index: int
    shape: tuple
    dtype: type
    q: tuple | None = None          # (scale, zero point) of an activation


class Builder:
    """A one-subgraph .tflite model, written with the flatbuffers object API of the schema
    shipped by tflite-micro. Operator codes carry builtin_code and deprecated_builtin_code
    as the converter writes them (both set)."""

    def __init__(self, masks=None, sparse=None):
        """masks: {weights name: boolean array}, the weights pruned to it (zeros where False);
        sparse: {constant name: SparseFormat}, those constants written in TFLite's sparse
        format (tflite_sparse.py), with a DENSIFY op unless the format says otherwise."""
        self.tensors, self.buffers, self.ops, self.codes = [], [S.BufferT()], [], []
        self.inputs = []
        self.masks, self.sparse = masks or {}, sparse or {}

    def _tensor(self, shape, dtype, name, q=None, data=None, axis=None) -> T:
        t = S.TensorT()
        t.shape, t.type, t.name = [int(d) for d in shape], TF_TYPES[np.dtype(dtype)], name
        t.buffer = 0
        if data is not None:
            b = S.BufferT()
            b.data = list(np.ascontiguousarray(data, dtype=dtype).tobytes())
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        elif len(shape):
            t.shapeSignature = [-1, *[int(d) for d in shape[1:]]]
        if q is not None:
            scales, zps = q
            t.quantization = S.QuantizationParametersT()
            t.quantization.scale = [float(f32(s)) for s in np.atleast_1d(scales)]
            t.quantization.zeroPoint = [int(z) for z in np.atleast_1d(zps)]
            t.quantization.quantizedDimension = axis or 0
        self.tensors.append(t)
        per_tensor = q is not None and axis is None and np.size(q[0]) == 1
        return T(len(self.tensors) - 1, tuple(int(d) for d in shape), dtype,
                 (float(f32(np.ravel(q[0])[0])), int(np.ravel(q[1])[0])) if per_tensor else None)

    def input(self, shape, q=None, dtype=np.int8, name=None) -> T:
        t = self._tensor(shape, dtype, name or f"input_{len(self.inputs)}", q)
        self.inputs.append(t.index)
        return t

    def act(self, shape, q, name, dtype=np.int8) -> T:
        return self._tensor(shape, dtype, name, q)

    def const(self, data, name, q=None, axis=None) -> T:
        data = np.asarray(data)
        fmt = self.sparse.get(name)
        if fmt is None:
            return self._tensor(data.shape, data.dtype, name, q, data=data, axis=axis)
        values, levels = encode(data, fmt)
        t = self._tensor(data.shape, data.dtype, name, q, data=values, axis=axis)
        self.tensors[t.index].sparsity = sparsity_table(levels, fmt, data.ndim)
        if not fmt.densify:
            return t
        dense = self._tensor(data.shape, data.dtype, f"{name}/densified", q, axis=axis)
        self.tensors[dense.index].shapeSignature = None
        return self.op("DENSIFY", [t], [dense])

    def prune(self, weights: np.ndarray, name: str) -> np.ndarray:
        """The weights with zeros where masks[name] is False (unchanged if name has no mask)."""
        mask = self.masks.get(name)
        return weights if mask is None else np.where(mask, weights, 0).astype(weights.dtype)

    def op(self, code: str, inputs, outputs, options=None):
        if code not in self.codes:
            self.codes.append(code)
        node = S.OperatorT()
        node.opcodeIndex = self.codes.index(code)
        node.inputs = [-1 if t is None else t.index for t in inputs]
        node.outputs = [t.index for t in outputs]
        if options is not None:
            node.builtinOptionsType = getattr(S.BuiltinOptions, type(options).__name__[:-1])
            node.builtinOptions = options
        self.ops.append(node)
        return outputs[0] if len(outputs) == 1 else outputs

    def requantize(self, t: T, q) -> None:
        """Give the activation tensor t a new (scale, zero point)."""
        scale, zp = float(f32(q[0])), int(q[1])
        self.tensors[t.index].quantization.scale = [scale]
        self.tensors[t.index].quantization.zeroPoint = [zp]
        t.q = (scale, zp)

    def calibrate(self, t: T, act: str = "NONE", n: int = 64, seed: int = 0) -> T:
        """Set t's quantization from the range its values take (TFLM, on n random inputs to
        the model built so far), as the converter sets it from calibration data. Chains need
        it: a layer after a ReLU sees far from uniform values. The estimate t has is widened
        until no value saturates unless the fused activation clamps it there."""
        from support.tflite_oracle import Tflm, random_inputs   # here: the oracle module imports this one
        a_lo, a_hi = ACT_RANGES[act]
        for _ in range(6):
            model = self.build(t)
            y = Tflm(model).run(random_inputs(model, n, seed))[0].astype(np.float64)
            lo, hi = real_range(t.q)
            if ((y == 127).any() and hi < a_hi - 1e-6) or ((y == -128).any() and lo > a_lo + 1e-6):
                self.requantize(t, quant_from_range(4 * lo, 4 * hi))
                continue
            real = (y - t.q[1]) * t.q[0]
            self.requantize(t, quant_from_range(real.min(), real.max()))
            return t
        raise RuntimeError(f"could not calibrate tensor {t.index}")

    def build(self, *outputs: T) -> bytes:
        graph = S.SubGraphT()
        graph.tensors, graph.operators, graph.name = self.tensors, self.ops, "main"
        graph.inputs, graph.outputs = list(self.inputs), [t.index for t in outputs]
        model = S.ModelT()
        model.version, model.description = 3, "firmnet test model"
        model.subgraphs, model.buffers = [graph], self.buffers
        model.operatorCodes = []
        for code in self.codes:
            oc = S.OperatorCodeT()
            oc.builtinCode = getattr(S.BuiltinOperator, code)
            oc.deprecatedBuiltinCode = min(oc.builtinCode, 127)
            oc.version = VERSIONS.get(code, 1)
            model.operatorCodes.append(oc)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _options(cls, **fields):
    o = getattr(S, cls)()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def _act(act: str) -> int:
    return getattr(S.ActivationFunctionType, act)


def conv_out(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    extent = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size - extent) // stride + 1


# ----------------------------------------------------------------------------- layers (append to a Builder)


def _bias_and_range(b: Builder, rng, x: T, w_rows: np.ndarray, s_w: np.ndarray, bias: bool, gain: float, name):
    """The int32 bias (scale float32(s_in * s_w[c]), per channel when s_w is) and the estimated
    output range (bias + mean +- 3 sigma over channels) for weights w_rows[out, fan_in]."""
    out = w_rows.shape[0]
    s_w_full = np.broadcast_to(s_w, (out,)).astype(f32)
    w_real = w_rows.astype(np.float64) * s_w_full[:, None]          # the float weights they stand for
    sigma = np.sqrt((w_real ** 2).sum(axis=1) * second_moment(x.q))
    mean = w_real.sum(axis=1) * sum(real_range(x.q)) / 2
    bt, b_real = None, np.zeros(out)
    if bias:
        s_b = (f32(x.q[0]) * s_w_full).astype(f32)
        bq = np.round(gain * rng.normal(0, 1, out) * sigma / s_b).astype(np.int32)
        b_real = bq * s_b.astype(np.float64)
        per_channel = len(s_w) > 1
        bt = b.const(bq, f"{name}/bias", (s_b if per_channel else s_b[:1], np.zeros(len(s_w), int)),
                     axis=0 if per_channel else None)
    return bt, (float((b_real + mean - 3 * sigma).min()), float((b_real + mean + 3 * sigma).max()))


def conv2d_layer(b: Builder, rng, x: T, out_c: int, kernel=(3, 3), strides=(1, 1), dilations=(1, 1),
                 padding="SAME", act="NONE", per_channel=True, bias=True, loose=False, depthwise=False,
                 name="conv", out_q=None, bias_gain=1.0) -> T:
    n, h, w, c = x.shape
    kh, kw = kernel
    fan_in = kh * kw * (1 if depthwise else c)
    shape = (1, kh, kw, out_c) if depthwise else (out_c, kh, kw, c)
    axis = 3 if depthwise else 0
    wf = rng.normal(0, 1, shape) / np.sqrt(fan_in)
    wf *= np.moveaxis(2.0 ** rng.uniform(-1.5, 1.5, out_c).reshape(-1, 1, 1, 1), 0, axis)
    wq, s_w = symmetric_weights(wf, axis if per_channel else None)
    wq = b.prune(wq, f"{name}/weights")
    wt = b.const(wq, f"{name}/weights", (s_w, np.zeros(len(s_w), int)), axis=axis if per_channel else None)
    w_rows = np.moveaxis(wq, axis, 0).reshape(out_c, -1)
    bt, (lo, hi) = _bias_and_range(b, rng, x, w_rows, s_w, bias, bias_gain, name)
    oh = conv_out(h, kh, strides[0], dilations[0], padding)
    ow = conv_out(w, kw, strides[1], dilations[1], padding)
    y = b.act((n, oh, ow, out_c), out_q or output_quant(lo, hi, act, loose), f"{name}/out")
    common = dict(padding=getattr(S.Padding, padding), strideH=strides[0], strideW=strides[1],
                  dilationHFactor=dilations[0], dilationWFactor=dilations[1], fusedActivationFunction=_act(act))
    if depthwise:
        return b.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y],
                    _options("DepthwiseConv2DOptionsT", depthMultiplier=out_c // c, **common))
    return b.op("CONV_2D", [x, wt, bt], [y], _options("Conv2DOptionsT", **common))


def fc_layer(b: Builder, rng, x: T, units: int, act="NONE", per_channel=False, keep_num_dims=False,
             bias=True, loose=False, name="fc", gain=1.0, bias_gain=1.0) -> T:
    k = x.shape[-1]
    wf = gain * rng.normal(0, 1, (units, k)) / np.sqrt(k) * 2.0 ** rng.uniform(-1.5, 1.5, (units, 1))
    wq, s_w = symmetric_weights(wf, 0 if per_channel else None)
    wq = b.prune(wq, f"{name}/weights")
    wt = b.const(wq, f"{name}/weights", (s_w, np.zeros(len(s_w), int)), axis=0 if per_channel else None)
    bt, (lo, hi) = _bias_and_range(b, rng, x, wq, s_w, bias, bias_gain, name)
    rows = int(np.prod(x.shape[:-1]))
    shape = (*x.shape[:-1], units) if keep_num_dims else (rows, units)
    y = b.act(shape, output_quant(lo, hi, act, loose), f"{name}/out")
    return b.op("FULLY_CONNECTED", [x, wt, bt], [y],
                _options("FullyConnectedOptionsT", fusedActivationFunction=_act(act), keepNumDims=keep_num_dims))


def pool_layer(b: Builder, x: T, kind: str, filt=(2, 2), strides=(2, 2), padding="VALID", act="NONE",
               name="pool") -> T:
    n, h, w, c = x.shape
    oh, ow = (conv_out(h, filt[0], strides[0], 1, padding), conv_out(w, filt[1], strides[1], 1, padding))
    y = b.act((n, oh, ow, c), x.q, f"{name}/out")
    return b.op({"avg": "AVERAGE_POOL_2D", "max": "MAX_POOL_2D"}[kind], [x], [y],
                _options("Pool2DOptionsT", padding=getattr(S.Padding, padding), strideH=strides[0],
                         strideW=strides[1], filterHeight=filt[0], filterWidth=filt[1],
                         fusedActivationFunction=_act(act)))


def binary_layer(b: Builder, rng, kind: str, x: T, other: T, act="NONE", out_q=None, name="binary") -> T:
    (la, ha), (lb, hb) = real_range(x.q), real_range(other.q)
    if out_q is None:
        lo, hi = {"ADD": (la + lb, ha + hb), "SUB": (la - hb, ha - lb),
                  "MUL": (min(la * lb, la * hb, ha * lb, ha * hb), max(la * lb, la * hb, ha * lb, ha * hb))}[kind]
        shrink = rng.uniform(0.6, 1.0)                      # calibrated ranges are narrower than the extremes
        out_q = output_quant(lo * shrink, hi * shrink, act)
    shape = tuple(np.broadcast_shapes(x.shape, other.shape))
    y = b.act(shape, out_q, f"{name}/out")
    return b.op(kind, [x, other], [y], _options(f"{kind.capitalize()}OptionsT", fusedActivationFunction=_act(act)))


def random_int8_const(rng, shape, name, b: Builder) -> T:
    q = input_quant(rng)
    data = rng.integers(-128, 128, shape).astype(np.int8)
    return b.const(data, name, q)


# ----------------------------------------------------------------------------- one-op models


def conv2d_model(seed, in_shape=(1, 9, 9, 3), out_c=4, kernel=(3, 3), strides=(1, 1), dilations=(1, 1),
                 padding="SAME", act="NONE", per_channel=True, bias=True, loose=False, in_q=None) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, in_q or input_quant(rng))
    return b.build(conv2d_layer(b, rng, x, out_c, kernel, strides, dilations, padding, act, per_channel, bias,
                                loose))


def depthwise_model(seed, in_shape=(1, 9, 9, 3), multiplier=1, kernel=(3, 3), strides=(1, 1), dilations=(1, 1),
                    padding="SAME", act="NONE", per_channel=True, loose=False) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    return b.build(conv2d_layer(b, rng, x, in_shape[3] * multiplier, kernel, strides, dilations, padding, act,
                                per_channel, True, loose, depthwise=True, name="dwconv"))


def fc_model(seed, in_shape=(1, 32), units=10, act="NONE", per_channel=False, keep_num_dims=False, bias=True,
             loose=False, in_q=None) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, in_q or input_quant(rng))
    return b.build(fc_layer(b, rng, x, units, act, per_channel, keep_num_dims, bias, loose))


def pool_model(seed, kind, in_shape=(1, 8, 8, 3), filt=(2, 2), strides=(2, 2), padding="VALID",
               act="NONE") -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    return b.build(pool_layer(b, x, kind, filt, strides, padding, act))


def binary_model(seed, kind, shape_a=(1, 4, 4, 8), shape_b=(1, 4, 4, 8), const_b=False, same_quant=False,
                 act="NONE") -> bytes:
    """ADD/SUB/MUL of two int8 tensors (broadcasting); the second a constant if const_b."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(shape_a, input_quant(rng))
    if const_b:
        other = b.const(rng.integers(-128, 128, shape_b).astype(np.int8), "operand", x.q if same_quant
                        else input_quant(rng))
    else:
        other = b.input(shape_b, x.q if same_quant else input_quant(rng))
    out_q = x.q if same_quant else None
    return b.build(binary_layer(b, rng, kind, x, other, act, out_q))


def reshape_model(seed, in_shape=(1, 2, 3, 4), new_shape=(1, 24), as_input=True, as_option=True) -> bytes:
    """RESHAPE with the new shape as a constant int32 input (converter style) and/or as an option."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    shape_t = b.const(np.array(new_shape, np.int32), "new_shape") if as_input else None
    resolved = list(new_shape)
    if -1 in resolved:
        resolved[resolved.index(-1)] = int(np.prod(in_shape)) // -int(np.prod(resolved))
    y = b.act(resolved, x.q, "reshape/out")
    options = _options("ReshapeOptionsT", newShape=list(new_shape)) if as_option else None
    return b.build(b.op("RESHAPE", [x] + ([shape_t] if as_input else []), [y], options))


def squeeze_model(seed, in_shape=(1, 1, 1, 16), dims=(1, 2)) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    out = [d for i, d in enumerate(in_shape) if (i not in [a % len(in_shape) for a in dims] if dims else d != 1)]
    y = b.act(out, x.q, "squeeze/out")
    return b.build(b.op("SQUEEZE", [x], [y], _options("SqueezeOptionsT", squeezeDims=list(dims))))


def unary_model(seed, kind, shape=(1, 64), in_q=None) -> bytes:
    """SOFTMAX (beta 1), LOGISTIC, TANH, RELU, RELU6, HARD_SWISH with the converter's output quantization."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(shape, in_q or input_quant(rng))
    lo, hi = real_range(x.q)
    out_q = {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0),
             "RELU": quant_from_range(0, hi), "RELU6": quant_from_range(0, min(hi, 6.0)),
             "HARD_SWISH": quant_from_range(-0.375, hi * min(max(hi + 3, 0), 6) / 6)}[kind]
    y = b.act(shape, out_q, f"{kind.lower()}/out")
    options = _options("SoftmaxOptionsT", beta=1.0) if kind == "SOFTMAX" else None
    return b.build(b.op(kind, [x], [y], options))


def softmax_model(seed, shape=(1, 10), beta=1.0) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(shape, quant_from_range(-rng.uniform(4, 16), rng.uniform(4, 16)))
    y = b.act(shape, (1 / 256, -128), "softmax/out")
    return b.build(b.op("SOFTMAX", [x], [y], _options("SoftmaxOptionsT", beta=beta)))


def concat_model(seed, shapes=((1, 4, 4, 3), (1, 4, 4, 5)), axis=3, same_quant=True, requantize=True) -> bytes:
    """CONCATENATION. TFLM's int8 kernel is a copy: it refuses inputs whose quantization
    differs from the output's, so for inputs quantized differently the converter puts a
    QUANTIZE (int8 -> int8) before each input that needs it; requantize=False leaves them
    out (a model TFLM refuses)."""
    rng, b = np.random.default_rng(seed), Builder()
    q0 = input_quant(rng)
    xs = [b.input(s, q0 if same_quant else input_quant(rng)) for s in shapes]
    ax = axis % len(shapes[0])
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    if same_quant:
        out_q = q0
    else:
        ranges = [real_range(x.q) for x in xs]
        out_q = quant_from_range(min(r[0] for r in ranges), max(r[1] for r in ranges))
        if requantize:
            xs = [b.op("QUANTIZE", [x], [b.act(x.shape, out_q, f"requantized_{i}")]) for i, x in enumerate(xs)]
    y = b.act(out_shape, out_q, "concat/out")
    return b.build(b.op("CONCATENATION", xs, [y], _options("ConcatenationOptionsT", axis=axis)))


def pad_model(seed, in_shape=(1, 4, 5, 3), paddings=((0, 0), (1, 2), (2, 1), (0, 0))) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    p = b.const(np.array(paddings, np.int32), "paddings")
    y = b.act([d + lo + hi for d, (lo, hi) in zip(in_shape, paddings)], x.q, "pad/out")
    return b.build(b.op("PAD", [x, p], [y], _options("PadOptionsT")))


def mean_model(seed, in_shape=(1, 5, 6, 8), axes=(1, 2), keep_dims=True, same_quant=True) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(in_shape, input_quant(rng))
    a = b.const(np.array(axes, np.int32), "axes")
    out = [1 if i in axes else d for i, d in enumerate(in_shape)] if keep_dims else \
        [d for i, d in enumerate(in_shape) if i not in axes]
    lo, hi = real_range(x.q)
    mid, width = (lo + hi) / 2, (hi - lo) / 4            # the mean of many values: a narrower range
    y = b.act(out, x.q if same_quant else quant_from_range(mid - width / 2, mid + width / 2), "mean/out")
    return b.build(b.op("MEAN", [x, a], [y], _options("ReducerOptionsT", keepDims=keep_dims)))


def quantize_model(seed, shape=(1, 4, 4, 3), from_float=False) -> bytes:
    """QUANTIZE float32 -> int8, or int8 -> int8 (a requantization)."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(shape, None if from_float else input_quant(rng), dtype=np.float32 if from_float else np.int8)
    y = b.act(shape, input_quant(rng), "quantize/out")
    return b.build(b.op("QUANTIZE", [x], [y]))


def dequantize_model(seed, shape=(1, 4, 4, 3)) -> bytes:
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input(shape, input_quant(rng))
    y = b.act(shape, None, "dequantize/out", dtype=np.float32)
    return b.build(b.op("DEQUANTIZE", [x], [y]))


def gather_model(seed=0) -> bytes:
    """QUANTIZE int8 -> int8 (operator 0) then GATHER (operator 1): an op firmnet does not support."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input((4, 6), input_quant(rng))
    r = b.act((4, 6), input_quant(rng), "requantized")
    b.op("QUANTIZE", [x], [r])
    idx = b.const(np.array([2, 0], np.int32), "indices")
    y = b.act((2, 6), x.q, "gather/out")
    return b.build(b.op("GATHER", [r, idx], [y], _options("GatherOptionsT", axis=0, batchDims=0)))


# ----------------------------------------------------------------------------- short chains


def chain_model(seed, kind: str) -> bytes:
    """Short chains, every activation calibrated (Builder.calibrate): 'kws' (conv, depthwise,
    pointwise conv, average pool, reshape, fully connected, softmax), 'residual' (a tensor
    read by two ops, then ADD), 'branches' (two convolutions concatenated, then max pool),
    'float_io' (QUANTIZE float -> conv -> DEQUANTIZE: a float interface)."""
    rng, b = np.random.default_rng(seed), Builder()
    conv = dict(bias_gain=0.3)

    def layer(t, act="NONE"):
        return b.calibrate(t, act, seed=seed % 1000)
    if kind == "float_io":
        x = b.input((1, 6, 6, 2), None, dtype=np.float32)
        xq = b.op("QUANTIZE", [x], [b.act((1, 6, 6, 2), input_quant(rng), "quantized")])
        c = layer(conv2d_layer(b, rng, xq, 4, act="RELU", **conv), "RELU")
        return b.build(b.op("DEQUANTIZE", [c], [b.act(c.shape, None, "output", dtype=np.float32)]))
    x = b.input((1, 12, 8, 1) if kind == "kws" else (1, 6, 6, 4), input_quant(rng))
    if kind == "kws":
        c = layer(conv2d_layer(b, rng, x, 8, (4, 3), (2, 2), act="RELU", name="conv0", **conv), "RELU")
        d = layer(conv2d_layer(b, rng, c, 8, act="RELU", depthwise=True, name="dw1", **conv), "RELU")
        p = layer(conv2d_layer(b, rng, d, 8, (1, 1), act="RELU", name="pw1", **conv), "RELU")
        a = pool_layer(b, p, "avg", p.shape[1:3], p.shape[1:3], "VALID")
        r = b.op("RESHAPE", [a, b.const(np.array([-1, 8], np.int32), "shape")], [b.act((1, 8), a.q, "flat")],
                 _options("ReshapeOptionsT", newShape=[-1, 8]))
        f = layer(fc_layer(b, rng, r, 5, bias_gain=0.0))
        return b.build(b.op("SOFTMAX", [f], [b.act((1, 5), (1 / 256, -128), "probs")],
                            _options("SoftmaxOptionsT", beta=1.0)))
    if kind == "residual":
        c1 = layer(conv2d_layer(b, rng, x, 4, act="RELU", name="conv1", **conv), "RELU")
        c2 = layer(conv2d_layer(b, rng, c1, 4, name="conv2", **conv))
        return b.build(layer(binary_layer(b, rng, "ADD", c1, c2, "RELU", name="add"), "RELU"))
    if kind == "branches":
        # the converter gives the inputs of a concatenation the concatenation's quantization
        c1 = layer(conv2d_layer(b, rng, x, 3, (1, 1), name="branch1", **conv))
        c2 = layer(conv2d_layer(b, rng, x, 5, (3, 3), act="RELU6", name="branch2", **conv), "RELU6")
        q = quant_from_range(min(real_range(c1.q)[0], 0), max(real_range(c1.q)[1], real_range(c2.q)[1]))
        b.requantize(c1, q)
        b.requantize(c2, q)
        m = b.op("CONCATENATION", [c1, c2], [b.act((1, 6, 6, 8), q, "cat")],
                 _options("ConcatenationOptionsT", axis=3))
        return b.build(pool_layer(b, m, "max", (2, 2), (2, 2)))
    raise ValueError(kind)


# ----------------------------------------------------------------------------- one op with int32 constant inputs


def tflite_one_op_model(op: str, in_shape, out_shape, in_q, out_q, const_inputs=(), options=None) -> bytes:
    """A .tflite with one int8 op: input tensor 0 (and constant int32 tensors `const_inputs`,
    given as 1-D sequences) -> output tensor 1. `options` = (BuiltinOptions name, options
    object) or None. Built with the flatbuffers object API of the schema the tflite-micro
    package ships."""
    def tensor(name, shape, q, ttype=S.TensorType.INT8, buffer=0):
        t = S.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), ttype, buffer, name
        if q is not None:
            t.quantization = S.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(q[0])], [int(q[1])]
        return t

    buffers, tensors = [S.BufferT()], [tensor("x", in_shape, in_q), tensor("y", out_shape, out_q)]
    for k, values in enumerate(const_inputs):
        data = np.asarray(values, dtype=np.int32)
        buffer = S.BufferT()
        buffer.data = list(data.tobytes())
        buffers.append(buffer)
        tensors.append(tensor(f"c{k}", [len(data)], None, S.TensorType.INT32, len(buffers) - 1))
    code = getattr(S.BuiltinOperator, op)
    opcode = S.OperatorCodeT()
    opcode.builtinCode, opcode.deprecatedBuiltinCode, opcode.version = code, min(code, 127), 1
    node = S.OperatorT()
    node.opcodeIndex, node.inputs, node.outputs = 0, [0] + list(range(2, 2 + len(const_inputs))), [1]
    if options is not None:
        node.builtinOptionsType, node.builtinOptions = getattr(S.BuiltinOptions, options[0]), options[1]
    graph = S.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [1], [node]
    model = S.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [opcode], [graph], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ----------------------------------------------------------------------------- pruned weights, sparse or dense


SPARSE_LAYERS = {"fc": "fc/weights", "conv": "conv/weights", "depthwise": "dwconv/weights"}


def sparse_weights_model(seed, kind: str, mask: np.ndarray, fmt=None, in_hw=(6, 6), **layer) -> bytes:
    """One FULLY_CONNECTED ('fc'), CONV_2D ('conv') or DEPTHWISE_CONV_2D ('depthwise') whose
    weights are pruned to mask (its shape is the weights': [units, k]; [oc, kh, kw, c];
    [1, kh, kw, c * m]), written in TFLite's sparse format fmt (a SparseFormat), or dense
    when fmt is None: with the same seed, the same model densified."""
    rng = np.random.default_rng(seed)
    name = SPARSE_LAYERS[kind]
    b = Builder({name: np.asarray(mask, bool)}, {name: fmt} if fmt is not None else None)
    if kind == "fc":
        x = b.input((1, mask.shape[1]), input_quant(rng))
        return b.build(fc_layer(b, rng, x, mask.shape[0], **layer))
    if kind == "conv":
        oc, kh, kw, c = mask.shape
        x = b.input((1, *in_hw, c), input_quant(rng))
        return b.build(conv2d_layer(b, rng, x, oc, (kh, kw), **layer))
    _, kh, kw, oc = mask.shape
    c = layer.pop("channels", oc)
    x = b.input((1, *in_hw, c), input_quant(rng))
    return b.build(conv2d_layer(b, rng, x, oc, (kh, kw), depthwise=True, name="dwconv", **layer))


def sparse_constant_model(dense: np.ndarray, fmt=None, seed=0) -> bytes:
    """ADD(x, w) with w the constant `dense` (int8 or float32, any rank), written in TFLite's
    sparse format fmt (dense when None): the loader's view of w is the decoded tensor."""
    rng, b = np.random.default_rng(seed), Builder(sparse={"w": fmt} if fmt is not None else None)
    q = input_quant(rng) if dense.dtype == np.int8 else None
    x = b.input(dense.shape, q, dtype=dense.dtype)
    w = b.const(dense, "w", q)
    y = b.act(dense.shape, q, "y", dtype=dense.dtype)
    return b.build(b.op("ADD", [x, w], [y], _options("AddOptionsT", fusedActivationFunction=_act("NONE"))))

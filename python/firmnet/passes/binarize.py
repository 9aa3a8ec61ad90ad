"""Binary layers: a Conv/Gemm/MatMul on Sign outputs with +-1 weights becomes XNOR-popcount.

The ONNX pattern (README "Binary layers"): a conv2d (groups 1, dilation 1, any filter,
stride, pads) or dense layer whose data input is a +-1 tensor and whose weights are a
constant of +1/-1 values (Sign of a constant folds to one at load time), or of +alpha/-alpha
per filter (XNOR-Net's sign(W) * mean|W|, QONNX BipolarQuant with per-channel scales:
alpha joins the output scale), then, each
optional and each the only reader of the tensor before it: Mul and Add by per-channel
constants (alpha, bias), BatchNormalization, a clamp (Relu, Clip), and Sign. A +-1 tensor
is a Sign (or BipolarQuant: frontend/qonnx_ops.py) output, the same times a positive
scalar (BipolarQuant's scale, joining the output scale), a max pooling of one (sign is
monotone: max then sign = sign then max, so it runs as an OR on bits), or a flatten of one
into a fully connected layer.

The layer becomes bconv2d (a dense layer: the convolution whose filter covers its input,
on [N, K, 1, 1] or on the flattened image itself) with the chain folded into a float32
scale and offset per channel: y = acc * scale + offset. With the final Sign the output
stays bits (b1; kernels/params_binary.py turns y >= 0 into an integer threshold), else
it is float. Its input bits come from a binarize node (float x >= 0, or int8 x >= zp where
the Sign reads a DequantizeLinear), from the bits of an earlier binary layer, or from a
bmaxpool of those. Readers of the Signs that are not binary layers get float +-1
(unbinarize) or keep the float Sign.

Semantics: firmnet binarizes x >= 0 -> +1, x < 0 -> -1 (Larq, XNOR-Net); ONNX Sign gives 0
at exactly 0, so the two differ only where a Sign's input is exactly 0 (BinarizeWarning).

Refuses (FirmnetError naming the node) weights that mix +-1 with other values (at least
half +-1: meant to be binary, but not). Leaves float, with a BinarizeWarning note, a layer
on +-1 inputs with real-valued weights, groups > 1 or dilation > 1. Runs before BatchNorm
folding, which would scale the weights away from +-1."""
from __future__ import annotations

import warnings

import numpy as np

from ..frontend.builder import rebuild_from
from ..ir import FirmnetError, Graph
from ..ops import binarize as binarize_op
from ..ops import batchnorm, bconv2d, bmaxpool, reshape, unbinarize
from ..ops._util import NO_CLAMP


class BinarizeWarning(UserWarning):
    """A note of the binarization pass (the zero rule, a Sign left in float)."""


def _is_sign(node) -> bool:
    """ONNX Sign, or QONNX BipolarQuant's x >= 0 -> +1 (loaded as the unary kind bipolar)."""
    return node.op == "unary" and node.attrs.kind in ("sign", "bipolar") and tuple(node.attrs.act) == NO_CLAMP \
        and node.attrs.quant is None


def _positive_scalar(graph, name):
    v = graph.constants.get(name)
    if v is None or v.size != 1 or graph.types[name].dtype != "float32" or not float(v.ravel()[0]) > 0:
        return None
    return float(v.ravel()[0])


class _Graph:
    """The graph's tensors seen as +-1 sources."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.producers, self.consumers = graph.producers(), graph.consumers()

    def source(self, t):
        """('sign', node) / ('maxpool', node) / ('scaled', node) for a float tensor of +-1 values
        (times a positive scalar: BipolarQuant's scale), else None."""
        p = self.producers.get(t)
        if p is None:
            return None
        if _is_sign(p) and self.g.types[p.inputs[0]].dtype == "float32":
            return "sign", p
        if p.op == "binary" and p.attrs.kind == "mul" and p.attrs.quant is None and tuple(p.attrs.act) == NO_CLAMP \
                and self.g.types[p.outputs[0]].shape == self.g.types[p.inputs[0]].shape \
                and _positive_scalar(self.g, p.inputs[1]) and self.source(p.inputs[0]):
            return "scaled", p
        if (p.op == "pool2d" and p.attrs.kind == "max" and p.attrs.quant is None and p.attrs.dilations == (1, 1)
                and tuple(p.attrs.act) == NO_CLAMP and p.attrs.layout == "NCHW" and self.source(p.inputs[0])):
            return "maxpool", p
        return None

    def factor(self, t) -> float:
        """The positive scalar the +-1 values of the source t are multiplied by."""
        kind, p = self.source(t)
        if kind == "sign":
            return 1.0
        if kind == "scaled":
            return _positive_scalar(self.g, p.inputs[1]) * self.factor(p.inputs[0])
        return self.factor(p.inputs[0])

    def flattened(self, t):
        """The 4-D +-1 tensor t is a flatten of (N, C*H*W), or None."""
        p = self.producers.get(t)
        if p is None or p.op != "reshape" or not self.source(p.inputs[0]):
            return None
        s = self.g.types[p.inputs[0]].shape
        return p.inputs[0] if len(s) == 4 and self.g.types[t].shape == (s[0], s[1] * s[2] * s[3]) else None

    def flat_sign(self, t):
        """y where t = Sign(Flatten(y)) of a 4-D float y, else None: the sign commutes with the
        flatten, so the bits of y are t's (a fully connected layer reads them as an image)."""
        p = self.producers.get(t)
        r = self.producers.get(p.inputs[0]) if p is not None and _is_sign(p) else None
        if r is None or r.op != "reshape":
            return None
        y = r.inputs[0]
        s = self.g.types[y].shape
        flat = len(s) == 4 and self.g.types[r.outputs[0]].shape == (s[0], s[1] * s[2] * s[3])
        return y if flat and self.g.types[y].dtype == "float32" else None

    def only_reader(self, t):
        users = self.consumers.get(t, [])
        return users[0] if len(users) == 1 and t not in self.g.outputs else None


def _filter_scales(w) -> np.ndarray | None:
    """alpha [O] where every weight of filter o is +alpha[o] or -alpha[o] (alpha > 0: +-1 weights,
    or XNOR-Net's sign(W) * mean|W|, BipolarQuant with a per-channel scale), else None."""
    mags = np.abs(w.reshape(w.shape[0], -1)).astype(np.float64)
    alpha = mags[:, 0]
    return alpha if (alpha > 0).all() and (mags == alpha[:, None]).all() else None


def _weights_kind(node, w) -> str:
    """'binary', 'real', or a FirmnetError for mixed weights."""
    if _filter_scales(w) is not None:
        return "binary"
    pm1 = np.isin(w, (-1.0, 1.0))
    if pm1.mean() >= 0.5:
        bad = w[~pm1]
        raise FirmnetError(f"{node.describe()}: its input is a Sign (+-1) and {pm1.mean():.0%} of its weights are "
                           f"+-1, but {bad.size} are not (e.g. {float(bad.flat[0]):g}): a binary layer needs every "
                           "weight +1 or -1. Binarize the weights in the model (Sign of the weights, or firmnet "
                           "compress --binarize), or give the layer real-valued weights")
    return "real"


def _per_channel(graph, name, rank, channels):
    """The per-channel vector [channels] of a constant broadcast along axis 1 of a rank-`rank`
    tensor, or None."""
    if name not in graph.constants:
        return None
    v = graph.constants[name]
    if v.ndim > rank or graph.types[name].dtype != "float32":
        return None
    v = v.reshape((1,) * (rank - v.ndim) + v.shape)
    if any(d != 1 for k, d in enumerate(v.shape) if k != 1) or v.shape[1] not in (1, channels):
        return None
    return np.broadcast_to(v.reshape(-1), (channels,)).astype(np.float64)


class _Layer:
    """A binary layer found in the graph: the nodes it absorbs and its folded output stage."""

    def __init__(self, node, input_bits_of, kernel_from_flatten, w4):
        self.node, self.input = node, input_bits_of
        self.flat = kernel_from_flatten
        self.w4 = w4                       # OIHW +-1 int8
        self.absorbed = []
        self.scale = np.ones(w4.shape[0])
        self.offset = np.zeros(w4.shape[0])
        self.act = NO_CLAMP
        self.bits = False
        self.out = node.outputs[0]         # the float tensor the chain ends with
        self.flat_out = False              # out = Sign(Flatten(y)): its bits are those of the image y
        self.pool = None                   # a max pooling between the chain and its Sign
        self.pooled = None                 # the float tensor that pooling reads


def _max_pool_then_sign(gv: _Graph, node):
    """The Sign reading this float max pooling (its only reader), or None."""
    a = node.attrs
    if not (node.op == "pool2d" and a.kind == "max" and a.quant is None and a.dilations == (1, 1)
            and tuple(a.act) == NO_CLAMP and a.layout == "NCHW"):
        return None
    u = gv.only_reader(node.outputs[0])
    return u if u is not None and _is_sign(u) else None


def _fold_chain(gv: _Graph, layer: _Layer) -> None:
    """Absorb Mul/Add by per-channel constants, BatchNormalization, one clamp and a Sign, or a
    max pooling and a Sign: y(acc) is monotone per channel (non-decreasing once the filters of
    negative scale are negated, _Rewriter.emit_layer), so sign(max(y)) = max(sign(y)): the
    pooling runs on the bits (bmaxpool), exactly."""
    g = gv.g
    o = layer.w4.shape[0]
    while True:
        u = gv.only_reader(layer.out)
        if u is None:
            return
        rank = len(g.types[layer.out].shape)
        if layer.act == NO_CLAMP and u.op == "binary" and u.attrs.kind in ("mul", "add") and u.attrs.quant is None \
                and tuple(u.attrs.act) == NO_CLAMP:
            other = u.inputs[1] if u.inputs[0] == layer.out else u.inputs[0]
            v = _per_channel(g, other, rank, o)
            if v is None or g.types[u.outputs[0]].shape != g.types[layer.out].shape:
                return
            if u.attrs.kind == "mul":
                layer.scale, layer.offset = layer.scale * v, layer.offset * v
            else:
                layer.offset = layer.offset + v
        elif layer.act == NO_CLAMP and u.op == "batchnorm" and all(i in g.constants for i in u.inputs[1:]):
            s, t = batchnorm.scale_shift(u.attrs, *(g.constants[i] for i in u.inputs[1:]))
            layer.scale, layer.offset = layer.scale * s, layer.offset * s + t
        elif layer.act == NO_CLAMP and u.op == "unary" and u.attrs.kind == "identity" and u.attrs.quant is None \
                and tuple(u.attrs.act) != NO_CLAMP:
            layer.act = tuple(float(a) for a in u.attrs.act)
        elif _is_sign(u):
            layer.absorbed.append(u)
            layer.out, layer.bits = u.outputs[0], True
            return
        elif u.op == "reshape" and len(g.types[layer.out].shape) == 4 and gv.only_reader(u.outputs[0]) is not None \
                and gv.flat_sign(gv.only_reader(u.outputs[0]).outputs[0]) == layer.out:
            sign = gv.only_reader(u.outputs[0])     # Flatten -> Sign: the bits stay an image
            layer.absorbed += [u, sign]
            layer.out, layer.bits, layer.flat_out = sign.outputs[0], True, True
            return
        elif _max_pool_then_sign(gv, u) is not None:
            sign = _max_pool_then_sign(gv, u)
            layer.absorbed += [u, sign]
            layer.pool, layer.pooled = u, layer.out
            layer.out, layer.bits = sign.outputs[0], True
            return
        else:
            return
        layer.absorbed.append(u)
        layer.out = u.outputs[0]


def _find_layer(gv: _Graph, node, notes) -> _Layer | None:
    g = gv.g
    if node.op not in ("conv2d", "dense") or node.attrs.quant is not None or node.inputs[1] not in g.constants:
        return None
    x = node.inputs[0]
    flat = gv.flattened(x) if node.op == "dense" else None
    if flat is None and node.op == "dense" and gv.flat_sign(x) is not None:
        flat = ("flat", x)     # the bits of Sign(Flatten(y)) are y's image bits
    if not gv.source(x) and flat is None:
        return None
    w = g.constants[node.inputs[1]]
    if _weights_kind(node, w) != "binary":
        notes.append(f"{node.describe()} reads a Sign but its weights are real-valued: it stays float")
        return None
    if node.op == "conv2d" and (node.attrs.groups != 1 or node.attrs.dilations != (1, 1)):
        notes.append(f"{node.describe()} has +-1 weights but groups {node.attrs.groups}, dilations "
                     f"{node.attrs.dilations} (binary layers: groups 1, dilation 1): it stays float")
        return None
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    if bias and bias not in g.constants:
        return None
    if node.op == "dense" and flat is not None:
        _, c, h, wd = g.types[gv.flat_sign(x) if isinstance(flat, tuple) else flat].shape
        w4 = w.reshape(w.shape[0], c, h, wd)
    elif node.op == "dense":
        w4 = w.reshape(w.shape + (1, 1))
    else:
        w4 = w
    layer = _Layer(node, flat or x, flat is not None, np.where(w4 >= 0, 1, -1).astype(np.int8))
    layer.scale = _filter_scales(w) * (1.0 if isinstance(flat, tuple) else gv.factor(flat or x))
    if bias:
        layer.offset = g.constants[bias].astype(np.float64)
    if node.op == "conv2d" or len(g.types[node.outputs[0]].shape) == 2:
        _fold_chain(gv, layer)
    return layer


class _Rewriter:
    def __init__(self, gv: _Graph, layers: dict):
        self.gv, self.g, self.layers = gv, gv.g, layers
        self.b = rebuild_from(gv.g)
        self.bits: dict[str, str] = {}     # float +-1 tensor (4-D, or 2-D as [N, K, 1, 1]) -> its b1 tensor
        self.zero_rule = set()             # Signs binarized from float (x >= 0 differs from Sign at 0)
        self.zero_rule_int8 = set()        # the same from int8 bytes, where x == zero point is common

    def as_4d(self, t, name):
        s = self.g.types[t].shape
        if len(s) == 4:
            return t
        return self.b.add("reshape", [t], reshape.Attrs((s[0], int(np.prod(s[1:])), 1, 1)), name=f"{name}/as_4d")[0]

    def bits_of(self, t) -> str:
        """The b1 tensor of the +-1 float tensor t (made on first use); t = ("flat", T) names the
        image bits of T = Sign(Flatten(y))."""
        if t in self.bits:
            return self.bits[t]
        if isinstance(t, tuple):
            kind, p, x = "sign", self.gv.producers[t[1]], self.gv.flat_sign(t[1])
        else:
            (kind, p), x = self.gv.source(t), None
        if kind == "scaled":
            out = self.bits_of(p.inputs[0])
        elif kind == "maxpool":
            a = p.attrs
            out = self.b.add("bmaxpool", [self.bits_of(p.inputs[0])],
                             bmaxpool.Attrs(a.kernel, a.strides, a.pads, a.ceil_mode), name=f"{p.name}/bits")[0]
        else:
            x = x or p.inputs[0]
            dq = self.gv.producers.get(x)
            if dq is not None and dq.op == "dequantize" and dq.attrs.quant.axis is None \
                    and self.g.types[dq.inputs[0]].dtype == "int8":
                x, zp = dq.inputs[0], int(dq.attrs.quant.zero_point[0])
                if p.attrs.kind == "sign":
                    self.zero_rule_int8.add(p.name)
            else:
                zp = None
                if p.attrs.kind == "sign":
                    self.zero_rule.add(p.name)
            out = self.b.add("binarize", [self.as_4d(x, p.name)], binarize_op.Attrs(zp), name=f"{p.name}/bits")[0]
        self.bits[t] = out
        return out

    def emit_layer(self, layer: _Layer):
        node = layer.node
        x_bits = self.bits_of(layer.input)
        kind = "bits" if layer.bits else "float"
        w4, scale = layer.w4, layer.scale
        if layer.pool is not None:   # make y(acc) non-decreasing: -w gives -acc, and -scale * -acc is the same y
            negative = scale < 0
            w4 = np.where(negative[:, None, None, None], -w4, w4).astype(np.int8)
            scale = np.abs(scale)
        w = self.b.const(np.ascontiguousarray(w4), f"{node.inputs[1]}/pm1")
        scale = self.b.const(scale.astype(np.float32), f"{node.name}/scale")
        offset = self.b.const(layer.offset.astype(np.float32), f"{node.name}/offset")
        a = node.attrs
        strides, pads = (a.strides, a.pads) if node.op == "conv2d" else ((1, 1), (0, 0, 0, 0))
        attrs = bconv2d.Attrs(strides=strides, pads=pads, out=kind, act=layer.act)
        out_shape = self.g.types[layer.out].shape
        direct = kind == "float" and len(out_shape) == 4
        y = self.b.add("bconv2d", [x_bits, w, scale, offset], attrs, outputs=[layer.out] if direct else None,
                       name=node.name)[0]
        if layer.pool is not None:
            p = layer.pool.attrs
            y = self.b.add("bmaxpool", [y], bmaxpool.Attrs(p.kernel, p.strides, p.pads, p.ceil_mode),
                           name=layer.pool.name)[0]
        if kind == "bits":
            self.bits[("flat", layer.out) if layer.flat_out else layer.out] = y
            y = self.b.add("unbinarize", [y], unbinarize.Attrs(), name=f"{node.name}/pm1")[0]
        if not direct:   # float +-1 (or the dense layer's float output) in the model's own shape
            self.b.add("reshape", [y], reshape.Attrs(out_shape), outputs=[layer.out], name=f"{node.name}/out")

    def run(self) -> Graph:
        skip = {n.name for layer in self.layers.values() for n in layer.absorbed}
        for node in self.g.nodes:
            if node.name in skip:
                continue
            layer = self.layers.get(node.name)
            if layer is not None:
                self.emit_layer(layer)
            else:
                self.b.add(node.op, node.inputs, node.attrs, node.outputs, node.name)
        return self.b.build(self.g.outputs)


def binarize_layers(graph: Graph) -> Graph:
    """Rewrite every binary layer (module docstring) into bconv2d on bits. Does not fire on
    graphs without a float Sign."""
    if not any(_is_sign(n) for n in graph.nodes):
        return graph
    gv = _Graph(graph)
    notes = []
    layers = {}
    for node in graph.nodes:
        layer = _find_layer(gv, node, notes)
        if layer is not None:
            layers[node.name] = layer
    for note in notes:
        warnings.warn(note, BinarizeWarning, stacklevel=2)
    if not layers:
        return graph
    rw = _Rewriter(gv, layers)
    out = rw.run()
    if rw.zero_rule:
        names = ", ".join(sorted(rw.zero_rule))
        warnings.warn(f"binary layers binarize the input of Sign node(s) {names} as x >= 0 -> +1, x < 0 -> -1; "
                      "ONNX Sign gives 0 where x is exactly 0, so results differ only for exact zeros",
                      BinarizeWarning, stacklevel=2)
    if rw.zero_rule_int8:
        names = ", ".join(sorted(rw.zero_rule_int8))
        warnings.warn(f"binary layers binarize the int8 input of Sign node(s) {names} as byte >= zero point -> +1; "
                      "ONNX Sign gives 0 for a byte equal to the zero point (real 0), which int8 tensors hold "
                      "often: results differ from onnxruntime there (train the model with x >= 0 -> +1, as "
                      "QONNX BipolarQuant does, to match)", BinarizeWarning, stacklevel=2)
    return out

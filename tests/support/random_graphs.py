"""Random small float32 ONNX graphs (opset 17): a hypothesis strategy, and onnxruntime as their oracle.

`random_graphs()` is a hypothesis strategy that builds a model with onnx.helper, one
node at a time. Each step picks an existing activation (the newest two times in three,
otherwise any, so tensors fan out into residual branches), picks an op that accepts its
shape, and draws that op's attributes. One small function per op below; `OP_TABLE`
lists them with the shapes they accept. test_random_graphs.py checks compiled C ==
onnxruntime == numpy reference on them; test_memory_plan.py checks memory plans.

What the generator covers:
  * Conv, 1-D and 2-D: groups (1, any divisor of C, depthwise C, channel multipliers),
    strides, dilations, asymmetric pads, auto_pad NOTSET/SAME_UPPER/SAME_LOWER/VALID,
    with or without bias, kernel_shape given or not;
  * Gemm: alpha, beta, transA, transB; C absent, constant of shape (), [1], [N], [1,N],
    [M,1], [M,N], or an activation; MatMul: rank 2-5 activation x constant 2-D weights;
  * Relu, Clip (min/max absent or given, sometimes min > max), LeakyRelu, Sigmoid,
    Tanh, HardSigmoid, HardSwish;
  * MaxPool (pads, strides, dilations, ceil_mode) and AveragePool (pads, strides,
    ceil_mode, count_include_pad), 1-D and 2-D; GlobalAveragePool, GlobalMaxPool;
  * Add/Sub/Mul/Div with numpy broadcasting: constants of rank 0-4 (also of higher
    rank than the activation, and growing its size-1 dims), activations of rank 1-5,
    either operand order, a tensor with itself;
  * Concat on any axis (negative too) of 2-3 inputs: the same tensor twice, other
    activations, constant blocks; Reshape (with 0 and -1), Flatten (axis 0..rank and
    negative), Squeeze (axes given, negative, or none), Unsqueeze, Transpose (perm or
    default), Softmax (every axis, default), BatchNormalization (rank 2-4; after a
    conv it folds, elsewhere it becomes a per-channel affine), Pad (constant, on 1-2
    axes, with or without a value);
  * graphs with 1 or 2 inputs (rank 1-4, the second broadcastable to the first), 1-6
    drawn ops; every branch ends in a graph output, or only the newest does and the
    others are dead code; inner tensors that other nodes also read, and graph inputs,
    are sometimes outputs too; some nodes are unnamed; tensors up to MAX_ELEMS elements, batch 1-2, sizes down to 1.

Numerical conditioning (so that a failure means a bug, not float noise):
  * inputs are uniform in [-2.5, 2.5], weights N(0, 1/fan_in), biases and BN shifts in
    [-0.5, 0.5], BN variances in [0.5, 2]: magnitudes stay O(1) through the chain;
  * every divisor is bounded away from 0: a constant divisor has |v| in [0.5, 2] with a
    random sign; an activation divisor first goes through Sigmoid(.)+0.5 (-> [0.5, 1.5])
    or Clip(., 0.5, 3);
  * scalar attributes (alpha, beta, clip bounds, epsilon, pad value) come from short
    lists of ordinary values; every op used is continuous, so the summation-order
    differences between C, numpy and onnxruntime stay at rounding level, far inside
    firmnet.verify's 1e-4 relative tolerance.

Not drawn, because onnxruntime or the ONNX spec make them ill-defined rather than
because firmnet should refuse them: dilated Conv/MaxPool with SAME (ORT refuses or
returns an empty tensor), SAME with stride > kernel (ORT: negative pads), ceil_mode
with auto_pad (spec and ORT disagree) or where PyTorch's "no window starts in the
trailing padding" rule changes the size (ORT's kernels apply it, ONNX shape inference
does not), MaxPool windows of only padding (-inf). onnxruntime runs with its graph
optimizer off: its Pad fusion turns Pad -> MaxPool into pads >= kernel, which ORT's own
MaxPool then refuses. Minimal reproducers of the compiler bugs the generator found are
regression tests in test_random_graphs.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MAX_ELEMS = 2048
MAX_RANK = 5


class TooBig(Exception):
    """The drawn op would make a tensor larger than MAX_ELEMS: the step is undone."""


# ---- the graph under construction ------------------------------------------------------

class Draft:
    """ONNX nodes, initializers and the shape of every activation, plus drawing helpers."""

    def __init__(self, draw, rng: np.random.Generator):
        self.draw, self.rng = draw, rng
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list[str] = []
        self.shapes: dict[str, tuple] = {}   # activation (graph input or node output) → shape
        self.order: list[str] = []           # activations in creation order
        self.count = 0

    # drawing
    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def choice(self, options):
        return self.draw(st.sampled_from(list(options)))

    def flag(self):
        return self.draw(st.booleans())

    # tensors
    def fresh(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value, stem="k"):
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def f32(self, shape, lo, hi):
        return self.rng.uniform(lo, hi, shape).astype(np.float32)

    def weights(self, shape, fan_in):
        return (self.rng.standard_normal(shape) / math.sqrt(max(fan_in, 1))).astype(np.float32)

    def ints(self, values):
        return self.const(np.array(values, dtype=np.int64), "i")

    def add_input(self, shape):
        name = f"in{len(self.inputs)}"
        self.inputs.append(name)
        self.shapes[name] = tuple(shape)
        self.order.append(name)
        return name

    def node(self, op, inputs, shape, **attrs):
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) > MAX_ELEMS or len(shape) > MAX_RANK:
            raise TooBig
        out = self.fresh(op.lower())
        name = out if self.choice([True, True, False]) else ""   # unnamed nodes are legal ONNX
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=name, **attrs))
        self.shapes[out] = shape
        self.order.append(out)
        return out

    def pick(self, accept=lambda shape: True):
        """An existing activation: the newest acceptable one (2/3), or any acceptable one (fan-out)."""
        candidates = [t for t in self.order if accept(self.shapes[t])]
        if not candidates:
            return None
        return candidates[-1] if self.choice([True, True, False]) else self.choice(candidates)

    # undo support for TooBig
    def mark(self):
        return len(self.nodes), len(self.initializers), len(self.order)

    def undo(self, mark):
        n, i, o = mark
        for name in self.order[o:]:
            del self.shapes[name]
        del self.nodes[n:], self.initializers[i:], self.order[o:]


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _broadcast(a, b):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


# ---- one function per op: (draft, input activation) → output activation ---------------

UNARY = ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Clip")


def unary(g: Draft, x):
    op = g.choice(UNARY)
    attrs, inputs = {}, [x]
    if op == "LeakyRelu":
        attrs["alpha"] = g.choice([0.01, 0.2, 1.5])
    elif op == "HardSigmoid":
        attrs["alpha"], attrs["beta"] = g.choice([0.2, 0.5]), g.choice([0.5, 0.25])
    elif op == "Clip":
        lo, hi = g.choice([None, -1.0, 0.0, 0.5]), g.choice([None, 0.25, 1.0, 6.0])  # 0.5 > 0.25: min > max
        inputs += ["" if lo is None else g.const(np.float32(lo)), "" if hi is None else g.const(np.float32(hi))]
        while inputs[-1] == "":
            inputs.pop()
    return g.node(op, inputs, g.shapes[x], **attrs)


def _nonzero(g: Draft, y):
    """y mapped into an interval bounded away from 0 (for divisors)."""
    if g.flag():
        return g.node("Add", [g.node("Sigmoid", [y], g.shapes[y]), g.const(np.float32(0.5))], g.shapes[y])
    return g.node("Clip", [y, g.const(np.float32(0.5)), g.const(np.float32(3.0))], g.shapes[y])


def _broadcast_const_shape(g: Draft, shape):
    """A constant shape that broadcasts with `shape`: rank 0..rank+1, each trailing dim
    either the activation's size or 1 (or 2-3 where the activation has a 1)."""
    rank = g.integer(0, min(len(shape) + 1, 4))
    out = []
    for i in range(rank):
        j = len(shape) - rank + i
        if j < 0:
            out.append(1)
        elif shape[j] == 1:
            out.append(g.choice([1, 1, 2, 3]))
        else:
            out.append(g.choice([shape[j], 1]))
    return tuple(out)


def binary(g: Draft, x):
    op = g.choice(["Add", "Sub", "Mul", "Div"])
    x_first = g.flag()
    shape = g.shapes[x]
    if g.flag():
        cshape = _broadcast_const_shape(g, shape)
        divisor = op == "Div" and x_first
        if divisor:  # |v| in [0.5, 2], random sign
            value = g.f32(cshape, 0.5, 2.0) * np.where(g.rng.random(cshape) < 0.5, -1, 1).astype(np.float32)
        else:
            value = g.f32(cshape, -1.5, 1.5)
        other = g.const(value.reshape(cshape))
        out_shape = _broadcast(shape, cshape)
    else:
        other = g.pick(lambda s: (b := _broadcast(shape, s)) is not None and math.prod(b) <= MAX_ELEMS)
        out_shape = _broadcast(shape, g.shapes[other])
        if op == "Div" and x_first:
            other = _nonzero(g, other)
    if op == "Div" and not x_first:
        x = _nonzero(g, x)
    a, b = (x, other) if x_first else (other, x)
    return g.node(op, [a, b], out_shape)


SAME = ("SAME_UPPER", "SAME_LOWER")
AUTO_PADS = ("NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _out_size(size, kernel, stride, dilation, pb, pe, auto_pad, ceil_mode=False):
    """Output length as onnxruntime computes it (for ceil_mode, PyTorch's rule: no window
    starts in the trailing padding)."""
    if auto_pad in SAME:
        return -(-size // stride)
    span = size + pb + pe - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= size + pb else out


@dataclass
class Window:
    """Per spatial dim: kernel, stride, dilation, pads, output size (lists, ONNX order)."""
    kernel: list
    strides: list
    dilations: list
    pads: list        # begins then ends
    out: list


def _window(g: Draft, spatial, auto_pad, max_stride, dilate, pool, ceil_mode=False):
    """Draw a window that fits every spatial dim. For pooling, pads < kernel (onnxruntime
    requires it). With SAME, onnxruntime refuses negative implied pads (stride > kernel)
    and dilations, so those are not drawn."""
    w = Window([], [], [], [], [])
    ends = []
    for size in spatial:
        k = g.integer(1, 3)
        d = g.integer(1, 2) if dilate and auto_pad not in SAME else 1
        s = g.integer(1, max_stride)
        pb = pe = 0
        if auto_pad == "NOTSET":
            top = k - 1 if pool else 2
            pb, pe = g.integer(0, top), g.integer(0, top)
        while auto_pad not in SAME and d * (k - 1) + 1 > size + pb + pe:
            k -= 1
            if pool:
                pb, pe = min(pb, k - 1), min(pe, k - 1)
        while auto_pad in SAME and (-(-size // s) - 1) * s + k - size < 0:
            s -= 1
        out = _out_size(size, k, s, d, pb, pe, auto_pad, ceil_mode)
        if pool and not all(any(0 <= o * s - pb + j * d < size for j in range(k)) for o in range(out)):
            d = 1   # a dilated window of only padding: -inf in ORT, refused by firmnet
            out = _out_size(size, k, s, d, pb, pe, auto_pad, ceil_mode)
        w.kernel.append(k), w.strides.append(s), w.dilations.append(d)
        w.pads.append(pb), ends.append(pe)
        w.out.append(out)
    w.pads += ends
    return w


def _spatial_attrs(g: Draft, attrs, w: Window, auto_pad, with_dilations=True):
    """Set the ONNX attributes, leaving defaults out half of the time."""
    explicit = g.flag()
    if any(s != 1 for s in w.strides) or explicit:
        attrs["strides"] = w.strides
    if with_dilations and (any(d != 1 for d in w.dilations) or explicit):
        attrs["dilations"] = w.dilations
    if auto_pad != "NOTSET" or explicit:
        attrs["auto_pad"] = auto_pad
    if auto_pad == "NOTSET" and (any(w.pads) or explicit):
        attrs["pads"] = w.pads


def conv(g: Draft, x):
    n, c, *spatial = g.shapes[x]
    group = g.choice(_divisors(c))
    out_channels = group * g.integer(1, max(1, 8 // group))
    auto_pad = g.choice(AUTO_PADS)
    w = _window(g, spatial, auto_pad, max_stride=2, dilate=True, pool=False)
    fan_in = c // group * math.prod(w.kernel)
    inputs = [x, g.const(g.weights((out_channels, c // group, *w.kernel), fan_in), "w")]
    if g.flag():
        inputs.append(g.const(g.f32(out_channels, -0.5, 0.5), "b"))
    attrs = {"group": group} if group != 1 or g.flag() else {}
    if g.flag():
        attrs["kernel_shape"] = w.kernel
    _spatial_attrs(g, attrs, w, auto_pad)
    return g.node("Conv", inputs, (n, out_channels, *w.out), **attrs)


def pool(g: Draft, x):
    n, c, *spatial = g.shapes[x]
    op = g.choice(["MaxPool", "AveragePool"])
    auto_pad = g.choice(AUTO_PADS)
    ceil_mode = auto_pad == "NOTSET" and g.flag()   # ceil_mode with auto_pad: ill-defined (ORT vs spec)
    w = _window(g, spatial, auto_pad, max_stride=3, dilate=op == "MaxPool", pool=True, ceil_mode=ceil_mode)
    if ceil_mode and w.out != _window_floor_ceil(spatial, w):
        # PyTorch's "no window in the trailing padding" rule fired: onnxruntime's kernels
        # follow it, ONNX shape inference (which ORT also runs) does not, so ORT itself
        # is inconsistent there. Use floor mode instead.
        ceil_mode = False
        w.out = [_out_size(size, k, s, d, pb, pe, auto_pad) for size, k, s, d, pb, pe in
                 zip(spatial, w.kernel, w.strides, w.dilations, w.pads, w.pads[len(spatial):])]
    attrs = {"kernel_shape": w.kernel}
    if ceil_mode or g.flag():
        attrs["ceil_mode"] = int(ceil_mode)
    if op == "AveragePool" and g.flag():
        attrs["count_include_pad"] = 1
    _spatial_attrs(g, attrs, w, auto_pad, with_dilations=op == "MaxPool")
    return g.node(op, [x], (n, c, *w.out), **attrs)


def _window_floor_ceil(spatial, w: Window):
    """Output sizes by the ONNX spec's plain ceil formula (no trailing-padding rule)."""
    return [-(-(size + pb + pe - d * (k - 1) - 1) // s) + 1 for size, k, s, d, pb, pe in
            zip(spatial, w.kernel, w.strides, w.dilations, w.pads, w.pads[len(spatial):])]


def global_pool(g: Draft, x):
    n, c, *spatial = g.shapes[x]
    return g.node(g.choice(["GlobalAveragePool", "GlobalMaxPool"]), [x], (n, c) + (1,) * len(spatial))


def gemm(g: Draft, a):
    trans_a, trans_b = g.flag(), g.flag()
    rows, k = g.shapes[a][::-1] if trans_a else g.shapes[a]
    n = g.integer(1, 8)
    w = g.weights((n, k) if trans_b else (k, n), k)
    attrs = {}
    if trans_a:
        attrs["transA"] = 1
    if trans_b:
        attrs["transB"] = 1
    alpha, beta = g.choice([1.0, 0.5, -1.5]), g.choice([1.0, 2.0, -0.5, 0.0])
    if alpha != 1.0:
        attrs["alpha"] = alpha
    inputs = [a, g.const(w, "w")]
    c_kind = g.choice(["none", "const", "activation"])
    if c_kind == "activation":
        c = g.pick(lambda s: len(s) <= 2 and _broadcast(s, (rows, n)) == (rows, n))
        c_kind = "const" if c is None else c_kind
    if c_kind == "const":
        c = g.const(g.f32(g.choice([(), (1,), (n,), (1, n), (rows, 1), (rows, n)]), -0.5, 0.5), "c")
    if c_kind != "none":
        inputs.append(c)
        if beta != 1.0:
            attrs["beta"] = beta
    return g.node("Gemm", inputs, (rows, n), **attrs)


def matmul(g: Draft, a):
    *lead, k = g.shapes[a]
    n = g.integer(1, 8)
    return g.node("MatMul", [a, g.const(g.weights((k, n), k), "w")], (*lead, n))


def concat(g: Draft, x):
    shape = g.shapes[x]
    rank = len(shape)
    axis = g.integer(-rank, rank - 1)
    ax = axis % rank

    def fits(s):
        return len(s) == rank and all(a == b for i, (a, b) in enumerate(zip(s, shape)) if i != ax)

    inputs, sizes = [x], [shape[ax]]
    for _ in range(g.integer(1, 2)):
        if g.choice([False, False, True]):   # a constant block
            cshape = list(shape)
            cshape[ax] = g.integer(1, 3)
            inputs.append(g.const(g.f32(cshape, -1.0, 1.0)))
            sizes.append(cshape[ax])
        else:                                # an activation, maybe x again
            inputs.append(g.pick(fits))
            sizes.append(g.shapes[inputs[-1]][ax])
    order = g.draw(st.permutations(range(len(inputs))))
    out = list(shape)
    out[ax] = sum(sizes)
    return g.node("Concat", [inputs[i] for i in order], out, axis=axis)


def _factor_shape(g: Draft, total, rank):
    """A shape of `rank` dims whose product is total (prime factors dealt out to dims)."""
    factors, p, rest = [], 2, total
    while rest > 1:
        while rest % p == 0:
            factors.append(p)
            rest //= p
        p += 1
    dims = [1] * rank
    for f in factors:
        dims[g.integer(0, rank - 1)] *= f
    return dims


def reshape(g: Draft, x):
    shape = g.shapes[x]
    new = _factor_shape(g, math.prod(shape), g.integer(1, 4))
    spec = list(new)
    if g.flag():   # 0 = copy the input's dim at the same index
        spec = [0 if i < len(shape) and d == shape[i] and g.flag() else d for i, d in enumerate(spec)]
    if g.flag():
        spec[g.integer(0, len(spec) - 1)] = -1
    return g.node("Reshape", [x, g.ints(spec)], new)


def flatten(g: Draft, x):
    shape = g.shapes[x]
    axis = g.integer(-len(shape), len(shape))
    a = axis % len(shape) if axis < 0 else axis
    return g.node("Flatten", [x], (math.prod(shape[:a]), math.prod(shape[a:])), axis=axis)


def squeeze(g: Draft, x):
    shape = g.shapes[x]
    ones = [i for i, d in enumerate(shape) if d == 1]
    if len(ones) < len(shape) and g.flag():
        return g.node("Squeeze", [x], [d for d in shape if d != 1])    # no axes: every 1 goes
    axes = g.draw(st.lists(st.sampled_from(ones), min_size=1, max_size=len(shape) - 1, unique=True))
    out = [d for i, d in enumerate(shape) if i not in axes]
    axes = [a - len(shape) if g.flag() else a for a in axes]
    return g.node("Squeeze", [x, g.ints(axes)], out)


def unsqueeze(g: Draft, x):
    shape = g.shapes[x]
    rank = len(shape) + g.integer(1, min(2, MAX_RANK - len(shape)))
    axes = g.draw(st.lists(st.integers(0, rank - 1), min_size=rank - len(shape), max_size=rank - len(shape),
                           unique=True))
    out, it = [], iter(shape)
    for i in range(rank):
        out.append(1 if i in axes else next(it))
    axes = [a - rank if g.flag() else a for a in axes]
    return g.node("Unsqueeze", [x, g.ints(axes)], out)


def transpose(g: Draft, x):
    shape = g.shapes[x]
    if g.flag():
        return g.node("Transpose", [x], shape[::-1])
    perm = g.draw(st.permutations(range(len(shape))))
    return g.node("Transpose", [x], [shape[p] for p in perm], perm=perm)


def softmax(g: Draft, x):
    shape = g.shapes[x]
    if g.flag():
        return g.node("Softmax", [x], shape)
    return g.node("Softmax", [x], shape, axis=g.integer(-len(shape), len(shape) - 1))


def batchnorm(g: Draft, x):
    c = g.shapes[x][1]
    scale = g.f32(c, 0.5, 1.5) * np.where(g.rng.random(c) < 0.2, -1, 1).astype(np.float32)
    params = [scale, g.f32(c, -0.5, 0.5), g.f32(c, -0.5, 0.5), g.f32(c, 0.5, 2.0)]
    names = [g.const(p, "bn") for p in params]
    return g.node("BatchNormalization", [x, *names], g.shapes[x], epsilon=g.choice([1e-5, 1e-3]))


def pad(g: Draft, x):
    shape = g.shapes[x]
    padded = g.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=2, unique=True))
    before = [g.integer(0, 2) if i in padded else 0 for i in range(len(shape))]
    after = [g.integer(0, 2) if i in padded else 0 for i in range(len(shape))]
    inputs = [x, g.ints(before + after)]
    if g.flag():
        inputs.append(g.const(np.float32(g.choice([0.0, -1.5, 2.0]))))
    return g.node("Pad", inputs, [d + b + a for d, b, a in zip(shape, before, after)], mode="constant")


def _rank(*ranks):
    return lambda shape: len(shape) in ranks


def _any(shape):
    return True


# (op function, the activation shapes it accepts, weight); the first entries are the
# simplest, which is where hypothesis shrinks to. Ops with many attributes weigh more.
OP_TABLE = (
    (unary, _any, 2),
    (binary, _any, 3),
    (reshape, _any, 1),
    (flatten, _any, 1),
    (softmax, _any, 1),
    (concat, _any, 1),
    (pad, _any, 1),
    (transpose, lambda s: len(s) >= 2, 1),
    (squeeze, lambda s: 1 in s and len(s) >= 2, 1),
    (unsqueeze, lambda s: len(s) < MAX_RANK, 1),
    (conv, _rank(3, 4), 4),
    (pool, _rank(3, 4), 3),
    (global_pool, _rank(3, 4), 1),
    (batchnorm, _rank(2, 3, 4), 1),
    (gemm, _rank(2), 3),
    (matmul, lambda s: len(s) >= 2, 1),
)


# ---- whole graphs -------------------------------------------------------------------

@dataclass
class GraphCase:
    model: onnx.ModelProto
    inputs: list

    def __repr__(self):   # what hypothesis prints for a falsifying example
        shapes = ", ".join(f"{i.name}{list(x.shape)}" for i, x in zip(self.model.graph.input, self.inputs))
        return f"GraphCase(inputs: {shapes})\n{helper.printable_graph(self.model.graph)}"


def _first_input_shape(g: Draft):
    rank = g.choice([4, 4, 3, 2, 1])
    if rank == 4:
        return (g.integer(1, 2), g.integer(1, 4), g.integer(1, 8), g.integer(1, 8))
    if rank == 3:
        return (g.integer(1, 2), g.integer(1, 4), g.integer(1, 10))
    if rank == 2:
        return (g.integer(1, 3), g.integer(1, 16))
    return (g.integer(1, 16),)


def _value_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


@st.composite
def random_graphs(draw, max_ops=6):
    g = Draft(draw, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    first = _first_input_shape(g)
    g.add_input(first)
    if g.flag():   # a second input that broadcasts with the first (maybe of lower rank)
        g.add_input(tuple(d if g.flag() else 1 for d in first[g.integer(0, len(first) - 1):]))
    for _ in range(g.choice(range(max_ops, 0, -1))):   # hypothesis often draws the first: long chains
        x = g.pick()
        op = g.choice([fn for fn, accepts, weight in OP_TABLE if accepts(g.shapes[x]) for _ in range(weight)])
        mark = g.mark()
        try:
            op(g, x)
        except TooBig:
            g.undo(mark)
    if not g.nodes:
        unary(g, g.inputs[0])
    produced = [t for t in g.order if t not in g.inputs]
    used = {i for n in g.nodes for i in n.input}
    sinks = [t for t in produced if t not in used]   # the newest tensor is always one
    # every branch ends in an output, or (sometimes) only the newest one does and the
    # other branches are dead code; intermediate tensors are sometimes outputs too
    outputs = sinks if g.flag() else sinks[-1:]
    inner = [t for t in produced if t in used]
    if inner:
        outputs += draw(st.lists(st.sampled_from(inner), max_size=2, unique=True))
    inputs = [i for i in g.inputs if i in used]
    if g.choice([False] * 5 + [True]):   # a graph input that is also a graph output
        outputs.append(inputs[0])
    graph = helper.make_graph(g.nodes, "random", [_value_info(i, g.shapes[i]) for i in inputs],
                              [_value_info(o, g.shapes[o]) for o in outputs], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    values = [g.rng.uniform(-2.5, 2.5, g.shapes[i]).astype(np.float32) for i in inputs]
    return GraphCase(model, values)


# ---- the oracle -----------------------------------------------------------------------

def onnxruntime_outputs(model, inputs):
    """onnxruntime's CPU kernels with its graph optimizer off: the optimizer's Pad fusion
    folds Pad → MaxPool into pads >= kernel, which ORT's own MaxPool then refuses."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3   # no warnings on stderr
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), inputs)})

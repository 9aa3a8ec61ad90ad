"""The binary kernels (runtime_c/include/fn_binary_b1.h) against reference/binary.py.

The reference computes in +-1 integers and float32 from the layer's quantities (never bits);
the kernels get the builders' structs (kernels/params_binary.py) and words packed by
dtypes.pack_b1. Integer and bit outputs are compared with np.array_equal; the float output
(acc * scale + offset, one product and one sum in float32 either way) is compared exactly
too. Channel counts cross the 32-bit word boundary (1, 31, 32, 33, 64, 65); the bits
output is tested with thresholds placed on exact ties y == 0."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.dtypes import pack_b1, unpack_b1
from firmnet.kernels import params_binary as pb
from firmnet.reference import binary as ref
from support.binary_cases import CHANNELS, OUT_KINDS, conv_cases, pm1


class Owner:
    """Keeps the cffi arrays a struct points to alive."""

    def __init__(self, ffi):
        self.ffi, self.keep = ffi, []

    def array(self, ctype, values):
        if values is None:
            return self.ffi.NULL
        a = self.ffi.new(f"{ctype}[]", np.asarray(values).ravel().tolist())
        self.keep.append(a)
        return a

    def bout(self, b):
        return {"kind": int(b["kind"]), "scale": self.array("float", b["scale"]),
                "offset": self.array("float", b["offset"]), "act_min": b["act_min"], "act_max": b["act_max"],
                "threshold": self.array("int32_t", b["threshold"]), "flip": self.array("uint32_t", b["flip"])}


def out_buffer(kind, shape, fill=0xA5):
    """The output array the kernel writes (words for bits), filled with garbage first."""
    if kind == "bits":
        return np.full(shape[:-1] + (pb.words(shape[-1]),), 0xA5A5A5A5, np.uint32)
    dtype = np.int32 if kind == "int32" else np.float32
    return np.frombuffer(np.full(int(np.prod(shape)) * 4, fill, np.uint8).tobytes(), dtype).reshape(shape).copy()


def decoded(kind, out, shape):
    """The C output as the reference writes it (bits as +-1), checking the unused bits are 0."""
    if kind != "bits":
        return out
    c = shape[-1]
    if c % 32:
        assert not (out[..., -1] >> np.uint32(c % 32)).any(), "unused bits of the last word are not 0"
    return unpack_b1(out, c)


def stage_inputs(rng, kind, o, k_max, ties=False):
    """(scale, offset, act) for an output stage; with ties the bits thresholds sit on y == 0."""
    if kind == "int32":
        return None, None, (-np.inf, np.inf)
    scale = (rng.uniform(0.05, 2.0, o) * np.where(rng.random(o) < 0.3, -1, 1)).astype(np.float32)
    scale[rng.random(o) < 0.1] = 0.0
    if ties:   # scale a power of two and offset = -scale * t: y(t) == 0 exactly
        scale = (2.0 ** rng.integers(-4, 3, o) * np.where(rng.random(o) < 0.4, -1, 1)).astype(np.float32)
        offset = (-scale * rng.integers(-k_max, k_max + 1, o)).astype(np.float32)
    else:
        offset = rng.uniform(-k_max, k_max, o).astype(np.float32) * np.abs(scale)
    act = (-np.inf, np.inf) if rng.random() < 0.5 else (float(rng.uniform(-3, 0)), float(rng.uniform(0, 3)))
    return scale, offset.astype(np.float32), act


def run_bconv(runtime, x, w, strides, pads, kind, scale, offset, act, pad_value=0):
    ffi, lib = runtime.ffi, runtime.lib
    n, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    oh = (h + pads[0] + pads[2] - kh) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - kw) // strides[1] + 1
    owner = Owner(ffi)
    bout = pb.bout_params(kind, o, kh * kw * c, scale, offset, act)
    params = pb.bconv2d_b1_params(x.shape, w.shape, (n, oh, ow, o), strides=strides, pads=pads, bout=bout,
                                  pad_value=pad_value)
    params["out"] = owner.bout(bout)
    xw, ww = pack_b1(x), pb.pack_dense_filters(w)
    out = out_buffer(kind, (n, oh, ow, o))
    c_params = ffi.new("fn_bconv2d_b1_params *", params)
    scratch = np.full(pb.bconv2d_scratch(params) // 4, 0xA5A5A5A5, np.uint32)   # garbage: the kernel clears it
    assert scratch.nbytes == lib.fn_bconv2d_b1_scratch_size(c_params)
    status = lib.fn_bconv2d_b1(c_params, ffi.from_buffer("uint32_t[]", xw), ffi.from_buffer("uint32_t[]", ww),
                               ffi.from_buffer(out), ffi.from_buffer(scratch))
    assert status == lib.FN_OK
    return decoded(kind, out, (n, oh, ow, o))


def assert_same(actual, expected):
    assert actual.shape == expected.shape
    bad = np.argwhere(actual != expected)
    assert not bad.size, f"first mismatch at {tuple(bad[0])}: C {actual[tuple(bad[0])]} vs reference " \
                         f"{expected[tuple(bad[0])]}"


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_bconv2d_equals_reference(runtime, case):
    rng = np.random.default_rng(case["seed"])
    x = pm1(rng, (case["n"], case["h"], case["w"], case["c"]))
    w = pm1(rng, (case["o"], case["kh"], case["kw"], case["c"]))
    k_max = case["kh"] * case["kw"] * case["c"]
    scale, offset, act = stage_inputs(rng, case["kind"], case["o"], k_max, case["ties"])
    got = run_bconv(runtime, x, w, case["strides"], case["pads"], case["kind"], scale, offset, act, case["pad_value"])
    want = ref.bconv2d(x, w, scale, offset, strides=case["strides"], pads=case["pads"], kind=case["kind"], act=act,
                       pad_value=case["pad_value"])
    assert_same(got, want)


def test_zero_padding_counts_only_valid_taps(runtime):
    """All +1 input and weights, 3x3 filter, pad 1: the accumulator is the number of valid
    taps times the channels (4 at a corner, 6 on an edge, 9 inside), not 9 * C everywhere."""
    x = np.ones((1, 3, 4, 33), np.int8)
    w = np.ones((2, 3, 3, 33), np.int8)
    got = run_bconv(runtime, x, w, (1, 1), (1, 1, 1, 1), "int32", None, None, (-np.inf, np.inf))
    taps = np.array([[4, 6, 6, 4], [6, 9, 9, 6], [4, 6, 6, 4]]) * 33
    assert_same(got[0, :, :, 0], taps.astype(np.int32))
    assert_same(got, ref.bconv2d_acc(x, w, pads=(1, 1, 1, 1)))


def test_one_padding_counts_padded_taps_as_plus_one(runtime):
    """One padding (Larq's pad_values=1): all -1 input, all +1 weights, 3x3 filter, pad 1:
    a padded tap is +1 and gives +1 per channel, a real one -1: acc = C * (padded - valid)
    (corner 5 - 4, edge 3 - 6, inside -9)."""
    x = -np.ones((1, 3, 4, 33), np.int8)
    w = np.ones((2, 3, 3, 33), np.int8)
    got = run_bconv(runtime, x, w, (1, 1), (1, 1, 1, 1), "int32", None, None, (-np.inf, np.inf), pad_value=1)
    acc = np.array([[1, -3, -3, 1], [-3, -9, -9, -3], [1, -3, -3, 1]]) * 33
    assert_same(got[0, :, :, 1], acc.astype(np.int32))
    assert_same(got, ref.bconv2d_acc(x, w, pads=(1, 1, 1, 1), pad_value=1))


@pytest.mark.parametrize("sign", [1, -1])
def test_bits_threshold_at_every_tie(runtime, sign):
    """One output channel per possible accumulator value t of a 1x1 conv over 5 channels
    (t in -5, -3, ..., 5) with y = s * (acc - t): y == 0 exactly at acc == t, which the
    reference makes +1; every input pattern of the 5 channels is one pixel."""
    c = 5
    patterns = np.array([[1 if (p >> k) & 1 else -1 for k in range(c)] for p in range(2 ** c)], np.int8)
    x = patterns.reshape(1, 1, 2 ** c, c)
    ts = np.arange(-c, c + 1)
    w = np.ones((len(ts), 1, 1, c), np.int8)
    scale = np.full(len(ts), sign * 0.25, np.float32)
    offset = (-scale * ts).astype(np.float32)
    got = run_bconv(runtime, x, w, (1, 1), (0, 0, 0, 0), "bits", scale, offset, (-np.inf, np.inf))
    want = ref.bconv2d(x, w, scale, offset, kind="bits")
    assert_same(got, want)
    acc = patterns.sum(axis=1)
    for j, t in enumerate(ts):   # the tie itself: +1 (y == 0 >= 0)
        assert (want[0, 0, acc == t, j] == 1).all()
        assert (want[0, 0, acc != t, j] == np.where(sign * (acc[acc != t] - t) > 0, 1, -1)).all()


def test_thresholds_follow_float32_rounding():
    """Scale and offset whose float32 y(acc) rounds to 0 or across it near the real root:
    the builder's integer threshold reproduces y >= 0 for every acc."""
    rng = np.random.default_rng(7)
    k = 300
    scale = rng.uniform(-1e-3, 1e-3, 200).astype(np.float32)
    offset = (-scale * rng.uniform(-k, k, 200)).astype(np.float32)
    offset[::3] = np.nextafter(offset[::3], np.float32(0))
    threshold, flip = pb.thresholds(scale, offset, (-np.inf, np.inf), k)
    acc = np.arange(-k, k + 1)[:, None]
    want = ref.scaled(acc, scale, offset) >= 0
    assert_same((acc >= threshold) != flip, want)


@st.composite
def fc_cases(draw):
    return dict(n=draw(st.integers(1, 3)), pixels=draw(st.sampled_from([(1, 1), (2, 3), (3, 3)])),
                c=draw(CHANNELS), o=draw(CHANNELS), kind=draw(st.sampled_from(OUT_KINDS)), ties=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=100, deadline=None)
@given(fc_cases())
def test_fc_equals_reference(runtime, case):
    """fn_fc_b1 on a flattened NHWC image = the convolution whose filter covers it."""
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(case["seed"])
    (h, w), c, o, n = case["pixels"], case["c"], case["o"], case["n"]
    x, wt = pm1(rng, (n, h, w, c)), pm1(rng, (o, h, w, c))
    scale, offset, act = stage_inputs(rng, case["kind"], o, h * w * c, case["ties"])
    owner = Owner(ffi)
    bout = pb.bout_params(case["kind"], o, h * w * c, scale, offset, act)
    params = pb.fc_b1_params(n, (h, w, c), o, bout)
    params["out"] = owner.bout(bout)
    out = out_buffer(case["kind"], (n, o))
    status = lib.fn_fc_b1(ffi.new("fn_fc_b1_params *", params), ffi.from_buffer("uint32_t[]", pack_b1(x)),
                          ffi.from_buffer("uint32_t[]", pb.pack_filters(wt)), ffi.from_buffer(out))
    assert status == lib.FN_OK
    want = ref.bconv2d(x, wt, scale, offset, kind=case["kind"], act=act).reshape(n, o)
    assert_same(decoded(case["kind"], out, (n, o)), want)


@pytest.mark.parametrize("words", [1, 2, 5, 6, 7, 29, 30, 31, 32, 35, 36, 37, 42, 61, 66, 97])
def test_fc_rows_of_every_length_class(runtime, words):
    """Rows around every bound of the SWAR count (steps of six words, one run of steps under
    36 words, byte counts flushed every 30 words, the last n % 6 words), each with every bit
    mismatching (every byte count at its largest), matching, and at random; 33 outputs (two
    channel blocks)."""
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(words)
    c, o = 32 * words, 33
    x = pm1(rng, (3, 1, 1, c))
    x[0], x[1] = 1, -1
    wt = pm1(rng, (o, 1, 1, c))
    wt[0], wt[1] = -1, 1
    owner = Owner(ffi)
    bout = pb.bout_params("int32", o, c, None, None, (-np.inf, np.inf))
    params = pb.fc_b1_params(3, (1, 1, c), o, bout)
    params["out"] = owner.bout(bout)
    out = out_buffer("int32", (3, o))
    status = lib.fn_fc_b1(ffi.new("fn_fc_b1_params *", params), ffi.from_buffer("uint32_t[]", pack_b1(x)),
                          ffi.from_buffer("uint32_t[]", pb.pack_filters(wt)), ffi.from_buffer(out))
    assert status == lib.FN_OK
    got = decoded("int32", out, (3, o))
    assert got[0, 0] == -c and got[1, 1] == -c and got[1, 0] == c and got[0, 1] == c
    assert_same(got, ref.bconv2d_acc(x, wt).reshape(3, o))


def test_zero_padding_whole_word_taps(runtime):
    """Whole-word pixels (64 channels) under zero padding, wider than the filter's reach on
    the left: the border windows count only the words of their taps inside (one run per
    filter row, rows joined where whole), every bit mismatching and at random."""
    rng = np.random.default_rng(3)
    x = pm1(rng, (1, 5, 6, 64))
    w = pm1(rng, (40, 3, 4, 64))
    x[0, :2], w[0] = 1, -1
    for pads in [(1, 1, 1, 1), (2, 3, 0, 2), (0, 2, 2, 0)]:
        got = run_bconv(runtime, x, w, (1, 1), pads, "int32", None, None, (-np.inf, np.inf))
        assert_same(got, ref.bconv2d_acc(x, w, pads=pads))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 2), st.integers(1, 7), st.integers(1, 7), CHANNELS, st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(0, 2), st.integers(0, 2**32 - 1))
def test_bmaxpool_equals_reference(runtime, n, h, w, c, kh, kw, stride, pad, seed):
    ffi, lib = runtime.ffi, runtime.lib
    pad = min(pad, kh - 1, kw - 1)
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((n, h, w, c)) < 0.2, 1, -1).astype(np.int8)   # mostly -1: the OR matters
    pads = (pad, pad, pad, pad)
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    if oh < 1 or ow < 1:
        return
    params = pb.bmaxpool2d_b1_params(x.shape, (n, oh, ow, c), kernel=(kh, kw), strides=(stride, stride), pads=pads)
    out = out_buffer("bits", (n, oh, ow, c))
    status = lib.fn_bmaxpool2d_b1(ffi.new("fn_bmaxpool2d_b1_params *", params),
                                  ffi.from_buffer("uint32_t[]", pack_b1(x)), ffi.from_buffer("uint32_t[]", out))
    assert status == lib.FN_OK
    want = ref.bmaxpool2d(x, kernel=(kh, kw), strides=(stride, stride), pads=pads, out_size=(oh, ow))
    assert_same(decoded("bits", out, (n, oh, ow, c)), want)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), CHANNELS, st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_conversions_equal_reference(runtime, rows, c, zp, seed):
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(seed)
    xf = rng.standard_normal((rows, c)).astype(np.float32)
    xf[rng.random((rows, c)) < 0.1] = 0.0
    xf[rng.random((rows, c)) < 0.1] = -0.0
    xq = rng.integers(-128, 128, (rows, c)).astype(np.int8)
    p = ffi.new("fn_binarize_params *", pb.binarize_params((rows, c), zp))
    for fn, ctype, x, want in ((lib.fn_binarize_f32, "float[]", xf, ref.binarize(xf)),
                               (lib.fn_binarize_s8, "int8_t[]", xq, ref.binarize(xq, zp))):
        out = out_buffer("bits", (rows, c))
        assert fn(p, ffi.from_buffer(ctype, x), ffi.from_buffer("uint32_t[]", out)) == lib.FN_OK
        assert_same(decoded("bits", out, (rows, c)), want)
    bits = pm1(rng, (rows, c))
    back = np.full((rows, c), np.nan, np.float32)
    assert lib.fn_unbinarize_f32(p, ffi.from_buffer("uint32_t[]", pack_b1(bits)),
                                 ffi.from_buffer("float[]", back)) == lib.FN_OK
    assert_same(back, ref.unbinarize(bits))


def test_binarize_float_zero_is_plus_one():
    """x >= 0: 0.0 and -0.0 give +1 (ONNX Sign gives 0 there), NaN -1."""
    x = np.array([0.0, -0.0, 1e-30, -1e-30, np.nan], np.float32)
    assert ref.binarize(x).tolist() == [1, 1, 1, -1, -1]


def test_bad_arguments_are_refused(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    words = ffi.new("uint32_t[]", 4)
    p = ffi.new("fn_fc_b1_params *", {"batch": 1, "in_words": 1, "in_bits": 33, "out_features": 1,
                                      "out": {"kind": 0}})
    assert lib.fn_fc_b1(p, words, words, words) == lib.FN_ERR_ARG   # 33 bits in one word
    p.in_bits = 32
    p.out.kind = 1   # float output without its arrays
    assert lib.fn_fc_b1(p, words, words, words) == lib.FN_ERR_ARG
    p.out.kind = 0
    assert lib.fn_fc_b1(p, words, words, words) == lib.FN_OK


def test_bconv2d_pad_value_other_than_0_or_1_is_refused(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    words = ffi.new("uint32_t[]", 16)
    params = pb.bconv2d_b1_params((1, 2, 2, 3), (1, 3, 3, 3), (1, 2, 2, 1), strides=(1, 1), pads=(1, 1, 1, 1),
                                  bout={"kind": 0}, pad_value=1)
    p = ffi.new("fn_bconv2d_b1_params *", params)
    assert lib.fn_bconv2d_b1(p, words, words, words, words) == lib.FN_OK
    p.pad_value = 2
    assert lib.fn_bconv2d_b1(p, words, words, words, words) == lib.FN_ERR_ARG
    with pytest.raises(ValueError, match="pad value 2"):
        pb.bconv2d_b1_params((1, 2, 2, 3), (1, 3, 3, 3), (1, 2, 2, 1), strides=(1, 1), pads=(1, 1, 1, 1),
                             bout={"kind": 0}, pad_value=2)

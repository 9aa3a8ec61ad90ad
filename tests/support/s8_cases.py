"""int8 layer cases: hypothesis strategies for conv, depthwise and fully connected layers
(geometry, quantization), numpy case builders, and random requantization arrays."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from firmnet.kernels.params_conv_s8 import conv2d_s8_params
from firmnet.reference.conv_s8 import conv_sums, wrap32


MODES = ["tflm", "single", "ort"]
I32_MIN, I32_MAX = -2**31, 2**31 - 1


zero_points = st.one_of(st.sampled_from([-128, 127, 0]), st.integers(-128, 127))


@st.composite
def act_ranges(draw, zp_out):
    kind = draw(st.sampled_from(["none", "none", "none", "relu", "relu6", "any", "point"]))
    if kind == "none":
        return (-128, 127)
    if kind == "relu":
        return (zp_out, 127)
    if kind == "relu6":
        return (zp_out, min(127, zp_out + draw(st.integers(0, 60))))
    lo = draw(st.integers(-128, 127))
    return (lo, lo if kind == "point" else draw(st.integers(lo, 127)))


@st.composite
def quant_cases(draw):
    """Quantization of one layer; make_scales picks the scales once the data is drawn."""
    zp_out = draw(zero_points)
    return dict(mode=draw(st.sampled_from(MODES)), zp_in=draw(zero_points), zp_out=zp_out,
                act=draw(act_ranges(zp_out)), per_channel=draw(st.booleans()),
                regime=draw(st.sampled_from(["natural", "natural", "natural", "tiny", "huge", "ties"])),
                data=draw(st.sampled_from(["uniform", "uniform", "extremes", "small", "constant"])),
                bias=draw(st.sampled_from([None, "small", "natural", "extreme"])),
                seed=draw(st.integers(0, 2**32 - 1)))


def make_scales(rng, q, acc, n_ch):
    """Float scales whose effective scale s_in * s_w / s_out lands in q['regime'], given
    the case's accumulators acc [..., n_ch] (bias included): natural (about 100 / the 90th
    percentile of |acc|, per channel: outputs spread over int8), tiny (down to 2^-31.5:
    shifts near -31 and the (0, 0) flush), huge (up to 2^12: positive shifts, saturation),
    ties (powers of two near natural: every rounding mode meets exact halves)."""
    k = n_ch if q["per_channel"] else 1
    a = np.abs(np.asarray(acc, np.float64)).reshape(-1, n_ch)
    typical = np.maximum(np.quantile(a, 0.9, axis=0) if q["per_channel"] else np.quantile(a, 0.9), 1.0)
    natural = 100.0 / typical * np.ones(k)
    if q["regime"] == "ties":
        s_in = 2.0 ** -int(rng.integers(3, 9))
        s_out = 2.0 ** -int(rng.integers(0, 6))
        eff = 2.0 ** (np.round(np.log2(natural)) + rng.integers(-1, 2, k))
        return s_in, eff * s_out / s_in, s_out
    s_in = float(2.0 ** rng.uniform(-10, -3))
    s_out = float(2.0 ** rng.uniform(-8, 0))
    if q["regime"] == "natural":
        eff = natural * 2.0 ** rng.uniform(-1.5, 1.5, k)
    elif q["regime"] == "tiny":
        eff = 2.0 ** rng.uniform(-31.5, -18, k)
    else:
        eff = 2.0 ** rng.uniform(0, 12, k)
    return s_in, eff * s_out / s_in, s_out


def int8_data(rng, shape, kind, zp=0):
    if kind == "extremes":
        return rng.choice(np.array([-128, 127], np.int8), shape)
    if kind == "small":
        return rng.integers(-3, 4, shape).astype(np.int8)
    if kind == "constant":
        return np.full(shape, rng.choice([-128, 127, zp]), np.int8)
    return rng.integers(-128, 128, shape, dtype=np.int8)


def make_bias(rng, kind, n):
    if kind is None:
        return None
    hi = {"small": 2**8, "natural": int(2 ** rng.uniform(4, 17)), "extreme": 2**31}[kind]
    return rng.integers(-hi, hi, n).astype(np.int32)


def quant_kwargs(q, s_in, s_w, s_out):
    return dict(input_scale=s_in, input_zero_point=q["zp_in"], weight_scales=s_w, output_scale=s_out,
                output_zero_point=q["zp_out"], act=q["act"], mode=q["mode"])


@st.composite
def conv_geometry(draw, depthwise=False):
    if depthwise:
        c = draw(st.integers(1, 9))                      # crosses the filter blocks of 4
        groups, cin_g, cout_g = c, 1, draw(st.integers(1, 4))
    elif draw(st.booleans()):
        c = draw(st.integers(1, 6))
        groups, cin_g, cout_g = c, 1, draw(st.integers(1, 3))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cin_g = draw(st.integers(1, 5))
        cout_g = draw(st.integers(1, 9))                 # crosses the kernel's blocks of 4
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    h = max(1, dilations[0] * (kh - 1) + 1 - pads[0] - pads[2] + draw(st.integers(0, 5)))
    w = max(1, dilations[1] * (kw - 1) + 1 - pads[1] - pads[3] + draw(st.integers(0, 5)))
    return dict(n=draw(st.integers(1, 2)), h=h, w=w, groups=groups, cin_g=cin_g, cout_g=cout_g,
                kh=kh, kw=kw, geo=dict(strides=strides, dilations=dilations, pads=pads))


def conv_case(g, q):
    rng = np.random.default_rng(q["seed"])
    c, oc = g["groups"] * g["cin_g"], g["groups"] * g["cout_g"]
    x = int8_data(rng, (g["n"], g["h"], g["w"], c), q["data"], q["zp_in"])
    w = int8_data(rng, (oc, g["kh"], g["kw"], g["cin_g"]), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], oc)
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w, bias, q["zp_in"], g), oc)
    return x, w, bias, dict(groups=g["groups"], **g["geo"], **quant_kwargs(q, s_in, s_w, s_out))


def accumulators(x, w_ohwi, bias, zp_in, g):
    """The case's int32 accumulators (sum plus bias), through the reference's own sums."""
    sums = conv_sums(x, w_ohwi, input_zero_point=zp_in, groups=g["groups"], **g["geo"])
    return sums if bias is None else wrap32(sums + bias)


def random_requant_arrays(rng, mode, n):
    """Arbitrary valid multiplier/shift (or scale) arrays, limits included."""
    if mode == "ort":
        scale = np.where(rng.random(n) < 0.1, rng.choice([0.0, 0.5, 2.0**-30, 1e6], n),
                         2.0 ** rng.uniform(-30, 8, n)).astype(np.float32)
        return {"multiplier": None, "shift": None, "scale": scale}
    mult = np.where(rng.random(n) < 0.3, rng.choice([0, 2**30, I32_MAX], n), rng.integers(2**30, 2**31, n))
    shift = np.where(rng.random(n) < 0.3, rng.choice([-31, -30, 0, 29, 30], n), rng.integers(-31, 31, n))
    return {"multiplier": mult.astype(np.int32), "shift": shift.astype(np.int32), "scale": None}


def random_quant(rng: np.random.Generator) -> dict:
    """One layer's quantization, as test_kernels_conv_s8.quant_cases draws it, with more
    weight on the fast output stage's domain (TFLM/SINGLE, full int8 range)."""
    zp_out = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    kind = rng.choice(["none", "none", "none", "relu", "relu6", "any"])
    if kind == "none":
        act = (-128, 127)
    elif kind == "relu":
        act = (zp_out, 127)
    elif kind == "relu6":
        act = (zp_out, min(127, zp_out + int(rng.integers(0, 60))))
    else:
        lo = int(rng.integers(-128, 128))
        act = (lo, int(rng.integers(lo, 128)))
    return dict(mode=str(rng.choice(MODES)), zp_in=int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))])),
                zp_out=zp_out, act=act, per_channel=bool(rng.integers(0, 2)),
                regime=str(rng.choice(["natural", "natural", "natural", "tiny", "huge", "ties"])),
                data=str(rng.choice(["uniform", "uniform", "extremes", "small", "constant"])),
                bias=rng.choice([None, "small", "natural", "extreme"]), seed=int(rng.integers(0, 2**32)))


def maybe_any_requant(rng, q, kw, n_channels):
    """One case in five: arbitrary valid multipliers and shifts (positive shifts included) in
    place of those of the layer's scales kw["weight_scales"]; else None."""
    if rng.random() < 0.2:
        return random_requant_arrays(rng, q["mode"], n_channels if np.size(kw["weight_scales"]) > 1 else 1)
    return None


def ort_conv_case(rng, kind):
    """Random QLinearConv-able layer: general, grouped or depthwise (with multiplier)."""
    c = int(rng.integers(1, 9))
    if kind == "depthwise":
        groups, oc = c, c * int(rng.integers(1, 4))
    elif kind == "grouped":
        groups = int(rng.choice([2, 3]))
        c, oc = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    else:
        groups, oc = 1, int(rng.integers(1, 12))
    kh, kw = (int(v) for v in rng.integers(1, 4, 2))
    strides = tuple(int(v) for v in rng.integers(1, 3, 2))
    dilations = tuple(int(v) for v in rng.integers(1, 3, 2))
    pads = tuple(int(v) for v in rng.integers(0, 3, 4))
    h = int(dilations[0] * (kh - 1) + 1 + rng.integers(0, 6))
    w = int(dilations[1] * (kw - 1) + 1 + rng.integers(0, 6))
    x = rng.integers(-128, 128, (int(rng.integers(1, 3)), h, w, c), dtype=np.int8)
    wt = rng.integers(-128, 128, (oc, kh, kw, c // groups), dtype=np.int8)
    bias = rng.integers(-2**16, 2**16, oc).astype(np.int32) if rng.random() < 0.8 else None
    depth = kh * kw * (c // groups)
    if rng.random() < 0.25:   # powers of two: exact ties everywhere, ORT rounds them to even
        s_in, s_out = 2.0 ** -int(rng.integers(3, 8)), 2.0 ** -int(rng.integers(0, 4))
        s_w = 2.0 ** -rng.integers(6, 14, oc).astype(float) * s_out / s_in
    else:
        s_in, s_out = float(rng.uniform(0.005, 0.1)), float(rng.uniform(0.01, 1.0))
        s_w = 60.0 / (np.sqrt(depth) * 75 * 75) * 2.0 ** rng.uniform(-2, 3, oc) * s_out / s_in
    zp_in = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    zp_out = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
    return x, wt, bias, dict(input_scale=s_in, input_zero_point=zp_in, weight_scales=s_w, output_scale=s_out,
                             output_zero_point=zp_out, strides=strides, dilations=dilations, pads=pads,
                             groups=groups)


def zero_pointwise_case():
    """A valid 1x1 layer of zeros (x, w, params, arrays): the start of argument-check tests."""
    x = np.zeros((1, 3, 3, 5), np.int8)
    w = np.zeros((4, 1, 1, 5), np.int8)
    params, arrays = conv2d_s8_params(x.shape, w.shape, input_scale=1.0, input_zero_point=0, weight_scales=1.0,
                                      output_scale=1.0, output_zero_point=0)
    return x, w, params, arrays


@st.composite
def acts(draw, zp_out):
    """Clamp range of an int8 output: none, ReLU (from the zero point), or any narrower interval."""
    kind = draw(st.sampled_from(["none", "relu", "narrow"]))
    if kind == "none":
        return (-128, 127)
    if kind == "relu":
        return (zp_out, 127)
    lo = draw(st.integers(-128, 127))
    return (lo, draw(st.integers(lo, 127)))

"""The codebook kernels fn_fc_s8_codebook, fn_fc_f32_codebook, fn_conv2d_s8_codebook and
fn_conv2d_f32_codebook (runtime_c/include/fn_codebook.h and theirs) against the DENSE numpy
reference of the same layer on the decoded weights: each case draws codebooks (per layer or
per output channel, K = 4/16/256 codewords, int8 extremes included) and indices, decodes
them with numpy (codebook[indices]), and the kernel, given the builder's struct of that
dense matrix, must give the reference's bytes (int8: firmnet.reference.dense_s8 / conv_s8
from the layer's scales and zero points, np.array_equal).

Float: the kernels add in fn_fc_f32's / fn_conv2d_f32's order (bias, then the taps
ascending), so they are compared exactly with the dense C kernel on the decoded weights,
and with the float64 reference within the float32 summation bound n * eps * SUM |terms|.
The index packing is checked against a numpy bit reader written here.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_codebook import (conv2d_f32_codebook_params, conv2d_s8_codebook_params,
                                             fc_f32_codebook_params, fc_s8_codebook_params, pack_indices,
                                             pair_ordered, palettize, rows4_interleaved)
from firmnet.kernels.params_conv_f32 import conv2d_f32_params, fc_f32_params
from firmnet.reference.conv import conv2d_f32
from firmnet.reference.conv_s8 import conv2d_s32
from firmnet.reference.dense import fc_f32
from firmnet.reference.dense_s8 import fc_s32
from support.compare import assert_array_equal_first
from support.s8_cases import int8_data, make_bias, make_scales, quant_cases, quant_kwargs
from support.s8_kernels import c_params, expected_conv, expected_fc


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


def unpack(data: np.ndarray, rows: int, depth: int, bits: int) -> np.ndarray:
    """The [rows, depth] indices of fn_codebook.h's packing, read bit by bit."""
    row_bytes = (depth * bits + 7) // 8
    out = np.zeros((rows, depth), np.int64)
    for r in range(rows):
        for j in range(depth):
            byte = int(data[r * row_bytes + (j * bits) // 8])
            out[r, j] = (byte >> ((j * bits) % 8)) & ((1 << bits) - 1)
    return out


def decoded_weights(rng, rows, depth, k, per_channel, dtype, extremes=False):
    """codebook[indices] of random codebooks and indices (numpy's own decoding)."""
    groups = rows if per_channel else 1
    if dtype == np.int8:
        book = np.stack([rng.choice(256, k, replace=False) - 128 for _ in range(groups)]).astype(np.int8)
        if extremes:                    # the largest products, both signs
            book[:, :2] = [-128, 127]
    else:
        book = rng.standard_normal((groups, k)).astype(np.float32)
    idx = rng.integers(0, k, (rows, depth))
    return book[np.arange(rows)[:, None] if per_channel else 0, idx]


@st.composite
def fc_layers(draw):
    return dict(batch=draw(st.integers(1, 10)), rows=draw(st.integers(1, 20)),
                depth=draw(st.one_of(st.integers(1, 40), st.sampled_from([63, 64, 65, 255, 640]))),
                k=draw(st.sampled_from([2, 3, 4, 5, 16, 17, 200, 256])), per_channel=draw(st.booleans()))


# ---------------------------------------------------------------- packing

@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 6), depth=st.integers(1, 30), bits=st.sampled_from([2, 4, 8]), seed=st.integers(0, 2**32 - 1))
def test_index_packing_is_read_back_by_the_bit_reader(rows, depth, bits, seed):
    idx = np.random.default_rng(seed).integers(0, 1 << bits, (rows, depth))
    packed = pack_indices(idx, bits)
    assert packed.dtype == np.uint8 and packed.size == rows * ((depth * bits + 7) // 8)
    assert np.array_equal(unpack(packed, rows, depth, bits), idx)


@settings(max_examples=100, deadline=None)
@given(g=fc_layers(), seed=st.integers(0, 2**32 - 1), floats=st.booleans())
def test_palette_decodes_to_the_matrix(g, seed, floats):
    rng = np.random.default_rng(seed)
    w = decoded_weights(rng, g["rows"], g["depth"], g["k"], g["per_channel"], np.float32 if floats else np.int8)
    p = palettize(w)
    idx = unpack(p.indices, g["rows"], g["depth"], p.bits)
    book = p.codebook.reshape(-1, 1 << p.bits)
    got = book[np.arange(g["rows"])[:, None] if p.per_channel else 0, idx]
    assert got.dtype == w.dtype and np.array_equal(got.view(np.uint8), w.view(np.uint8))
    assert (1 << p.bits) >= p.used and (p.bits == 2 or (1 << (p.bits // 2)) < p.used)


def test_palette_picks_the_smaller_form_and_refuses_257_values():
    rng = np.random.default_rng(0)
    per_row = decoded_weights(rng, 64, 640, 16, True, np.int8)           # 16 per row, ~256 in the layer
    assert palettize(per_row).per_channel and palettize(per_row).bits == 4
    shared = decoded_weights(rng, 64, 640, 16, False, np.int8)
    assert not palettize(shared).per_channel
    assert palettize(shared).nbytes == 64 * 320 + 16
    wide = np.arange(257 * 2, dtype=np.float32).reshape(2, 257)
    assert palettize(wide) is None


# ---------------------------------------------------------------- int8 fully connected

def run_fc_s8(runtime, x, w, bias, kw):
    params, arrays, p, folded = fc_s8_codebook_params(x.shape, w, bias, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_fc_s8_codebook_params", params, arrays)
    out = np.full((x.shape[0], w.shape[0]), 0x5A, np.int8)
    status = lib.fn_fc_s8_codebook(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook),
                                   _ptr(ffi, "uint8_t", p.indices), _ptr(ffi, "int32_t", folded),
                                   _ptr(ffi, "int8_t", out))
    del keep
    return status, out, p


@settings(max_examples=400, deadline=None)
@given(g=fc_layers(), q=quant_cases())
def test_fc_s8_codebook_equals_the_dense_reference(runtime, g, q):
    rng = np.random.default_rng(q["seed"])
    w = decoded_weights(rng, g["rows"], g["depth"], g["k"], g["per_channel"], np.int8, q["data"] == "extremes")
    x = int8_data(rng, (g["batch"], g["depth"]), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["rows"])
    s_in, s_w, s_out = make_scales(rng, q, fc_s32(x, w, bias, input_zero_point=q["zp_in"]), g["rows"])
    kw = quant_kwargs(q, s_in, s_w, s_out)
    status, out, _ = run_fc_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_fc(x, w, bias, kw), "fn_fc_s8_codebook")


@pytest.mark.parametrize("k", [4, 16, 256])
def test_fc_s8_codebook_ad01_layer(runtime, k):
    """AD01's 640 -> 128 layer, 5 rows (a block of 4 and one more), deepest-sum extremes."""
    rng = np.random.default_rng(k)
    w = decoded_weights(rng, 128, 640, k, False, np.int8, extremes=True)
    x = rng.choice(np.array([-128, 127], np.int8), (5, 640))
    bias = rng.integers(-20000, 20000, 128).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(1e-5, 4e-5, 128),
              output_scale=0.2, output_zero_point=-128, mode="tflm")
    status, out, p = run_fc_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK and p.bits == {4: 2, 16: 4, 256: 8}[k]
    assert_array_equal_first(out, expected_fc(x, w, bias, kw), "fn_fc_s8_codebook")


def test_fc_s8_codebook_refuses_bad_fields(runtime):
    rng = np.random.default_rng(1)
    w = decoded_weights(rng, 6, 30, 4, False, np.int8)
    x = rng.integers(-128, 128, (2, 30), dtype=np.int8)
    kw = dict(input_scale=0.1, input_zero_point=0, weight_scales=0.01, output_scale=0.5, output_zero_point=0)
    params, arrays, p, folded = fc_s8_codebook_params(x.shape, w, None, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    for change in (dict(bits=3), dict(bits=16), dict(out_features=0), dict(in_features=0), dict(batch=0),
                   dict(in_features=2**16 + 1)):
        s, keep = c_params(ffi, "fn_fc_s8_codebook_params", {**params, **change}, arrays)
        out = np.full((2, 6), 0x5A, np.int8)
        assert lib.fn_fc_s8_codebook(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook),
                                     _ptr(ffi, "uint8_t", p.indices), ffi.NULL, _ptr(ffi, "int8_t", out)) \
            == lib.FN_ERR_ARG, change
        assert (out == 0x5A).all()
    s, keep = c_params(ffi, "fn_fc_s8_codebook_params", params, arrays)
    assert lib.fn_fc_s8_codebook(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook), ffi.NULL, ffi.NULL,
                                 _ptr(ffi, "int8_t", out)) == lib.FN_ERR_ARG


@settings(max_examples=150, deadline=None)
@given(g=fc_layers(), q=quant_cases())
def test_fc_s8_codebook_dsp_host_path_reads_pair_ordered_indices(runtime, g, q):
    """fn_fc_s8_codebook_dsp where FN_DSP is 0 (the host): the pair-ordered indices
    (w0, w2, w1, w3 per group of 4), rows interleaved by blocks of 4, give the dense
    reference's bytes; the scratch size is its
    table's (tests/test_codebook_models.py runs the DSP path on the emulated M4)."""
    depth = -(-g["depth"] // 4) * 4
    k = min(g["k"], 16)
    rng = np.random.default_rng(q["seed"])
    w = decoded_weights(rng, g["rows"], depth, k, False, np.int8, q["data"] == "extremes")
    x = int8_data(rng, (g["batch"], depth), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["rows"])
    s_in, s_w, s_out = make_scales(rng, q, fc_s32(x, w, bias, input_zero_point=q["zp_in"]), g["rows"])
    kw = quant_kwargs(q, s_in, s_w, s_out)
    params, arrays, p, folded = fc_s8_codebook_params(x.shape, w, bias, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_fc_s8_codebook_params", params, arrays)
    size = lib.fn_fc_s8_codebook_dsp_scratch_size(s)
    # the lookup table: 256 words of weight pairs (4-bit), 256 double words (2-bit: one per index byte)
    assert size == (0 if p.per_channel or p.bits == 8 else {4: 1024, 2: 2048}[p.bits])
    if size == 0:
        return
    scratch = np.zeros(size, np.uint8)
    out = np.full((g["batch"], g["rows"]), 0x5A, np.int8)
    ix = rows4_interleaved(p)
    assert lib.fn_fc_s8_codebook_dsp(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook),
                                     _ptr(ffi, "uint8_t", ix), _ptr(ffi, "int32_t", folded), _ptr(ffi, "int8_t", out),
                                     ffi.cast("void *", ffi.from_buffer(scratch))) == lib.FN_OK
    assert_array_equal_first(out, expected_fc(x, w, bias, kw), "fn_fc_s8_codebook_dsp")


# ---------------------------------------------------------------- float fully connected

def run_fc_f32(runtime, x, w, bias, act):
    params, p = fc_f32_codebook_params(x.shape, w, act=act)
    ffi, lib = runtime.ffi, runtime.lib
    s = ffi.new("fn_fc_f32_codebook_params *", params)
    out = np.full((x.shape[0], w.shape[0]), np.nan, np.float32)
    status = lib.fn_fc_f32_codebook(s, _ptr(ffi, "float", x), _ptr(ffi, "float", p.codebook),
                                    _ptr(ffi, "uint8_t", p.indices), _ptr(ffi, "float", bias), _ptr(ffi, "float", out))
    return status, out


def run_dense_fc_f32(runtime, x, w, bias, act):
    ffi, lib = runtime.ffi, runtime.lib
    s = ffi.new("fn_fc_f32_params *", fc_f32_params(x.shape, w.shape, act=act))
    out = np.full((x.shape[0], w.shape[0]), np.nan, np.float32)
    assert lib.fn_fc_f32(s, _ptr(ffi, "float", x), _ptr(ffi, "float", w), _ptr(ffi, "float", bias),
                         _ptr(ffi, "float", out)) == lib.FN_OK
    return out


def _within_f32_bound(out, ref, x, w, bias, depth):
    terms = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)).T + (0 if bias is None else np.abs(bias))
    bound = (depth + 1) * np.finfo(np.float32).eps * terms + np.finfo(np.float32).tiny
    return np.all(np.abs(out.astype(np.float64) - ref) <= bound)


@settings(max_examples=300, deadline=None)
@given(g=fc_layers(), seed=st.integers(0, 2**32 - 1), with_bias=st.booleans(), relu=st.booleans())
def test_fc_f32_codebook_equals_the_dense_kernel(runtime, g, seed, with_bias, relu):
    rng = np.random.default_rng(seed)
    w = decoded_weights(rng, g["rows"], g["depth"], g["k"], g["per_channel"], np.float32)
    x = rng.standard_normal((g["batch"], g["depth"])).astype(np.float32)
    bias = rng.standard_normal(g["rows"]).astype(np.float32) if with_bias else None
    act = (0.0, np.inf) if relu else (-np.inf, np.inf)
    status, out = run_fc_f32(runtime, x, w, bias, act)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, run_dense_fc_f32(runtime, x, w, bias, act), "fn_fc_f32_codebook vs fn_fc_f32")
    assert _within_f32_bound(out, fc_f32(x, w, bias, act=act), x, w, bias, g["depth"])


# ---------------------------------------------------------------- convolutions

@st.composite
def conv_layers(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = max(1, (kh - 1) * dh + 1 - pads[0] - pads[2] + draw(st.integers(0, 5)))
    w = max(1, (kw - 1) * dw + 1 - pads[1] - pads[3] + draw(st.integers(0, 5)))
    return dict(n=draw(st.integers(1, 2)), h=h, w=w, cin=draw(st.sampled_from([1, 3, 5, 8, 70])),
                cout=draw(st.integers(1, 6)), kh=kh, kw=kw,
                geo=dict(strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), dilations=(dh, dw), pads=pads),
                k=draw(st.sampled_from([3, 4, 16, 100, 256])), per_channel=draw(st.booleans()))


def filter_of(rng, g, dtype, extremes=False):
    depth = g["kh"] * g["kw"] * g["cin"]
    return decoded_weights(rng, g["cout"], depth, g["k"], g["per_channel"], dtype, extremes).reshape(
        g["cout"], g["kh"], g["kw"], g["cin"])


def run_conv_s8(runtime, x, w, bias, kw):
    params, arrays, p = conv2d_s8_codebook_params(x.shape, w, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_codebook_params", params, arrays)
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), 0x5A, np.int8)
    status = lib.fn_conv2d_s8_codebook(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook),
                                       _ptr(ffi, "uint8_t", p.indices), _ptr(ffi, "int32_t", bias),
                                       _ptr(ffi, "int8_t", out))
    del keep
    return status, out


@settings(max_examples=300, deadline=None)
@given(g=conv_layers(), q=quant_cases())
def test_conv_s8_codebook_equals_the_dense_reference(runtime, g, q):
    """Padded windows, strides, dilations; the reference conv2d_s8 from the layer's scales."""
    rng = np.random.default_rng(q["seed"])
    w = filter_of(rng, g, np.int8, q["data"] == "extremes")
    x = int8_data(rng, (g["n"], g["h"], g["w"], g["cin"]), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["cout"])
    acc = conv2d_s32(x, w, bias, input_zero_point=q["zp_in"], **g["geo"])
    s_in, s_w, s_out = make_scales(rng, q, acc, g["cout"])
    kw = dict(**g["geo"], **quant_kwargs(q, s_in, s_w, s_out))
    status, out = run_conv_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_codebook")


def test_conv_s8_codebook_kws_first_layer(runtime):
    """KWS's first convolution (49 x 10 x 1 -> 64, 10x4, stride 2, pads 4/1/5/1), K = 16."""
    rng = np.random.default_rng(11)
    g = dict(cout=64, kh=10, kw=4, cin=1, k=16, per_channel=False)
    w = filter_of(rng, g, np.int8)
    x = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 64).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
              output_zero_point=-128, strides=(2, 2), pads=(4, 1, 5, 1), act=(-128, 127), mode="tflm")
    status, out = run_conv_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_codebook")


def run_conv_f32(runtime, x, w, bias, geo, act):
    params, p = conv2d_f32_codebook_params(x.shape, w, act=act, **geo)
    ffi, lib = runtime.ffi, runtime.lib
    s = ffi.new("fn_conv2d_f32_codebook_params *", params)
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), np.nan, np.float32)
    status = lib.fn_conv2d_f32_codebook(s, _ptr(ffi, "float", x), _ptr(ffi, "float", p.codebook),
                                        _ptr(ffi, "uint8_t", p.indices), _ptr(ffi, "float", bias),
                                        _ptr(ffi, "float", out))
    return status, out


def run_dense_conv_f32(runtime, x, w, bias, geo, act):
    ffi, lib = runtime.ffi, runtime.lib
    s = ffi.new("fn_conv2d_f32_params *", conv2d_f32_params(x.shape, w.shape, act=act, **geo))
    out = np.full((s.batch, s.out_h, s.out_w, s.out_c), np.nan, np.float32)
    assert lib.fn_conv2d_f32(s, _ptr(ffi, "float", x), _ptr(ffi, "float", w), _ptr(ffi, "float", bias),
                             _ptr(ffi, "float", out)) == lib.FN_OK
    return out


@settings(max_examples=200, deadline=None)
@given(g=conv_layers(), seed=st.integers(0, 2**32 - 1), with_bias=st.booleans(), relu=st.booleans())
def test_conv_f32_codebook_equals_the_dense_kernel(runtime, g, seed, with_bias, relu):
    rng = np.random.default_rng(seed)
    w = filter_of(rng, g, np.float32)
    x = rng.standard_normal((g["n"], g["h"], g["w"], g["cin"])).astype(np.float32)
    bias = rng.standard_normal(g["cout"]).astype(np.float32) if with_bias else None
    act = (0.0, np.inf) if relu else (-np.inf, np.inf)
    status, out = run_conv_f32(runtime, x, w, bias, g["geo"], act)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, run_dense_conv_f32(runtime, x, w, bias, g["geo"], act),
                             "fn_conv2d_f32_codebook vs fn_conv2d_f32")
    ref = conv2d_f32(x, w, bias, act=act, **g["geo"])
    assert np.allclose(out, ref, rtol=1e-4, atol=1e-4 * g["kh"] * g["kw"] * g["cin"])


@settings(max_examples=150, deadline=None)
@given(g=conv_layers(), q=quant_cases(), pointwise=st.booleans())
def test_conv_s8_codebook_dsp_host_path_reads_pair_ordered_indices(runtime, g, q, pointwise):
    """fn_conv2d_s8_codebook_dsp where FN_DSP is 0 (the host): padded, strided, dilated and
    1x1 windows (of any depth: rows padded to groups of 4) gathered with the input zero point
    in the padding, the pair-ordered indices, give the dense reference's bytes; the scratch
    size is the table's plus 9 bytes per window value (rounded up to a multiple of 4)
    (test_kernels_codebook_qemu.py runs the DSP loops on the emulated M4)."""
    if pointwise:
        g = dict(g, kh=1, kw=1, geo=dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)))
    g = dict(g, k=min(g["k"], 16), per_channel=False)
    rng = np.random.default_rng(q["seed"])
    w = filter_of(rng, g, np.int8, q["data"] == "extremes")
    x = int8_data(rng, (g["n"], g["h"], g["w"], g["cin"]), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["cout"])
    acc = conv2d_s32(x, w, bias, input_zero_point=q["zp_in"], **g["geo"])
    s_in, s_w, s_out = make_scales(rng, q, acc, g["cout"])
    kw = dict(**g["geo"], **quant_kwargs(q, s_in, s_w, s_out))
    params, arrays, p = conv2d_s8_codebook_params(x.shape, w, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_codebook_params", params, arrays)
    depth = g["kh"] * g["kw"] * g["cin"]
    size = lib.fn_conv2d_s8_codebook_dsp_scratch_size(s)
    assert size == (0 if p.per_channel or depth > 1024 else {4: 1024, 2: 2048}[p.bits] + 9 * (-(-depth // 4) * 4))
    if size == 0:
        return
    scratch = np.zeros(size, np.uint8)
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), 0x5A, np.int8)
    status = lib.fn_conv2d_s8_codebook_dsp(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook),
                                           _ptr(ffi, "uint8_t", pair_ordered(p, pad=True)), _ptr(ffi, "int32_t", bias),
                                           _ptr(ffi, "int8_t", out), ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK
    del keep
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_codebook_dsp")


def test_conv_s8_codebook_dsp_refuses_shapes_it_does_not_take(runtime):
    """A window over FN_CB_CONV_DEPTH (1024) values, 8-bit indices, a per-channel codebook, no
    scratch: FN_ERR_ARG and the output untouched."""
    rng = np.random.default_rng(3)
    ffi, lib = runtime.ffi, runtime.lib
    kw = dict(input_scale=0.05, input_zero_point=3, weight_scales=np.full(4, 0.01), output_scale=0.2,
              output_zero_point=0, mode="tflm")
    x = rng.integers(-128, 128, (1, 5, 5, 8), dtype=np.int8)
    w = rng.choice(np.array([-3, 1, 7, 9], np.int8), (4, 1, 1, 8))
    params, arrays, p = conv2d_s8_codebook_params(x.shape, w, **kw)
    scratch = np.zeros(4096, np.uint8)
    for change in ({}, {"kernel_h": 2, "kernel_w": 65}, {"bits": 8}, {"per_channel": 1}, {"scratch": None}):
        fields = {k: v for k, v in {**params, **change}.items() if k != "scratch"}
        s, keep = c_params(ffi, "fn_conv2d_s8_codebook_params", fields, arrays)
        out = np.full((1, 5, 5, 4), 0x5A, np.int8)
        status = lib.fn_conv2d_s8_codebook_dsp(
            s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", p.codebook), _ptr(ffi, "uint8_t", pair_ordered(p, pad=True)),
            ffi.NULL, _ptr(ffi, "int8_t", out),
            ffi.NULL if "scratch" in change else ffi.cast("void *", ffi.from_buffer(scratch)))
        del keep
        if not change:
            assert status == lib.FN_OK
            continue
        assert status == lib.FN_ERR_ARG, change
        assert (out == 0x5A).all()

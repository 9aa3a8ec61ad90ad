"""The CSR kernels fn_fc_s8_csr, fn_fc_f32_csr, fn_conv2d_s8_csr and fn_conv2d_f32_csr
(runtime_c/include/fn_fc_s8_csr.h, fn_fc_f32_csr.h, fn_conv2d_s8_csr.h, fn_conv2d_f32_csr.h) against the DENSE numpy reference of the same layer
(firmnet.reference.dense_s8.fc_s8 from the layer's scales and zero points; dense.fc_f32):
the int8 kernel bit-exact, the float one exact for finite inputs (the header: it adds the
bias, then the nonzero products in fn_fc_f32's order, so only the +-0 terms are missing; the
float64 reference rounds once, so the comparison is with the dense C kernel fn_fc_f32, and
with the reference within the float32 summation bound).

Sparsity patterns under hypothesis: random densities, empty rows, all-zero layers, fully
dense layers, one nonzero per row, gaps wider than 255 columns (the uint8 steps' fillers),
both column forms and both row-start widths, extreme values and zero points; batches that
are and are not multiples of the kernels' block of 4 rows. The packing itself is checked by
its inverse (CsrMatrix.dense). The convolutions add padded windows, strides and dilations.
The emulated Cortex-M4 runs the kernels in compiled models: tests/test_sparse_models.py.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_csr import (ROW16_MAX, conv2d_f32_csr_params, conv2d_s8_csr_params, fc_f32_csr_params,
                                        fc_s8_csr_params, fold_input_offset, pack_csr, stored)
from firmnet.kernels.params_conv_f32 import conv2d_f32_params, fc_f32_params
from firmnet.lowering import CArray
from firmnet.reference.conv import conv2d_f32
from firmnet.reference.dense import fc_f32
from firmnet.reference.conv_s8 import conv2d_s32
from firmnet.reference.dense_s8 import fc_s32
from support.compare import assert_array_equal_first
from support.s8_cases import int8_data, make_bias, make_scales, quant_cases, quant_kwargs
from support.s8_kernels import expected_conv, expected_fc

PATTERNS = ("random", "empty_rows", "all_zero", "dense", "one_per_row", "wide_gaps")


def sparse_weights(rng, rows, cols, pattern, density, dtype=np.int8, extremes=False):
    """A [rows, cols] matrix of the pattern; nonzero values int8 (or float) and never 0."""
    if dtype == np.int8:
        values = rng.choice(np.array([-128, 127], np.int8), (rows, cols)) if extremes else \
            rng.integers(-128, 128, (rows, cols), dtype=np.int8)
        values[values == 0] = 1
    else:
        values = rng.standard_normal((rows, cols)).astype(np.float32)
    mask = rng.random((rows, cols)) < density
    if pattern == "empty_rows":
        mask[rng.random(rows) < 0.5] = False
    elif pattern == "all_zero":
        mask[:] = False
    elif pattern == "dense":
        mask[:] = True
    elif pattern == "one_per_row":
        mask[:] = False
        mask[np.arange(rows), rng.integers(0, cols, rows)] = True
    elif pattern == "wide_gaps":     # first and last columns only: gaps of cols - 1 > 255
        mask[:] = False
        mask[:, 0] = rng.random(rows) < 0.7
        mask[:, -1] = True
        mask[:, rng.integers(0, cols, 2)] = True
    return np.where(mask, values, 0).astype(dtype)


@st.composite
def layers(draw):
    pattern = draw(st.sampled_from(PATTERNS))
    cols = draw(st.integers(260, 700)) if pattern == "wide_gaps" else \
        draw(st.one_of(st.integers(1, 40), st.sampled_from([64, 255, 256, 257, 300, 640])))
    return dict(pattern=pattern, batch=draw(st.integers(1, 10)), rows=draw(st.integers(1, 20)), cols=cols,
                density=draw(st.sampled_from([0.02, 0.1, 0.3, 0.5, 0.9])),
                form=draw(st.sampled_from([None, "delta", "index"])), row_width=draw(st.sampled_from([None, 32])))


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


def c_struct(ffi, ctype, params, arrays=None):
    """The kernel's struct from the builder's fields; returns it and the arrays it points into."""
    scalars = {k: v for k, v in params.items() if not isinstance(v, CArray) and v is not None}
    s = ffi.new(ctype + " *", scalars)
    keep = []
    for field in ("col_delta", "col_index", "row_start16", "row_start32"):
        v = params[field]
        a = None if v is None else np.array(v.values, {"uint8_t": np.uint8, "uint16_t": np.uint16,
                                                        "uint32_t": np.uint32}[v.ctype])
        keep.append(a)
        setattr(s, field, _ptr(ffi, v.ctype if v is not None else "void", a))
    for name, a in (arrays or {}).items():     # the requantization block's arrays (params_requant)
        a = None if a is None else np.ascontiguousarray(a, np.float32 if name == "scale" else np.int32)
        keep.append(a)
        setattr(s.requant, name, _ptr(ffi, "float" if name == "scale" else "int32_t", a))
    return s, keep


def run_s8(runtime, x, w, bias, kw, form=None, row_width=None, fill=0x5A):
    params, arrays, m, folded = fc_s8_csr_params(x.shape, w, bias, form=form, row_width=row_width, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_struct(ffi, "fn_fc_s8_csr_params", params, arrays)
    values = stored(m.values)
    out = np.full((x.shape[0], w.shape[0]), fill, np.int8)
    status = lib.fn_fc_s8_csr(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", values), _ptr(ffi, "int32_t", folded),
                              _ptr(ffi, "int8_t", out))
    del keep
    return status, out, m


def run_f32(runtime, x, w, bias, act=(-np.inf, np.inf), form=None, row_width=None):
    params, m = fc_f32_csr_params(x.shape, w, act=act, form=form, row_width=row_width)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_struct(ffi, "fn_fc_f32_csr_params", params)
    values = stored(m.values)
    out = np.full((x.shape[0], w.shape[0]), np.nan, np.float32)
    status = lib.fn_fc_f32_csr(s, _ptr(ffi, "float", x), _ptr(ffi, "float", values), _ptr(ffi, "float", bias),
                               _ptr(ffi, "float", out))
    del keep
    return status, out, m


def run_dense_f32(runtime, x, w, bias, act=(-np.inf, np.inf)):
    ffi, lib = runtime.ffi, runtime.lib
    s = ffi.new("fn_fc_f32_params *", fc_f32_params(x.shape, w.shape, act=act))
    out = np.full((x.shape[0], w.shape[0]), np.nan, np.float32)
    assert lib.fn_fc_f32(s, _ptr(ffi, "float", x), _ptr(ffi, "float", w), _ptr(ffi, "float", bias),
                         _ptr(ffi, "float", out)) == lib.FN_OK
    return out


def s8_case(g, q):
    rng = np.random.default_rng(q["seed"])
    w = sparse_weights(rng, g["rows"], g["cols"], g["pattern"], g["density"], extremes=q["data"] == "extremes")
    x = int8_data(rng, (g["batch"], g["cols"]), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["rows"])
    acc = fc_s32(x, w, bias, input_zero_point=q["zp_in"])
    s_in, s_w, s_out = make_scales(rng, q, acc, g["rows"])
    return x, w, bias, quant_kwargs(q, s_in, s_w, s_out)


# ---------------------------------------------------------------- packing

@settings(max_examples=200, deadline=None)
@given(g=layers(), seed=st.integers(0, 2**32 - 1))
def test_packing_round_trips(g, seed):
    rng = np.random.default_rng(seed)
    w = sparse_weights(rng, g["rows"], g["cols"], g["pattern"], g["density"])
    m = pack_csr(w, g["form"], g["row_width"])
    assert np.array_equal(m.dense(), w)
    assert m.nonzeros == np.count_nonzero(w)
    if m.col_delta is not None:     # fillers only where a gap is wider than 255
        assert m.entries >= m.nonzeros and (m.entries == m.nonzeros or g["cols"] > 256)
    else:
        assert m.entries == m.nonzeros


def test_packing_picks_the_smaller_column_form():
    rng = np.random.default_rng(0)
    near = sparse_weights(rng, 8, 200, "random", 0.3)                 # steps fit uint8: 1 byte per column
    far = np.zeros((4, 60000), np.int8)
    far[:, ::5000] = 3                                                # every step needs 19 fillers
    for w, form in ((near, "delta"), (far, "index")):
        m = pack_csr(w)
        assert m.form == form
        assert m.nbytes == min(pack_csr(w, "delta").nbytes, pack_csr(w, "index").nbytes)


def test_row_starts_widen_past_uint16():
    w = np.ones((3, ROW16_MAX // 3 + 10), np.int8)
    assert pack_csr(w).row_start.dtype == np.uint32
    assert pack_csr(w[:, :100]).row_start.dtype == np.uint16
    with pytest.raises(ValueError, match="uint16 row starts"):
        pack_csr(w, row_width=16)


def test_folded_bias_wraps_modulo_2_32():
    w = np.full((2, 3), 127, np.int8)
    bias = np.array([2**31 - 1, -2**31], np.int32)
    got = fold_input_offset(w, bias, 128)
    want = (np.array([2**31 - 1, -2**31], np.int64) + 128 * 381 + 2**31) % 2**32 - 2**31
    assert got.dtype == np.int32 and np.array_equal(got, want)


# ---------------------------------------------------------------- int8

@settings(max_examples=400, deadline=None)
@given(g=layers(), q=quant_cases())
def test_s8_csr_equals_the_dense_reference(runtime, g, q):
    x, w, bias, kw = s8_case(g, q)
    status, out, _ = run_s8(runtime, x, w, bias, kw, g["form"], g["row_width"])
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_fc(x, w, bias, kw), "fn_fc_s8_csr")


@pytest.mark.parametrize("form", ["delta", "index"])
@pytest.mark.parametrize("row_width", [16, 32])
def test_s8_csr_every_storage_form(runtime, form, row_width):
    """AD01's 640 -> 128 layer at 90 % sparsity, 5 rows (a block of 4 and one more)."""
    rng = np.random.default_rng(7)
    w = sparse_weights(rng, 128, 640, "random", 0.1)
    x = rng.integers(-128, 128, (5, 640), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 128).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(0.001, 0.004, 128),
              output_scale=0.2, output_zero_point=-128, mode="tflm")
    status, out, m = run_s8(runtime, x, w, bias, kw, form, row_width)
    assert status == runtime.lib.FN_OK and m.form == form and m.row_start.itemsize * 8 == row_width
    assert_array_equal_first(out, expected_fc(x, w, bias, kw), "fn_fc_s8_csr")


@pytest.mark.parametrize("sign", [-1, 1])
def test_s8_csr_deepest_sums(runtime, sign):
    """65536 columns of extreme products with zero point -128 (the folded bias carries
    128 * SUM w): the dense kernel's worst case, bit-exact, with uint32 row starts."""
    k = 2**16
    x = np.full((1, k), 127, np.int8)
    w = np.full((3, k), -128 if sign < 0 else 127, np.int8)
    w[1, ::2] = 0
    w[2, 1::3] = 0
    kw = dict(input_scale=1.0, input_zero_point=-128, weight_scales=[2.0**-24, 2.0**-23, 2.0**-20],
              output_scale=1.0, output_zero_point=3, mode="tflm")
    status, out, m = run_s8(runtime, x, w, None, kw)
    assert status == runtime.lib.FN_OK and m.row_start.dtype == np.uint32
    assert_array_equal_first(out, expected_fc(x, w, None, kw), "fn_fc_s8_csr")


def test_s8_csr_refuses_malformed_matrices(runtime):
    rng = np.random.default_rng(1)
    w = sparse_weights(rng, 6, 30, "random", 0.5)
    x = rng.integers(-128, 128, (2, 30), dtype=np.int8)
    kw = dict(input_scale=0.1, input_zero_point=0, weight_scales=0.01, output_scale=0.5, output_zero_point=0)
    params, arrays, m, folded = fc_s8_csr_params(x.shape, w, None, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    broken = [dict(entries=m.entries + 1), dict(out_features=0), dict(in_features=0), dict(batch=0),
              dict(in_features=2**16 + 1)]
    for change in broken:
        s, keep = c_struct(ffi, "fn_fc_s8_csr_params", {**params, **change}, arrays)
        out = np.full((2, 6), 0x5A, np.int8)
        assert lib.fn_fc_s8_csr(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", m.values), ffi.NULL,
                                _ptr(ffi, "int8_t", out)) == lib.FN_ERR_ARG, change
        assert (out == 0x5A).all()
    s, keep = c_struct(ffi, "fn_fc_s8_csr_params", params, arrays)
    s.col_index = ffi.cast("uint16_t *", ffi.from_buffer(np.zeros(m.entries + 1, np.uint16)))   # two column forms
    out = np.zeros((2, 6), np.int8)
    assert lib.fn_fc_s8_csr(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", m.values), ffi.NULL,
                            _ptr(ffi, "int8_t", out)) == lib.FN_ERR_ARG
    starts = m.row_start.copy()
    starts[2], starts[3] = starts[3], starts[2] + 0   # decreasing where rows 2 and 3 differ
    if starts[2] != starts[3]:
        s, keep = c_struct(ffi, "fn_fc_s8_csr_params", params, arrays)
        s.row_start16 = ffi.cast("uint16_t *", ffi.from_buffer(starts))
        assert lib.fn_fc_s8_csr(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", m.values), ffi.NULL,
                                _ptr(ffi, "int8_t", out)) == lib.FN_ERR_ARG
    assert lib.fn_fc_s8_csr(ffi.NULL, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", m.values), ffi.NULL,
                            _ptr(ffi, "int8_t", out)) == lib.FN_ERR_ARG


# ---------------------------------------------------------------- float

@settings(max_examples=300, deadline=None)
@given(g=layers(), seed=st.integers(0, 2**32 - 1), with_bias=st.booleans(), relu=st.booleans())
def test_f32_csr_equals_the_dense_kernel(runtime, g, seed, with_bias, relu):
    """Exact against fn_fc_f32 on the dense matrix (finite inputs), and within the float32
    summation bound of the float64 reference: n * eps * SUM |terms|."""
    rng = np.random.default_rng(seed)
    w = sparse_weights(rng, g["rows"], g["cols"], g["pattern"], g["density"], dtype=np.float32)
    x = rng.standard_normal((g["batch"], g["cols"])).astype(np.float32)
    bias = rng.standard_normal(g["rows"]).astype(np.float32) if with_bias else None
    act = (0.0, np.inf) if relu else (-np.inf, np.inf)
    status, out, _ = run_f32(runtime, x, w, bias, act, g["form"], g["row_width"])
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, run_dense_f32(runtime, x, w, bias, act), "fn_fc_f32_csr vs fn_fc_f32")
    ref = fc_f32(x, w, bias, act=act)
    terms = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)).T + (0 if bias is None else np.abs(bias))
    bound = (np.count_nonzero(w, axis=1) + 1) * np.finfo(np.float32).eps * terms + np.finfo(np.float32).tiny
    assert np.all(np.abs(out.astype(np.float64) - ref) <= bound)


def test_f32_csr_refuses_a_malformed_matrix(runtime):
    w = np.eye(4, dtype=np.float32)
    x = np.ones((1, 4), np.float32)
    params, m = fc_f32_csr_params(x.shape, w)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_struct(ffi, "fn_fc_f32_csr_params", {**params, "entries": 3})
    out = np.zeros((1, 4), np.float32)
    assert lib.fn_fc_f32_csr(s, _ptr(ffi, "float", x), _ptr(ffi, "float", m.values), ffi.NULL,
                             _ptr(ffi, "float", out)) == lib.FN_ERR_ARG


# ---------------------------------------------------------------- int8 general convolution

@st.composite
def conv_layers(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    w_in = draw(st.integers((kw - 1) * dw + 1, 9))             # a window row fits an input row
    h_in = draw(st.integers(1, 9))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    assume_h = h_in + pads[0] + pads[2] >= (kh - 1) * dh + 1
    return dict(n=draw(st.integers(1, 2)), h=h_in if assume_h else (kh - 1) * dh + 1, w=w_in,
                cin=draw(st.sampled_from([1, 3, 8, 70])), cout=draw(st.integers(1, 6)), kh=kh, kw=kw,
                strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), dilations=(dh, dw), pads=pads,
                pattern=draw(st.sampled_from(PATTERNS)), density=draw(st.sampled_from([0.05, 0.3, 0.9])),
                form=draw(st.sampled_from([None, "delta", "index"])), row_width=draw(st.sampled_from([None, 32])))


def run_conv_s8(runtime, x, w, bias, kw, form=None, row_width=None):
    params, arrays, m, folded = conv2d_s8_csr_params(x.shape, w, bias, form=form, row_width=row_width, **kw)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_struct(ffi, "fn_conv2d_s8_csr_params", params, arrays)
    shape = (params["batch"], params["out_h"], params["out_w"], params["out_features"])
    out = np.full(shape, 0x5A, np.int8)
    status = lib.fn_conv2d_s8_csr(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int8_t", stored(m.values)),
                                  _ptr(ffi, "int32_t", folded), _ptr(ffi, "int8_t", out))
    del keep
    return status, out


@settings(max_examples=300, deadline=None)
@given(g=conv_layers(), q=quant_cases())
def test_conv_s8_csr_equals_the_dense_reference(runtime, g, q):
    """Padded windows (the zero point's taps skipped exactly), strides, dilations, every
    sparsity pattern, against firmnet.reference.conv_s8.conv2d_s8 from the layer's scales."""
    rng = np.random.default_rng(q["seed"])
    cols = g["kh"] * g["kw"] * g["cin"]
    w = sparse_weights(rng, g["cout"], cols, g["pattern"] if cols > 256 or g["pattern"] != "wide_gaps" else "random",
                       g["density"], extremes=q["data"] == "extremes").reshape(g["cout"], g["kh"], g["kw"], g["cin"])
    x = int8_data(rng, (g["n"], g["h"], g["w"], g["cin"]), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], g["cout"])
    geo = dict(strides=g["strides"], dilations=g["dilations"], pads=g["pads"])
    acc = conv2d_s32(x, w, bias, input_zero_point=q["zp_in"], **geo)
    s_in, s_w, s_out = make_scales(rng, q, acc, g["cout"])
    kw = dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))
    status, out = run_conv_s8(runtime, x, w, bias, kw, g["form"], g["row_width"])
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_csr")


def test_conv_s8_csr_kws_first_layer(runtime):
    """KWS's first convolution (49 x 10 x 1 -> 64, 10x4, stride 2, pads 4/1/5/1) at 80 %
    sparsity: most windows reach into the padding."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    w = sparse_weights(rng, 64, 40, "random", 0.2).reshape(64, 10, 4, 1)
    bias = rng.integers(-20000, 20000, 64).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
              output_zero_point=-128, strides=(2, 2), pads=(4, 1, 5, 1), act=(-128, 127), mode="tflm")
    status, out = run_conv_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_csr")


@pytest.mark.parametrize("strides, dilations", [((1, 1), (1, 1)), ((2, 1), (1, 2)), ((1, 3), (2, 1))])
def test_conv_s8_csr_blocks_of_four_windows(runtime, strides, dilations):
    """A wide image: most rows of windows take the 4-window loop, the rest of each row (and the
    padded windows) the one-window loops."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (2, 9, 23, 8), dtype=np.int8)
    w = sparse_weights(rng, 12, 72, "random", 0.3).reshape(12, 3, 3, 8)
    bias = rng.integers(-5000, 5000, 12).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=7, weight_scales=rng.uniform(0.002, 0.01, 12), output_scale=0.2,
              output_zero_point=-3, strides=strides, dilations=dilations, pads=(1, 1, 1, 1), mode="tflm")
    status, out = run_conv_s8(runtime, x, w, bias, kw)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), "fn_conv2d_s8_csr")


def test_conv_s8_csr_refuses_a_window_wider_than_the_input(runtime):
    x = np.zeros((1, 5, 2, 1), np.int8)
    w = np.ones((1, 1, 3, 1), np.int8)
    with pytest.raises(ValueError, match="spans more than the input"):
        conv2d_s8_csr_params(x.shape, w, None, input_scale=1.0, input_zero_point=0, weight_scales=1.0,
                             output_scale=1.0, output_zero_point=0, pads=(0, 1, 0, 1))


# ---------------------------------------------------------------- float general convolution

def run_conv_f32(runtime, x, w, bias, geo, act=(-np.inf, np.inf), form=None, row_width=None):
    params, m = conv2d_f32_csr_params(x.shape, w, act=act, form=form, row_width=row_width, **geo)
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_struct(ffi, "fn_conv2d_f32_csr_params", params)
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_features"]), np.nan, np.float32)
    status = lib.fn_conv2d_f32_csr(s, _ptr(ffi, "float", x), _ptr(ffi, "float", stored(m.values)),
                                   _ptr(ffi, "float", bias), _ptr(ffi, "float", out))
    del keep
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
def test_conv_f32_csr_equals_the_dense_kernel(runtime, g, seed, with_bias, relu):
    """Exact against fn_conv2d_f32 on the dense filter (the same order of terms, finite inputs),
    and within float tolerance of the float64 reference."""
    rng = np.random.default_rng(seed)
    cols = g["kh"] * g["kw"] * g["cin"]
    pattern = g["pattern"] if cols > 256 or g["pattern"] != "wide_gaps" else "random"
    w = sparse_weights(rng, g["cout"], cols, pattern, g["density"], dtype=np.float32).reshape(
        g["cout"], g["kh"], g["kw"], g["cin"])
    x = rng.standard_normal((g["n"], g["h"], g["w"], g["cin"])).astype(np.float32)
    bias = rng.standard_normal(g["cout"]).astype(np.float32) if with_bias else None
    act = (0.0, np.inf) if relu else (-np.inf, np.inf)
    geo = dict(strides=g["strides"], dilations=g["dilations"], pads=g["pads"])
    status, out = run_conv_f32(runtime, x, w, bias, geo, act, g["form"], g["row_width"])
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, run_dense_conv_f32(runtime, x, w, bias, geo, act), "fn_conv2d_f32_csr")
    np.testing.assert_allclose(out, conv2d_f32(x, w, bias, act=act, **geo), rtol=1e-4, atol=1e-4)

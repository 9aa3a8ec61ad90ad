"""In-place execution per kernel (firmnet/in_place.py): each C kernel that declares an
overlap runs with its output starting the declared number of bytes before its input, in
one buffer poisoned around the two tensors; the output bytes equal the numpy reference
(computed from an untouched copy of the input) and no byte outside the tensors' union
changes. hypothesis draws the shapes, strides, pads, zero points and scales
(support/s8_cases.py). A case with a delta smaller than the declared one shows that the
check sees an input overwritten too early."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.in_place import (IN_PLACE, conv_delta, depthwise_delta, dw_rows_dsp_delta, pair_delta, phase_delta,
                              row_delta, w16_delta, winograd_delta)
from firmnet.kernels import conv2d_1x1_s8_w16_dsp
from firmnet.kernels.params_conv_s8 import (conv2d_s8_params, depthwise_conv2d_s8_params, fc_s8_params,
                                            pack_depthwise_filter)
from firmnet.kernels import params_relu_s8 as relu_params
from firmnet.reference import relu_s8 as relu_ref

from support.compare import assert_array_equal_first
from support.s8_cases import (accumulators, conv_case, conv_geometry, int8_data, make_bias, make_scales, quant_cases,
                              quant_kwargs)
from support.s8_kernels import c_params, expected_conv, expected_dw, expected_fc

POISON = 0x5A               # a byte value no kernel is told to write
PAD = 48                    # poisoned bytes on each side of the tensors


class Overlapped:
    """One poisoned buffer: [PAD poison][delta bytes][input ...] with the output at PAD, so the
    output starts `delta` bytes before the input."""

    def __init__(self, ffi, x: np.ndarray, out_nbytes: int, delta: int):
        self.x = np.ascontiguousarray(x, dtype=np.int8)
        self.delta, self.out_nbytes = delta, out_nbytes
        self.end = PAD + max(delta + self.x.nbytes, out_nbytes)     # the tensors' union ends here
        self.buf = np.full(self.end + PAD, POISON, np.int8)
        self.buf[PAD + delta:PAD + delta + self.x.nbytes] = self.x.ravel()
        base = ffi.cast("int8_t *", ffi.from_buffer(self.buf))
        self.input, self.output = base + PAD + delta, base + PAD

    def result(self, shape) -> np.ndarray:
        assert (self.buf[:PAD] == POISON).all() and (self.buf[self.end:] == POISON).all(), \
            "the kernel wrote outside the input and output tensors"
        return self.buf[PAD:PAD + self.out_nbytes].copy().reshape(shape)


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


# ---------------------------------------------------------------- the phase model

def test_phase_delta_by_hand():
    # phase 0 writes byte 9 (output), phase 1 then reads from input byte 4: 9 - d < 4 -> d >= 6
    assert phase_delta([9, 19], [0, 4], inclusive=False) == 6
    # interleaved reads and writes: phase 1's write of byte 19 must stay below its own
    # reads from byte 4: 19 - d < 4 -> d >= 16
    assert phase_delta([9, 19], [0, 4], inclusive=True) == 16
    assert phase_delta([], [], inclusive=True) == 0
    assert phase_delta([0, 1], [100, 100], inclusive=False) == 0


@pytest.mark.parametrize("w,c", [(5, 64), (8, 16), (3, 4)])
def test_depthwise_3x3_same_lags_one_row_and_one_pixel(w, c):
    """Stride 1, pad 1, 3x3, channels a multiple of 4: the output may start (W + 1) pixels
    before the input (a rolling window of one row and one pixel)."""
    assert depthwise_delta((6, w), (6, w), c, 1, (3, 3), (1, 1), (1, 1), (1, 1)) == (w + 1) * c


@pytest.mark.parametrize("rows,k,n,group,expected", [(125, 64, 64, 4, 256), (125, 64, 64, 1, 64),
                                                     (10, 64, 32, 2, 64), (10, 8, 16, 1, 10 * 16 - 9 * 8)])
def test_row_kernels_need_a_pixel_buffer_or_the_growth(rows, k, n, group, expected):
    assert row_delta(rows, k, n, group) == expected


def test_declared_kernels_exist():
    from firmnet.resources import runtime_dir
    src = "".join(p.read_text() for p in (runtime_dir() / "src").glob("*.c"))
    for name in IN_PLACE:
        assert f"fn_status {name}(" in src, name


# ---------------------------------------------------------------- depthwise

def dw_case(g, q):
    rng = np.random.default_rng(q["seed"])
    c, m = g["groups"], g["cout_g"]
    x = int8_data(rng, (1, g["h"], g["w"], c), q["data"], q["zp_in"])
    w = int8_data(rng, (1, g["kh"], g["kw"], c * m), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], c * m)
    w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
    g1 = dict(g, n=1)
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w_ohwi, bias, q["zp_in"], g1), c * m)
    return x, w, bias, dict(**g["geo"], **quant_kwargs(q, s_in, s_w, s_out))


def dw_delta(params) -> int:
    p = params
    return depthwise_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"], p["depth_multiplier"],
                           (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]),
                           (p["pad_top"], p["pad_left"]), (p["dilation_h"], p["dilation_w"]))


def run_dw_overlapped(runtime, x, w, bias, kw, delta=None):
    ffi, lib = runtime.ffi, runtime.lib
    params, arrays = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    delta = dw_delta(params) if delta is None else delta
    shape = (1, params["out_h"], params["out_w"], params["in_c"] * params["depth_multiplier"])
    buf = Overlapped(ffi, x, int(np.prod(shape)), delta)
    s, keep = c_params(ffi, "fn_depthwise_conv2d_s8_params", params, arrays)
    packed = np.ascontiguousarray(pack_depthwise_filter(w))
    status = lib.fn_depthwise_conv2d_s8(s, buf.input, _ptr(ffi, "int8_t", packed), _ptr(ffi, "int32_t", bias),
                                        buf.output)
    assert status == lib.FN_OK
    del keep
    return buf.result(shape)


@settings(max_examples=120, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_depthwise_in_place_matches_reference(runtime, g, q):
    x, w, bias, kw = dw_case(g, q)
    expected = expected_dw(x, w, bias, kw)
    assert_array_equal_first(run_dw_overlapped(runtime, x, w, bias, kw), expected, "depthwise in place")


@settings(max_examples=80, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_depthwise_rows_dsp_in_place_matches_reference(runtime, g, q):
    """The DSP row variant's declaration (its portable fallback here, the host has no DSP
    extension; the DSP path runs in QEMU, tests/test_in_place_models.py): a multiple of C."""
    g = dict(g, cout_g=1, geo=dict(g["geo"], dilations=(1, g["geo"]["dilations"][1])))
    x, w, bias, kw = dw_case(g, q)
    ffi, lib = runtime.ffi, runtime.lib
    params, arrays = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    p = params
    delta = dw_rows_dsp_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"],
                              (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]),
                              (p["pad_top"], p["pad_left"]), (p["dilation_h"], p["dilation_w"]))
    step = np.lcm(16, p["in_c"])
    delta = -(-delta // step) * step
    shape = (1, p["out_h"], p["out_w"], p["in_c"])
    buf = Overlapped(ffi, x, int(np.prod(shape)), delta)
    s, keep = c_params(ffi, "fn_depthwise_conv2d_s8_params", params, arrays)
    packed = np.ascontiguousarray(pack_depthwise_filter(w))
    scratch = np.zeros(1 << 16, np.int8)
    status = lib.fn_depthwise_conv2d_s8_rows_dsp(s, buf.input, _ptr(ffi, "int8_t", packed),
                                                 _ptr(ffi, "int32_t", bias), buf.output,
                                                 ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK      # kernels up to 4x4 here; the variant takes up to FN_DW_ROWS_K = 8
    assert_array_equal_first(buf.result(shape), expected_dw(x, w, bias, kw), "rows_dsp in place")


def test_depthwise_with_too_small_a_delta_is_caught(runtime):
    """The poisoned-buffer check is sensitive: 3x3 stride 1 at delta (W+1)*C - 4 (one block
    short) or 0 reads overwritten inputs."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 6, 5, 8), dtype=np.int8)
    w = rng.integers(-127, 128, (1, 3, 3, 8), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 8).astype(np.int32)
    kw = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), input_scale=0.05, input_zero_point=3,
              weight_scales=np.full(8, 0.01), output_scale=0.02, output_zero_point=-5)
    expected = expected_dw(x, w, bias, kw)
    assert np.array_equal(run_dw_overlapped(runtime, x, w, bias, kw), expected)
    for delta in (0, 6 * 8 - 4 - 1):
        assert not np.array_equal(run_dw_overlapped(runtime, x, w, bias, kw, delta), expected), delta


# ---------------------------------------------------------------- direct convolution

@pytest.mark.parametrize("w,c", [(5, 8), (7, 3)])
def test_conv_3x3_same_lags_one_row_and_two_pixels(w, c):
    assert conv_delta((6, w), (6, w), c, c, (3, 3), (1, 1), (1, 1), (1, 1)) == (w + 2) * c


@settings(max_examples=150, deadline=None)
@given(g=conv_geometry(), q=quant_cases())
def test_conv_in_place_matches_reference(runtime, g, q):
    ffi, lib = runtime.ffi, runtime.lib
    x, w, bias, kw = conv_case(dict(g, n=1), q)
    params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
    p = params
    delta = conv_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"], p["out_c"],
                       (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]), (p["pad_top"], p["pad_left"]),
                       (p["dilation_h"], p["dilation_w"]))
    shape = (1, p["out_h"], p["out_w"], p["out_c"])
    buf = Overlapped(ffi, x, int(np.prod(shape)), delta)
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    assert lib.fn_conv2d_s8(s, buf.input, _ptr(ffi, "int8_t", w), _ptr(ffi, "int32_t", bias), buf.output) == lib.FN_OK
    assert_array_equal_first(buf.result(shape), expected_conv(x, w, bias, kw), "conv2d in place")


# ---------------------------------------------------------------- fully connected / 1x1

def pointwise_case(rows, cols, cin, cout, q):
    g = dict(n=1, h=rows, w=cols, groups=1, cin_g=cin, cout_g=cout, kh=1, kw=1,
             geo=dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)))
    return conv_case(g, q)


@settings(max_examples=120, deadline=None)
@given(rows=st.integers(1, 9), k=st.integers(1, 40), n=st.integers(1, 40), q=quant_cases())
def test_fc_in_place_matches_reference(runtime, rows, k, n, q):
    ffi, lib = runtime.ffi, runtime.lib
    x4, w4, bias, kw = pointwise_case(rows, 1, k, n, q)
    x, w = x4.reshape(rows, k), w4.reshape(n, k)
    kw = {key: v for key, v in kw.items() if key not in ("groups", "strides", "dilations", "pads")}
    params, arrays = fc_s8_params(x.shape, w.shape, **kw)
    buf = Overlapped(ffi, x, rows * n, row_delta(rows, k, n, 1))
    s, keep = c_params(ffi, "fn_fc_s8_params", params, arrays)
    status = lib.fn_fc_s8(s, buf.input, _ptr(ffi, "int8_t", w), _ptr(ffi, "int32_t", bias), buf.output)
    assert status == lib.FN_OK
    assert_array_equal_first(buf.result((rows, n)), expected_fc(x, w, bias, kw), "fc in place")


@settings(max_examples=120, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), cin=st.integers(1, 24), cout=st.integers(1, 24),
       q=quant_cases())
def test_conv_1x1_in_place_matches_reference(runtime, h, w, cin, cout, q):
    ffi, lib = runtime.ffi, runtime.lib
    x, wt, bias, kw = pointwise_case(h, w, cin, cout, q)
    params, arrays = conv2d_s8_params(x.shape, wt.shape, **kw)
    for kernel, group in (("fn_conv2d_1x1_s8", 2), ("fn_conv2d_1x1_s8_dsp", 3)):
        buf = Overlapped(ffi, x, h * w * cout, row_delta(h * w, cin, cout, group))
        s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
        args = [s, buf.input, _ptr(ffi, "int8_t", wt), _ptr(ffi, "int32_t", bias), buf.output]
        if kernel.endswith("_dsp"):
            scratch = np.zeros(4096, np.int8)   # unused without the DSP extension, must not be NULL
            args.append(ffi.cast("void *", ffi.from_buffer(scratch)))
        assert getattr(lib, kernel)(*args) == lib.FN_OK, kernel
        assert_array_equal_first(buf.result((1, h, w, cout)), expected_conv(x, wt, bias, kw), f"{kernel} in place")


def run_pw16_overlapped(runtime, x, wt, bias, kw, delta):
    ffi, lib = runtime.ffi, runtime.lib
    _, h, w, _ = x.shape
    cout = wt.shape[0]
    params, arrays = conv2d_s8_params(x.shape, wt.shape, **kw)
    buf = Overlapped(ffi, x, h * w * cout, delta)
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    packed = conv2d_1x1_s8_w16_dsp.pack_filter(wt)
    scratch = np.zeros(conv2d_1x1_s8_w16_dsp.scratch(params), np.int8)
    status = lib.fn_conv2d_1x1_s8_w16_dsp(s, buf.input, _ptr(ffi, "int16_t", packed), _ptr(ffi, "int32_t", bias),
                                          buf.output, ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK
    del keep
    return buf.result((1, h, w, cout))


@settings(max_examples=120, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), cin=st.integers(1, 24), cout=st.integers(1, 24),
       q=quant_cases())
def test_conv_1x1_w16_in_place_matches_reference(runtime, h, w, cin, cout, q):
    """fn_conv2d_1x1_s8_w16_dsp (its portable path on the host; in QEMU: test_in_place_models.py)
    at its declared pair_delta: 0 when out_c <= in_c."""
    x, wt, bias, kw = pointwise_case(h, w, cin, cout, q)
    delta = pair_delta(h * w, cin, cout)
    if cout <= cin:
        assert delta == 0
    got = run_pw16_overlapped(runtime, x, wt, bias, kw, delta)
    assert_array_equal_first(got, expected_conv(x, wt, bias, kw), "fn_conv2d_1x1_s8_w16_dsp in place")


def test_conv_1x1_w16_with_too_small_a_delta_is_caught(runtime):
    """8 -> 16 channels over 3 x 3 pixels: the pair (6, 7) writes 8 * 16 output bytes before the
    last pixel's input, 8 * 8 bytes into the input, is read: pair_delta 64; one byte less
    overwrites that input first."""
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 3, 3, 8), dtype=np.int8)
    wt = rng.integers(-127, 128, (16, 1, 1, 8), dtype=np.int8)
    bias = rng.integers(-2000, 2000, 16).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 16),
              output_scale=0.3, output_zero_point=-128, act=(-128, 127), mode="tflm")
    delta = pair_delta(9, 8, 16)
    assert delta == 8 * 16 - 8 * 8 == 64
    want = expected_conv(x, wt, bias, kw)
    assert np.array_equal(run_pw16_overlapped(runtime, x, wt, bias, kw, delta), want)
    assert not np.array_equal(run_pw16_overlapped(runtime, x, wt, bias, kw, delta - 1), want)


# ---------------------------------------------------------------- elementwise

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), op=st.sampled_from(relu_ref.RELU_OPS), zp_in=st.integers(-128, 127),
       zp_out=st.integers(-128, 127), ratio=st.floats(0.25, 4.0), seed=st.integers(0, 2**32 - 1))
def test_relu_in_place_matches_reference(runtime, n, op, zp_in, zp_out, ratio, seed):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.random.default_rng(seed).integers(-128, 128, n, dtype=np.int8)
    q_in, q_out = (0.05, zp_in), (0.05 * ratio, zp_out)
    p = relu_params.RELU_PARAMS[op](n, *q_in, *q_out)
    buf = Overlapped(ffi, x, n, 0)      # in_place.py: delta 0, fully in place
    assert lib.fn_relu_s8(ffi.new("fn_relu_s8_params *", p), buf.input, buf.output) == lib.FN_OK
    expected = relu_ref.relu_s8(x, op, input_scale=q_in[0], input_zero_point=q_in[1], output_scale=q_out[0],
                                output_zero_point=q_out[1])
    assert_array_equal_first(buf.result((n,)), expected, "relu in place")


@pytest.mark.parametrize("w,c", [(8, 8), (32, 16), (5, 3)])
def test_w16_conv_3x3_same_runs_at_the_input(w, c):
    """fn_conv2d_s8_w16_dsp keeps the 2 window rows output row y shares with row y - 1 and widens
    only input row y + 1 before writing row y, so C -> C runs at delta 0 (ResNet-8's 32x32x16
    layer included); C -> 2C: row y's outputs end at 2wc(y + 1), row y + 1 reads input row y + 2
    (at wc(y + 2)): wc * y, largest at y = 3 (row 5 reads input row 6, past the image); stride 2
    writes half-length rows."""
    assert w16_delta((6, w), (6, w), c, c, (3, 3), (1, 1), (1, 1), (1, 1)) == 0
    assert w16_delta((6, w), (6, w), c, 2 * c, (3, 3), (1, 1), (1, 1), (1, 1)) == 3 * w * c
    assert w16_delta((6, w), (3, (w + 1) // 2), c, c, (3, 3), (2, 2), (0, 0), (1, 1)) == 0


def run_w16_overlapped(runtime, x, w, bias, kw, delta=None):
    """fn_conv2d_s8_w16_dsp (its portable path: the host has no DSP extension) with its output
    `delta` bytes (default: w16_delta) before its input."""
    from firmnet.kernels import conv2d_s8_w16_dsp as w16
    ffi, lib = runtime.ffi, runtime.lib
    params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
    p = params
    if delta is None:
        delta = w16_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"], p["out_c"],
                          (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]), (p["pad_top"], p["pad_left"]),
                          (p["dilation_h"], p["dilation_w"]))
    shape = (1, p["out_h"], p["out_w"], p["out_c"])
    buf = Overlapped(ffi, x, int(np.prod(shape)), delta)
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    packed = np.ascontiguousarray(w16.pack_filter(w))
    scratch = np.zeros(int(lib.fn_conv2d_s8_w16_dsp_scratch_size(s)) // 8 + 1, np.uint64)
    status = lib.fn_conv2d_s8_w16_dsp(s, buf.input, _ptr(ffi, "int16_t", packed), _ptr(ffi, "int32_t", bias),
                                      buf.output, ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK
    del keep
    return buf.result(shape)


@settings(max_examples=120, deadline=None)
@given(g=conv_geometry(), q=quant_cases())
def test_w16_in_place_matches_reference(runtime, g, q):
    """Kernels 1x1 to 4x4, strides and dilations 1 to 3, pads 0 to 3 (one group)."""
    g = dict(g, n=1, groups=1)
    x, w, bias, kw = conv_case(g, q)
    assert_array_equal_first(run_w16_overlapped(runtime, x, w, bias, kw), expected_conv(x, w, bias, kw),
                             "w16 in place")


def test_w16_with_too_small_a_delta_is_caught(runtime):
    """4 -> 8 channels, 6x6, 3x3 pad 1: right at w16_delta (3 input rows), wrong 16 bytes lower."""
    rng = np.random.default_rng(9)
    x = rng.integers(-128, 128, (1, 6, 6, 4), dtype=np.int8)
    w = rng.integers(-127, 128, (8, 3, 3, 4), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 8).astype(np.int32)
    kw = dict(pads=(1, 1, 1, 1), input_scale=0.05, input_zero_point=3, weight_scales=np.full(8, 0.01),
              output_scale=0.1, output_zero_point=-5)
    expected = expected_conv(x, w, bias, kw)
    assert w16_delta((6, 6), (6, 6), 4, 8, (3, 3), (1, 1), (1, 1), (1, 1)) == 3 * 6 * 4
    assert np.array_equal(run_w16_overlapped(runtime, x, w, bias, kw), expected)
    assert not np.array_equal(run_w16_overlapped(runtime, x, w, bias, kw, 3 * 6 * 4 - 16), expected)


# ---------------------------------------------------------------- Winograd

def run_winograd_overlapped(runtime, kernel, x, w, bias, kw, delta=None):
    """A Winograd kernel with its output `delta` bytes (default: winograd_delta) before its input."""
    from firmnet.kernels import params_winograd as pw
    ffi, lib = runtime.ffi, runtime.lib
    params, arrays = pw.winograd_s8_params(x.shape, w.shape, **kw)
    p = params
    if delta is None:
        delta = winograd_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"], p["out_c"], p["pad_top"])
    shape = (1, p["out_h"], p["out_w"], p["out_c"])
    buf = Overlapped(ffi, x, int(np.prod(shape)), delta)
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    u = np.ascontiguousarray(pw.transform_filter(w))
    scratch = np.zeros(int(lib.fn_conv2d_s8_winograd_scratch_size(s)) // 8 + 1, np.uint64)
    status = getattr(lib, kernel)(s, buf.input, _ptr(ffi, "int16_t", u), _ptr(ffi, "int32_t", bias), buf.output,
                                  ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK, kernel
    del keep
    return buf.result(shape)


@settings(max_examples=80, deadline=None)
@given(pads=st.tuples(*[st.integers(0, 2)] * 4), h=st.integers(0, 6), w=st.integers(0, 6),
       cin=st.integers(1, 9), cout=st.integers(1, 9), q=quant_cases())
def test_winograd_in_place_matches_reference(runtime, pads, h, w, cin, cout, q):
    """Both int8 Winograd kernels (the DSP one through its portable path here; on mps2-an386 in
    tests/test_in_place_models.py) at winograd_delta: each tile row keeps the 2 input rows it
    shares with the one before, so C -> C with pad 1 runs at delta 0."""
    g = dict(n=1, h=max(1, 3 - pads[0] - pads[2] + h), w=max(1, 3 - pads[1] - pads[3] + w), groups=1, cin_g=cin,
             cout_g=cout, kh=3, kw=3, geo=dict(strides=(1, 1), dilations=(1, 1), pads=pads))
    x, wt, bias, kw = conv_case(g, q)
    expected = expected_conv(x, wt, bias, kw)
    for kernel in ("fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp"):
        assert_array_equal_first(run_winograd_overlapped(runtime, kernel, x, wt, bias, kw), expected,
                                 f"{kernel} in place")


def test_winograd_3x3_same_runs_at_the_input():
    """C -> C, pad 1: delta 0 (ResNet-8's 32x32x16 layer included); growing channels need the
    growth of a tile row's outputs over the rows read by then."""
    for w, c in ((32, 16), (16, 32), (5, 3)):
        assert winograd_delta((8, w), (8, w), c, c, 1) == 0
    # 4 -> 8 channels, 6x6: tile row t writes output rows 2t, 2t+1 (up to (2t + 2) * 48 bytes),
    # tile row t + 1 reads from input row 2t + 3 (at (2t + 3) * 24): 96t + 96 - 48t - 72, largest at
    # the last t = 1
    assert winograd_delta((6, 6), (6, 6), 4, 8, 1) == 72


def test_winograd_with_too_small_a_delta_is_caught(runtime):
    """4 -> 8 channels: at the declared delta the bytes are right, 16 bytes less reads an input
    row already overwritten."""
    rng = np.random.default_rng(8)
    x = rng.integers(-128, 128, (1, 6, 6, 4), dtype=np.int8)
    w = rng.integers(-127, 128, (8, 3, 3, 4), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 8).astype(np.int32)
    kw = dict(pads=(1, 1, 1, 1), input_scale=0.05, input_zero_point=3, weight_scales=np.full(8, 0.01),
              output_scale=0.1, output_zero_point=-5)
    expected = expected_conv(x, w, bias, kw)
    for kernel in ("fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp"):
        assert np.array_equal(run_winograd_overlapped(runtime, kernel, x, w, bias, kw), expected)
        assert not np.array_equal(run_winograd_overlapped(runtime, kernel, x, w, bias, kw, 72 - 16), expected)

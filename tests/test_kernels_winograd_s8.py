"""fn_conv2d_s8_winograd and fn_conv2d_s8_winograd_dsp (on the host: its portable path) against the
direct convolution, byte for byte: the numpy reference computed from the layer's quantities
(reference/conv_s8.py), the direct C kernel fn_conv2d_s8 given its own struct, and a separate
numpy Winograd (support/winograd_np.py) that checks Y = 4 x the direct sums. Shapes with odd
and even sizes, 1x1 images, outputs smaller than a tile, asymmetric pads, channel counts up to
the int32 bound (fn_conv2d_s8_winograd.h: 1827) with extreme inputs and weights at the bound,
every requantization mode, per-channel and per-tensor scales, zero points. The kernels run on
the emulated board in test_winograd_models.py."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet import cbuild, resources
from firmnet.kernels import params_winograd as pw
from firmnet.kernels.params_conv_s8 import conv2d_s8_params
from firmnet.reference.conv_s8 import conv2d_s8, conv_sums
from support.compare import assert_array_equal_first
from support.s8_cases import conv_case, quant_cases
from support.s8_kernels import _ptr, c_params, run_conv
from support.winograd_np import winograd_conv2d_s8, winograd_sums4

KERNELS = ("fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp")


def run_winograd(runtime, kernel, params, arrays, x, u, bias, scratch_bytes=None, fill=0x5A):
    """(status, output) of a Winograd kernel; the scratch is the C size function's, with a canary."""
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    offset = arrays.get("filter_offset")
    if offset is not None:   # (the builder refuses it; the C is given it here to see it refuse too)
        keep.append(offset)
        s.filter_offset = _ptr(ffi, "int32_t", offset)
    size = int(lib.fn_conv2d_s8_winograd_scratch_size(s)) if scratch_bytes is None else scratch_bytes
    scratch = np.full(size // 8 + 2, 0xA5A5A5A5A5A5A5A5, np.uint64)   # 8-byte aligned, a canary past the end
    out = np.full((params["batch"], params["out_h"], params["out_w"], params["out_c"]), fill, np.int8)
    status = getattr(lib, kernel)(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int16_t", u), _ptr(ffi, "int32_t", bias),
                                  _ptr(ffi, "int8_t", out), ffi.from_buffer(scratch) if size else ffi.NULL)
    del keep
    assert (scratch.view(np.uint8)[size:] == 0xA5).all(), f"{kernel} wrote past its {size}-byte scratch"
    return status, out


def check_winograd(runtime, x, w, bias, kw):
    """Both Winograd kernels == the direct reference == fn_conv2d_s8 == the numpy Winograd."""
    expected = conv2d_s8(x, w, bias, **kw)
    assert_array_equal_first(winograd_conv2d_s8(x, w, bias, **kw), expected, "numpy Winograd")
    params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
    status, direct = run_conv(runtime, params, arrays, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(direct, expected, "fn_conv2d_s8")
    wparams, warrays = pw.winograd_s8_params(x.shape, w.shape, **kw)
    assert wparams == params
    u = pw.transform_filter(w)
    for kernel in KERNELS:
        status, out = run_winograd(runtime, kernel, wparams, warrays, x, u, bias)
        assert status == runtime.lib.FN_OK, kernel
        assert_array_equal_first(out, expected, kernel)
    return expected


@st.composite
def winograd_geometry(draw, max_c=9):
    """3x3 stride-1 layers: odd and even sizes, 1x1 images (padded), outputs smaller than a tile,
    pads up to 2 on each side independently."""
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = max(1, 3 - pads[0] - pads[2] + draw(st.integers(0, 6)))
    w = max(1, 3 - pads[1] - pads[3] + draw(st.integers(0, 6)))
    return dict(n=draw(st.integers(1, 2)), h=h, w=w, groups=1, cin_g=draw(st.integers(1, max_c)),
                cout_g=draw(st.integers(1, 7)), kh=3, kw=3, geo=dict(strides=(1, 1), dilations=(1, 1), pads=pads))


@settings(max_examples=400, deadline=None)
@given(g=winograd_geometry(), q=quant_cases())
def test_winograd_matches_direct(runtime, g, q):
    check_winograd(runtime, *conv_case(g, q))


@settings(max_examples=40, deadline=None)
@given(g=winograd_geometry(max_c=80), q=quant_cases())
def test_winograd_many_channels(runtime, g, q):
    """Channel counts across the product loop's pairs and the scratch's padding channel."""
    check_winograd(runtime, *conv_case(g, q))


@pytest.mark.parametrize("h,w,pads", [((1, 1, (1, 1, 1, 1))), ((1, 1, (2, 0, 0, 2))), ((2, 3, (1, 0, 1, 1))),
                                      ((3, 3, (0, 0, 0, 0))), ((5, 4, (0, 2, 1, 0))), ((32, 32, (1, 1, 1, 1)))])
def test_winograd_tile_edges(runtime, h, w, pads):
    """1x1 images, a single output, odd outputs (partial tiles), a tile row with one tile."""
    rng = np.random.default_rng(h * 100 + w)
    x = rng.integers(-128, 128, (1, h, w, 5), dtype=np.int8)
    wt = rng.integers(-127, 128, (3, 3, 3, 5), dtype=np.int8)
    bias = rng.integers(-5000, 5000, 3).astype(np.int32)
    check_winograd(runtime, x, wt, bias, dict(input_scale=0.05, input_zero_point=3, weight_scales=[0.01, 0.02, 0.004],
                                              output_scale=0.4, output_zero_point=-7, pads=pads))


@pytest.mark.parametrize("x_value,zp_in,w_kind", [(-128, 127, "minus128"), (-128, 127, "plus127"),
                                                  (127, -128, "minus128"), (127, -128, "plus127"),
                                                  (-128, 127, "mixed"), (127, -128, "mixed")])
def test_winograd_at_the_int32_bound(runtime, x_value, zp_in, w_kind):
    """in_c = FN_WINO_S8_MAX_IN_C with |x - zp| = 255 everywhere and weights of 128 or 127 in
    magnitude: the largest accumulators (9 x 1827 x 255 x 128 = 536,699,520, so 4 x it =
    2,146,798,080 just below 2^31), whose M and Y partial sums leave int32; exact as stated."""
    c = pw.MAX_IN_C
    x = np.full((1, 4, 5, c), x_value, np.int8)
    rng = np.random.default_rng(5)
    w = {"minus128": np.full((2, 3, 3, c), -128, np.int8), "plus127": np.full((2, 3, 3, c), 127, np.int8),
         "mixed": rng.choice(np.array([-127, 127], np.int8), (2, 3, 3, c))}[w_kind]
    if w_kind != "mixed":
        w[1] = -w[1] if w_kind == "plus127" else 127
    sums = conv_sums(x, w, input_zero_point=zp_in, pads=(1, 1, 1, 1))
    if w_kind == "minus128":
        assert np.abs(sums).max() == 9 * c * 255 * 128 and 4 * np.abs(sums).max() < 2**31
    s_w = np.maximum(np.abs(sums).reshape(-1, 2).max(0), 1) / 100.0   # outputs spread over int8
    kw = dict(input_scale=1.0, input_zero_point=zp_in, weight_scales=s_w, output_scale=1.0, output_zero_point=0,
              pads=(1, 1, 1, 1))
    assert (winograd_sums4(x, w, zp_in, (1, 1, 1, 1)) == 4 * sums).all()
    out = check_winograd(runtime, x, w, None, kw)
    assert len(np.unique(out)) > 1


def test_winograd_refuses_above_the_bound(runtime):
    """in_c = 1828: the builder refuses the layer and the kernels the call (FN_ERR_ARG, output untouched)."""
    c = pw.MAX_IN_C + 1
    x = np.zeros((1, 3, 3, c), np.int8)
    w = np.zeros((1, 3, 3, c), np.int8)
    kw = dict(input_scale=1.0, input_zero_point=0, weight_scales=1.0, output_scale=1.0, output_zero_point=0)
    with pytest.raises(ValueError, match="1828 input channels: above 1827"):
        pw.winograd_s8_params(x.shape, w.shape, **kw)
    params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
    u = np.zeros((1, 16, c + 1), np.int16)
    for kernel in KERNELS:
        status, out = run_winograd(runtime, kernel, params, arrays, x, u, None, scratch_bytes=64 * (c + 1))
        assert status == runtime.lib.FN_ERR_ARG and (out == 0x5A).all()


@pytest.mark.parametrize("change,reason", [
    (dict(w_shape=(2, 5, 5, 3)), "5x5 filter (3x3 only)"),
    (dict(strides=(2, 1)), "stride (2, 1) (1 only)"),
    (dict(dilations=(1, 2)), "dilation (1, 2) (1 only)"),
    (dict(groups=3, w_shape=(3, 3, 3, 1)), "3 groups (1 only)"),
    (dict(weight_zero_points=[1, 0]), "weights with zero points")])
def test_winograd_refusals(runtime, change, reason):
    """What the kernels do not take: the builder's reason, and FN_ERR_ARG from the C given the
    direct kernel's struct."""
    x = np.zeros((1, 6, 6, 3), np.int8)
    w_shape = change.pop("w_shape", (2, 3, 3, 3))
    kw = dict(input_scale=1.0, input_zero_point=0, weight_scales=1.0, output_scale=1.0, output_zero_point=0,
              **change)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        pw.winograd_s8_params(x.shape, w_shape, **kw)
    params, arrays = conv2d_s8_params(x.shape, w_shape, **kw)
    u = np.zeros((w_shape[0], 16, 4), np.int16)
    for kernel in KERNELS:
        status, out = run_winograd(runtime, kernel, params, arrays, x, u, None, scratch_bytes=256)
        assert status == runtime.lib.FN_ERR_ARG and (out == 0x5A).all()


def test_winograd_null_scratch(runtime):
    x = np.zeros((1, 4, 4, 2), np.int8)
    w = np.zeros((1, 3, 3, 2), np.int8)
    params, arrays = pw.winograd_s8_params(x.shape, w.shape, input_scale=1.0, input_zero_point=0, weight_scales=1.0,
                                           output_scale=1.0, output_zero_point=0)
    for kernel in KERNELS:
        status, _ = run_winograd(runtime, kernel, params, arrays, x, pw.transform_filter(w), None, scratch_bytes=0)
        assert status == runtime.lib.FN_ERR_ARG


def test_filter_transform_by_hand():
    """U = (2G) g (2G)^T for a filter whose only nonzero is the centre tap of output channel 0,
    input channel 2: (2G)[:, 1] = (0, 1, -1, 0), so U = 5 * outer((0, 1, -1, 0), (0, 1, -1, 0)); in the
    layout [out pair][16][in pair][o][c % 2] that is [0, k, 1, 0, 0]; the odd counts (3 in, 3 out)
    are padded with zero channels."""
    w = np.zeros((3, 3, 3, 3), np.int8)
    w[0, 1, 1, 2] = 5
    u = pw.transform_filter(w)
    assert u.shape == (2, 16, 2, 2, 2) and u.dtype == np.int16
    col = np.array([0, 1, -1, 0])
    assert (u[0, :, 1, 0, 0] == 5 * np.outer(col, col).reshape(16)).all()
    u[0, :, 1, 0, 0] = 0
    assert not u.any()
    assert pw.flash((16, 3, 3, 16)) == (16 * 9 * 16, 16 * 32 * 16)
    assert pw.flash((3, 3, 3, 3)) == (81, 4 * 16 * 4 * 2)


SANITIZE_DRIVER = r"""
#include <stdlib.h>
#include <string.h>
#include "fn_conv2d_s8_winograd.h"
#include "fn_s8_dsp.h"
/* Both kernels on random 3x3 stride-1 geometry with every buffer malloc'd at its exact size
 * (the scratch at fn_conv2d_s8_winograd_scratch_size): ASan flags any access past one. */
static uint32_t state = 1;
static int32_t draw(int32_t n) { state = state * 1103515245u + 12345u; return (int32_t)((state >> 8) % (uint32_t)n); }
int main(void) {
    for (int it = 0; it < 3000; ++it) {
        fn_conv2d_s8_params p;
        memset(&p, 0, sizeof p);
        p.batch = 1 + draw(2); p.in_c = 1 + draw(9); p.out_c = 1 + draw(5);
        p.kernel_h = p.kernel_w = 3; p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1; p.groups = 1;
        const int32_t pt = draw(3), pb = draw(3), pl = draw(3), pr = draw(3);
        p.in_h = 1 + draw(7); p.in_w = 1 + draw(7);
        p.out_h = p.in_h + pt + pb - 2; p.out_w = p.in_w + pl + pr - 2;
        if (p.out_h < 1 || p.out_w < 1) continue;
        p.pad_top = pt; p.pad_left = pl; p.input_offset = draw(256) - 127;
        int32_t mult = 1 << 30, shift = -8;
        p.requant.mode = FN_REQUANT_TFLM; p.requant.act_min = -128; p.requant.act_max = 127;
        p.requant.multiplier = &mult; p.requant.shift = &shift;
        const size_t nin = (size_t)p.batch * p.in_h * p.in_w * p.in_c;
        const size_t nout = (size_t)p.batch * p.out_h * p.out_w * p.out_c;
        const size_t nu = (size_t)(p.out_c + (p.out_c & 1)) * 16 * (size_t)(p.in_c + (p.in_c & 1));
        int8_t *x = malloc(nin), *y = malloc(nout);
        int16_t *u = malloc(nu * sizeof *u);
        void *scratch = malloc(fn_conv2d_s8_winograd_scratch_size(&p));
        for (size_t i = 0; i < nin; ++i) x[i] = (int8_t)draw(256);
        for (size_t i = 0; i < nu; ++i) u[i] = (int16_t)(draw(2305) - 1152);
        if (fn_conv2d_s8_winograd(&p, x, u, NULL, y, scratch) != FN_OK ||
            fn_conv2d_s8_winograd_dsp(&p, x, u, NULL, y, scratch) != FN_OK) {
            return 2;
        }
        free(x); free(y); free(u); free(scratch);
    }
    return 0;
}
"""


def test_kernels_stay_in_their_buffers(tmp_path):
    """Exact-size buffers under ASan + UBSan: the padded rows and transforms never read or write
    past the scratch, the input, the filter or the output (a read past the padded rows would
    only reach outputs that are not written, so the byte comparisons above cannot see it)."""
    main = tmp_path / "driver.c"
    main.write_text(SANITIZE_DRIVER)
    src = resources.runtime_dir() / "src"
    exe = tmp_path / "driver"
    cmd = [cbuild.compiler(), "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
           f"-I{resources.runtime_include_dir()}", str(main), str(src / "fn_conv2d_s8_winograd.c"),
           str(src / "fn_conv2d_s8_winograd_dsp.c"), str(src / "fn_finish_channel_s8.c"), "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]

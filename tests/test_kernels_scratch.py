"""The scratch each int8 DSP variant takes (runtime_c/include/fn_s8_dsp.h) and the Winograd
variants (int8 fn_conv2d_s8_winograd.h, float fn_conv2d_f32_winograd.h): the Python formula the
planner uses (firmnet.kernels._s8_dsp, params_winograd, params_winograd_f32) equals the C `<variant>_scratch_size()` for
every shape hypothesis draws, the shapes the variant takes (size > 0) and those it refuses
(0) alike. The C size functions are defined on every target, so the host build checks them;
tests/test_dsp_kernels.py runs the variants on the emulated Cortex-M4 with a canary past the
stated size."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels import _s8_dsp, conv2d_1x1_s8_w16_dsp, params_winograd
from firmnet.kernels.params_binary import bconv2d_scratch
from firmnet.kernels.params_winograd_f32 import TRANSFORMS
from firmnet.kernels.params_winograd_f32 import scratch_size as winograd_f32_scratch

small = st.integers(1, 12)
sizes = st.one_of(small, st.integers(1, 300), st.sampled_from([0, -1, 2**31 - 1, 2**20]))


@st.composite
def conv_fields(draw):
    return dict(batch=1, in_h=draw(small), in_w=draw(small), in_c=draw(sizes), out_h=draw(small),
                out_w=draw(sizes), out_c=draw(sizes), kernel_h=draw(sizes), kernel_w=draw(sizes),
                stride_h=1, stride_w=draw(small), dilation_h=1, dilation_w=draw(small), pad_top=0, pad_left=0,
                groups=draw(st.sampled_from([1, 1, 2, 3])))


@st.composite
def dw_fields(draw):
    return dict(batch=1, in_h=draw(small), in_w=draw(small), in_c=draw(sizes), out_h=draw(small),
                out_w=draw(sizes), depth_multiplier=draw(st.sampled_from([1, 1, 2, 3, 4, 8, 0, -4])),
                kernel_h=draw(st.one_of(st.integers(0, 10), sizes)), kernel_w=draw(st.one_of(st.integers(0, 10), sizes)),
                stride_h=1, stride_w=draw(st.one_of(small, st.just(2**30))), dilation_h=1,
                dilation_w=draw(st.one_of(small, st.just(2**30))), pad_top=0, pad_left=0)


@st.composite
def winograd_f32_fields(draw):
    """fn_conv2d_f32_winograd_params: valid geometry (3x3, stride 1, any pads) with in_c up to
    2^20, or one field out of range (the size functions return 0)."""
    pads = [draw(st.integers(0, 3)) for _ in range(4)]
    h, w = draw(st.integers(max(1, 3 - pads[0] - pads[2]), 40)), draw(st.integers(max(1, 3 - pads[1] - pads[3]), 40))
    fields = dict(batch=draw(st.integers(1, 3)), in_h=h, in_w=w, in_c=draw(st.one_of(small, st.just(2**20))),
                  out_h=h + pads[0] + pads[2] - 2, out_w=w + pads[1] + pads[3] - 2,
                  out_c=draw(sizes.filter(lambda v: v > 0)),
                  pad_top=pads[0], pad_left=pads[1], act_min=0.0, act_max=6.0)
    bad = draw(st.sampled_from([None, None, ("in_c", 0), ("batch", 0), ("pad_top", -1), ("out_w", 0),
                                ("out_h", h - pads[0] - 3)]))
    if bad is not None:
        fields[bad[0]] = bad[1]
    return fields, bad is None


def c_size(runtime, function, ctype, fields) -> int:
    return int(getattr(runtime.lib, function)(runtime.ffi.new(ctype + " *", fields)))


@settings(max_examples=400, deadline=None)
@given(p=conv_fields())
def test_conv_scratch_formulas_equal_the_c(runtime, p):
    assert _s8_dsp.conv2d_scratch(p) == c_size(runtime, "fn_conv2d_s8_dsp_scratch_size", "fn_conv2d_s8_params", p)
    assert _s8_dsp.conv2d_1x1_scratch(p) == c_size(runtime, "fn_conv2d_1x1_s8_dsp_scratch_size",
                                                   "fn_conv2d_s8_params", p)
    assert conv2d_1x1_s8_w16_dsp.scratch(p) == c_size(runtime, "fn_conv2d_1x1_s8_w16_dsp_scratch_size",
                                                      "fn_conv2d_s8_params", p)


@st.composite
def winograd_fields(draw):
    """Mostly the Winograd geometry (3x3, stride 1), with each condition broken now and then."""
    one = st.one_of(st.just(1), st.just(1), st.just(1), sizes)
    three = st.one_of(st.just(3), st.just(3), st.just(3), sizes)
    return dict(batch=1, in_h=draw(small), in_w=draw(small), in_c=draw(st.one_of(sizes, st.integers(1820, 1830))),
                out_h=draw(small), out_w=draw(small), out_c=draw(sizes), kernel_h=draw(three), kernel_w=draw(three),
                stride_h=draw(one), stride_w=draw(one), dilation_h=draw(one), dilation_w=draw(one), pad_top=0,
                pad_left=0, groups=draw(st.sampled_from([1, 1, 1, 2])))


@settings(max_examples=400, deadline=None)
@given(p=winograd_fields())
def test_winograd_scratch_formula_equals_the_c(runtime, p):
    size = params_winograd.scratch_bytes(p)
    for function in ("fn_conv2d_s8_winograd_scratch_size", "fn_conv2d_s8_winograd_dsp_scratch_size"):
        assert size == c_size(runtime, function, "fn_conv2d_s8_params", p)


@settings(max_examples=400, deadline=None)
@given(p=dw_fields())
def test_depthwise_scratch_formulas_equal_the_c(runtime, p):
    ctype = "fn_depthwise_conv2d_s8_params"
    assert _s8_dsp.dw_rows_scratch(p) == c_size(runtime, "fn_depthwise_conv2d_s8_rows_dsp_scratch_size", ctype, p)
    assert _s8_dsp.dw_blocks_scratch(p) == c_size(runtime, "fn_depthwise_conv2d_s8_blocks_dsp_scratch_size", ctype, p)


@settings(max_examples=200, deadline=None)
@given(in_features=sizes, bits=st.sampled_from([2, 4, 8, 3, 0]), per_channel=st.sampled_from([0, 1]))
def test_fc_codebook_scratch_formula_equals_the_c(runtime, in_features, bits, per_channel):
    p = dict(batch=1, in_features=in_features, out_features=3, bits=bits, per_channel=per_channel)
    assert _s8_dsp.fc_codebook_scratch(p) == c_size(runtime, "fn_fc_s8_codebook_dsp_scratch_size",
                                                    "fn_fc_s8_codebook_params", p)


@settings(max_examples=200, deadline=None)
@given(kh=st.integers(0, 12), kw=st.integers(0, 12), in_c=sizes, bits=st.sampled_from([2, 4, 8, 3]),
       per_channel=st.sampled_from([0, 0, 1]))
def test_conv_codebook_scratch_formula_equals_the_c(runtime, kh, kw, in_c, bits, per_channel):
    p = dict(batch=1, in_h=4, in_w=4, in_c=in_c, out_h=4, out_w=4, out_c=3, kernel_h=kh, kernel_w=kw, stride_h=1,
             stride_w=1, dilation_h=1, dilation_w=1, pad_top=0, pad_left=0, input_offset=0, bits=bits,
             per_channel=per_channel)
    assert _s8_dsp.conv_codebook_scratch(p) == c_size(runtime, "fn_conv2d_s8_codebook_dsp_scratch_size",
                                                      "fn_conv2d_s8_codebook_params", p)


def test_kws_layers_scratch():
    """KWS's layers (hand-computed from fn_s8_dsp.h's formulas): the 1x1 64 -> 64 layer takes
    3 pixels' 16 widened words (8 bytes each) and 64 channels' 16-byte table (the int16-weight
    variant: 2 pixels' 64 int16 values, a sentinel pair and the table); the 3x3
    depthwise over 25 x 5 x 64 with padding 1 reads 7 input columns per row: 9 taps x 2 words
    and 4 row slots x 14 words; the first conv's two 256-value windows."""
    pw = dict(in_c=64, out_c=64)
    assert _s8_dsp.conv2d_1x1_scratch(pw) == 3 * 16 * 8 + 64 * 16 == 1408
    # fn_conv2d_1x1_s8_w16_dsp: a pixel pair's 64 widened values each (2 bytes), the sentinel's 8
    # bytes, the 64 channels' 16-byte table
    pw16 = dict(in_c=64, out_c=64, kernel_h=1, kernel_w=1, groups=1)
    assert conv2d_1x1_s8_w16_dsp.scratch(pw16) == 2 * 64 * 2 + 8 + 64 * 16 == 1288
    dw = dict(out_w=5, stride_w=1, kernel_w=3, dilation_w=1, kernel_h=3, depth_multiplier=1)
    assert _s8_dsp.dw_rows_scratch(dw) == 4 * (18 + 4 * 14) == 296
    conv = dict(kernel_h=10, kernel_w=4, in_c=1, groups=1)
    assert _s8_dsp.conv2d_scratch(conv) == 1024


SANITIZED_SIZES = r"""
#include <stdio.h>
#include "fn_conv2d_1x1_s8_w16_dsp.h"
#include "fn_s8_dsp.h"
/* Every scratch size function over fields at the ends of int32 (UBSan aborts on overflow). */
int main(void) {
    static const int32_t v[] = {INT32_MIN, -1, 0, 1, 2, 3, 4, 8, 9, 64, 65, 128, 129, 256, 257, 65536,
                                INT32_MAX - 3, INT32_MAX};
    const int n = (int)(sizeof v / sizeof v[0]);
    size_t total = 0;
    for (int a = 0; a < n; ++a) for (int b = 0; b < n; ++b) for (int c = 0; c < n; ++c) for (int d = 0; d < n; ++d) {
        fn_conv2d_s8_params cp = {0};
        cp.kernel_h = v[a]; cp.kernel_w = v[b]; cp.in_c = v[c]; cp.out_c = v[d]; cp.groups = a % 2 ? 1 : v[d];
        total += fn_conv2d_s8_dsp_scratch_size(&cp) + fn_conv2d_1x1_s8_dsp_scratch_size(&cp);
        total += fn_conv2d_1x1_s8_w16_dsp_scratch_size(&cp);
        cp.stride_h = cp.stride_w = cp.dilation_h = cp.dilation_w = 1;
        total += fn_conv2d_s8_winograd_dsp_scratch_size(&cp);
        fn_depthwise_conv2d_s8_params dp = {0};
        dp.kernel_h = v[a]; dp.kernel_w = v[b]; dp.out_w = v[c]; dp.stride_w = v[d]; dp.dilation_w = v[(a + d) % n];
        dp.depth_multiplier = v[(b + c) % n];
        total += fn_depthwise_conv2d_s8_rows_dsp_scratch_size(&dp) + fn_depthwise_conv2d_s8_blocks_dsp_scratch_size(&dp);
    }
    printf("%zu\n", total);
    return 0;
}
"""


def test_scratch_sizes_have_no_undefined_behaviour(tmp_path):
    """The size functions under UBSan over fields at the ends of the int32 range (a size
    computed by the C of a model the compiler never produced must still be defined)."""
    import subprocess

    from firmnet import cbuild
    from support.paths import REPO

    src = tmp_path / "sizes.c"
    src.write_text(SANITIZED_SIZES)
    exe = tmp_path / "sizes"
    cmd = [cbuild.compiler(), "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
           "-fno-sanitize-recover=all", f"-I{REPO / 'runtime_c' / 'include'}", str(src), "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]
    assert int(res.stdout) > 0


@settings(max_examples=300, deadline=None)
@given(case=winograd_f32_fields())
def test_winograd_f32_scratch_formulas_equal_the_c(runtime, case):
    p, valid = case
    for tile, t in TRANSFORMS.items():
        got = c_size(runtime, f"fn_conv2d_f32_winograd_f{tile}_scratch_size", "fn_conv2d_f32_winograd_params", p)
        assert got == (winograd_f32_scratch(p, t) if valid else 0), (tile, p)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 300))
def test_bconv2d_b1_scratch_formula_equals_c(runtime, kh, kw, c):
    p = {"batch": 1, "in_h": kh, "in_w": kw, "in_c": c, "out_h": 1, "out_w": 1, "out_c": 1, "kernel_h": kh,
         "kernel_w": kw, "stride_h": 1, "stride_w": 1, "pad_top": 0, "pad_left": 0, "out": {"kind": 0}}
    assert bconv2d_scratch(p) == runtime.lib.fn_bconv2d_b1_scratch_size(runtime.ffi.new("fn_bconv2d_b1_params *", p))

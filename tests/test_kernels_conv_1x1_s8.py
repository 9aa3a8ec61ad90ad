"""fn_conv2d_1x1_s8 (runtime_c/include/fn_conv_1x1_s8.h) against the numpy reference
firmnet.reference.conv_s8.conv2d_s8 (computed from the layer's scales), exactly, on both of its code paths:

  portable C: the host build (cffi, every runtime kernel), under hypothesis;
  DSP (__ARM_FEATURE_DSP: SXTAB16/SXTB16/SMLAD): a small bare-metal firmware for the
      emulated Cortex-M4F board mps2-an386 (support/qemu_harness.py), built with arm-none-eabi-gcc from the
      board support in boards/emulated/ and a generated main that calls the kernel on
      data embedded as C arrays and writes the outputs to files by semihosting; QEMU
      runs it. The same firmware built without __ARM_FEATURE_DSP checks the portable
      path on the board. Missing tools fail these tests, saying what to install.

Instruction counts of the KWS pointwise layer: python bench/kernels_qemu.py.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels.params_conv_s8 import MAX_DEPTH, conv2d_s8_params
from support.compare import assert_array_equal_first
from support.qemu_harness import DSP_KERNEL_1X1 as DSP_KERNEL
from support.qemu_harness import KERNEL_1X1 as KERNEL
from support.qemu_harness import (board_case, build_firmware, firmware_main, kernel_mnemonics, require_tools,
                                  run_firmware)
from support.s8_cases import (accumulators, int8_data, make_bias, make_scales, quant_cases, quant_kwargs,
                              random_requant_arrays, zero_pointwise_case)
from support.s8_kernels import c_params, call, changed, expected_conv


# ---------------------------------------------------------------- cases

@st.composite
def pointwise_geometry(draw):
    """1x1 layers: odd and small channel counts, counts that are not multiples of 4
    (the DSP loop takes 4 input channels at a time), odd pixel counts."""
    return dict(n=draw(st.integers(1, 2)), h=draw(st.integers(1, 4)), w=draw(st.integers(1, 5)),
                cin=draw(st.one_of(st.integers(1, 13), st.sampled_from([16, 17, 31, 64, 67]))),
                cout=draw(st.integers(1, 9)))


def pointwise_case(g, q, dilations=(1, 1)):
    rng = np.random.default_rng(q["seed"])
    x = int8_data(rng, (g["n"], g["h"], g["w"], g["cin"]), q["data"], q["zp_in"])
    w = int8_data(rng, (g["cout"], 1, 1, g["cin"]), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], g["cout"])
    geo = dict(strides=(1, 1), dilations=dilations, pads=(0, 0, 0, 0))
    acc = accumulators(x, w, bias, q["zp_in"], dict(groups=1, geo=geo))
    s_in, s_w, s_out = make_scales(rng, q, acc, g["cout"])
    return x, w, bias, dict(groups=1, **geo, **quant_kwargs(q, s_in, s_w, s_out))


def run_1x1(runtime, params, arrays, x, w, bias):
    shape = (params["batch"], params["out_h"], params["out_w"], params["out_c"])
    return call(runtime, KERNEL, "fn_conv2d_s8_params", params, arrays, x, w, bias, shape)


def check_1x1(runtime, x, w, bias, kw, arrays=None):
    """The kernel with the builder's struct (or explicit requant arrays) == the reference from kw."""
    params, built = conv2d_s8_params(x.shape, w.shape, **kw)
    status, out = run_1x1(runtime, params, built if arrays is None else arrays, x, w, bias)
    assert status == runtime.lib.FN_OK
    assert_array_equal_first(out, expected_conv(x, w, bias, kw, arrays), KERNEL)
    return out


def worst_case_depth(sign: int):
    """in_c = FN_S8_MAX_DEPTH with every product at its extreme: x = 127, input_offset =
    128 (zero point -128), w = -128 or 127: sums of -2139095040 / +2126413440, the
    largest the depth limit allows."""
    x = np.full((1, 1, 2, MAX_DEPTH), 127, np.int8)
    w = np.full((3, 1, 1, MAX_DEPTH), -128 if sign < 0 else 127, np.int8)
    w[1, 0, 0, ::2] = 0              # a second and third channel with other sums
    w[2, 0, 0, 1::3] = 1
    return x, w, None, dict(input_scale=1.0, input_zero_point=-128, weight_scales=[2.0**-24, 2.0**-23, 2.0**-20],
                            output_scale=1.0, output_zero_point=3, mode="tflm")


# ---------------------------------------------------------------- portable path (host)

@settings(max_examples=500, deadline=None)
@given(g=pointwise_geometry(), q=quant_cases())
def test_pointwise_matches_reference(runtime, g, q):
    check_1x1(runtime, *pointwise_case(g, q))


@settings(max_examples=200, deadline=None)
@given(g=pointwise_geometry(), q=quant_cases())
def test_pointwise_any_multiplier_and_shift(runtime, g, q):
    x, w, bias, kw = pointwise_case(g, q)
    rng = np.random.default_rng(q["seed"] + 1)
    n = w.shape[0] if np.size(kw["weight_scales"]) > 1 else 1
    check_1x1(runtime, x, w, bias, kw, random_requant_arrays(rng, q["mode"], n))


@pytest.mark.parametrize("sign", [-1, 1])
def test_pointwise_deepest_sums_do_not_overflow(runtime, sign):
    check_1x1(runtime, *worst_case_depth(sign))


def test_pointwise_equals_the_general_kernel_and_ignores_dilation(runtime):
    """Same struct, same bytes as fn_conv2d_s8 (the selection may switch freely); a
    dilation has no effect on a 1x1 kernel."""
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 25, 5, 64), dtype=np.int8)
    w = rng.integers(-128, 128, (64, 1, 1, 64), dtype=np.int8)
    bias = rng.integers(-5000, 5000, 64).astype(np.int32)
    for dilations in [(1, 1), (2, 3)]:
        kw = dict(input_scale=0.05, input_zero_point=-7, weight_scales=rng.uniform(0.002, 0.01, 64),
                  output_scale=0.4, output_zero_point=-128, act=(-128, 127), dilations=dilations)
        out = check_1x1(runtime, x, w, bias, kw)
        params, arrays = conv2d_s8_params(x.shape, w.shape, **kw)
        status, general = call(runtime, "fn_conv2d_s8", "fn_conv2d_s8_params", params, arrays, x, w, bias,
                               out.shape)
        assert status == runtime.lib.FN_OK
        assert_array_equal_first(out, general, "fn_conv2d_1x1_s8 vs fn_conv2d_s8")


@pytest.mark.parametrize("change", [
    dict(kernel_h=3), dict(kernel_w=2), dict(stride_h=2), dict(stride_w=2), dict(pad_top=1), dict(pad_left=1),
    dict(groups=5), dict(out_h=2), dict(out_w=4), dict(dilation_h=0), dict(batch=0), dict(in_c=0),
    dict(out_c=0), dict(in_h=0, out_h=0), dict(in_c=MAX_DEPTH + 1), dict(input_offset=129),
    dict(act_min=5, act_max=4), dict(mode=7), dict(batch=2**16, in_h=2**15, out_h=2**15),
])
def test_pointwise_refuses_what_the_header_excludes(runtime, change):
    x, w, params, arrays = zero_pointwise_case()
    params = changed(params, change)
    status, out = call(runtime, KERNEL, "fn_conv2d_s8_params", params, arrays, x, w, None, (1, 3, 3, 4))
    assert status == runtime.lib.FN_ERR_ARG
    assert (out == 0x5A).all(), "output written before the argument check"


def test_pointwise_refuses_null_pointers(runtime):
    x, w, params, arrays = zero_pointwise_case()
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    out = np.zeros((1, 3, 3, 4), np.int8)
    xp, wp, op = (ffi.cast("int8_t *", ffi.from_buffer(a)) for a in (x, w, out))
    assert lib.fn_conv2d_1x1_s8(ffi.NULL, xp, wp, ffi.NULL, op) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_1x1_s8(s, ffi.NULL, wp, ffi.NULL, op) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_1x1_s8(s, xp, ffi.NULL, ffi.NULL, op) == lib.FN_ERR_ARG
    assert lib.fn_conv2d_1x1_s8(s, xp, wp, ffi.NULL, ffi.NULL) == lib.FN_ERR_ARG
    s.requant.multiplier = ffi.NULL
    assert lib.fn_conv2d_1x1_s8(s, xp, wp, ffi.NULL, op) == lib.FN_ERR_ARG
    del keep


# ---------------------------------------------------------------- firmware for mps2-an386


def firmware_cases() -> list:
    """Shapes across the kernel's branches (pairs, odd pixels, one channel, in_c % 4),
    the three requantization modes, per-tensor and per-channel, offsets at the ends."""
    shapes = [(1, 25, 5, 64, 64), (1, 3, 3, 7, 5), (2, 1, 3, 13, 1), (1, 1, 1, 9, 6), (1, 1, 1, 4, 1),
              (1, 2, 2, 67, 3), (1, 5, 1, 3, 9), (1, 1, 2, 1, 2)]
    cases = []
    for k, (n, h, w, cin, cout) in enumerate(shapes):
        q = dict(mode=["tflm", "single", "ort"][k % 3], zp_in=[-128, 127, 0, 5][k % 4],
                 zp_out=[127, -128, 0][k % 3], act=[(-128, 127), (0, 127), (-100, 50)][k % 3],
                 per_channel=bool(k % 2), regime=["natural", "ties", "natural", "huge"][k % 4],
                 data=["uniform", "extremes", "uniform", "small"][k % 4],
                 bias=[None, "natural", "extreme", "small"][k % 4], seed=1000 + k)
        cases.append(pointwise_case(dict(n=n, h=h, w=w, cin=cin, cout=cout), q))
    return cases


def _check_on_board(tmp_path, dsp: bool):
    require_tools()
    cases = [board_case("1x1", *c) for c in firmware_cases()]
    if dsp:
        cases = [("1x1_dsp", *c[1:]) for c in cases]
    elf = build_firmware(tmp_path, firmware_main(cases), dsp=dsp)
    ops = kernel_mnemonics(elf, DSP_KERNEL if dsp else KERNEL)
    if dsp:
        assert {"smlad", "sxtab16", "sxtb16"} <= ops, (
            f"the DSP variant was not compiled for -mcpu=cortex-m4 (no SMLAD/SXTAB16/SXTB16 in {DSP_KERNEL}): "
            f"is FN_DSP still the condition in runtime_c/src/{DSP_KERNEL}.c?")
    else:
        assert not ops & {"smlad", "sxtab16", "sxtb16"}, "-U__ARM_FEATURE_DSP did not select the portable path"
    outs, _ = run_firmware(elf, tmp_path, len(cases))
    for k, ((_, x, w, *_, want), got) in enumerate(zip(cases, outs)):
        assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want,
                                 f"case {k} {x.shape}x{w.shape} on mps2-an386 ({'DSP' if dsp else 'portable'})")


def test_dsp_path_on_cortex_m4_matches_reference(tmp_path):
    _check_on_board(tmp_path, dsp=True)


def test_portable_path_on_cortex_m4_matches_reference(tmp_path):
    _check_on_board(tmp_path, dsp=False)


def test_dsp_path_deepest_sums(tmp_path):
    """FN_S8_MAX_DEPTH products at their extremes through SMLAD: no overflow."""
    require_tools()
    cases = [("1x1_dsp", *board_case("1x1", *worst_case_depth(sign))[1:]) for sign in (-1, 1)]
    elf = build_firmware(tmp_path, firmware_main(cases))
    outs, _ = run_firmware(elf, tmp_path, len(cases))
    for (*_, want), got in zip(cases, outs):
        assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want, "deepest sums")

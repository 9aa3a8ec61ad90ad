"""The int8 kernels' DSP paths (ACLE SXTB16/SXTAB16/SMLAD/SMLAxy under __ARM_FEATURE_DSP)
and the fast output stage (fn_fast_out_s8, fn_fixedpoint.h), byte for byte against the
numpy reference and against their portable C paths:

  on the emulated Cortex-M4F (mps2-an386, QEMU): fn_depthwise_conv2d_s8, fn_fc_s8 and
      fn_conv2d_1x1_s8 on seeded random cases (odd channel counts, blocks of 4 crossed,
      depth multipliers 1, 2, 3, 4, 8, kernels above the DSP path's tap limit, padding,
      strides, dilations, per-channel and per-tensor, every requantization mode, full and
      clamped activation ranges, arbitrary multipliers and shifts; the 1x1 kernel's pixel
      pairs and triples and its stack-buffer limits), and fn_conv2d_s8_winograd(_dsp) on
      3x3 stride-1 cases (odd sizes, 1x1 images, asymmetric pads, channel counts with and
      without a % 4 tail, odd output channels), built twice with
      arm-none-eabi-gcc -O2 -Werror: with the DSP path, and with -U__ARM_FEATURE_DSP (the
      portable path on the same CPU); both outputs must equal the reference;
  on the host (cffi): the fast output stage against the general one (fn_output_stage_s8)
      over random accumulators, multipliers and shifts.

The firmware helpers (main.c, build, QEMU run) are those of support/qemu_harness.py.
Instruction counts: python bench/kernels_qemu.py. Tests never assert timing.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.reference import fixedpoint as fx
from firmnet.reference.conv_s8 import wrap32
from support.compare import assert_array_equal_first
from support.qemu_harness import (FIRMWARE_KERNELS, SOURCES, board_case, build_firmware, firmware_main,
                                  kernel_mnemonics, require_tools, run_firmware)
from support.s8_cases import (MODES, accumulators, int8_data, make_bias, make_scales, maybe_any_requant, quant_kwargs,
                              random_quant, zero_pointwise_case)
from support.s8_kernels import c_params

DSP_OPS = {"smlad", "smlabb", "smlatt", "sxtb16", "sxtab16"}

# ---------------------------------------------------------------- random cases


def dw_cases(seed: int, n: int, mode: str | None = None) -> list:
    """n random depthwise cases; mode as in fc_cases."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(n):
        q = random_quant(rng)
        if mode is not None:
            q.update(mode=mode, regime=("ties", "huge", "natural")[k % 3])
        c = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 9, 12, 16]))
        m = int(rng.choice([1, 1, 1, 2, 3, 4, 8]))
        if k % 10 == 9:
            kh, kw = int(rng.choice([9, 10])), 8              # 72 or 80 taps: beyond FN_DW_WTAPS
        elif k % 5 == 0:
            kh, kw = 3, 3
        else:
            kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilations = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if k % 3 else (1, 1)
        pads = tuple(int(rng.integers(0, 4)) for _ in range(4))
        h = max(1, dilations[0] * (kh - 1) + 1 - pads[0] - pads[2] + int(rng.integers(0, 6)))
        w_ = max(1, dilations[1] * (kw - 1) + 1 - pads[1] - pads[3] + int(rng.integers(0, 6)))
        geo = dict(strides=strides, dilations=dilations, pads=pads)
        crng = np.random.default_rng(q["seed"])
        x = int8_data(crng, (int(rng.integers(1, 3)), h, w_, c), q["data"], q["zp_in"])
        w = int8_data(crng, (1, kh, kw, c * m), "extremes" if q["data"] == "extremes" else "uniform")
        bias = make_bias(crng, q["bias"], c * m)
        w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
        acc = accumulators(x, w_ohwi, bias, q["zp_in"], dict(groups=c, geo=geo))
        s_in, s_w, s_out = make_scales(crng, q, acc, c * m)
        kw = dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))
        cases.append(board_case("dw", x, w, bias, kw, maybe_any_requant(crng, q, kw, c * m)))
    return cases


def dw_path_cases(seed: int) -> list:
    """Shapes aimed at each branch of the depthwise DSP path: the row buffer (3x3 unrolled,
    other kernels, row slots by iy % kernel_h when gcd(dilation_h, kernel_h) = 1, searched
    slots otherwise, zero rows of the padding, strides), rows too wide for the buffer (the
    block path with its interior runs and border pixels), multipliers of 4."""
    geometries = [  # (h, w, c, m, kh, kw, strides, dilations, pads)
        (7, 5, 8, 1, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
        (9, 9, 4, 1, 3, 3, (2, 2), (1, 1), (1, 1, 1, 1)),
        (9, 6, 5, 1, 2, 3, (1, 1), (2, 1), (1, 0, 2, 1)),
        (11, 7, 4, 1, 4, 4, (1, 2), (2, 1), (2, 1, 3, 2)),
        (12, 6, 7, 1, 3, 3, (1, 1), (3, 1), (3, 1, 3, 1)),
        (8, 8, 4, 1, 3, 3, (1, 1), (1, 2), (2, 2, 2, 2)),
        (6, 4, 9, 1, 5, 3, (1, 1), (1, 1), (4, 2, 4, 2)),
        (5, 50, 4, 1, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
        (6, 9, 2, 4, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
        (6, 9, 1, 8, 3, 2, (2, 1), (1, 2), (0, 1, 2, 1)),
        (4, 3, 1, 64, 4, 2, (2, 2), (1, 1), (1, 1, 2, 0)),
    ]
    rng = np.random.default_rng(seed)
    cases = []
    for h, w_, c, m, kh, kw, strides, dilations, pads in geometries:
        for mode in MODES:
            q = dict(random_quant(rng), mode=mode, act=(-128, 127) if mode != "ort" else (-100, 90))
            geo = dict(strides=strides, dilations=dilations, pads=pads)
            crng = np.random.default_rng(q["seed"])
            x = int8_data(crng, (1, h, w_, c), q["data"], q["zp_in"])
            w = int8_data(crng, (1, kh, kw, c * m), "uniform")
            bias = make_bias(crng, q["bias"], c * m)
            w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
            acc = accumulators(x, w_ohwi, bias, q["zp_in"], dict(groups=c, geo=geo))
            s_in, s_w, s_out = make_scales(crng, q, acc, c * m)
            cases.append(board_case("dw", x, w, bias, dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))))
    return cases


def fc_cases(seed: int, n: int, mode: str | None = None) -> list:
    """n random fully connected cases; mode (with the regimes cycling through ties, huge and
    natural scales) in place of a random requantization mode."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(n):
        q = random_quant(rng)
        if mode is not None:
            q.update(mode=mode, regime=("ties", "huge", "natural")[k % 3])
        batch = int(rng.integers(1, 4))
        k_in = int(rng.choice([int(rng.integers(1, 20)), int(rng.integers(20, 150)), 640]))
        m = int(rng.choice([int(rng.integers(1, 14)), 16, 33]))
        crng = np.random.default_rng(q["seed"])
        x = int8_data(crng, (batch, k_in), q["data"], q["zp_in"])
        w = int8_data(crng, (m, k_in), "extremes" if q["data"] == "extremes" else "uniform")
        bias = make_bias(crng, q["bias"], m)
        acc = wrap32((x.astype(np.int64) - q["zp_in"]) @ w.astype(np.int64).T + (0 if bias is None else bias))
        s_in, s_w, s_out = make_scales(crng, q, acc, m)
        kw = quant_kwargs(q, s_in, s_w, s_out)
        cases.append(board_case("fc", x, w, bias, kw, maybe_any_requant(crng, q, kw, m)))
    return cases


def pointwise_cases(seed: int, n: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        q = random_quant(rng)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 6)))
        cin = int(rng.choice([int(rng.integers(1, 14)), 16, 17, 64, 67, 84, 88, 128, 131]))
        cout = int(rng.choice([1, 2, 3, 5, 8, 9]))
        crng = np.random.default_rng(q["seed"])
        x = int8_data(crng, (*shape, cin), q["data"], q["zp_in"])
        w = int8_data(crng, (cout, 1, 1, cin), "extremes" if q["data"] == "extremes" else "uniform")
        bias = make_bias(crng, q["bias"], cout)
        geo = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))
        acc = accumulators(x, w, bias, q["zp_in"], dict(groups=1, geo=geo))
        s_in, s_w, s_out = make_scales(crng, q, acc, cout)
        kw = dict(groups=1, **geo, **quant_kwargs(q, s_in, s_w, s_out))
        cases.append(board_case("1x1", x, w, bias, kw, maybe_any_requant(crng, q, kw, cout)))
    return cases


def winograd_cases(seed: int, n: int) -> list:
    """3x3 stride-1 layers for the Winograd kernels (their scratch within the firmware's 8 KB)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        q = random_quant(rng)
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        h = max(1, 3 - pads[0] - pads[2] + int(rng.integers(0, 9)))
        w = max(1, 3 - pads[1] - pads[3] + int(rng.integers(0, 9)))
        cin = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 19, 32]))
        cout = int(rng.choice([1, 2, 3, 5, 8, 16]))
        crng = np.random.default_rng(q["seed"])
        x = int8_data(crng, (int(rng.integers(1, 3)), h, w, cin), q["data"], q["zp_in"])
        wt = int8_data(crng, (cout, 3, 3, cin), "extremes" if q["data"] == "extremes" else "uniform")
        bias = make_bias(crng, q["bias"], cout)
        geo = dict(strides=(1, 1), dilations=(1, 1), pads=pads)
        acc = accumulators(x, wt, bias, q["zp_in"], dict(groups=1, geo=geo))
        s_in, s_w, s_out = make_scales(crng, q, acc, cout)
        kw = dict(groups=1, **geo, **quant_kwargs(q, s_in, s_w, s_out))
        cases.append(board_case("wino", x, wt, bias, kw, maybe_any_requant(crng, q, kw, cout)))
    return cases


def dsp_variants(runtime, case) -> list[str]:
    """The firmware kinds (support.qemu_harness.FIRMWARE_KERNELS) of the DSP variants that take
    this case: a depthwise case runs through each variant whose C scratch size is not 0 (the
    shapes it takes; fn_s8_dsp.h), or through the portable kernel when neither takes it."""
    kind, _, _, _, params, arrays, _ = case
    if kind == "1x1":   # both 1x1 DSP variants (fn_conv2d_1x1_s8_w16_dsp: int16 weights)
        return ["1x1_dsp", "pw16"]
    if kind != "dw":
        return [f"{kind}_dsp"]
    s, keep = c_params(runtime.ffi, "fn_depthwise_conv2d_s8_params", params, arrays)
    kinds = [k for k in ("dw_rows_dsp", "dw_blocks_dsp")
             if getattr(runtime.lib, f"fn_depthwise_conv2d_s8_{k[3:]}_scratch_size")(s) > 0]
    del keep
    return kinds or ["dw"]


def check_on_board(tmp_path, cases, dsp: bool, functions, runtime=None) -> None:
    """Every case through the portable kernel (dsp False: built with -U__ARM_FEATURE_DSP), or
    through each DSP variant that takes it (dsp True)."""
    require_tools()
    if dsp:
        cases = [(kind, *case[1:]) for case in cases for kind in dsp_variants(runtime, case)]
    work = tmp_path / ("dsp" if dsp else "portable")
    elf = build_firmware(work, firmware_main(cases), sources=SOURCES, dsp=dsp)
    ops = set()
    for fn in functions:
        ops |= kernel_mnemonics(elf, fn)
    if dsp:
        assert ops & DSP_OPS, f"no DSP instruction in {functions}: is __ARM_FEATURE_DSP still the condition?"
    else:
        assert not ops & DSP_OPS, f"-U__ARM_FEATURE_DSP did not select the portable path of {functions}"
    outs, _ = run_firmware(elf, work, len(cases))
    for k, (case, got) in enumerate(zip(cases, outs)):
        kind, x, w, _, params, arrays, want = case
        rq = params["requant"]
        what = (f"case {k}: {kind} x{x.shape} w{w.shape} mode {rq['mode']} per_channel "
                f"{rq['per_channel']} act ({rq['act_min']}, {rq['act_max']}) on mps2-an386 "
                f"({'DSP' if dsp else 'portable'})")
        assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want, what)


# ---------------------------------------------------------------- tests on the board

@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_depthwise_on_cortex_m4_matches_reference(tmp_path, runtime, dsp):
    check_on_board(tmp_path, dw_cases(2024, 80) + dw_path_cases(11), dsp,
                   ["fn_depthwise_conv2d_s8", "fn_depthwise_conv2d_s8_rows_dsp", "fn_depthwise_conv2d_s8_blocks_dsp",
                    "dw_blocks_dsp", "dw_rows_dsp", "dw_rows_3x3", "dw_rows_taps",
                    "dw_run_m1", "dw_run_m4", "dw_border"], runtime)


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_fully_connected_on_cortex_m4_matches_reference(tmp_path, runtime, dsp):
    check_on_board(tmp_path, fc_cases(7, 60), dsp, ["fn_fc_s8", "fn_fc_s8_dsp", "fc_rows4_dsp"], runtime)


def test_ort_output_stage_on_cortex_m4_matches_reference(tmp_path, runtime):
    """onnxruntime's float output stage on the M4's FPU (VCVTR, fn_round_clamp_ort; the
    depthwise DSP variants' per-block fn_ort_s8): fully connected and depthwise cases, every
    case in ORT mode, a third with power-of-two scales (exact halves: ties to even), a third
    with huge ones (saturation: products past the int32 range)."""
    check_on_board(tmp_path, fc_cases(8, 45, mode="ort") + dw_cases(9, 45, mode="ort"), True,
                   ["fn_fc_s8", "fn_fc_s8_dsp", "fc_rows4_dsp", "fn_depthwise_conv2d_s8_rows_dsp",
                    "fn_depthwise_conv2d_s8_blocks_dsp", "dw_rows_3x3", "dw_rows_taps", "dw_blocks_dsp"], runtime)
    assert "vcvtr" in kernel_mnemonics(tmp_path / "dsp" / "firmware.elf", "fn_finish_channel_s8")


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_pointwise_on_cortex_m4_matches_reference(tmp_path, runtime, dsp):
    check_on_board(tmp_path, pointwise_cases(99, 60), dsp,
                   ["fn_conv2d_1x1_s8", "fn_conv2d_1x1_s8_dsp", "dot_2x2_wide", "pw_pair_fast", "pw_triple_fast",
                    "fn_conv2d_1x1_s8_w16_dsp", "pair_blocks8", "pair_blocks2"], runtime)


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_winograd_on_cortex_m4_matches_reference(tmp_path, runtime, dsp):
    """The direct convolution's reference bytes from both Winograd kernels' paths on the board."""
    check_on_board(tmp_path, winograd_cases(13, 60), dsp,
                   ["fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp", "wino_mac_dsp", "wino_tile_dsp"], runtime)


def test_kws_sized_layers_on_cortex_m4(tmp_path, runtime):
    """The KWS shapes (25 x 5 x 64, 3x3 depthwise with padding 1, 1x1 64 -> 64, FC 64 -> 12)
    in the fast stage's domain (TFLM, per channel, full range) and in SINGLE mode."""
    rng = np.random.default_rng(5)
    cases = []
    for mode in ("tflm", "single"):
        x = rng.integers(-128, 128, (1, 25, 5, 64), dtype=np.int8)
        w = rng.integers(-128, 128, (1, 3, 3, 64), dtype=np.int8)
        bias = rng.integers(-3000, 3000, 64).astype(np.int32)
        cases.append(board_case("dw", x, w, bias, dict(
            input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.02, 64), output_scale=0.2,
            output_zero_point=-128, pads=(1, 1, 1, 1), mode=mode)))
        w1 = rng.integers(-128, 128, (64, 1, 1, 64), dtype=np.int8)
        cases.append(board_case("1x1", x, w1, bias, dict(
            input_scale=0.05, input_zero_point=5, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
            output_zero_point=-128, mode=mode)))
        xf = rng.integers(-128, 128, (1, 64), dtype=np.int8)
        wf = rng.integers(-128, 128, (12, 64), dtype=np.int8)
        cases.append(board_case("fc", xf, wf, bias[:12], dict(
            input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(0.002, 0.01, 12), output_scale=0.1,
            output_zero_point=10, mode=mode)))
    check_on_board(tmp_path, cases, True, ["fn_depthwise_conv2d_s8_rows_dsp", "dw_rows_3x3", "pw_triple_fast",
                                           "fc_groups_fast"], runtime)


# ---------------------------------------------------------------- the fast output stage (host)

I32 = st.integers(-2**31, 2**31 - 1)
multipliers = st.one_of(st.integers(2**30, 2**31 - 1), st.sampled_from([0, 1, 2**30, 2**31 - 1]),
                        st.integers(0, 2**31 - 1))


@settings(max_examples=1500, deadline=None)
@given(acc=st.one_of(I32, st.integers(-2**16, 2**16), st.sampled_from([-2**31, -1, 0, 1, 2**31 - 1])),
       bias=st.one_of(st.just(0), I32), m=multipliers, shift=st.integers(-31, -1),
       tflm=st.booleans(), zp=st.integers(-128, 127))
def test_fast_output_stage_equals_the_general_stage(runtime, acc, bias, m, shift, tflm, zp):
    lib = runtime.lib
    mode = fx.REQUANT_MODES["tflm" if tflm else "single"]
    total = int(wrap32(acc + bias))
    want = lib.fn_output_stage_s8(total, mode, m, shift, 0.0, zp, -128, 127)
    assert lib.fn_fast_out_s8_one(acc, bias, m, -shift - 1, int(tflm), zp) == want
    r = (fx.mul_by_quantized_mul_tflm if tflm else fx.mul_by_quantized_mul_single)(total, m, shift)
    assert want == max(-128, min(127, int(wrap32(int(r) + zp))))


def test_pointwise_kernel_refuses_weight_zero_points(runtime):
    """fn_conv2d_1x1_s8 computes symmetric weights only: a filter_offset array is refused
    (the lowering sends such layers to fn_conv2d_s8)."""
    x, w, params, arrays = zero_pointwise_case()
    ffi, lib = runtime.ffi, runtime.lib
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    out = np.full((1, 3, 3, 4), 0x5A, np.int8)
    xp, wp, op = (ffi.cast("int8_t *", ffi.from_buffer(a)) for a in (x, w, out))
    assert lib.fn_conv2d_1x1_s8(s, xp, wp, ffi.NULL, op) == lib.FN_OK
    offsets = np.zeros(4, np.int32)
    s.filter_offset = ffi.cast("int32_t *", ffi.from_buffer(offsets))
    out[...] = 0x5A
    assert lib.fn_conv2d_1x1_s8(s, xp, wp, ffi.NULL, op) == lib.FN_ERR_ARG
    assert (out == 0x5A).all(), "output written before the argument check"
    del keep


# ---------------------------------------------------------------- the variants on the host

def test_dsp_variants_on_the_host_are_their_portable_kernels(runtime):
    """Built for a CPU without the DSP extension (a host build of a project compiled for one,
    as firmnet verify makes), each fn_s8_dsp.h variant is its portable kernel after its own
    checks: the reference's bytes for the shapes it takes, FN_ERR_ARG (output untouched) for
    a NULL scratch or a shape it refuses."""
    ffi, lib = runtime.ffi, runtime.lib
    cases = dw_cases(5, 30) + fc_cases(6, 10) + pointwise_cases(7, 10)
    checked = refused = 0
    for case in cases:
        kind, x, w, bias, params, arrays, want = case
        _, ptype, _, filt, _, size_fn = FIRMWARE_KERNELS[kind]
        s, keep = c_params(ffi, ptype, params, arrays)
        wk = np.ascontiguousarray(filt(w))
        args = [ffi.cast("int8_t *", ffi.from_buffer(a)) for a in (x, wk)]
        b = ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias))
        for variant in (["dw_rows_dsp", "dw_blocks_dsp"] if kind == "dw" else [f"{kind}_dsp"]):
            fn, _, _, _, _, size_fn = FIRMWARE_KERNELS[variant]
            size = int(getattr(lib, size_fn)(s)) if size_fn else 0
            scratch = np.zeros(max(size, 8), np.uint8)
            out = np.full(want.shape, 0x5A, np.int8)
            o = ffi.cast("int8_t *", ffi.from_buffer(out))
            extra = [ffi.cast("void *", ffi.from_buffer(scratch))] if size_fn else []
            status = getattr(lib, fn)(s, *args, b, o, *extra)
            if size_fn and size == 0:
                assert status == lib.FN_ERR_ARG and (out == 0x5A).all(), f"{fn} took a shape it refuses"
                refused += 1
                continue
            assert status == lib.FN_OK, fn
            assert_array_equal_first(out, want, f"{fn} on the host")
            checked += 1
            if size_fn:
                assert getattr(lib, fn)(s, *args, b, o, ffi.NULL) == lib.FN_ERR_ARG
        del keep
    assert checked > 40 and refused > 3

"""fn_conv2d_s8_dsp (window buffer in the scratch + SMLAD, groups == 1; fn_s8_dsp.h) and
fn_conv2d_s8 on the emulated Cortex-M4F (mps2-an386, QEMU), byte for byte against the numpy
reference, built with __ARM_FEATURE_DSP (the DSP variant where it takes the case, the
portable kernel otherwise) and without (the portable kernel): seeded random geometry
(kernel sizes, strides, dilations, padding, odd pixel and channel counts, depths with and without a % 4 tail, depths just below and above
the DSP path's buffer), every requantization mode, per-channel and per-tensor, full and
clamped activation ranges, weights with and without zero points. Firmware helpers: support/qemu_harness.py.
"""
from __future__ import annotations

import numpy as np

from support.qemu_harness import (RUNTIME, board_case, build_firmware, firmware_main, kernel_mnemonics, require_tools,
                                  run_firmware)
from support.s8_cases import conv_case, maybe_any_requant, random_quant

KERNEL = "fn_conv2d_s8"
DSP_DEPTH = 256   # FN_CONV_DSP_DEPTH (fn_s8_dsp.h)


def random_geometry(rng, k):
    cin = int(rng.choice([1, 1, 2, 3, 4, 5, 8, 13]))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    if k == 0:                       # KWS's first layer: 10x4 over one channel, stride 2
        cin, kh, kw = 1, 10, 4
    if k in (1, 2):                  # depth at the buffer's limit, and one past it (portable loop)
        cin, kh, kw = DSP_DEPTH // 16 + (k == 2), 4, 4
    strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if k else (2, 2)
    dilations = (int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2]))) if k > 2 else (1, 1)
    pads = tuple(int(v) for v in rng.integers(0, 3, 4)) if k else (4, 1, 5, 2)
    h = max(1, dilations[0] * (kh - 1) + 1 - pads[0] - pads[2] + int(rng.integers(0, 6)))
    w = max(1, dilations[1] * (kw - 1) + 1 - pads[1] - pads[3] + int(rng.integers(0, 5)))
    if k == 0:
        h, w = 49, 10
    return dict(n=int(rng.integers(1, 3)) if k else 1, h=h, w=w, groups=1, cin_g=cin,
                cout_g=64 if k == 0 else int(rng.choice([1, 2, 3, 5, 8])), kh=kh, kw=kw,
                geo=dict(strides=strides, dilations=dilations, pads=pads))


def cases(seed: int, n: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        g, q = random_geometry(rng, k), random_quant(rng)
        x, w, bias, kw = conv_case(g, q)
        arrays = maybe_any_requant(rng, q, kw, w.shape[0])
        if k % 3 == 2:   # weights with zero points (per channel or per tensor), the extremes included
            zp = rng.integers(-128, 128, w.shape[0] if k % 2 else 1)
            zp[0] = [-128, 127][k % 2]
            kw = dict(kw, weight_zero_points=zp)
        out.append(board_case("conv", x, w, bias, kw, arrays))
    return out


def test_dsp_path_matches_reference_in_qemu(tmp_path):
    require_tools()
    chosen = cases(77, 24)
    for dsp in (True, False):
        work = tmp_path / ("dsp" if dsp else "portable")
        kinds = ["conv_dsp" if dsp and c[4]["kernel_h"] * c[4]["kernel_w"] * c[4]["in_c"] <= DSP_DEPTH else "conv"
                 for c in chosen]
        assert not dsp or kinds.count("conv_dsp") >= len(chosen) // 2
        main_c = firmware_main([(kind, *c[1:]) for kind, c in zip(kinds, chosen)])
        elf = build_firmware(work, main_c, sources=[RUNTIME / "src" / f"{KERNEL}.c",
                                                    RUNTIME / "src" / f"{KERNEL}_dsp.c"], dsp=dsp)
        if dsp:
            assert {"smlad", "sxtb16"} <= kernel_mnemonics(elf, "pixel_pair"), "the DSP path was not compiled in"
        outs, _ = run_firmware(elf, work, len(chosen))
        for k, (_, x, w, bias, params, arrays, expected) in enumerate(chosen):
            got = np.frombuffer(outs[k], np.int8).reshape(expected.shape)
            assert np.array_equal(got, expected), f"case {k} ({'DSP' if dsp else 'portable'}): {params}"

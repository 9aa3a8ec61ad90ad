"""Instructions per MAC of the int8 kernels on the emulated Cortex-M4F (mps2-an386).

Prints a plain text table (never asserts). Run from the repository root:

    python bench/kernels_qemu.py

Layers (random int8 data, per-channel TFLM requantization with a bias, full int8 output
range, as in the MLPerf Tiny models):
  KWS pointwise   kws_ref_model's 1x1 convolution: 25 x 5 pixels, 64 -> 64 channels
  KWS conv 10x4/2 kws_ref_model's first convolution: 49 x 10 x 1 -> 25 x 5 x 64, stride 2
  KWS depthwise   kws_ref_model's 3x3 depthwise convolution, padding 1: 25 x 5 x 64
  AD01 FC 640     ad01_int8's first fully connected layer: 640 -> 128
  AD01 FC 128     ad01_int8's hidden fully connected layers: 128 -> 128
  ..., fn_conv2d_s8  the same layer in the general convolution (the cost figures of
                  python/firmnet/kernels/; depthwise as 64 groups, FC as a one-pixel 1x1 conv)
Each kernel runs once in a bare-metal firmware built by tests/test_dsp_kernels.py's
helpers (arm-none-eabi-gcc -O2 -mcpu=cortex-m4, the board's CPU flags), twice: with its
DSP path (__ARM_FEATURE_DSP) and with -U__ARM_FEATURE_DSP (the portable C path on the
same CPU). QEMU -icount shift=0 and SysTick count instructions exactly (to one tick: 40
instructions). Every output is checked against the numpy reference first.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

from support.qemu_harness import SOURCES, board_case, build_firmware, firmware_main, reference, run_firmware  # noqa: E402


def layers() -> list[tuple[str, tuple, int]]:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 25, 5, 64), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 640).astype(np.int32)
    out = []
    w = rng.integers(-128, 128, (64, 1, 1, 64), dtype=np.int8)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
              output_zero_point=-128, act=(-128, 127), mode="tflm")
    out.append(("KWS pointwise 1x1 64->64", board_case("1x1", x, w, bias[:64], kw), 25 * 5 * 64 * 64))
    out.append(("KWS pointwise, fn_conv2d_s8", board_case("conv", x, w, bias[:64], kw), 25 * 5 * 64 * 64))
    x1 = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    w1 = rng.integers(-128, 128, (64, 10, 4, 1), dtype=np.int8)
    kw1 = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
               output_zero_point=-128, strides=(2, 2), pads=(4, 1, 5, 1), act=(-128, 127), mode="tflm")
    out.append(("KWS conv 10x4/2 1->64", board_case("conv", x1, w1, bias[:64], kw1), 25 * 5 * 64 * 40))
    w = rng.integers(-128, 128, (1, 3, 3, 64), dtype=np.int8)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.02, 64), output_scale=0.2,
              output_zero_point=-128, pads=(1, 1, 1, 1), mode="tflm")
    out.append(("KWS depthwise 3x3 x64", board_case("dw", x, w, bias[:64], kw), 25 * 5 * 64 * 9))
    wg = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]     # OHWI, one input channel per group
    out.append(("KWS depthwise, fn_conv2d_s8", board_case("conv", x, wg, bias[:64], {**kw, "groups": 64}),
                25 * 5 * 64 * 9))
    for k_in in (640, 128):
        xf = rng.integers(-128, 128, (1, k_in), dtype=np.int8)
        wf = rng.integers(-128, 128, (128, k_in), dtype=np.int8)
        kw = dict(input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(0.001, 0.004, 128),
                  output_scale=0.2, output_zero_point=-128, mode="tflm")
        out.append((f"AD01 FC {k_in}->128", board_case("fc", xf, wf, bias[:128], kw), k_in * 128))
        out.append((f"AD01 FC {k_in}->128, fn_conv2d_s8",
                    board_case("conv", xf.reshape(1, 1, 1, k_in), wf.reshape(128, 1, 1, k_in), bias[:128], kw),
                    k_in * 128))
    return out


def main() -> int:
    cases = layers()
    results = {}
    with tempfile.TemporaryDirectory(prefix="firmnet-kbench-") as tmp:
        for dsp in (False, True):
            work = Path(tmp) / ("dsp" if dsp else "portable")
            elf = build_firmware(work, firmware_main([c for _, c, _ in cases]),
                                 sources=[*SOURCES, REPO / "runtime_c" / "src" / "fn_conv2d_s8.c"], dsp=dsp)
            outs, instructions = run_firmware(elf, work, len(cases))
            for (label, case, _), got, n in zip(cases, outs, instructions):
                if got != reference(case).tobytes():
                    print(f"{label} ({'DSP' if dsp else 'portable'}): output differs from the reference",
                          file=sys.stderr)
                    return 1
                results[label, dsp] = n
    print("int8 kernels on mps2-an386 (QEMU -icount shift=0 + SysTick; arm-none-eabi-gcc -O2 "
          "-mcpu=cortex-m4), instructions per call\n")
    width = max(len(label) for label, _, _ in cases)
    print(f"{'layer'.ljust(width)}  {'MACs':>8}  {'portable':>10}  {'instr/MAC':>9}  {'DSP':>10}  {'instr/MAC':>9}")
    for label, _, macs in cases:
        port, dsp = results[label, False], results[label, True]
        print(f"{label.ljust(width)}  {macs:>8,}  {port:>10,}  {port / macs:>9.3f}  {dsp:>10,}  {dsp / macs:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

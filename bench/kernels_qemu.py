"""Instructions per MAC of the int8 pointwise convolution on the emulated Cortex-M4F (mps2-an386).

Prints a plain text table (never asserts). Run from the repository root:

    python bench/kernels_qemu.py

The layer is KWS's pointwise convolution (MLPerf Tiny kws_ref_model: 25 x 5 pixels,
64 -> 64 channels, 512,000 MACs), per-channel TFLM requantization with a bias, random
int8 data. Each kernel runs once in a bare-metal firmware built by
tests/test_kernels_conv_1x1_s8.py's build_firmware (arm-none-eabi-gcc -O2, the board's
CPU flags); QEMU -icount shift=0 and SysTick count its instructions exactly (to one
tick: 40 instructions). Every output is checked against the numpy reference first.

Rows:
  fn_conv2d_s8               the general convolution kernel (4 channels x 1 pixel, C)
  fn_conv2d_1x1_s8 portable  the 1x1 kernel built without __ARM_FEATURE_DSP (plain C)
  fn_conv2d_1x1_s8 DSP       the 1x1 kernel's SXTAB16/SXTB16/SMLAD path
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

from firmnet.reference.conv_s8 import conv2d_s8, conv2d_s8_params  # noqa: E402
from test_kernels_conv_1x1_s8 import (RUNTIME, build_firmware, firmware_main,  # noqa: E402
                                      run_firmware)


def kws_pointwise():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 25, 5, 64), dtype=np.int8)
    w = rng.integers(-128, 128, (64, 1, 1, 64), dtype=np.int8)
    bias = rng.integers(-20000, 20000, 64).astype(np.int32)
    params, arrays = conv2d_s8_params(x.shape, w.shape, input_scale=0.05, input_zero_point=-3,
                                      weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
                                      output_zero_point=-128, act=(-128, 127), mode="tflm")
    return x, w, bias, params, arrays


def main() -> int:
    case = kws_pointwise()
    x, w = case[0], case[1]
    macs = x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3] * w.shape[0]
    want = conv2d_s8(*case).tobytes()
    variants = [("fn_conv2d_s8", "fn_conv2d_s8", [RUNTIME / "src" / "fn_conv2d_s8.c"], True),
                ("fn_conv2d_1x1_s8 portable", "fn_conv2d_1x1_s8", [], False),
                ("fn_conv2d_1x1_s8 DSP", "fn_conv2d_1x1_s8", [], True)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="firmnet-kbench-") as tmp:
        for label, kernel, sources, dsp in variants:
            work = Path(tmp) / label.replace(" ", "-")
            elf = build_firmware(work, firmware_main([case], kernel=kernel), sources=sources, dsp=dsp)
            outs, instructions = run_firmware(elf, work, 1)
            if outs[0] != want:
                print(f"{label}: output differs from the reference", file=sys.stderr)
                return 1
            rows.append((label, instructions[0], instructions[0] / macs))
    print(f"KWS pointwise conv [1,25,5,64] x [64,1,1,64] = {macs:,} MACs on mps2-an386 "
          "(QEMU -icount shift=0 + SysTick; arm-none-eabi-gcc -O2 -mcpu=cortex-m4)\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'kernel'.ljust(width)}  {'instructions':>12}  {'instr/MAC':>9}")
    for label, n, per in rows:
        print(f"{label.ljust(width)}  {n:>12,}  {per:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Instructions per MAC of the int8 kernels on the emulated Cortex-M4F (mps2-an386).

Prints a plain text table (never asserts). Run from the repository root:

    python bench/kernels_qemu.py

Layers (random int8 data, per-channel TFLM requantization with a bias, full int8 output
range, as in the MLPerf Tiny models):
  KWS pointwise   kws_ref_model's 1x1 convolution: 25 x 5 pixels, 64 -> 64 channels
  KWS conv 10x4/2 kws_ref_model's first convolution: 49 x 10 x 1 -> 25 x 5 x 64, stride 2
  KWS depthwise   kws_ref_model's 3x3 depthwise convolution, padding 1: 25 x 5 x 64
  VWW depthwise   the 3x3 depthwise layers of MobileNetV1 0.25 at 96 x 96 (input zero point
                  -128, as after a ReLU): 24 x 24 x 32 padding 1, and 48 x 48 x 8, 6 x 6 x 128,
                  3 x 3 x 256 (padding 1), 48 x 48 x 16 and 12 x 12 x 64 stride 2 (TFLite SAME:
                  padding 0 top/left, 1 bottom/right)
  AD01 FC 640     ad01_int8's first fully connected layer: 640 -> 128
  AD01 FC 128     ad01_int8's hidden fully connected layers: 128 -> 128 (and its 128 -> 8,
                  8 -> 128 and 128 -> 640 layers, through the FC kernels only)
  narrow          first layers with 1 to 8 input channels (NARROW_LAYERS: the digits CNN's
                  conv1, 28 x 28 3x3 and 5x5, VWW-shaped's 96 x 96 x 3 stride 2, ...) through
                  fn_conv2d_s8, fn_conv2d_s8_dsp and fn_conv2d_s8_w16_dsp
  ResNet-8 3x3    MLPerf Tiny's ResNet-8 3x3 stride-1 convolutions, padding 1: 32 x 32 x 3 -> 16,
                  32 x 32 x 16 -> 16, 16 x 16 x 32 -> 32, 8 x 8 x 64 -> 64, and 8 x 8 x 16 -> 24
                  (odd tile pairs absent, an odd count of channel pairs), each through
                  fn_conv2d_s8 (and fn_conv2d_s8_dsp where its window fits) and the Winograd
                  kernels fn_conv2d_s8_winograd(_dsp)
  ..., fn_conv2d_s8  the same layer in the general convolution (the cost figures of
                  python/firmnet/kernels/; depthwise as 64 groups, FC as a one-pixel 1x1 conv)
Each layer runs once through its portable kernel and once through each DSP-extension variant
that takes it (runtime_c/include/fn_s8_dsp.h: fn_conv2d_s8_dsp, fn_conv2d_1x1_s8_dsp,
fn_depthwise_conv2d_s8_rows_dsp, fn_depthwise_conv2d_s8_w16_dsp, fn_depthwise_conv2d_s8_blocks_dsp, fn_fc_s8_dsp,
fn_conv2d_s8_winograd_dsp; fn_fc_s8_w16_dsp, fn_fc_s8_w16_dsp.h, in its widened mode (scratch)
and its direct mode (NULL scratch, the second row); and fn_conv2d_s8_w16_dsp, fn_conv2d_s8_w16_dsp.h, for the layers
run through fn_conv2d_s8), in one
bare-metal firmware (two: the AD01 FC rows apart) built by tests/support/qemu_harness.py (arm-none-eabi-gcc -O2
-mcpu=cortex-m4, the board's CPU flags; the variants take their scratch from a static
buffer). QEMU -icount shift=0 and SysTick count instructions exactly (to one tick: 40
instructions). Every output is checked against the numpy reference first. These figures are
the cost coefficients of python/firmnet/kernels/.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

from firmnet.kernels import _s8_dsp, conv2d_1x1_s8_w16_dsp, conv2d_s8_w16_dsp, depthwise_conv2d_s8_w16_dsp  # noqa: E402
from support.qemu_harness import (FIRMWARE_KERNELS, SOURCES, board_case, build_firmware, firmware_main,  # noqa: E402
                                  reference, run_firmware)


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
    for h, cin, cout in VWW_POINTWISE:
        xv = rng.integers(-128, 128, (1, h, h, cin), dtype=np.int8)
        wv = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
        kv = dict(input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(0.002, 0.01, cout),
                  output_scale=0.3, output_zero_point=-128, act=(-128, 127), mode="tflm")
        label = f"VWW pointwise {h}x{h} {cin}->{cout}"
        out.append((label, board_case("1x1", xv, wv, bias[:cout], kv), h * h * cin * cout))
        out.append((label, board_case("conv", xv, wv, bias[:cout], kv), h * h * cin * cout))
    x1 = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    w1 = rng.integers(-128, 128, (64, 10, 4, 1), dtype=np.int8)
    kw1 = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64), output_scale=0.3,
               output_zero_point=-128, strides=(2, 2), pads=(4, 1, 5, 1), act=(-128, 127), mode="tflm")
    out.append(("KWS conv 10x4/2 1->64", board_case("conv", x1, w1, bias[:64], kw1), 25 * 5 * 64 * 40))
    w = rng.integers(-128, 128, (1, 3, 3, 64), dtype=np.int8)
    kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.02, 64), output_scale=0.2,
              output_zero_point=-128, pads=(1, 1, 1, 1), mode="tflm")
    out.append(("KWS depthwise 3x3 x64", board_case("dw", x, w, bias[:64], kw), 25 * 5 * 64 * 9))
    vrng = np.random.default_rng(16)     # its own generator: the other layers' data stay as they were
    xv = vrng.integers(-128, 128, (1, 24, 24, 32), dtype=np.int8)
    wv = vrng.integers(-128, 128, (1, 3, 3, 32), dtype=np.int8)
    kv = dict(input_scale=0.05, input_zero_point=-128, weight_scales=vrng.uniform(0.002, 0.02, 32), output_scale=0.2,
              output_zero_point=-128, pads=(1, 1, 1, 1), mode="tflm")
    out.append(("VWW depthwise 3x3 24x24x32", board_case("dw", xv, wv, bias[:32], kv), 24 * 24 * 32 * 9))
    for h, c, st in ((48, 8, 1), (48, 16, 2), (12, 64, 2), (6, 128, 1), (3, 256, 1)):
        xv = vrng.integers(-128, 128, (1, h, h, c), dtype=np.int8)
        wv = vrng.integers(-128, 128, (1, 3, 3, c), dtype=np.int8)
        pads = (1, 1, 1, 1) if st == 1 else (0, 0, 1, 1)     # TFLite SAME on an even size
        kv = dict(input_scale=0.05, input_zero_point=-128, weight_scales=vrng.uniform(0.002, 0.02, c),
                  output_scale=0.2, output_zero_point=-128, pads=pads, strides=(st, st), mode="tflm")
        oh = (h + pads[0] + pads[2] - 3) // st + 1
        out.append((f"VWW depthwise 3x3 {h}x{h}x{c}/{st}", board_case("dw", xv, wv, vrng.integers(-20000, 20000, c)
                                                                       .astype(np.int32), kv), oh * oh * c * 9))
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
    for k_in, m in ((128, 8), (8, 128), (128, 640)):   # AD01's other FC shapes
        xf = rng.integers(-128, 128, (1, k_in), dtype=np.int8)
        wf = rng.integers(-128, 128, (m, k_in), dtype=np.int8)
        kw = dict(input_scale=0.05, input_zero_point=-128, weight_scales=rng.uniform(0.001, 0.004, m),
                  output_scale=0.2, output_zero_point=-128, mode="tflm")
        out.append((f"AD01 FC {k_in}->{m}", board_case("fc", xf, wf, bias[:m], kw), k_in * m))
    for h, cin, cout, k, st, pads in NARROW_LAYERS:
        xn = rng.integers(-128, 128, (1, h, h, cin), dtype=np.int8)
        wn = rng.integers(-127, 128, (cout, k, k, cin), dtype=np.int8)
        kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, cout),
                  output_scale=0.3, output_zero_point=-128, strides=(st, st), pads=pads, act=(-128, 127), mode="tflm")
        oh = (h + pads[0] + pads[2] - k) // st + 1
        out.append((f"narrow {h}x{h} {cin}->{cout} {k}x{k}/{st}", board_case("conv", xn, wn, bias[:cout], kw),
                    oh * oh * cout * k * k * cin))
    for h, cin, cout in WINOGRAD_LAYERS:
        xr = rng.integers(-128, 128, (1, h, h, cin), dtype=np.int8)
        wr = rng.integers(-127, 128, (cout, 3, 3, cin), dtype=np.int8)
        kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, cout),
                  output_scale=0.3, output_zero_point=-128, pads=(1, 1, 1, 1), act=(-128, 127), mode="tflm")
        label = f"ResNet-8 3x3 {h}x{h} {cin}->{cout}"
        out.append((label, board_case("conv", xr, wr, bias[:cout], kw), h * h * cout * 9 * cin))
        out.append((label, board_case("wino", xr, wr, bias[:cout], kw), h * h * cout * 9 * cin))
    return out


# (size, in_c, out_c) of VWW-shaped's pointwise layers (MobileNetV1 0.25, 96x96; the wider ones
# once each: 128->128 runs five times in the model)
VWW_POINTWISE = ((48, 8, 16), (24, 16, 32), (24, 32, 32), (12, 32, 64), (12, 64, 64), (6, 64, 128), (6, 128, 128),
                 (3, 128, 256), (3, 256, 256))

# (size, in_c, out_c, kernel, stride, pads) of first layers with few input channels, where a
# window's gathering and each output's stage weigh more than the MACs: the digits CNN's conv1,
# MNIST-sized 3x3 and 5x5 ones, VWW-shaped's stride-2 first layer and two 8-channel ones
NARROW_LAYERS = ((8, 1, 8, 3, 1, (1, 1, 1, 1)), (28, 1, 16, 3, 1, (1, 1, 1, 1)), (28, 1, 8, 5, 1, (2, 2, 2, 2)),
                 (96, 3, 8, 3, 2, (0, 0, 1, 1)), (16, 8, 16, 3, 1, (1, 1, 1, 1)), (8, 8, 16, 3, 1, (1, 1, 1, 1)))

# (size, in_c, out_c) of the 3x3 stride-1 layers measured for the Winograd kernels
WINOGRAD_LAYERS = ((32, 3, 16), (32, 16, 16), (16, 32, 32), (8, 64, 64), (8, 16, 24))


# the DSP-extension variants of each portable kind (support.qemu_harness.FIRMWARE_KERNELS)
VARIANTS = {"1x1": ("1x1_dsp", "pw16"),
            "conv": ("conv_dsp", "w16"), "dw": ("dw_rows_dsp", "dw_w16_dsp", "dw_blocks_dsp"),
            "fc": ("fc_dsp", "fc_w16", "fc_w16_direct"),
            "wino": ("wino_dsp",)}


def _takes(kind: str, params: dict) -> bool:
    """Whether a DSP variant takes the layer: its scratch size is not 0 (fn_s8_dsp.h)."""
    size = {"conv_dsp": _s8_dsp.conv2d_scratch, "dw_rows_dsp": _s8_dsp.dw_rows_scratch,
            "dw_blocks_dsp": _s8_dsp.dw_blocks_scratch, "dw_w16_dsp": depthwise_conv2d_s8_w16_dsp.scratch,
            "w16": conv2d_s8_w16_dsp.scratch, "pw16": conv2d_1x1_s8_w16_dsp.scratch}.get(kind)
    return size is None or size(params) > 0


def main() -> int:
    runs = []
    for label, case, macs in layers():
        for kind in (case[0], *VARIANTS[case[0]]):
            if _takes(kind, case[4]):
                fn = FIRMWARE_KERNELS[kind][0] + (" (direct)" if kind == "fc_w16_direct" else "")
                runs.append((label, fn, (kind, *case[1:]), macs))
    # two firmwares (the AD01 FC rows apart): together their data would overflow the board's flash
    outs, instructions = [], []
    parts = ([r for r in runs if not r[0].startswith("AD01 FC")], [r for r in runs if r[0].startswith("AD01 FC")])
    runs = [*parts[0], *parts[1]]
    for part in parts:
        with tempfile.TemporaryDirectory(prefix="firmnet-kbench-") as tmp:
            elf = build_firmware(Path(tmp), firmware_main([case for _, _, case, _ in part]),
                                 sources=[*SOURCES, *(REPO / "runtime_c" / "src" / f"fn_conv2d_s8{v}.c"
                                                      for v in ("", "_dsp", "_w16_dsp")),
                                          REPO / "runtime_c" / "src" / "fn_fc_s8_w16_dsp.c"])
            o, n = run_firmware(elf, Path(tmp), len(part))
            outs += o
            instructions += n
    for (label, fn, case, _), got in zip(runs, outs):
        if got != reference(case).tobytes():
            print(f"{label} ({fn}): output differs from the reference", file=sys.stderr)
            return 1
    print("int8 kernels on mps2-an386 (QEMU -icount shift=0 + SysTick; arm-none-eabi-gcc -O2 "
          "-mcpu=cortex-m4), instructions per call\n")
    width = max(len(label) for label, _, _, _ in runs)
    kwidth = max(len(fn) for _, fn, _, _ in runs)
    print(f"{'layer'.ljust(width)}  {'kernel'.ljust(kwidth)}  {'MACs':>8}  {'instructions':>12}  {'instr/MAC':>9}")
    for (label, fn, _, macs), n in zip(runs, instructions):
        print(f"{label.ljust(width)}  {fn.ljust(kwidth)}  {macs:>8,}  {n:>12,}  {n / macs:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

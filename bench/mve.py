"""The Helium (MVE) kernels on the emulated Cortex-M55 (mps3-an547) against the DSP-extension
kernels on the emulated Cortex-M4 (mps2-an386): instructions per layer and per model.

Prints plain text tables (never asserts). Run from the repository root:

    python bench/mve.py

1. Per kernel: the layers of bench/kernels_qemu.py (KWS's 1x1 layer, also through the
   general conv, its first conv and depthwise layers, AD01's fully connected layers,
   ResNet-8's 3x3 layers), each through its MVE
   variant (runtime_c/include/fn_s8_mve.h) on mps3-an547, through the DSP variant the M4
   picks on mps2-an386, and the same DSP variant on mps3-an547 (the code the M55 ran before
   the MVE variants). Firmware: tests/support/mve_harness.py (M55) and
   tests/support/qemu_harness.py (M4), arm-none-eabi-gcc -O2; every output is checked
   against the numpy reference first. These figures are the cost coefficients of
   python/firmnet/kernels/*_mve.py.
2. Per model: KWS and AD01 (../shared/models) and a one-layer int8 Add of two 1x16x16x32
   tensors, compiled for each board (requant tflm) and run once in QEMU with the ANCHORS.md
   check input (for the Add, as both inputs), per-layer profile: instructions on mps3-an547
   and mps2-an386 and their ratio.
3. int8 elementwise per call on mps3-an547: Mul (TFLite's arithmetic) and the 256-entry table
   (TFLM's hard swish, logistic, tanh, a requantization) over 8,192 elements, each through its
   MVE variant (fn_mul_s8_mve, fn_lut_s8_mve) and its portable kernel (fn_mul_s8, fn_lut_s8),
   instructions and instructions per element. Firmware: tests/support/mve_eltwise_harness.py;
   every output is checked against the numpy reference first.

Instructions: QEMU -icount shift=0 counted with SysTick (to one tick: 31.25 instructions on
MPS3, 40 on MPS2). Instructions, not cycles.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from firmnet.kernels.params_conv_s8 import pack_depthwise_filter  # noqa: E402
from kernels_qemu import _takes, layers  # noqa: E402
from support import mve_harness as mh  # noqa: E402
from support.qemu_harness import FIRMWARE_KERNELS, SOURCES, build_firmware, firmware_main, run_firmware  # noqa: E402

SHARED = REPO.parent / "shared" / "models"
# layer kind -> (its MVE variant, the DSP variant the M4 runs it with)
PAIRS = {"1x1": ("1x1_mve", "1x1_dsp"), "conv": ("conv_mve", "conv_dsp"), "dw": ("dw_mve", "dw_rows_dsp"),
         "fc": ("fc_mve", "fc_dsp")}


def kernel_table(tmp: Path) -> list[str]:
    chosen = [(label, case, macs) for label, case, macs in layers()
              if case[0] in PAIRS and ("fn_conv2d_s8" not in label or label.startswith("KWS pointwise"))]
    m55_cases, m4_cases = [], []
    for label, case, macs in chosen:
        kind, x, w, bias, params, arrays, want = case
        packed = pack_depthwise_filter(w) if kind == "dw" else w
        mve, dsp = PAIRS[kind]
        dsp = dsp if _takes(dsp, params) else kind     # the portable kernel where the DSP variant does not fit
        m55_cases += [mh.encode(k, params, arrays, x, packed, bias, want.size) for k in (mve, dsp)]
        m4_cases.append((dsp, *case[1:]))

    elf = mh.build(tmp / "m55")
    m55 = mh.run(elf, tmp / "m55", m55_cases)
    m4_elf = build_firmware(tmp / "m4", firmware_main(m4_cases),
                            sources=[*SOURCES, *(REPO / "runtime_c" / "src" / f"fn_conv2d_s8{v}.c" for v in ("", "_dsp"))])
    m4_outs, m4_instr = run_firmware(m4_elf, tmp / "m4", len(m4_cases))
    rows = []
    for k, (label, case, macs) in enumerate(chosen):
        want = case[-1].tobytes()
        (s1, o1, n_mve), (s2, o2, n_dsp55) = m55[2 * k], m55[2 * k + 1]
        dsp_ok = s2 == 0 and o2 == want
        if s1 != 0 or o1 != want or m4_outs[k] != want:
            raise SystemExit(f"{label}: an output differs from the reference")
        mve_fn, dsp_fn = mh.KINDS[PAIRS[case[0]][0]][1], FIRMWARE_KERNELS[m4_cases[k][0]][0]
        rows.append(f"{label:26s} {mve_fn:28s} {macs:>8,} {n_mve:>10,} {n_mve / macs:>7.3f} "
                    f"{(f'{n_dsp55:,}' if dsp_ok else '-'):>10} {m4_instr[k]:>10,} {n_mve / m4_instr[k]:>6.3f}   "
                    f"({dsp_fn})")
    head = (f"{'layer':26s} {'MVE kernel':28s} {'MACs':>8} {'M55 MVE':>10} {'/MAC':>7} {'M55 DSP':>10} "
            f"{'M4 DSP':>10} {'ratio':>6}")
    return [head, *rows]


def model_table(tmp: Path) -> list[str]:
    from support.tflite_models import binary_model
    add = tmp / "add_16x16x32.tflite"
    add.write_bytes(binary_model(3, "ADD", shape_a=(1, 16, 16, 32), shape_b=(1, 16, 16, 32)))
    lines = []
    for model, path in (("kws_ref_model", SHARED / "kws_ref_model.tflite"), ("ad01_int8", SHARED / "ad01_int8.tflite"),
                        ("int8 Add 1x16x16x32 (tests/support/tflite_models.binary_model)", add)):
        runs = {}
        for board in ("mps3-an547", "mps2-an386"):
            cm = firmnet.compile(path, tmp / f"{path.stem}-{board}", board=board, name="m", requant="tflm")
            meta = qemu._meta(cm.out_dir)
            shape = meta["inputs"][0]["shape"]
            n = int(np.prod(shape))
            x = ((np.arange(n) * 7 + 3) % 256 - 128).astype(np.dtype(meta["inputs"][0]["dtype"])).reshape(shape)
            runs[board] = qemu.run(cm.out_dir, board, [x] * len(meta["inputs"]), profile=True)
        a, b = runs["mps3-an547"], runs["mps2-an386"]
        same = all(np.array_equal(p, q) for p, q in zip(a.outputs, b.outputs))
        lines.append(f"{model}: mps3-an547 {a.instructions:,} instructions, mps2-an386 {b.instructions:,} "
                     f"({a.instructions / b.instructions:.3f}x; outputs {'equal' if same else 'DIFFER'})")
        for la, lb in zip(a.layers, b.layers):
            ratio = f"{la['instructions'] / lb['instructions']:.3f}" if lb["instructions"] else "-"
            lines.append(f"  {la['index']:3d} {la['op']:9s} {la['kernel']:32s} {la['instructions']:>10,}   "
                         f"{lb['kernel']:32s} {lb['instructions']:>10,}  {ratio:>6}")
        lines.append("")
    return lines


def elementwise_table(tmp: Path) -> list[str]:
    """int8 Mul (TFLite's arithmetic) and the 256-entry table (TFLM's hard swish, logistic, tanh
    and a requantization) over 8,192 elements (1x16x16x32) on mps3-an547: the MVE variant and
    the portable kernel, instructions per element (tests/support/mve_eltwise_harness.py)."""
    from firmnet.kernels.params_elementwise_s8 import mul_s8_params
    from firmnet.reference import activation_s8, quantize_s8
    from firmnet.reference import elementwise_s8 as ref
    from support import mve_eltwise_harness as eh
    rng = np.random.default_rng(16)
    n = 16 * 16 * 32
    a, b = (rng.integers(-128, 128, n).astype(np.int8) for _ in range(2))
    a_q, b_q, y_q = (0.05, 3), (0.02, -7), (0.004, 11)
    rows = [("Mul", ("mul_mve", "mul"), dict(a=a, b=b, mul=mul_s8_params(a.shape, b.shape, a_q, b_q, y_q)),
             ref.mul_s8(a, b, a_q=a_q, b_q=b_q, y_q=y_q))]
    x_q = (0.05, -3)
    for label, fn, yq in (("hard swish", activation_s8.hard_swish_s8, (0.03, -90)),
                          ("logistic", activation_s8.logistic_s8, (1 / 256, -128)),
                          ("tanh", activation_s8.tanh_s8, (1 / 128, 0))):
        def f(v, fn=fn, yq=yq):
            return fn(v, input_scale=x_q[0], input_zero_point=x_q[1], output_scale=yq[0],
                      output_zero_point=yq[1]).astype(np.int8)
        rows.append((label, ("lut_mve", "lut"), dict(a=a, table=f(np.arange(-128, 128))), f(a)))
    table = quantize_s8.requantize_s8(np.arange(-128, 128), x_q=x_q, y_q=(0.07, 5))
    rows.append(("requantize", ("lut_mve", "lut"), dict(a=a, table=table),
                 quantize_s8.requantize_s8(a, x_q=x_q, y_q=(0.07, 5))))
    elf = eh.build(tmp / "eltwise")
    cases = [eh.encode(k, **case) for _, kinds, case, _ in rows for k in kinds]
    results = eh.run(elf, tmp / "eltwise", cases)
    out = ["| op (8,192 elements) | MVE kernel | M55 MVE | per element | M55 portable | per element | MVE / portable |",
           "|---|---|---|---|---|---|---|"]
    for k, (label, kinds, _, want) in enumerate(rows):
        (s1, o1, i1), (s2, o2, i2) = results[2 * k], results[2 * k + 1]
        for status, got in ((s1, o1), (s2, o2)):
            if status != 0 or not np.array_equal(np.frombuffer(got, np.int8), want.ravel()):
                raise SystemExit(f"{label}: status {status} or bytes differ from the reference")
        out.append(f"| {label} | {eh.KINDS[kinds[0]][1]} | {i1:,} | {i1 / n:.2f} | {i2:,} | {i2 / n:.2f} | "
                   f"{i1 / i2:.3f} |")
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="firmnet-mve-") as tmp:
        print("int8 kernels per call: MVE variant on mps3-an547 (Cortex-M55), the M4's DSP variant on\n"
              "mps3-an547 and on mps2-an386 (Cortex-M4); instructions (QEMU -icount shift=0 + SysTick);\n"
              "ratio = M55 MVE / M4 DSP\n")
        print("\n".join(kernel_table(Path(tmp))))
        print("\nWhole models (requant tflm, ANCHORS.md check input), per layer: mps3-an547 | mps2-an386 | ratio\n")
        print("\n".join(model_table(Path(tmp))))
        print("\nint8 elementwise per call on mps3-an547: MVE variant | portable kernel\n")
        print("\n".join(elementwise_table(Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

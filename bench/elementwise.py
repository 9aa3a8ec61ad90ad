"""Instructions per element of the int8 element-wise kernels on the emulated Cortex-M4F (mps2-an386).

Prints a plain text table (never asserts). Run from the repository root:

    python bench/elementwise.py

Each kernel runs once on 4,096 random int8 elements (ResNet-8's 8 x 8 x 64 residual ADD),
in one bare-metal firmware built by tests/support/qemu_elementwise.py (arm-none-eabi-gcc -O2
-mcpu=cortex-m4, DSP extension on); QEMU -icount shift=0 and SysTick count instructions
exactly (to one tick: 40 instructions). Every output is checked against the numpy reference
first. Rows:
  add/sub/mul        TFLM's arithmetic (requant mode tflm), both operands contiguous; "clamp":
                     a fused ReLU (act_min = the output zero point); "scalar b": b one value
  generic fn_add_s8  the generic loop (run in single and ort modes now), same layer in TFLM mode;
                     before this work it ran every TFLM add at 156.8 instructions per element
                     (its requant mode was switched per element)
  hard swish, logistic, tanh, requantize
                     fn_lut_s8 with the layer's 256-entry table (what the compiler emits),
                     beside TFLM's computing kernels (fn_hard_swish_s8, fn_logistic_s8,
                     fn_tanh_s8, fn_requantize_s8: "before")
  pad, concat        fn_pad (8 x 8 x 64 -> 10 x 10 x 64) and fn_concat (two 8 x 8 x 32 halves
                     along the channels): memcpy/memset runs, per output byte
"table B": the per-layer constant table (2 x 256 int32 for the table add, 256 int8 for a
lookup table); "code B": the kernel file's code (arm-none-eabi-size text of its object: all
its variants and modes; once per firmware).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

from firmnet.kernels.params_layout import concat_params, pad_params  # noqa: E402
from support.qemu_elementwise import Case, add_case, mul_case, run_cases, unary_attrs, unary_case  # noqa: E402
from support.tflite_models import quant_from_range  # noqa: E402

N = 4096


def cases() -> list[tuple[str, Case, int]]:
    rng = np.random.default_rng(0)
    shape = (1, 8, 8, 64)
    a = rng.integers(-128, 128, shape, dtype=np.int8)
    b = rng.integers(-128, 128, shape, dtype=np.int8)
    a_q, b_q, y_q = (0.043, -5), (0.061, 12), (0.09, -20)
    out = []
    for op in ("add", "sub"):
        kw = dict(a_q=a_q, b_q=b_q, y_q=y_q, op=op, mode="tflm")
        out.append((f"{op}", add_case(a, b, kw, table=True), 2048))
        out.append((f"{op}, clamp (ReLU)", add_case(a, b, dict(kw, act=(y_q[1], 127)), table=True), 2048))
        out.append((f"{op}, scalar b", add_case(a, b[:1, :1, :1, :1], kw, table=True), 2048))
        out.append((f"{op}, generic fn_add_s8", add_case(a, b, kw, table=False), 0))
    kw = dict(a_q=a_q, b_q=(1 / 256, -128), y_q=(0.02, 3), mode="tflm")
    out.append(("mul", mul_case(a, b, kw), 0))
    out.append(("mul, clamp (ReLU)", mul_case(a, b, dict(kw, act=(3, 127))), 0))
    out.append(("mul, scalar b", mul_case(a, b[:1, :1, :1, :1], kw), 0))
    out.append(("mul, single mode (generic loop)", mul_case(a, b, dict(kw, mode="single")), 0))
    x = a.reshape(-1)
    x_q = (0.05, -10)
    lo, hi = x_q[0] * (-128 - x_q[1]), x_q[0] * (127 - x_q[1])
    for kind, y in (("hard_swish", quant_from_range(-0.375, hi * min(max(hi + 3, 0), 6) / 6)),
                    ("sigmoid", (1 / 256, -128)), ("tanh", (1 / 128, 0)),
                    ("identity", quant_from_range(lo * 1.7, hi * 1.7))):
        attrs = unary_attrs(kind, x_q, y)
        name = "requantize" if kind == "identity" else kind.replace("_", " ")
        out.append((f"{name}: fn_lut_s8", unary_case(x, attrs), 256))
        out.append((f"{name} before", unary_case(x, attrs, computed=True), 0))
    pad = pad_params(shape, (0, 1, 1, 0), (0, 1, 1, 0), 1, b"\x00")
    padded = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out.append(("pad 8x8x64 -> 10x10x64", Case("fn_pad", "fn_pad_params", pad, (a,), padded), 0))
    halves = (a[..., :32].copy(), a[..., 32:].copy())
    cat = concat_params([h.shape for h in halves], 3, 1)
    out.append(("concat 2 x 8x8x32", Case("fn_concat", "fn_concat_params", cat, halves, a, input_array=True), 0))
    return out


def code_sizes(work: Path) -> dict[str, int]:
    """Code bytes of each kernel's object file (arm-none-eabi-size text: the whole .c file,
    every variant and mode of the kernel)."""
    sizes = {}
    for obj in work.glob("fn_*.o"):
        res = subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True)
        sizes[obj.stem] = int(res.stdout.splitlines()[1].split()[0])
    return sizes


def main() -> int:
    rows = cases()
    with tempfile.TemporaryDirectory(prefix="firmnet-eltwise-") as tmp:
        outs, instructions = run_cases(Path(tmp), [c for _, c, _ in rows])
        sizes = code_sizes(Path(tmp))
    print("int8 element-wise kernels on mps2-an386 (Cortex-M4F, QEMU -icount shift=0 + SysTick; "
          "arm-none-eabi-gcc -O2)\n")
    header = f"{'layer':<36} {'kernel':<18} {'elements':>8} {'instructions':>12} {'instr/elem':>10} " \
             f"{'table B':>8} {'code B':>7}"
    print(header)
    print("-" * len(header))
    for (name, case, table), out, n_instr in zip(rows, outs, instructions):
        if not np.array_equal(out, case.want):
            print(f"{name}: OUTPUT DIFFERS FROM THE REFERENCE", file=sys.stderr)
            return 1
        fn = case.function
        source = {"fn_requantize_s8": "fn_quantize_s8"}.get(fn, fn)      # the file that defines it
        print(f"{name:<36} {fn:<18} {case.want.size:>8,} {n_instr:>12,} {n_instr / case.want.size:>10.2f} "
              f"{table:>8,} {sizes.get(source, 0):>7,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

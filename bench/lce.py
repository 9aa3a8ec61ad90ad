"""Larq Compute Engine models on a microcontroller: each LCE fixture
(tests/fixtures/models/lce/*.tflite, written by LCE's converter) and the Larq-trained digits
BNN (examples/digits/larq_bnn.py; its first 8 test images) compiled for an emulated board
and run once per recorded input in QEMU: instructions of one inference, weight bytes, arena,
linked flash, the .tflite's size, and how the board's outputs compare with LCE's
interpreter (equal, or the largest difference).

    nice python bench/lce.py [--board mps2-an386]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import firmnet
from firmnet import qemu

REPO = Path(__file__).resolve().parents[1]
LCE = REPO / "tests" / "fixtures" / "models" / "lce"
DIGITS = REPO / "examples" / "digits" / "lce"
MODELS = {   # label: (.tflite, .npz of recorded inputs and LCE's outputs, their keys)
    **{name: (LCE / f"{name}.tflite", LCE / f"{name}.npz", "inputs", "outputs") for name in
       ("lce_bits", "lce_int8", "lce_int8_sign", "lce_int8_out", "lce_float", "lce_zero_pad", "lce_birealnet")},
    "digits_bnn (trained)": (DIGITS / "digits_bnn.lce.tflite", DIGITS / "digits_bnn.lce.npz", "x", "logits"),
}


def measure(name: str, board: str, work: Path) -> tuple:
    path, npz, x_key, y_key = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(path, work / path.stem, board=board, name="lce")
    recorded = np.load(npz)
    diffs, instructions, flash = [], [], 0
    for x, want in zip(recorded[x_key][:8], recorded[y_key][:8]):
        run = qemu.run(cm.out_dir, board, [x])
        instructions.append(run.instructions)
        flash = qemu.elf_sizes(run.elf)["flash"]
        diffs.append(float(np.abs(run.outputs[0].astype(np.float64) - want.astype(np.float64)).max()))
    binary = sum(layer["kernel"] in ("fn_bconv2d_b1", "fn_fc_b1") for layer in cm.report["layers"])
    versus = "equal" if max(diffs) == 0 else f"max |diff| {max(diffs):.3g}"
    return (name, binary, max(instructions), cm.report["weights_bytes"], cm.report["arena_bytes"], flash,
            path.stat().st_size, f"{versus} ({len(diffs)} inputs)")


def table(rows, columns) -> str:
    cells = [columns] + [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i in (0, len(columns) - 1) else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2-an386")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="firmnet-lce-") as tmp:
        rows = [measure(name, args.board, Path(tmp)) for name in MODELS]
    print(f"Larq Compute Engine models on {args.board} (QEMU instructions of one inference)")
    print(table(rows, ("model", "binary layers", "instructions", "weights B", "arena B", "flash B", ".tflite B",
                       "vs LCE's interpreter")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per model and emulated board: instructions per inference, flash, RAM and the planned arena.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/boards.py [--boards mps2-an386,...] [MODEL ...]

Without model arguments: the bundled example (float32 and int8) and the MLPerf Tiny models
in ../shared/models. Each model is compiled for each emulated board, cross-built with the
board's CMake toolchain file (arm-none-eabi-gcc -O2) and run once in QEMU.

Columns:
  instructions   guest instructions of one <name>_run(), counted with SysTick under
                 QEMU -icount shift=0 (exact to one tick: 40 instructions on MPS2, 31.25 on
                 MPS3; identical from run to run). Instructions, not cycles.
  instr/MAC      instructions / multiply-accumulates of the model
  flash          text + rodata + data of the firmware ELF (arm-none-eabi-size): code,
                 weights, startup and the example main with its semihosting I/O
  code           flash minus the model's weights (report weights_bytes: every constant the
                 generated C defines, i.e. the constant tensors, repacked filters, parameter
                 arrays and parameter structs; before 7a7b696 only the constant tensors)
  RAM            data + bss of the ELF: the arena plus a few bytes of the example main
  stack          measured stack high-water mark of the whole firmware (painted stack)
  arena          the planner's arena (<NAME>_ARENA_SIZE)

Beside them, TensorFlow Lite Micro's figures from ../shared/ANCHORS.md (same QEMU board
mps2-an386, same counting method): instructions per Invoke() with its reference kernels
and with CMSIS-NN, its arena on the M4 and its code flash without the model.

Inputs: the digits sample image (examples/digits/sample_input.npz); for the int8 .tflite
models the check vector of ANCHORS.md, byte i = (i*7 + 3) % 256 - 128.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from firmnet.boards import list_boards  # noqa: E402
from firmnet.ir import FirmnetError  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402

SHARED_MODELS = REPO.parent / "shared" / "models"
DIGITS = REPO / "examples" / "digits"
# ../shared/ANCHORS.md (tflite-micro 90b983c2, CMSIS-NN 4ab83cc3, QEMU mps2-an386).
TFLM = {
    "kws_ref_model": {"reference": 43_042_766, "cmsis_nn": 7_697_385, "arena": 22_772, "code": 49_500},
    "ad01_int8": {"reference": 1_952_408, "cmsis_nn": 582_969, "arena": 2_580, "code": 24_620},
}
TFLM_BOARD = "mps2-an386"
COLUMNS = ["model", "board", "MACs", "instructions", "instr/MAC", "flash", "code", "RAM", "stack", "arena"]


def default_models() -> list[Path]:
    return [DIGITS / "digits_cnn.onnx", DIGITS / "digits_cnn.int8.onnx", *sorted(SHARED_MODELS.glob("*.tflite"))]


def model_inputs(cm) -> list[np.ndarray]:
    g = cm.lowered_graph
    sample = np.load(DIGITS / "sample_input.npz")
    arrays = []
    for name in g.inputs:
        t = g.types[name]
        if t.shape == tuple(sample[sample.files[0]].shape):
            x = sample[sample.files[0]].astype(np.float32)
            if t.dtype == "int8":
                x = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
        elif t.dtype == "int8":
            x = ((np.arange(t.size) * 7 + 3) % 256 - 128).astype(np.int8).reshape(t.shape)
        else:
            x = np.random.default_rng(0).standard_normal(t.shape).astype(t.dtype)
        arrays.append(x)
    return arrays


def measure(path: Path, board: str, work: Path) -> list:
    name = path.stem.replace(".", "_")
    cm = firmnet.compile(path, work / f"{name}-{board}", board=board, name=name)
    result = qemu.run(cm.out_dir, board, model_inputs(cm))
    sizes = qemu.elf_sizes(result.elf, board)
    r = cm.report
    return [path.stem, board, r["macs"], result.instructions, result.instructions / max(r["macs"], 1),
            sizes["flash"], sizes["flash"] - r["weights_bytes"], sizes["ram"], result.stack_bytes, r["arena_bytes"]]


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows, columns) -> str:
    cells = [columns] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path)
    p.add_argument("--boards", default=",".join(b.name for b in list_boards() if b.emulated))
    args = p.parse_args(argv)
    models = args.models or default_models()
    boards = args.boards.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="firmnet-bench-") as tmp:
        for path in models:
            for board in boards:
                try:
                    rows.append(measure(path, board, Path(tmp)))
                except FirmnetError as exc:
                    print(f"{path.stem} on {board}: {exc}", file=sys.stderr)
    print("firmnet on the emulated boards (QEMU -icount shift=0 + SysTick; arm-none-eabi-gcc -O2)\n")
    print(table(rows, COLUMNS))
    tflm_rows = []
    for row in rows:
        t = TFLM.get(row[0])
        if t and row[1] == TFLM_BOARD:
            tflm_rows.append([row[0], row[3], t["reference"], t["cmsis_nn"], row[3] / t["cmsis_nn"],
                              row[9], t["arena"], row[6], t["code"]])
    if tflm_rows:
        print(f"\nbeside TensorFlow Lite Micro on {TFLM_BOARD} (../shared/ANCHORS.md)\n")
        print(table(tflm_rows, ["model", "firmnet instr", "TFLM ref instr", "TFLM+CMSIS-NN instr",
                                "firmnet/CMSIS-NN", "firmnet arena", "TFLM arena", "firmnet code",
                                "TFLM code"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

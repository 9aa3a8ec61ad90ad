"""Per model and emulated board: instructions per inference, flash, RAM and the planned arena.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/boards.py [--boards mps2-an386,...] [MODEL ...]
    python bench/boards.py --mlperf [--per-kernel] [--only AD01,KWS]

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

--mlperf: the issue-16 figures table instead: KWS and AD01 (../shared/models), int8 models with
the layer shapes of MLPerf Tiny's VWW and IC models (tests/support/mlperf_shapes.py vww_model,
resnet8_model: random weights, calibrated activations; ANCHORS.md's TFLM figures are for the
real models of those shapes) and a MobileNetV3-style model (mbv3_model: hard swish, squeeze-
excite, residual ADDs; no TFLM figure), all on mps2-an386, and KWS also on mps3-an547:
instructions, instr/MAC, code and weight flash (weights = report weights_bytes), arena, stack,
beside TFLM + CMSIS-NN's instructions and the ratio. --per-kernel adds, per model on
mps2-an386, the instructions per kernel (layer type), from a profile build (-DFIRMNET_PROFILE:
SysTick read after every layer, ~15 instructions per layer counted in the layer).

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
    "vww_96_int8": {"reference": 100_238_531, "cmsis_nn": 24_101_959, "arena": 100_660, "code": 49_500},
    "pretrainedResnet_quant": {"reference": 107_402_168, "cmsis_nn": 29_860_974, "arena": 54_996, "code": 47_308},
}
# --mlperf: (row name, ANCHORS.md model or None, where the model comes from, boards)
MLPERF = (("KWS", "kws_ref_model", "kws_ref_model.tflite", ("mps2-an386", "mps3-an547")),
          ("AD01", "ad01_int8", "ad01_int8.tflite", ("mps2-an386",)),
          ("VWW-shaped", "vww_96_int8", "vww_model", ("mps2-an386",)),
          ("IC-shaped", "pretrainedResnet_quant", "resnet8_model", ("mps2-an386",)),
          ("MobileNetV3-style", None, "mbv3_model", ("mps2-an386",)))
MLPERF_COLUMNS = ["model", "board", "MACs", "instructions", "instr/MAC", "code", "weights", "arena", "stack",
                  "TFLM+CMSIS-NN", "ratio"]
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


def mlperf_model(source: str, work: Path) -> Path:
    """The .tflite of an MLPERF row: a file of ../shared/models or a mlperf_shapes builder's model."""
    if source.endswith(".tflite"):
        return SHARED_MODELS / source
    sys.path.insert(0, str(REPO / "tests"))
    from support import mlperf_shapes
    path = work / f"{source.removesuffix('_model')}.tflite"
    path.write_bytes(getattr(mlperf_shapes, source)())
    return path


def per_kernel(cm, board: str) -> list[list]:
    """Rows (kernel, layers, MACs, elements, instructions, share, instr/MAC, instr/element) of one
    profiled inference, grouped by the layers' kernels, most instructions first."""
    result = qemu.run(cm.out_dir, board, model_inputs(cm), profile=True)
    shapes = {layer["index"]: layer.get("output") for layer in cm.report["layers"]}
    groups: dict[str, list[int]] = {}
    for layer in result.layers:
        g = groups.setdefault(layer["kernel"], [0, 0, 0, 0])
        g[0] += 1
        g[1] += layer["macs"]
        g[2] += int(np.prod(shapes.get(layer["index"]) or [0]))
        g[3] += layer["instructions"]
    total = sum(g[3] for g in groups.values()) or 1
    rows = [[k, n, macs, elems, instr, f"{100 * instr / total:.1f} %",
             f"{instr / macs:.2f}" if macs else "-", f"{instr / elems:.1f}" if elems else "-"]
            for k, (n, macs, elems, instr) in groups.items()]
    return sorted(rows, key=lambda r: -r[4])


def mlperf(args) -> int:
    rows, kernels = [], []
    with tempfile.TemporaryDirectory(prefix="firmnet-mlperf-") as tmp:
        work = Path(tmp)
        for label, anchor, source, boards in MLPERF:
            if args.only and label not in args.only.split(","):
                continue
            path = mlperf_model(source, work)
            for board in boards:
                cm = firmnet.compile(path, work / f"{path.stem}-{board}", board=board, name=path.stem)
                result = qemu.run(cm.out_dir, board, model_inputs(cm))
                r = cm.report
                code = qemu.elf_sizes(result.elf, board)["flash"] - r["weights_bytes"]
                t = TFLM.get(anchor) if board == TFLM_BOARD else None
                rows.append([label, board, r["macs"], result.instructions, result.instructions / max(r["macs"], 1),
                             code, r["weights_bytes"], r["arena_bytes"], result.stack_bytes,
                             t["cmsis_nn"] if t else "-", f"{result.instructions / t['cmsis_nn']:.2f}" if t else "-"])
                if args.per_kernel and board == TFLM_BOARD:
                    kernels.append((label, per_kernel(cm, board)))
    print("firmnet on the emulated boards, issue 16's models (QEMU -icount shift=0 + SysTick; "
          "arm-none-eabi-gcc -O2; TFLM + CMSIS-NN from ../shared/ANCHORS.md, mps2-an386)\n")
    print(table(rows, MLPERF_COLUMNS))
    for label, krows in kernels:
        print(f"\n{label} on {TFLM_BOARD}, per kernel (profile build)\n")
        print(table(krows, ["kernel", "layers", "MACs", "elements", "instructions", "share", "instr/MAC",
                            "instr/elem"]))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", type=Path)
    p.add_argument("--boards", default=",".join(b.name for b in list_boards() if b.emulated))
    p.add_argument("--mlperf", action="store_true", help="the issue-16 figures table (module docstring)")
    p.add_argument("--per-kernel", action="store_true", help="with --mlperf: instructions per kernel")
    p.add_argument("--only", default="", help="with --mlperf: these rows only (comma-separated labels, e.g. AD01)")
    args = p.parse_args(argv)
    if args.mlperf:
        return mlperf(args)
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

"""The compression table: one row per method or chain of methods on the digits CNN.

Rows: the float model; int8; int8 with 16-entry codebooks (4-bit indices, read by the
codebook kernels); pruned 50/80/90 % of the weights and fine-tuned
(pruned/*.ft.onnx, prune_finetune.py) then int8; half the filters removed (structured) and
fine-tuned, then int8; SVD of the fully connected layer at rank 6, float and int8; conv2 and
conv3 binary and fine-tuned (binary/, binary.py), with float and with int8 first and last
layers; the distilled student (distilled/, distill.py), float and int8. Each compressed model is made
here by `firmnet compress`'s pipeline (compress/pipeline.py, the same stages and options as
the command line), int8 calibrated on digits_calib.npz.

Columns, each measured: accuracy of the generated C on the 450 test images (host build;
int8 with --requant auto, i.e. onnxruntime's arithmetic on the host and on this FPU board),
weight bytes (every constant the C defines, for the board's ABI), MACs, and on the emulated
board (default mps2-an386, Cortex-M4F): the linked firmware's flash, the arena, and the
instructions of one inference in QEMU (`firmnet run`'s count).

Writes COMPRESSION.md next to this file and prints it. Run from the repository root:
    python examples/digits/compression_table.py [--board mps2-an386]
(needs firmnet[compress]; no torch: the fine-tuned, binary and distilled models are committed).
"""
from __future__ import annotations

import argparse
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx

import firmnet
from firmnet import qemu
from firmnet.boundary import to_c_inputs
from firmnet.cli import parser
from firmnet.compress import read_labels, read_samples
from firmnet.compress.evaluate import Evaluation, compiled_accuracy
from firmnet.compress.pipeline import run_stages

HERE = Path(__file__).resolve().parent
FLOAT = HERE / "digits_cnn.onnx"
INT8 = ("--quantize", "int8", "--calib", str(HERE / "digits_calib.npz"))
SVD_RANK = 6


@dataclass(frozen=True)
class Row:
    """A row: its method, the model it starts from, the `firmnet compress` flags applied to
    it (none: the model as it is) and the firmnet.compile options it is measured with."""
    method: str
    model: Path
    flags: tuple = ()
    compile: tuple = ()      # ((option, value), ...)


ROWS = (
    Row("float", FLOAT),
    Row("int8", FLOAT, INT8),
    Row("codebook 16 (4-bit indices) on int8", FLOAT, (*INT8, "--codebook", "16"), (("codebook_kernels", "on"),)),
    *(Row(f"pruned {s} % + fine-tune + int8", HERE / "pruned" / f"digits_cnn.p{s}.ft.onnx", INT8) for s in (50, 80, 90)),
    Row("structured: 50 % of filters + fine-tune + int8", HERE / "pruned" / "digits_cnn.s50.ft.onnx", INT8),
    Row(f"SVD of the fc layer, rank {SVD_RANK}", FLOAT, ("--svd-rank", str(SVD_RANK))),
    Row(f"SVD of the fc layer, rank {SVD_RANK} + int8", FLOAT, ("--svd-rank", str(SVD_RANK), *INT8)),
    Row("binary conv2, conv3 (+ fine-tune), float ends", HERE / "binary" / "digits_cnn.binary.onnx"),
    Row("binary conv2, conv3 (+ fine-tune), int8 ends", HERE / "binary" / "digits_cnn.binary.int8.onnx"),
    Row("distilled student (4/8/8 filters)", HERE / "distilled" / "student.onnx"),
    Row("distilled student + int8", HERE / "distilled" / "student.int8.onnx"),
)


def make(row: Row, work: Path) -> Path:
    """The row's model: its starting model through `firmnet compress` with its flags."""
    if not row.flags:
        return row.model
    out = work / f"row{ROWS.index(row)}.onnx"
    options = parser().parse_args(["compress", str(row.model), "-o", str(out), *row.flags])
    run_stages(row.model, out, options, log=None)
    return out


def measure(model: Path, options: dict, board: str, evaluation: Evaluation, work: Path) -> list[str]:
    """The row's cells: accuracy, weight bytes, MACs, flash, arena, instructions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = compiled_accuracy(firmnet.compile(model, work / f"{model.stem}-host", name="digits", **options),
                                evaluation)
        cm = firmnet.compile(model, work / model.stem, board=board, name="digits", **options)
    result = qemu.run(cm.out_dir, board, to_c_inputs(cm, [evaluation.samples[0]["input"]]))
    report = cm.report
    return [f"{acc:.2%}", f"{report['weights_bytes']:,}", f"{report['macs']:,}",
            f"{qemu.elf_sizes(result.elf, board)['flash']:,}", f"{report['arena_bytes']:,}",
            f"{result.instructions:,}"]


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--board", default="mps2-an386", help="emulated board (firmnet boards)")
    board = args.parse_args().board
    test = HERE / "digits_test.npz"
    samples = read_samples(test, onnx.load(FLOAT), what="evaluation")
    labels = read_labels(test)
    lines = [f"| method | accuracy (C, {len(samples)} images) | weight bytes | MACs | flash ({board}) | arena | "
             "instructions (QEMU) |", "|---|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="firmnet-compression-") as tmp:
        work = Path(tmp)
        for row in ROWS:
            cells = measure(make(row, work), dict(row.compile), board, Evaluation(samples, labels), work)
            lines.append(f"| {row.method} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    (HERE / "COMPRESSION.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The README's pruning table: the digits CNN at 0/50/80/90 % sparsity, without and with
fine-tuning, and with half its filters removed (structured).

Per model: test accuracy of the generated C (450 images) of the float model and of its int8
version (`firmnet compress --quantize int8`, calibrated on digits_calib.npz), then, for each,
the firmware's flash and the instructions of one inference on mps2-an386 (Cortex-M4F, QEMU,
as `firmnet run --board mps2-an386` reports them). Without fine-tuning the pruned models are
made here from digits_cnn.onnx (`firmnet compress --prune S`, `--prune-structured 0.5`); the
fine-tuned ones are pruned/*.ft.onnx from prune_finetune.py. Writes PRUNING.md and prints it.
Run from the repository root: python examples/digits/pruning_table.py (needs firmnet[compress];
no torch).
"""
from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx

import firmnet
from firmnet import qemu
from firmnet.boundary import to_c_inputs
from firmnet.compress import accuracy, prune, prune_structured, quantize_int8, read_labels, read_samples

HERE = Path(__file__).resolve().parent
BOARD = "mps2-an386"
SPARSITIES = (0.5, 0.8, 0.9)


def measure(model: Path, samples, labels, work: Path) -> tuple[float, int, int]:
    """(accuracy of the C, firmware flash bytes, instructions of one inference) of one model."""
    acc = accuracy(model, samples, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(model, work / model.stem, board=BOARD, name="digits")
    result = qemu.run(cm.out_dir, BOARD, to_c_inputs(cm, [samples[0]["input"]]))
    return acc, qemu.elf_sizes(result.elf, BOARD)["flash"], result.instructions


def models(work: Path) -> list[tuple[str, str, Path]]:
    """(pruning, fine-tuned, float model) for every row."""
    start = HERE / "digits_cnn.onnx"
    rows = [("none (dense)", "-", start)]
    for s in SPARSITIES:
        m = onnx.load(start)
        prune(m, s)
        onnx.save(m, work / f"digits_cnn.p{round(s * 100)}.onnx")
        rows.append((f"{s:.0%} of weights", "no", work / f"digits_cnn.p{round(s * 100)}.onnx"))
    for s in SPARSITIES:
        rows.append((f"{s:.0%} of weights", "yes", HERE / "pruned" / f"digits_cnn.p{round(s * 100)}.ft.onnx"))
    m = onnx.load(start)
    prune_structured(m, 0.5)
    onnx.save(m, work / "digits_cnn.s50.onnx")
    rows.append(("structured: 50 % of filters", "no", work / "digits_cnn.s50.onnx"))
    rows.append(("structured: 50 % of filters", "yes", HERE / "pruned" / "digits_cnn.s50.ft.onnx"))
    return rows


def main() -> None:
    test = HERE / "digits_test.npz"
    samples = read_samples(test, onnx.load(HERE / "digits_cnn.onnx"), what="evaluation")
    labels = read_labels(test)
    lines = ["| pruning | fine-tuned | weights | zero weights | float32 accuracy | int8 accuracy | float32 flash | "
             "float32 instructions | int8 flash | int8 instructions |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory(prefix="firmnet-pruning-") as tmp:
        work = Path(tmp)
        for what, tuned, model in models(work):
            int8 = work / (model.stem + ".int8.onnx")
            quantize_int8(model, HERE / "digits_calib.npz", int8)
            f_acc, f_flash, f_instr = measure(model, samples, labels, work)
            q_acc, q_flash, q_instr = measure(int8, samples, labels, work)
            weights = _weights(model)
            zeros = sum(int(np.sum(w == 0)) for w in weights) / sum(w.size for w in weights)
            lines.append(f"| {what} | {tuned} | {sum(w.size for w in weights):,} | {zeros:.1%} | {f_acc:.2%} | "
                         f"{q_acc:.2%} | {f_flash:,} B | {f_instr:,} | {q_flash:,} B | {q_instr:,} |")
            print(lines[-1], flush=True)
    (HERE / "PRUNING.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _weights(path: Path) -> list[np.ndarray]:
    """The Conv/Gemm weights of a float model."""
    model = onnx.load(path)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    return [inits[n.input[1]] for n in model.graph.node if n.op_type in ("Conv", "Gemm")]


if __name__ == "__main__":
    main()

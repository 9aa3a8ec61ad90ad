"""SVD low rank on AD01-sized fully connected layers: instructions against the rank, and the
rank at which they halve, with its reconstruction error.

Layers: AD01's 640 -> 128 fully connected layer and its 128 -> 128 hidden ones (MLPerf Tiny
anomaly detection), int8 and float, on an emulated board (default mps2-an386, Cortex-M4F).
Per rank, a one-layer model (seeded standard-normal weights x 0.05, bias) is factorized by
firmnet.compress.svd (`firmnet compress --svd-rank R`), int8 through
firmnet.compress.quantize_int8 (16 standard-normal calibration inputs), compiled with
--requant tflm, cross-built (arm-none-eabi-gcc -O2) and run once in QEMU with the per-layer
profile (firmnet/qemu.py); the figure is the sum over the layer's one or two steps (the
input's quantization is not counted). "Halves at": the largest rank whose instructions are at
most half the dense layer's, found by fitting instructions = a + b r to the measured ranks and
then measured itself.

The reconstruction error ‖W − W_r‖_F / ‖W‖_F is that of these random weights, whose singular
values are nearly flat: the worst case. Trained layers concentrate their energy in fewer
singular values (the digits CNN's fully connected layer keeps 90 % of it at rank 9 of 10), so
at the same rank their error is lower; the instructions depend only on the shapes.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/svd.py [--board mps2-an386]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from firmnet.compress.svd import svd  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402
from support.sparse_models import write  # noqa: E402

LAYERS = {"AD01 FC 640->128": (128, 640, (16, 32, 48, 64, 80, 96)),
          "AD01 FC 128->128": (128, 128, (8, 16, 24, 32, 40, 48, 56))}


def layer_model(m: int, n: int, rank: int | None, seed: int = 0) -> tuple[onnx.ModelProto, float | None]:
    """The m x n layer (Gemm, weight m x n), factorized at rank (None: dense), and its error."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, n)) * 0.05).astype(np.float32)
    b = (rng.standard_normal(m) * 0.1).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", transB=1)], "svd_bench",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, m])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if rank is None:
        return model, None
    (row,) = svd(model, rank=rank)
    return model, row.error


def instructions(path: Path, board: str, work: Path) -> int:
    """Instructions of the layer's steps (fc, fc/svd) in one profiled QEMU run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(path, work / f"{path.stem}-{board}", board=board, name="bench", requant="tflm")
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[0]]
    x = np.random.default_rng(5).standard_normal(t.shape).astype(np.float32)
    if t.dtype == "int8":
        x = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
    run = qemu.run(cm.out_dir, board, [x], profile=True)
    layers = {node.name for node in cm.lowered_graph.nodes if node.op == "dense"}
    return sum(layer["instructions"] for layer in run.layers if layer["name"] in layers)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="mps2-an386")
    board = p.parse_args(argv).board
    rows, halves = [], []
    with tempfile.TemporaryDirectory(prefix="firmnet-svd-") as tmp:
        work = Path(tmp)

        def measure(label, dtype, m, n, rank):
            model, error = layer_model(m, n, rank)
            path = write(model, work / f"{label.split()[-1].replace('->', '_')}_{dtype}_{rank or 'dense'}.onnx",
                         dtype == "int8")
            count = instructions(path, board, work)
            params = m * n if rank is None else rank * (m + n)
            return count, params, error

        for label, (m, n, ranks) in LAYERS.items():
            for dtype in ("int8", "float"):
                dense, params, _ = measure(label, dtype, m, n, None)
                rows.append([label, dtype, "dense", params, dense, 1.0, "-"])
                points = []
                for r in ranks:
                    count, params, error = measure(label, dtype, m, n, r)
                    points.append((r, count))
                    rows.append([label, dtype, r, params, count, count / dense, f"{error:.3f}"])
                b, a = np.polyfit([r for r, _ in points], [c for _, c in points], 1)
                r = int(np.floor((dense / 2 - a) / b))
                count, _, error = measure(label, dtype, m, n, r)
                while count > dense / 2 and r > 1:      # the fit's rank, measured: step down if above half,
                    r -= 1
                    count, _, error = measure(label, dtype, m, n, r)
                while True:                             # and up while the next rank stays under it
                    above = measure(label, dtype, m, n, r + 1)
                    if above[0] > dense / 2:
                        break
                    r, (count, _, error) = r + 1, above
                halves.append(f"{label} {dtype}: dense {dense:,} instructions; rank {r}: {count:,} "
                              f"({count / dense:.2f}x), {r * (m + n):,} of {m * n:,} parameters, error {error:.3f}")
    cells = [["layer", "dtype", "rank", "params", "instructions", "vs dense", "error"]]
    cells += [[str(c) if not isinstance(c, (int, float)) or isinstance(c, bool) else
               f"{c:,}" if isinstance(c, int) else f"{c:.2f}" for c in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    print(f"SVD low rank on {board} (QEMU -icount shift=0 + SysTick, per-layer profile; arm-none-eabi-gcc -O2; "
          "--requant tflm); error = |W - W_r|_F / |W|_F of seeded random weights\n")
    for k, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("\ninstructions halve at (the largest such rank, measured):")
    for line in halves:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What onnxruntime's arithmetic (--requant ort) adds per output to each int8 conv/dense
variant: the figures of python/firmnet/kernels/_ort_stage.py.

Prints plain text tables (never asserts). Run from the repository root:

    nice python bench/ort_stage.py [--board mps2-an386] [--only SUBSTRING]

For each model of bench/requant_cost.py, every int8 conv/dense variant that can run some of
its layers is forced on all of them (--kernel) and the model is compiled twice, --requant
tflm and --requant ort, and run once each in QEMU with the per-layer profile. Per layer: the
instructions in both modes and (ort - tflm) / outputs; then per variant the median of that
over the layers. `--board mps3-an547 --only mve` measures the MVE variants (the table's last
four rows). About 5 minutes on mps2-an386.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from support.paths import FIXTURES  # noqa: E402

MODELS = {"digits": REPO / "examples" / "digits" / "digits_cnn.int8.onnx", "lenet5": FIXTURES / "lenet5.qdq.onnx",
          "resnet_tiny": FIXTURES / "resnet_tiny.qdq.onnx", "mobilenet_tiny": FIXTURES / "mobilenet_tiny.qdq.onnx",
          "squeezenet_tiny": FIXTURES / "squeezenet_tiny.qdq.onnx"}


def profile(model: Path, board: str, requant: str, kernels: dict, work: Path) -> tuple[dict, dict]:
    """(the report's layers by name, each layer's instructions) of one QEMU run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(model, work, board=board, name="m", requant=requant, kernels=kernels)
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[0]]
    rng = np.random.default_rng(0)
    x = (rng.integers(-128, 128, t.shape).astype(np.int8) if t.dtype == "int8"
         else rng.standard_normal(t.shape).astype(np.float32))
    run = qemu.run(cm.out_dir, board, [x], profile=True)
    return {l["name"]: l for l in cm.report["layers"]}, {l["name"]: l["instructions"] for l in run.layers}


def runnable(layer: dict) -> set[str]:
    """The int8 variants that can run the layer (chosen or rejected as slower), but the codebook ones."""
    names = {layer["kernel"]} | {r["kernel"] for r in layer["rejected"] if r.get("runs")}
    return {k for k in names if "_s8" in k and "codebook" not in k}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--only", default="", help="only the variants whose name contains this")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="firmnet-ort-") as tmp:
        work = Path(tmp)
        for name, model in MODELS.items():
            layers, _ = profile(model, args.board, "ort", {}, work / f"{name}-auto")
            layers = {n: l for n, l in layers.items() if l["op"] in ("conv2d", "dense") and l["dtype"] == "int8"}
            variants = sorted(k for k in set().union(*(runnable(l) for l in layers.values())) if args.only in k)
            for k in variants:
                forced = {n: k for n, l in layers.items() if k in runnable(l)}
                _, tflm = profile(model, args.board, "tflm", forced, work / f"{name}-{k}-tflm")
                report, ort = profile(model, args.board, "ort", forced, work / f"{name}-{k}-ort")
                for n in forced:
                    outputs = int(np.prod(report[n]["output"]))
                    rows.append((name, n, k, outputs, tflm[n], ort[n], (ort[n] - tflm[n]) / outputs))
    print(f"ORT stage per output on {args.board} (QEMU instructions of each layer, --requant tflm and ort)\n")
    print(f"{'model':16s} {'layer':36s} {'variant':34s} {'outputs':>7s} {'tflm':>9s} {'ort':>9s} {'extra/out':>9s}")
    for name, n, k, outputs, t, o, e in rows:
        print(f"{name:16s} {n:36s} {k:34s} {outputs:7,d} {t:9,d} {o:9,d} {e:9.2f}")
    print("\nmedian per variant (kernels/_ort_stage.py PER_OUTPUT)\n")
    for k in sorted({r[2] for r in rows}):
        extras = [r[6] for r in rows if r[2] == k]
        print(f"{k:34s} {np.median(extras):7.1f}   ({len(extras)} layers, {min(extras):.1f} .. {max(extras):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

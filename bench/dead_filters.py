"""Dead filters on mps2-an386: a MobileNet-style int8 model with about a third of its filters
all-zero, compiled with and without the dead-channel pass (python/firmnet/passes/dead_channels.py).

Prints a table (never asserts). Run from the repository root:

    python bench/dead_filters.py [--board mps2-an386] [--size 32]

The model (tests/support/dead_filters.py): a 3x3 stride-2 conv, four depthwise-separable
blocks (3x3 depthwise with padding, ReLU; 1x1 pointwise, ReLU; two of them stride 2), global
average pooling and a fully connected classifier, on a size x size x 3 input, quantized by
onnxruntime's quantize_static (QDQ, int8, per-channel weights) after a third of the filters of
every conv layer (depthwise included, the classifier not) were zeroed. Dead biases: random
(both signs), or all negative (after ReLU the channel is the zero point: every dead filter
goes) or all positive (a constant that a padded depthwise conv makes position-dependent: those
stay). No max pooling: a QDQ MaxPool whose output scale differs from its input's fails the
IR check (known issue).

channel_align=4 (the default on boards with the DSP extension) keeps the first few dead channels
where a multiple of 4 would otherwise become another count (passes/dead_channels.py rule 4);
--channel-counts measures single layers with 20..24 channels, the figures behind that rule.

Columns: MACs and weight bytes from the compile report (weight bytes: every constant the C
defines), instructions of one inference in QEMU (-icount shift=0 + SysTick, bench/boards.py's
method), and the C outputs of both builds compared byte for byte.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402
from support.dead_filters import float_model, qdq_model  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from boards import table  # noqa: E402

BLOCKS = [(32, 1), (64, 2), (64, 1), (128, 2)]   # pointwise filters, depthwise stride


def mobilenet_layers():
    layers = [("conv", 16, 3, 2, 1)]
    for filters, stride in BLOCKS:
        layers += [("dw", 3, stride, 1), ("conv", filters, 1, 1, 0)]
    return layers + [("gap",), ("flatten",), ("fc", 10, False)]


def dead_third(layers, seed=3) -> dict:
    """A third of the filters of every conv layer, drawn at random (the classifier keeps all);
    a depthwise layer has as many filters as the layer before has outputs."""
    rng = np.random.default_rng(seed)
    dead, channels = {}, 3
    for i, spec in enumerate(layers):
        if spec[0] in ("conv", "dw"):
            channels = spec[1] if spec[0] == "conv" else channels
            dead[i] = sorted(rng.choice(channels, channels // 3, replace=False).tolist())
    return dead


def measure(model, board, work: Path, name: str, dead_channels: bool, x, align=None) -> dict:
    cm = firmnet.compile(model, work / name, board=board, name="mbnet", requant="tflm",
                         dead_channels=dead_channels, channel_align=align)
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[0]]
    xq = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
    run = qemu.run(cm.out_dir, board, [xq])
    r = cm.report
    return {"macs": r["macs"], "weights": r["weights_bytes"], "instructions": run.instructions,
            "output": run.outputs[0], "filters": sum(cm.lowered_graph.types[n.inputs[1]].shape[0]
                                                     for n in cm.lowered_graph.nodes if n.op in ("conv2d", "dense"))}


def channel_counts(board, work: Path) -> list:
    """Instructions of single int8 layers over output (or depthwise) channel counts 20..24, to see
    whether the DSP kernels want multiples of 4 (then keeping a few dead channels could pay)."""
    rows = []
    for kind, spec, shape in (("1x1 conv 64->C, 16x16", lambda c: ("conv", c, 1, 1, 0), lambda c: (1, 64, 16, 16)),
                              ("3x3 depthwise xC, 16x16", lambda c: ("dw", 3, 1, 1), lambda c: (1, c, 16, 16)),
                              ("1x1 conv C->64, 16x16", lambda c: ("conv", 64, 1, 1, 0), lambda c: (1, c, 16, 16))):
        for c in range(20, 25):
            model = qdq_model(float_model([spec(c)], shape(c)), shape(c), work)
            x = np.random.default_rng(0).standard_normal(shape(c)).astype(np.float32)
            m = measure(model, board, work, f"count-{c}", True, x)
            rows.append([kind, c, m["macs"], m["instructions"], m["instructions"] / m["macs"]])
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--channel-counts", action="store_true",
                   help="also time single layers with 20..24 channels (do multiples of 4 run faster?)")
    args = p.parse_args(argv)
    shape = (1, 3, args.size, args.size)
    layers = mobilenet_layers()
    dead = dead_third(layers)
    rows = []
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="firmnet-dead-") as tmp:
        work = Path(tmp)
        for label, dead_bias in (("random", None), ("negative", -0.5), ("positive", 0.5)):
            model = qdq_model(float_model(layers, shape, dead, dead_bias=dead_bias), shape, work)
            off = measure(model, args.board, work, f"{label}-off", False, x)
            runs = [("kept (--keep-dead-channels)", off),
                    ("removed, channel_align=1", measure(model, args.board, work, f"{label}-1", True, x, 1)),
                    ("removed, channel_align=4", measure(model, args.board, work, f"{label}-4", True, x, 4))]
            for what, m in runs:
                same = "yes" if np.array_equal(off["output"], m["output"]) else "NO"
                rows.append([label, what, m["filters"], m["macs"], m["weights"], m["instructions"],
                             m["instructions"] / off["instructions"], same])
        counts = channel_counts(args.board, work) if args.channel_counts else []
    print(f"MobileNet-style int8 model, input {args.size}x{args.size}x3, on {args.board}: "
          f"{sum(len(v) for v in dead.values())} of the {rows[0][2]} filters (conv, depthwise and fully connected) "
          f"are dead (--requant tflm)\n")
    print(table(rows, ["dead biases", "dead channels", "filters", "MACs", "weights B", "instructions",
                       "vs kept", "same bytes"]))
    if counts:
        print(f"\nsingle int8 layers on {args.board} by channel count\n")
        print(table(counts, ["layer", "C", "MACs", "instructions", "instr/MAC"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

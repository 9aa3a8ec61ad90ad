"""Winograd F(2x2,3x3) int8 convolutions on mps2-an386: MLPerf Tiny's ResNet-8 shapes compiled with
--winograd off, auto and on.

Prints tables (never asserts). Run from the repository root:

    nice python bench/winograd.py [--board mps2-an386] [--seed 0]

The model: tests/support/mlperf_shapes.py resnet8_model (int8 TFLite, random weights, activations
calibrated with TFLM; 12.5 M MACs). Each build runs one inference in QEMU with the profile build
(-icount shift=0 + SysTick per step, firmnet.qemu.run(profile=True)) on the same random input;
the outputs of the three builds are compared byte for byte.

Table 1, per 3x3 stride-1 layer: MACs, the direct kernel (--winograd off) and its instructions,
the Winograd kernel (--winograd on) and its instructions, direct / Winograd, and the weight bytes
of both (report.json's per-layer weight_bytes: the int8 OHWI filter against the int16 transformed
one, with the bias and parameters). Table 2, the whole model: instructions of one inference, the
linked firmware's flash (code + weights), weights and arena, for each mode.
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
sys.path.insert(0, str(REPO / "bench"))

import firmnet  # noqa: E402
from boards import table  # noqa: E402
from firmnet import qemu  # noqa: E402
from support.mlperf_shapes import resnet8_model  # noqa: E402

MODES = ("off", "auto", "on")


def build(model: Path, work: Path, board: str, mode: str, x) -> dict:
    cm = firmnet.compile(str(model), work / mode, board=board, name="resnet8", winograd=mode)
    run = qemu.run(cm.out_dir, board, [x], profile=True)
    plain = qemu.run(cm.out_dir, board, [x])
    sizes = qemu.elf_sizes(qemu.build(cm.out_dir, board), board)
    return {"report": cm.report, "graph": cm.lowered_graph, "layers": run.layers, "instructions": plain.instructions,
            "output": plain.outputs[0], "flash": sizes["flash"]}


def winograd_layers(graph) -> list:
    """The 3x3 stride-1 convolutions (one group) of the compiled graph."""
    out = []
    for node in graph.nodes:
        a = node.attrs
        if node.op == "conv2d" and a.groups == 1 and a.strides == (1, 1) and \
                graph.types[node.inputs[1]].shape[1:3] == (3, 3):
            out.append(node.name)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="mps2-an386")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="firmnet-winograd-") as tmp:
        work = Path(tmp)
        model = work / "resnet8.tflite"
        model.write_bytes(resnet8_model(args.seed))
        g = firmnet.load(str(model))
        t = g.types[g.inputs[0]]
        x = np.random.default_rng(args.seed).integers(-128, 128, t.shape).astype(np.int8)
        runs = {mode: build(model, work, args.board, mode, x) for mode in MODES}
    same = all(np.array_equal(runs[m]["output"], runs["off"]["output"]) for m in MODES)
    off, on = runs["off"], runs["on"]
    by_name = {mode: {l["name"]: l for l in runs[mode]["report"]["layers"]} for mode in MODES}
    prof = {mode: {l["name"]: l for l in runs[mode]["layers"]} for mode in MODES}
    rows = []
    for name in winograd_layers(off["graph"]):
        d, w = by_name["off"][name], by_name["on"][name]
        n_in = off["graph"].types[next(n for n in off["graph"].nodes if n.name == name).inputs[0]].shape
        shape = f"{n_in[1]}x{n_in[2]} {n_in[3]}->{d['output'][3]}"
        di, wi = prof["off"][name]["instructions"], prof["on"][name]["instructions"]
        rows.append([name, shape, d["macs"], d["kernel"], di, w["kernel"], wi, f"{di / wi:.2f}x", d["weight_bytes"],
                     w["weight_bytes"], by_name["auto"][name]["kernel"]])
    print(f"ResNet-8 (MLPerf Tiny IC shapes, int8) on {args.board}: 3x3 stride-1 layers, instructions per call\n")
    print(table(rows, ["layer", "shape", "MACs", "direct (off)", "instructions", "Winograd (on)", "instructions",
                       "direct/Wino", "weights B", "Wino weights B", "auto picks"]))
    print()
    totals = [[mode, runs[mode]["instructions"], runs[mode]["report"]["macs"],
               f"{runs[mode]['instructions'] / runs[mode]['report']['macs']:.3f}", runs[mode]["flash"],
               runs[mode]["report"]["weights_bytes"], runs[mode]["report"]["arena_bytes"]] for mode in MODES]
    print("ResNet-8 end to end, one inference:\n")
    print(table(totals, ["--winograd", "instructions", "MACs", "instr/MAC", "flash B", "weights B", "arena B"]))
    print(f"\noutputs of the three builds byte-identical: {'yes' if same else 'NO'}")
    print(f"instructions off / auto: {off['instructions'] / runs['auto']['instructions']:.2f}x, "
          f"off / on: {off['instructions'] / on['instructions']:.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""Patch-based execution (firmnet/patches.py, --patches CUT:BANDS): the arena (scratch
included) without and with row bands, the recomputed MACs, and the instructions of one
inference on an emulated board (QEMU's instruction counter, firmnet.qemu.run, -icount).

Prints a plain text table (never asserts). Run from the repository root:

    python bench/patches.py [--board mps2-an386]

Models: the VWW-shaped MobileNetV1 0.25 (96x96x3) and the IC-shaped ResNet-8 (32x32x3) of
tests/support/mlperf_shapes.py, on one seeded random input; the output bytes of every
patched run are compared with the whole-tensor run's and printed. "auto" is --patches auto
(--max-recompute 0.2): its row names the cut and bands chosen, and "lean" when the band layers
that read the input run a kernel of less scratch (compiler.lean_kernels).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import firmnet  # noqa: E402
from boards import table  # noqa: E402
from firmnet import qemu  # noqa: E402
from support.mlperf_shapes import resnet8_model, vww_model  # noqa: E402

CASES = {   # model: the --patches specs measured (auto: the row shows the cut and bands it chose)
    "VWW-shaped": ["dw2/out:8", "pw2/out:8", "pw2/out:12", "pw2/out:24", "auto"],
    "IC-shaped (ResNet-8)": ["conv0/out:4", "auto"],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2-an386", help="an emulated board, or host (arena only)")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, model in (("VWW-shaped", vww_model()), ("IC-shaped (ResNet-8)", resnet8_model(0))):
            path = work / f"{len(rows)}.tflite"
            path.write_bytes(model)
            base = None
            for spec in ["off"] + CASES[name]:
                cm = firmnet.compile(path, work / f"{len(rows)}_{spec.replace('/', '_').replace(':', '_')}",
                                     board=args.board, name="m", patches=spec)
                r = cm.report
                g = cm.lowered_graph
                x = np.random.default_rng(3).integers(-128, 128, g.types[g.inputs[0]].shape, dtype=np.int8)
                run = qemu.run(cm.out_dir, args.board, [x]) if args.board != "host" else None
                if spec == "off":
                    base = (r, run)
                recomputed = r["patches"]["recomputed_macs"] if "patches" in r else 0
                label = spec
                if spec == "auto":
                    p = r.get("patches")
                    label = "auto: off" if p is None else f"auto: {p['cut']}:{p['bands']}" + \
                        (f" lean {len(p['lean_kernels'])}" if p.get("lean_kernels") else "")
                row = [name, label, f"{r['arena_bytes']:,}", f"{r['macs']:,}", f"{recomputed:,}",
                       f"{100.0 * recomputed / base[0]['macs']:.1f} %"]
                if run is None:
                    row += ["-", "-", "-"]
                else:
                    cost = 100.0 * (run.instructions - base[1].instructions) / base[1].instructions
                    same = all(np.array_equal(a, b) for a, b in zip(run.outputs, base[1].outputs))
                    row += [f"{run.instructions:,}", f"{cost:+.2f} %", "same" if same else "DIFFER"]
                rows.append(row)
    print(f"--patches: arena (bytes, scratch included), MACs and instructions of one inference on {args.board}\n")
    print(table(rows, ["model", "--patches", "arena", "MACs", "recomputed MACs", "of the model",
                       "instructions", "cost", "outputs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

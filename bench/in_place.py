"""In-place execution (firmnet/in_place.py, --in-place on|off): the arena (scratch included)
and the instructions of one inference with it off and on, per model and board.

Prints plain text tables (never asserts). Run from the repository root:

    python bench/in_place.py [--boards host,mps2-an386]

Models: MLPerf Tiny's KWS and AD01 (../shared/models) and the IC-shaped ResNet-8
(tests/support/mlperf_shapes.py), with the default Winograd kernels and with --winograd off
(the direct and CSR 3x3 kernels). The rows "the host's kernels" force on the board the kernels the
host build selects (portable C: the depthwise, CSR and direct convolutions in_place.py declares),
so that their in-place cost is measured on the board's CPU. Instructions come from QEMU's instruction counter
(firmnet.qemu.run, -icount) on the board's firmware, on one seeded random input; host
rows give the arena only. The output bytes of both runs are compared and printed.
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
from support.mlperf_shapes import resnet8_model  # noqa: E402

SHARED_MODELS = REPO.parent / "shared" / "models"


def models(work: Path) -> list[tuple[str, Path, dict]]:
    ic = work / "ic_resnet8.tflite"
    ic.write_bytes(resnet8_model(0))
    kws = SHARED_MODELS / "kws_ref_model.tflite"
    return [("KWS", kws, {}),
            ("KWS, the host's kernels", kws, {"kernels": host_kernels(kws, {})}),
            ("AD01", SHARED_MODELS / "ad01_int8.tflite", {}),
            ("IC-shaped (ResNet-8)", ic, {}),
            ("IC-shaped, --winograd off", ic, {"winograd": "off"}),
            ("IC-shaped, the host's kernels", ic, {"winograd": "off", "kernels": host_kernels(ic, {"winograd": "off"})})]


def host_kernels(path: Path, options: dict) -> dict:
    """{layer: kernel} of the host compile (portable kernels), to force them on a board."""
    report = firmnet.compile(path, "unused", name="m", write=False, **options).report
    return {layer["name"]: layer["kernel"] for layer in report["layers"]
            if str(layer.get("kernel")).startswith(("fn_conv", "fn_depthwise", "fn_fc"))}


def measure(name: str, path: Path, options: dict, board: str, work: Path) -> list:
    runs = {}
    for mode in ("off", "on"):
        safe = "".join(ch if ch.isalnum() else "_" for ch in name)
        cm = firmnet.compile(path, work / f"{safe}_{board}_{mode}", board=board, name="m", in_place=mode,
                             **options)
        x = np.random.default_rng(3).integers(-128, 128, cm.lowered_graph.types[cm.lowered_graph.inputs[0]].shape,
                                              dtype=np.int8)
        run = qemu.run(cm.out_dir, board, [x]) if board != "host" else None
        runs[mode] = (cm.report, run)
    (r_off, run_off), (r_on, run_on) = runs["off"], runs["on"]
    row = [name, board, f"{r_off['arena_bytes']:,}", f"{r_on['arena_bytes']:,}", f"{r_on['lower_bound_bytes']:,}",
           f"{r_on['live_set_bound_bytes']:,}", len(r_on["in_place"]["layers"])]
    if run_off is None:
        return row + ["-", "-", "-", "-"]
    same = all(np.array_equal(a, b) for a, b in zip(run_off.outputs, run_on.outputs))
    cost = 100.0 * (run_on.instructions - run_off.instructions) / run_off.instructions
    return row + [f"{run_off.instructions:,}", f"{run_on.instructions:,}", f"{cost:+.2f} %",
                  "same" if same else "DIFFER"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default="host,mps2-an386")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path, options in models(work):
            for board in args.boards.split(","):
                if "kernels" in options and board == "host":
                    continue    # the same as the plain host row
                rows.append(measure(name, path, options, board, work))
    print("In place off -> on: arena (bytes, scratch included) and instructions of one inference\n")
    print(table(rows, ["model", "board", "arena off", "arena on", "bound (in place)", "live-set bound",
                       "layers in place", "instructions off", "instructions on", "cost", "outputs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

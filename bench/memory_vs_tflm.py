"""Memory: firmnet's planned arena next to TensorFlow Lite Micro's, per int8 .tflite model.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/memory_vs_tflm.py [MODEL.tflite ...]

Without arguments: the MLPerf Tiny models in ../shared/models, the VWW-shaped and IC-shaped
models of tests/support/mlperf_shapes.py (MLPerf Tiny's shapes, random weights) and the
bundled example's int8 version (skipped when it is .onnx: TFLM reads .tflite only).

Columns:
  firmnet arena   <NAME>_ARENA_SIZE of the generated C: every tensor, the model's input and
                  output included (as TFLM's head), kernel scratch too; compare it with TFLM
                  head. In place on (the default: layers write over their input where
                  firmnet/in_place.py allows it)
  in place off    the same with --in-place off (every live tensor apart)
  patches auto    the arena with --patches auto (--max-recompute 0.2: the first layers run in
                  row bands, halo rows recomputed), with the recomputed MACs as a share of
                  the model's (the cut and bands chosen are listed under the table); "-" when
                  no patches beat the arena without (the firmnet arena column: no patches)
  io tensors      bytes of the input and output tensors (inside the arena; they may share space)
  lower bound     the bound of the execution model used (in place: a layer's output and the
                  input it overwrites count once)
  live-set bound  the classic bound of firmnet's schedule (max bytes alive at one step)
  firmnet weights const bytes of the generated C (weights, biases, requantization tables)
  TFLM head       TFLM's planned non-persistent memory: activation tensors (input and
                  output included) and kernel scratch buffers
  TFLM tail       TFLM's persistent allocations (tensor structs, op data, node structs);
                  sized with the host's 64-bit pointers, smaller on a 32-bit MCU
  TFLM total      head + tail: the arena TFLM needs on this host
  TFLM weights    bytes of constant tensor data in the .tflite flatbuffer

TFLM's figures come from its Python interpreter (the `tflite-micro` package): after one
invoke, Interpreter.print_allocations() prints the RecordingMicroAllocator's
"Arena allocation total/head/tail" lines to stderr, which tests/support/tflite_oracle.tflm_arena
captures (fd 2) and parses.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
from support.tflite_oracle import tflm_arena, weights_bytes  # noqa: E402

SHARED_MODELS = REPO.parent / "shared" / "models"
EXAMPLE_INT8 = REPO / "examples" / "digits" / "digits_cnn.int8.onnx"
COLUMNS = ["model", "firmnet arena", "in place off", "patches auto", "io tensors", "lower bound", "live-set bound",
           "firmnet weights", "TFLM head",
           "TFLM tail", "TFLM total", "TFLM weights"]


def default_models(work: Path) -> list[Path]:
    from support.mlperf_shapes import resnet8_model, vww_model
    models = sorted(SHARED_MODELS.glob("*.tflite"))
    if not models:
        print(f"(no .tflite models in {SHARED_MODELS})")
    shaped = []
    for name, build in (("vww_shaped", vww_model), ("ic_shaped", lambda: resnet8_model(0))):
        path = work / f"{name}.tflite"
        path.write_bytes(build())
        shaped.append(path)
    return models + shaped + [EXAMPLE_INT8]


CHOSEN = []   # the notes under the table: which cut each patched arena uses


def patched(name: str, report: dict) -> str:
    """The patches auto column: arena (recomputed MACs as a share of the model's), or "-"
    without patches; the cut and bands go to a note under the table (names are long)."""
    p = report.get("patches")
    if p is None:
        return "-"
    share = 100.0 * p["recomputed_macs"] / (report["macs"] - p["recomputed_macs"])
    CHOSEN.append(f"patches auto, {name}: --patches {p['cut']}:{p['bands']}, {p['recomputed_macs']:,} MACs recomputed")
    return f"{report['arena_bytes']:,} (+{share:.1f} % MACs)"


def measure(path: Path) -> list[str]:
    data = path.read_bytes()
    with tempfile.TemporaryDirectory() as out:
        report = firmnet.compile(path, out, name=path.stem, write=False).report
        off = firmnet.compile(path, out, name=path.stem, write=False, in_place="off").report
        auto = firmnet.compile(path, out, name=path.stem, write=False, patches="auto").report
    tflm = tflm_arena(data)
    values = [report["arena_bytes"], off["arena_bytes"], report["io_bytes"], report["lower_bound_bytes"],
              report["live_set_bound_bytes"], report["weights_bytes"],
              tflm["head"], tflm["tail"], tflm["total"], weights_bytes(data)]
    cells = [f"{v:,}" for v in values]
    return [path.stem] + cells[:2] + [patched(path.stem, auto)] + cells[2:]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as work:
        return run([Path(a) for a in argv] or default_models(Path(work)))


def run(paths: list[Path]) -> int:
    rows, notes = [], []
    for path in paths:
        if path.suffix.lower() != ".tflite":
            notes.append(f"skipped {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                         f"{path.suffix} (TFLM reads .tflite only)")
            continue
        try:
            rows.append(measure(path))
        except Exception as exc:       # a bench prints what failed and goes on
            notes.append(f"{path.name}: {type(exc).__name__}: {exc}")
    print("Arena and weights, bytes: firmnet's generated C vs TensorFlow Lite Micro (Python interpreter, "
          "this host)\n")
    widths = [max(len(r[k]) for r in rows + [COLUMNS]) for k in range(len(COLUMNS))]
    line = lambda r: "  ".join(v.rjust(w) if k else v.ljust(w) for k, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    print(line(COLUMNS))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    print("\nBoth arenas hold the input and output tensors (firmnet's <name>_input()/<name>_output() point "
          "into it).")
    print("TFLM tail/total use 64-bit host pointers; ANCHORS.md gives TFLM's arena on a Cortex-M4.")
    for n in CHOSEN + notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Schedules: the arena of each DAG test model in the file's order and in the order
schedule.py chooses, with the placement before and after placement.py's candidates.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/schedules.py [MODEL.onnx|MODEL.tflite ...]

Without arguments: the DAG test models of tests/support/dag_models.py (inception block,
two fire modules, a MobileNetV3 block with squeeze-excite and a projection shortcut, and
three same-width branches concatenated).

Columns (bytes; sizes rounded up to the arena's 16-byte alignment):
  file bound     the live-set bound of the file's order (--schedule file)
  arena before   the file's order placed as before placement.py (the best of greedy by size,
                 greedy by conflicts and linear)
  chosen bound   the bound of the order --schedule auto runs (exact search, beam beyond)
  copying        the arena with every Concat copying its inputs (the chosen order, every placement)
  arena after    the arena firmnet compile now gives (also the Concats whose producers write
                 into their slices, concat_views.py, where that is not larger)
  elided         those Concats (s: strided channel slices, c: contiguous)
  method         how the order was found, and the sets of executed steps it visited
  planner        the placement that won
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
import firmnet.compiler  # noqa: E402
from firmnet.planner import plan_memory  # noqa: E402
from support.dag_models import CONCAT_MODELS, MODELS  # noqa: E402

BEFORE = ("greedy_by_size", "greedy_by_conflicts", "linear")   # the planner's table until placement.py


def copying(model, out, **options):
    """firmnet.compile with every Concat copying (the views switched off, in place kept)."""
    views = firmnet.compiler._concat_views
    firmnet.compiler._concat_views = lambda graph, lowered, in_place: (lowered, [])
    try:
        return firmnet.compile(model, out, name="dag", write=False, **options)
    finally:
        firmnet.compiler._concat_views = views


def row(name, model, tmp: Path) -> tuple:
    file = copying(model, tmp / f"{name}-file", schedule="file")
    copy = copying(model, tmp / f"{name}-copy")
    auto = firmnet.compile(model, tmp / f"{name}-auto", name="dag", write=False)
    before = min(plan_memory(file.memory.buffers, a).arena_size for a in BEFORE)
    s = auto.report["schedule"]
    elided = " ".join(f"{v['concat']} ({v['layout'][0]})" for v in auto.report["concat_views"]["elided"]) or "-"
    return (name, s["file_order_bound_bytes"], before, s["bound_bytes"], copy.memory.arena_size,
            auto.memory.arena_size, elided, f"{s['method']} ({s['states']} sets)", auto.memory.plan.algorithm)


def main(argv) -> int:
    models = {Path(p).stem: p for p in argv} if argv else {k: f() for k, f in {**MODELS, **CONCAT_MODELS}.items()}
    head = ("model", "file bound", "arena before", "chosen bound", "copying", "arena after", "elided", "method",
            "planner")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [row(name, model, Path(tmp)) for name, model in models.items()]
    cells = [head] + [tuple(f"{c:,}" if isinstance(c, int) else c for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    for r in cells:
        print("  ".join(c.ljust(w) if i in (0, 6, 7, 8) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

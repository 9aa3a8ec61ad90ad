"""Direct against Winograd float 3x3 convolutions on the emulated Cortex-M4F (mps2-an386): a
float VGG-style model (tests/support/vgg_models.py: 32x32x3 -> conv 3->16, 16->16, pool, 16->32,
32->32, pool, 32->64, 64->64, global average pool, fully connected), per 3x3 layer and end to end.

Prints plain text tables (never asserts). Run from the repository root:

    nice python bench/winograd_float.py [--write]

The model is compiled four times for mps2-an386: every 3x3 layer forced (--kernel) to
fn_conv2d_f32 (direct), fn_conv2d_f32_winograd_f2, fn_conv2d_f32_winograd_f4, and once with the
default selection (auto); each is cross-built (arm-none-eabi-gcc -O2) and run once in QEMU with the
per-layer profile (firmnet/qemu.py: -icount shift=0 + SysTick, exact to one tick, 40
instructions), the measurement of conv2d_f32.py's cost figures. Weight flash is the layer's
weights as the C stores them (the report's weight_bytes: direct 9 floats per filter-channel,
Winograd 16 / 36, plus the bias); end-to-end flash is the firmware ELF's text + data.

Cost fit: least squares of the six layers' Winograd instructions to the variant module's terms
(kernels/conv2d_f32_winograd.py: tiles x in_c, tiles x out_c, tiles x a^2 x in_c x out_c); --write
puts the coefficients into that module. The direct kernel's estimate (conv2d_f32.py) is printed
beside its measurement.

Accuracy: per layer, the C kernels on the host (cffi) on a standard-normal input of the layer's
shape with the model's weights, against the float64 direct convolution: the largest
|error| / sum |w x| over the outputs; end to end, max |board output - float64 reference| /
max |reference| on a standard-normal image.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

import firmnet  # noqa: E402
from firmnet import cbuild, qemu  # noqa: E402
from firmnet.kernels import WINOGRAD_F2, WINOGRAD_F4, conv2d_f32  # noqa: E402
from firmnet.kernels.params_conv_f32 import conv2d_f32_params  # noqa: E402
from firmnet.reference.conv import conv2d_f32 as direct_reference  # noqa: E402
from support.f32_bounds import fptr  # noqa: E402
from support.vgg_models import conv_names, vgg_model  # noqa: E402
from support.winograd_f32 import run_c  # noqa: E402

BOARD = "mps2-an386"
MODES = {"direct": conv2d_f32.NAME, "F2": WINOGRAD_F2.NAME, "F4": WINOGRAD_F4.NAME, "auto": None}
MODULE = REPO / "python" / "firmnet" / "kernels" / "conv2d_f32_winograd.py"


def compile_mode(path: Path, out: Path, kernel: str | None):
    forced = {name: kernel for name in conv_names()} if kernel else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, board=BOARD, name="vgg", kernels=forced)


def layer_error(runtime, kernel: str, x, w, b) -> float:
    """Largest |C - float64 direct| / sum |w x| of one layer (pads 1, no activation)."""
    exact = direct_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), pads=(1, 1, 1, 1))
    exact = exact.astype(np.float64)   # clamp_f32 rounded it: recompute unrounded below
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, h, wd, _ = x.shape
    exact = np.zeros((n, h, wd, w.shape[0])) + b
    scale = np.zeros_like(exact) + np.abs(b)
    for ky in range(3):
        for kx in range(3):
            win = xp[:, ky:ky + h, kx:kx + wd]
            exact += np.einsum("nhwc,oc->nhwo", win, w[:, ky, kx].astype(np.float64))
            scale += np.einsum("nhwc,oc->nhwo", np.abs(win), np.abs(w[:, ky, kx].astype(np.float64)))
    if kernel == conv2d_f32.NAME:
        ffi, lib = runtime.ffi, runtime.lib
        out = np.zeros(exact.shape, np.float32)
        p = ffi.new("fn_conv2d_f32_params *", conv2d_f32_params(x.shape, w.shape, pads=(1, 1, 1, 1)))
        assert lib.fn_conv2d_f32(p, fptr(ffi, x), fptr(ffi, w), fptr(ffi, b), fptr(ffi, out)) == lib.FN_OK
    else:
        status, out, _ = run_c(runtime, int(kernel[-1]), x, w, b, pads=(1, 1, 1, 1))
        assert status == runtime.lib.FN_OK
    return float((np.abs(out - exact) / scale).max())


def table(rows, columns) -> str:
    cells = [columns] + [[f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)
                          for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_costs(fits: dict) -> None:
    text = MODULE.read_text()
    body = ", ".join(f"{tile}: {tuple(c)}" for tile, c in sorted(fits.items()))
    MODULE.write_text(re.sub(r"^_COSTS = \{.*\}$", f"_COSTS = {{{body}}}", text, count=1, flags=re.M))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="rewrite the Winograd cost coefficients with the fits")
    args = p.parse_args(argv)
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    runs, compiled = {}, {}
    with tempfile.TemporaryDirectory(prefix="firmnet-winof-") as tmp:
        path = Path(tmp) / "vgg.onnx"
        onnx.save(vgg_model(), str(path))
        for mode, kernel in MODES.items():
            cm = compile_mode(path, Path(tmp) / mode, kernel)
            compiled[mode] = cm
            runs[mode] = qemu.run(cm.out_dir, BOARD, [x], profile=True)
        ref = firmnet.reference.run(compiled["direct"].lowered_graph, [x])[0].astype(np.float64)
        sizes = {mode: qemu.elf_sizes(run.elf) for mode, run in runs.items()}
    graph = compiled["direct"].lowered_graph
    nodes = {n.name: n for n in graph.nodes}
    per = {mode: {l["name"]: l for l in run.layers} for mode, run in runs.items()}
    report = {mode: {l["name"]: l for l in cm.report["layers"]} for mode, cm in compiled.items()}
    runtime = cbuild.runtime_extension()
    rng = np.random.default_rng(9)
    rows, errors, points = [], [], {2: [], 4: []}
    for name in conv_names():
        node = nodes[name]
        (n, h, w_, c), (oc, _, _, _) = (graph.types[i].shape for i in node.inputs[:2])
        instr = {mode: per[mode][name]["instructions"] for mode in ("direct", "F2", "F4")}
        flash = {mode: report[mode][name]["weight_bytes"] for mode in ("direct", "F2", "F4")}
        rows.append([name, f"{h}x{w_} {c}->{oc}", instr["direct"], conv2d_f32.cost(node, graph, None),
                     instr["F2"], instr["F4"], instr["direct"] / instr["F2"], instr["direct"] / instr["F4"],
                     flash["direct"], flash["F2"], flash["F4"], per["auto"][name]["kernel"].replace("fn_conv2d_", "")])
        for variant in (WINOGRAD_F2, WINOGRAD_F4):
            points[variant.t.tile].append((variant.terms(node, graph), instr[f"F{variant.t.tile}"]))
        xl = rng.standard_normal((n, h, w_, c)).astype(np.float32)
        wl, bl = graph.constants[node.inputs[1]], graph.constants[node.inputs[2]]
        errors.append([name, *(layer_error(runtime, k, xl, wl, bl) for k in MODES.values() if k)])
    print(f"float VGG-style model on {BOARD} (QEMU -icount shift=0 + SysTick, per-layer profile; "
          "arm-none-eabi-gcc -O2): 3x3 layers\n")
    print(table(rows, ["layer", "shape", "direct instr", "direct est.", "F2 instr", "F4 instr", "F2 speedup",
                       "F4 speedup", "direct B", "F2 B", "F4 B", "auto"]))
    print("\nend to end\n")
    e2e = [[mode, runs[mode].instructions, sizes[mode]["flash"], compiled[mode].report["weights_bytes"],
            compiled[mode].report["arena_bytes"],
            f"{np.abs(runs[mode].outputs[0] - ref).max() / np.abs(ref).max():.1e}"] for mode in MODES]
    print(table(e2e, ["kernels", "instructions", "flash B", "weights B", "arena B", "max err / max |ref|"]))
    print("\naccuracy per layer (host, standard-normal input): max |C - float64 direct| / sum |w x|\n")
    print(table([[r[0], *(f"{v:.1e}" for v in r[1:])] for r in errors],
                ["layer", "direct", "F2", "F4"]))
    fits = {}
    print("\nWinograd cost fits (per tile x in_c, per tile x out_c, per tile x a^2 x in_c x out_c) "
          "and the largest misfit\n")
    for tile, pts in points.items():
        a = np.array([t for t, _ in pts], np.float64)
        y = np.array([v for _, v in pts], np.float64)
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        fits[tile] = tuple(round(float(v), 3) for v in coef)
        worst = max(abs(float(np.dot(coef, t)) - v) / v for t, v in pts)
        print(f"  F{tile}: {fits[tile]}  (misfit {worst:.1%})")
    if args.write:
        write_costs(fits)
        print(f"\nwrote {MODULE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dense against CSR kernels on the emulated boards: instructions, weight flash and the
break-even sparsity of AD01's 640 -> 128 fully connected layer and KWS's 64 -> 64 pointwise
layer (25 x 5 pixels), int8 and float, and for the general CSR convolutions KWS's first
convolution (49 x 10 x 1 -> 64, 10x4, stride 2, padded) and a 3x3 64 -> 64 convolution on
10 x 16 and on 25 x 5 pixels (padding 1: the int8 kernel's blocks of 4 windows in the first,
none in the second), at 50/70/80/90/95 % random sparsity.

Prints plain text tables (never asserts). Run from the repository root:

    python bench/sparse.py [--boards mps2-an386,mps2-an500,mps3-an547] [--write]

Per layer, data type and board, one model holds the layer five times side by side (one per
sparsity, the same input; weights pruned at random: tests/support/sparse_models.py's pruning,
int8 through firmnet.compress.quantize_int8, compiled with --requant tflm: TFLite's
fixed-point requantization, as the MLPerf Tiny .tflite models run). It is compiled twice, --sparse off (the dense
kernel firmnet picks for the board: fn_fc_s8_dsp, fn_conv2d_1x1_s8_dsp, fn_fc_f32,
fn_conv2d_f32) and --sparse on (fn_fc_s8_csr, fn_fc_f32_csr, fn_conv2d_s8_csr, fn_conv2d_f32_csr), cross-built with the board's
toolchain (arm-none-eabi-gcc -O2) and run once in QEMU with the per-layer profile
(firmnet/qemu.py: -icount shift=0 + SysTick, exact to one tick, 40 instructions on MPS2 and
31.25 on MPS3). Weight flash is the layer's weight matrix: dense bytes, or CSR values +
columns + row starts (the report's sparse figures; the bias is the same either way).

The CSR cost coefficients (kernels/csr_costs.py) are least-squares fits of the CSR runs per
board and kernel to the terms the kernel module computes (terms(node, graph); kernels/_csr.py,
conv2d_s8_csr.py); --write rewrites csr_costs.py with them.
The dense float figures per MAC (kernels/fc_f32.py, conv2d_f32.py) are the --sparse off
runs on mps2-an386. Break-even: the density where the fitted CSR cost (interpolated between
the layer's sparsest and densest model) equals the measured dense cost, as a sparsity.
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
from firmnet.kernels import CANDIDATES  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402
from support.sparse_models import pruned, write  # noqa: E402

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
LAYERS = {"AD01 FC 640->128": dict(x=[1, 640], w=(128, 640), op="Gemm", y=[128]),
          "KWS 1x1 64->64": dict(x=[1, 64, 25, 5], w=(64, 64, 1, 1), op="Conv", y=[64, 25, 5]),
          # fn_conv2d_s8_csr's and fn_conv2d_f32_csr's: windows inside the input and reaching into the padding
          "KWS conv 10x4/2 1->64": dict(x=[1, 1, 49, 10], w=(64, 1, 10, 4), op="Conv", y=[64, 25, 5],
                                        attrs=dict(strides=[2, 2], pads=[4, 1, 5, 1])),
          "3x3 conv 64->64": dict(x=[1, 64, 10, 16], w=(64, 64, 3, 3), op="Conv", y=[64, 10, 16],
                                  attrs=dict(pads=[1, 1, 1, 1])),
          "3x3 conv 64->64 25x5": dict(x=[1, 64, 25, 5], w=(64, 64, 3, 3), op="Conv", y=[64, 25, 5],
                                       attrs=dict(pads=[1, 1, 1, 1]))}
DTYPES = ("int8", "float")
COSTS_FILE = REPO / "python" / "firmnet" / "kernels" / "csr_costs.py"


def layer_model(spec: dict, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits, outs = [], [], []
    for s in SPARSITIES:
        tag = f"s{round(s * 100)}"
        w = pruned(rng, spec["w"], s)
        rows = w.reshape(w.shape[0], -1)           # a view: no output channel left all zero (its weight
        empty = ~rows.any(axis=1)                  # scale would leave the fast output stage)
        rows[empty, rng.integers(0, rows.shape[1], int(empty.sum()))] = 0.1
        b = rng.standard_normal(spec["w"][0]).astype(np.float32) * 0.1
        inits += [numpy_helper.from_array(w, f"w_{tag}"), numpy_helper.from_array(b, f"b_{tag}")]
        extra = {"transB": 1} if spec["op"] == "Gemm" else spec.get("attrs", {})
        nodes.append(helper.make_node(spec["op"], ["x", f"w_{tag}", f"b_{tag}"], [f"y_{tag}"], name=tag, **extra))
        outs.append(helper.make_tensor_value_info(f"y_{tag}", TensorProto.FLOAT, [1, *spec["y"]]))
    graph = helper.make_graph(nodes, "sparse_bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec["x"])],
                              outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def inputs(cm) -> list[np.ndarray]:
    g = cm.lowered_graph
    t = g.types[g.inputs[0]]
    x = np.random.default_rng(5).standard_normal(t.shape).astype(np.float32)
    if t.dtype == "int8":
        x = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
    return [x]


def measure(path: Path, board: str, sparse: str, work: Path) -> dict:
    """{layer tag: (kernel, instructions, report layer)} of one compiled model's profile run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(path, work / f"{path.stem}-{board}-{sparse}", board=board, name="bench", sparse=sparse,
                             requant="tflm")
    run = qemu.run(cm.out_dir, board, inputs(cm), profile=True)
    layers = {l["name"]: l for l in cm.report["layers"]}
    variants = {k.NAME: k for ks in CANDIDATES.values() for k in ks}
    for node in cm.lowered_graph.nodes:
        if node.name in layers and layers[node.name].get("sparse"):
            sparse = variants[layers[node.name]["sparse"]["sparse"]["kernel"]]
            layers[node.name]["terms"] = sparse.terms(node, cm.lowered_graph)
    return {l["name"]: (l["kernel"], l["instructions"], layers[l["name"]]) for l in run.layers
            if l["name"] in layers and layers[l["name"]].get("sparse")}


def fit(points) -> tuple[float, ...]:
    """Least-squares coefficients of [(cost terms, instructions)] (the kernel module's terms)."""
    a = np.array([t for t, _ in points], np.float64)
    y = np.array([n for _, n in points], np.float64)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return tuple(round(float(c), 3) for c in coef)


def estimate(c, terms) -> float:
    return float(np.dot(c, terms))


def break_even(c, points, dense_instr) -> float:
    """Sparsity at which the fitted CSR cost equals dense_instr, interpolating the fitted cost
    linearly in the density between the measured layers (its terms are linear in the entries)."""
    (d0, t0), (d1, t1) = points[0], points[-1]
    e0, e1 = estimate(c, t0), estimate(c, t1)
    density = d0 + (dense_instr - e0) * (d1 - d0) / (e1 - e0)
    return 1.0 - density


def table(rows, columns) -> str:
    cells = [columns] + [[f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)
                          for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_costs(costs: dict) -> None:
    text = COSTS_FILE.read_text()
    head = text[:text.index("COSTS = {")]
    tail = text[text.index("\n}\n") + 3:]
    body = "".join(f"    {cpu!r}: {{\n" + "".join(f"        {k!r}: {v!r},\n" for k, v in sorted(kernels.items()))
                   + "    },\n" for cpu, kernels in sorted(costs.items()))
    COSTS_FILE.write_text(head + "COSTS = {\n" + body.replace("'", '"') + "}\n" + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boards", default="mps2-an386,mps2-an500,mps3-an547")
    p.add_argument("--write", action="store_true", help="rewrite python/firmnet/kernels/csr_costs.py with the fits")
    args = p.parse_args(argv)
    boards = args.boards.split(",")
    from firmnet.boards import get_board
    rows, points, runs = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="firmnet-sparse-") as tmp:
        work = Path(tmp)
        for label, spec in LAYERS.items():
            for dtype in spec.get("dtypes", DTYPES):
                path = write(layer_model(spec), work / f"{label.split()[0]}_{len(rows)}_{dtype}.onnx",
                             dtype == "int8")
                for board in boards:
                    dense = measure(path, board, "off", work)
                    csr = measure(path, board, "on", work)
                    cpu = get_board(board).cpu
                    for tag in sorted(csr, key=lambda t: int(t[1:])):
                        d_kernel, d_n, _ = dense[tag]
                        c_kernel, c_n, layer = csr[tag]
                        sp = layer["sparse"]
                        points.setdefault((cpu, c_kernel), []).append((layer["terms"], c_n))
                        runs.setdefault((label, dtype, board), []).append((sp["density"], layer["terms"], d_kernel,
                                                                           d_n, c_kernel))
                        db, cb = sp["dense"]["weight_bytes"], sp["sparse"]["weight_bytes"]
                        rows.append([label, dtype, board, f"{1 - sp['density']:.1%}", d_kernel, d_n, c_kernel, c_n,
                                     d_n / c_n, db, cb, db / cb])
    print("dense vs CSR on the emulated boards (QEMU -icount shift=0 + SysTick, per-layer profile; "
          "arm-none-eabi-gcc -O2); weight flash = the layer's weight matrix\n")
    print(table(rows, ["layer", "dtype", "board", "sparsity", "dense kernel", "dense instr", "CSR kernel",
                       "CSR instr", "speedup", "dense B", "CSR B", "flash ratio"]))
    costs = {}
    for (cpu, kernel), pts in sorted(points.items()):
        costs.setdefault(cpu, {})[kernel] = fit(pts)
    print("\nCSR cost fits (instructions per cost term of the kernel module, python/firmnet/kernels/) "
          "and the largest misfit\n")
    for (cpu, kernel), pts in sorted(points.items()):
        c = costs[cpu][kernel]
        worst = max(abs(estimate(c, t) - n) / n for t, n in pts)
        print(f"  {cpu:<11} {kernel:<16} {c}  (misfit {worst:.1%})")
    print("\nbreak-even sparsity (fitted CSR cost = measured dense cost, mean over the five models; "
          "CSR faster above it)\n")
    even_rows = []
    for (label, dtype, board), layer_runs in runs.items():
        layer_runs.sort(key=lambda r: r[0])
        c = costs[get_board(board).cpu][layer_runs[0][4]]
        dense_instr = float(np.mean([r[3] for r in layer_runs]))
        even = break_even(c, [(r[0], r[1]) for r in layer_runs], dense_instr)
        even_rows.append([label, dtype, board, layer_runs[0][2], f"{min(max(even, 0.0), 1.0):.1%}"])
    print(table(even_rows, ["layer", "dtype", "board", "dense kernel", "break-even"]))
    m4 = [(label, rs[0][2], float(np.mean([r[3] for r in rs]))) for (label, dtype, board), rs in runs.items()
          if board == "mps2-an386" and dtype == "float"]
    if m4:
        print("\ndense float kernels on mps2-an386, instructions per MAC (kernels/fc_f32.py, conv2d_f32.py)\n")
        for label, kernel, n in m4:
            spec = LAYERS[label]
            macs = int(np.prod(spec["w"])) * int(np.prod(spec["y"][1:]))
            print(f"  {label:<22} {kernel:<14} {n:>12,.0f} instructions  {n / macs:.3f} per MAC")
    if args.write:
        write_costs(costs)
        print(f"\nwrote {COSTS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

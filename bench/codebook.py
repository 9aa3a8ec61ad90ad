"""Dense against codebook (palettized) kernels on mps2-an386 (Cortex-M4F, QEMU): instructions
and weight flash of AD01's 640 -> 128 fully connected layer and KWS's 64 -> 64 pointwise
layer (25 x 5 pixels) with K = 4/16/256 codewords, int8 and float, and for the general
codebook convolutions KWS's first convolution (49 x 10 x 1 -> 64, 10x4, stride 2, padded)
and a 3x3 64 -> 64 convolution on 10 x 16 pixels; plus two shapes for the cost fit only (a
128 -> 128 fully connected layer and the pointwise layer on 8 x 8 pixels).

Prints plain text tables (never asserts). Run from the repository root:

    nice python bench/codebook.py [--write]

Per layer and data type, one model holds the layer three times side by side (K = 4, 16,
256; random normal weights palettized by firmnet.compress.codebook, per layer; int8: the
float model quantized by firmnet.compress.quantize_int8 first, then its int8 weights
palettized under their scales, as `firmnet compress --quantize int8 --codebook K` does),
compiled with --requant tflm twice: --codebook-kernels off (the dense kernel firmnet picks
for the board: fn_fc_s8_dsp, fn_conv2d_1x1_s8_dsp, fn_conv2d_s8_dsp or the Winograd one,
fn_fc_f32, fn_conv2d_f32) and on (the int8 layers run the DSP variants there:
fn_fc_s8_codebook_dsp for fully connected layers, fn_conv2d_s8_codebook_dsp for the
convolutions, 1x1 included; further builds force the other int8 variants with --kernel:
fn_fc_s8_codebook_dsp and fn_fc_s8_codebook on the 1x1 layers, fn_fc_s8_codebook on the
fully connected ones, fn_conv2d_s8_codebook on the other convolutions, so that every
variant's cost is fitted), cross-built with arm-none-eabi-gcc -O2 and run once in QEMU
with the per-layer profile (firmnet/qemu.py: -icount shift=0 + SysTick, 40 instructions a
tick). Weight flash: the layer's weight matrix, dense bytes or packed indices + codebook
(the bias is the same either way). An int8 layer with K = 256 has 8-bit indices: they
take the dense bytes plus a codebook, so no codebook kernel takes it (shown as such).

The codebook cost coefficients (kernels/codebook_costs.py) are least-squares fits of the
codebook runs per kernel and index width to the terms of kernels/_codebook.py; --write
rewrites codebook_costs.py with them.
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
from firmnet.compress.codebook import codebook  # noqa: E402
from firmnet.kernels import CANDIDATES  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402
from support.sparse_models import write  # noqa: E402

BOARD = "mps2-an386"
KS = (4, 16, 256)
LAYERS = {"AD01 FC 640->128": dict(x=[1, 640], w=(128, 640), op="Gemm", y=[128]),
          "KWS 1x1 64->64": dict(x=[1, 64, 25, 5], w=(64, 64, 1, 1), op="Conv", y=[64, 25, 5]),
          "KWS conv 10x4/2 1->64": dict(x=[1, 1, 49, 10], w=(64, 1, 10, 4), op="Conv", y=[64, 25, 5],
                                        attrs=dict(strides=[2, 2], pads=[4, 1, 5, 1])),
          "3x3 conv 64->64": dict(x=[1, 64, 10, 16], w=(64, 64, 3, 3), op="Conv", y=[64, 10, 16],
                                  attrs=dict(pads=[1, 1, 1, 1])),
          "FC 128->128 (fit)": dict(x=[1, 128], w=(128, 128), op="Gemm", y=[128]),
          "1x1 64->64 8x8 (fit)": dict(x=[1, 64, 8, 8], w=(64, 64, 1, 1), op="Conv", y=[64, 8, 8])}
DTYPES = ("int8", "float")
COSTS_FILE = REPO / "python" / "firmnet" / "kernels" / "codebook_costs.py"


# the int8 codebook variants each kind of layer also runs, forced with --kernel (the first
# choice of --codebook-kernels on is the DSP one: fn_fc_s8_codebook_dsp for fully connected
# layers, fn_conv2d_s8_codebook_dsp for convolutions, 1x1 included)
FORCED_INT8 = {"fc": ("fn_fc_s8_codebook",), "1x1": ("fn_fc_s8_codebook_dsp", "fn_fc_s8_codebook"),
               "conv": ("fn_conv2d_s8_codebook",)}


def form(spec: dict) -> str:
    return "fc" if spec["op"] == "Gemm" else "1x1" if spec["w"][2:] == (1, 1) and not spec.get("attrs") else "conv"


def layer_model(spec: dict, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits, outs = [], [], []
    for k in KS:
        w = rng.standard_normal(spec["w"]).astype(np.float32) * 0.1
        b = rng.standard_normal(spec["w"][0]).astype(np.float32) * 0.1
        inits += [numpy_helper.from_array(w, f"w_k{k}"), numpy_helper.from_array(b, f"b_k{k}")]
        extra = {"transB": 1} if spec["op"] == "Gemm" else spec.get("attrs", {})
        nodes.append(helper.make_node(spec["op"], ["x", f"w_k{k}", f"b_k{k}"], [f"y_k{k}"], name=f"k{k}", **extra))
        outs.append(helper.make_tensor_value_info(f"y_k{k}", TensorProto.FLOAT, [1, *spec["y"]]))
    graph = helper.make_graph(nodes, "codebook_bench",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec["x"])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def palettized(spec: dict, dtype: str, path: Path) -> Path:
    """The bench model quantized (int8) and with layer kK's weights in K codewords."""
    model = onnx.load(write(layer_model(spec), path, dtype == "int8"))
    for k in KS:
        codebook(model, k, layers=[f"k{k}"])
    onnx.save(model, str(path))
    return path


def inputs(cm) -> list[np.ndarray]:
    g = cm.lowered_graph
    t = g.types[g.inputs[0]]
    x = np.random.default_rng(5).standard_normal(t.shape).astype(np.float32)
    if t.dtype == "int8":
        x = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
    return [x]


def measure(path: Path, mode: str, work: Path, forced: dict | None = None) -> dict:
    """{layer tag: (kernel, instructions, weight bytes, terms)} of one compiled model's profile run
    (forced: --kernel LAYER=KERNEL choices)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(path, work / f"{path.stem}-{mode}{'-forced' if forced else ''}", board=BOARD,
                             name="bench", codebook_kernels=mode, requant="tflm", kernels=forced)
    run = qemu.run(cm.out_dir, BOARD, inputs(cm), profile=True)
    variants = {k.NAME: k for ks in CANDIDATES.values() for k in ks}
    nodes = {n.name: n for n in cm.lowered_graph.nodes}
    out = {}
    for layer in run.layers:
        node = nodes.get(layer["name"])
        if node is None or node.op not in ("dense", "conv2d"):
            continue
        kernel = variants[layer["kernel"]]
        if getattr(kernel, "CODEBOOK", False):
            weight_bytes = kernel.flash(node, cm.lowered_graph)[1]
            terms = kernel.terms(node, cm.lowered_graph)
        else:
            weight_bytes, terms = cm.lowered_graph.constants[node.inputs[1]].nbytes, None
        out[layer["name"]] = (layer["kernel"], layer["instructions"], weight_bytes, terms)
    return out


def fit(points) -> tuple[float, ...]:
    a = np.array([t for t, _ in points], np.float64)
    y = np.array([n for _, n in points], np.float64)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return tuple(round(float(c), 3) for c in coef)


def table(rows, columns) -> str:
    cells = [columns] + [[f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)
                          for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_costs(costs: dict) -> None:
    text = COSTS_FILE.read_text()
    head = text[:text.index("COSTS = ")]
    tail = text[text.index("\n\n\ndef coefficients"):]
    body = "".join(f"    {kernel!r}: {{\n" + "".join(f"        {b}: {v!r},\n" for b, v in sorted(by_bits.items()))
                   + "    },\n" for kernel, by_bits in sorted(costs.items()))
    COSTS_FILE.write_text(head + "COSTS = {\n" + body.replace("'", '"') + "}" + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help="rewrite python/firmnet/kernels/codebook_costs.py")
    args = p.parse_args(argv)
    rows, points = [], {}
    with tempfile.TemporaryDirectory(prefix="firmnet-codebook-") as tmp:
        work = Path(tmp)
        for n, (label, spec) in enumerate(LAYERS.items()):
            for dtype in DTYPES:
                path = palettized(spec, dtype, work / f"layer{n}_{dtype}.onnx")
                dense = measure(path, "off", work)
                runs = [measure(path, "on", work)]
                for forced in (FORCED_INT8[form(spec)] if dtype == "int8" else ()):   # the other int8 variants
                    runs.append(measure(path, "on", work, {f"k{k}": forced for k in KS[:2]}))
                for coded in runs:
                    for k in KS:
                        tag = f"k{k}"
                        d_kernel, d_n, d_b, _ = dense[tag]
                        c_kernel, c_n, c_b, terms = coded[tag]
                        if terms is None:
                            if coded is runs[0]:
                                rows.append([label, dtype, k, "-", d_kernel, d_n, "(no flash saved: dense)", "-",
                                             "-", d_b, "-", "-"])
                            continue
                        bits = {4: 2, 16: 4, 256: 8}[k]
                        points.setdefault((c_kernel, bits), []).append((terms, c_n))
                        if "(fit)" not in label:
                            rows.append([label, dtype, k, bits, d_kernel, d_n, c_kernel, c_n, c_n / d_n, d_b, c_b,
                                         d_b / c_b])
    print(f"dense vs codebook kernels on {BOARD} (QEMU -icount shift=0 + SysTick, per-layer profile; "
          "arm-none-eabi-gcc -O2); weight flash = the layer's weight matrix (indices + codebook)\n")
    print(table(rows, ["layer", "dtype", "K", "bits", "dense kernel", "dense instr", "codebook kernel",
                       "codebook instr", "slowdown", "dense B", "codebook B", "flash ratio"]))
    costs = {}
    print("\ncodebook cost fits (instructions per term of kernels/_codebook.py) and the largest misfit\n")
    for (kernel, bits), pts in sorted(points.items()):
        c = fit(pts)
        costs.setdefault(kernel, {})[bits] = c
        worst = max(abs(float(np.dot(c, t)) - n) / n for t, n in pts)
        print(f"  {kernel:<24} {bits}-bit {c}  (misfit {worst:.1%}, {len(pts)} layers)")
    if args.write:
        write_costs(costs)
        print(f"\nwrote {COSTS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Binary (XNOR-popcount) layers against the float and int8 layers of the same shape on the
emulated Cortex-M4 (mps2-an386) or another board: instructions, weight flash, and the two
popcounts.

Prints plain text tables (never asserts). Run from the repository root:

    nice python bench/binary.py [--board mps2-an386] [--layers-only | --example-only]

On mps3-an547 (Cortex-M55) the binary rows count in Helium (fn_b1_mismatches_mve) and the
int8 layers run the MVE kernels; a form whose model does not fit the board (the float
1024 -> 512 layer's 2 MB) prints "-".

Layers: a 3x3 64 -> 64 convolution on 16 x 16 pixels (padding 1) and a 1024 -> 512 fully
connected layer. Each is one ONNX model per form, compiled with firmnet for the board and
run once in QEMU with the per-layer profile (firmnet/qemu.py: -icount shift=0 + SysTick,
exact to one tick of 40 instructions):
- float: Conv/Gemm with real weights (fn_conv2d_f32 / fn_fc_f32);
- int8: the float model quantized by firmnet compress --quantize int8 (16 standard-normal
  calibration inputs; --requant tflm), the kernel firmnet picks for the board (for the 3x3
  layer Winograd F(2x2,3x3) with DSP: bench/winograd.py); "int8 direct" with --winograd off;
- binary -> bits: Sign -> the layer with +-1 weights -> BatchNormalization -> Sign (the
  integer threshold output, b1 in and out);
- binary -> float: Sign -> the layer -> Mul by a per-channel alpha (float output).
Only the layer's own step is counted (not the binarize of the input). Popcount: the binary
models are built twice, with the SWAR popcount (the default: portable C, or Helium) and with
-DFN_POPCOUNT_BUILTIN (__builtin_popcount: a libgcc call on the M4 and M55).
Weight bytes: the report's weights of the layer (packed +-1 words, int8 or float matrices;
without the bias, thresholds and scales).

End to end (the digits example, examples/digits: digits_cnn.onnx, digits_cnn.int8.onnx and the
binary ones of examples/digits/binary, written by examples/digits/binary.py): instructions of
one inference on the first test image, the report's weight bytes and arena, the linked
firmware's flash (text + data) and the C's accuracy on the 450 test images (host build).
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
from firmnet.boundary import to_c_inputs  # noqa: E402
from firmnet.reference.quantize_s8 import quantize_ort  # noqa: E402
from support.sparse_models import write  # noqa: E402

LAYERS = {
    "conv 3x3 64->64 16x16": dict(x=[1, 64, 16, 16], w=(64, 64, 3, 3), op="Conv", y=[1, 64, 16, 16],
                                  attrs=dict(pads=[1, 1, 1, 1])),
    "fc 1024->512": dict(x=[1, 1024], w=(512, 1024), op="Gemm", y=[1, 512], attrs=dict(transB=1)),
}
FORMS = ("float", "int8", "int8 direct", "binary->bits", "binary->float")


def layer_model(spec: dict, form: str, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    c = spec["w"][0]
    channel = (1, c, 1, 1) if spec["op"] == "Conv" else (c,)
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    w = rng.standard_normal(spec["w"]).astype(np.float32)
    x = "x"
    if form.startswith("binary"):
        nodes.append(helper.make_node("Sign", ["x"], ["xs"], name="sign_in"))
        x, w = "xs", np.where(w >= 0, 1.0, -1.0)
    else:
        w = w * 0.05
    nodes.append(helper.make_node(spec["op"], [x, const("w", w)], ["acc"], name="layer", **spec["attrs"]))
    out = "acc"
    if form == "binary->float":
        nodes.append(helper.make_node("Mul", ["acc", const("alpha", rng.uniform(0.01, 0.1, channel))], ["y"]))
        out = "y"
    elif form == "binary->bits":
        bn = [const("g", rng.uniform(0.5, 1.5, c)), const("b", rng.uniform(-1, 1, c)),
              const("m", rng.normal(0, 4, c)), const("v", rng.uniform(1, 4, c))]
        nodes.append(helper.make_node("BatchNormalization", ["acc", *bn], ["bn"]))
        nodes.append(helper.make_node("Sign", ["bn"], ["y"], name="sign_out"))
        out = "y"
    graph = helper.make_graph(nodes, "binary_bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec["x"])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, spec["y"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def measure(path: Path, board: str, work: Path, builtin: bool = False, winograd: str = "auto") -> dict | None:
    """The layer's kernel, instructions and weight bytes; None where the model does not fit the
    board (the float 1024 -> 512 layer's 2 MB on a 2 MB board)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cm = firmnet.compile(path, work / f"{path.stem}{'-builtin' if builtin else ''}-{winograd}", board=board,
                                 name="bench", requant="tflm", winograd=winograd)
        except firmnet.FirmnetError as e:
            if "does not fit" not in str(e):
                raise
            return None
    if builtin:   # the same project with __builtin_popcount (fn_binary_b1_impl.h)
        cmake = cm.out_dir / "CMakeLists.txt"
        cmake.write_text(cmake.read_text() + "\ntarget_compile_definitions(bench PRIVATE FN_POPCOUNT_BUILTIN)\n")
    g = cm.lowered_graph
    t = g.types[g.inputs[0]]
    x = np.random.default_rng(5).standard_normal(t.shape).astype(np.float32)
    if t.dtype == "int8":
        x = quantize_ort(x, t.quant.scale[0], int(t.quant.zero_point[0])).astype(np.int8)
    run = qemu.run(cm.out_dir, board, [x], profile=True)
    report = {l["name"]: l for l in cm.report["layers"]}
    step = next(l for l in run.layers if l["name"] == "layer")
    layer = report["layer"]
    return {"kernel": layer["kernel"], "instructions": step["instructions"], "weights": layer["weight_bytes"],
            "macs": layer["macs"]}


EXAMPLES = {"float": "digits_cnn.onnx", "int8": "digits_cnn.int8.onnx",
            "binary (float ends)": "binary/digits_cnn.binary.onnx",
            "binary (int8 ends)": "binary/digits_cnn.binary.int8.onnx"}


def example_rows(board: str, work: Path) -> list[tuple]:
    folder = REPO / "examples" / "digits"
    data = np.load(folder / "digits_test.npz")
    rows = []
    for label, name in EXAMPLES.items():
        if not (folder / name).is_file():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cm = firmnet.compile(folder / name, work / f"digits-{len(rows)}", board=board, name="digits")
        host = cm.build_host()
        predicted = [int(np.argmax(host.run([x[None]])[0])) for x in data["x"]]
        run = qemu.run(cm.out_dir, board, to_c_inputs(cm, [data["x"][:1]]))
        flash = qemu.elf_sizes(run.elf)["flash"]
        binary = sum(l["op"] == "bconv2d" for l in cm.report["layers"])
        rows.append((label, binary, run.instructions, cm.report["weights_bytes"], cm.report["arena_bytes"], flash,
                     f"{np.mean(np.array(predicted) == data['y']):.2%}"))
    return rows


def ratio(a: dict | None, b: dict, key: str) -> float | str:
    """a[key] / b[key], "-" where a did not fit the board."""
    return "-" if a is None else a[key] / b[key]


def table(rows, columns) -> str:
    cells = [columns] + [[f"{v:,}" if isinstance(v, int) else f"{v:.2f}" if isinstance(v, float) else str(v)
                          for v in row] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="mps2-an386")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--example-only", action="store_true", help="only the digits example's end-to-end table")
    only.add_argument("--layers-only", action="store_true", help="only the layer and popcount tables")
    args = p.parse_args(argv)
    rows, pops = [], []
    with tempfile.TemporaryDirectory(prefix="firmnet-binary-") as tmp:
        work = Path(tmp)
        for label, spec in ({} if args.example_only else LAYERS).items():
            results = {}
            for form in FORMS:
                int8 = form.startswith("int8")
                path = write(layer_model(spec, "float" if int8 else form), work / f"{label[:4]}-{form}.onnx".replace(
                    " ", "").replace(">", ""), int8)
                results[form] = measure(path, args.board, work, winograd="off" if form == "int8 direct" else "auto")
                if form.startswith("binary"):
                    builtin = measure(path, args.board, work, builtin=True)
                    pops.append((label, form, results[form]["instructions"], builtin["instructions"]))
            for form, r in results.items():
                if r is None:
                    rows.append((label, form, "(does not fit the board)", "-", "-", "-", "-", "-", "-"))
                    continue
                rows.append((label, form, r["kernel"], r["instructions"],
                             *(ratio(results[other], r, "instructions") for other in ("float", "int8", "int8 direct")),
                             r["weights"], ratio(results["int8 direct"], r, "weights")))
        example = [] if args.layers_only else example_rows(args.board, work)
    if rows:
        print(f"Binary layers on {args.board} (QEMU, instructions of the layer's step)\n")
        print(table(rows, ("layer", "form", "kernel", "instructions", "x vs float", "x vs int8", "x vs int8 direct",
                           "weight B", "int8 direct B / B")))
        print("\nPopcount: the SWAR count (default; in Helium on boards with MVE) against __builtin_popcount "
              "(-DFN_POPCOUNT_BUILTIN)\n")
        print(table([(label, form, a, b, b / a) for label, form, a, b in pops],
                    ("layer", "form", "SWAR", "builtin", "builtin / SWAR")))
    if not args.layers_only:
        print(f"\nThe digits example end to end on {args.board} (QEMU; accuracy of the C on 450 test images)\n")
        print(table(example, ("model", "binary layers", "instructions", "weights B", "arena B", "flash B",
                              "accuracy")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

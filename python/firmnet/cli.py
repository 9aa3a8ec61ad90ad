"""The `firmnet` command.

Errors the user can act on (FirmnetError) print one line and exit with code 2;
a verification mismatch exits with 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import __version__
from .boundary import from_c_outputs, to_c_inputs
from .compiler import REQUANT_CHOICES
from .kernels.select import SPARSE_CHOICES, WINOGRAD_CHOICES
from .schedule import SCHEDULE_CHOICES
from .float_layers import FloatLayerWarning
from .passes.binarize import BinarizeWarning
from .ir import FirmnetError
from .progress import step


def _input_shapes(specs) -> dict:
    shapes = {}
    for spec in specs or ():
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise FirmnetError(f"--input-shape '{spec}' is not NAME=D1,D2,... (for example input=1,3,32,32)") from None
    return shapes


def _kernels(specs) -> dict:
    """--kernel LAYER=KERNEL options as {layer: kernel}."""
    forced = {}
    for spec in specs or ():
        layer, sep, kernel = spec.rpartition("=")
        if not sep or not layer or not kernel:
            raise FirmnetError(f"--kernel '{spec}' is not LAYER=KERNEL (for example conv_1=fn_conv2d_s8; "
                               "`firmnet report` lists each layer's kernel and the candidates it rejected)")
        if forced.get(layer, kernel) != kernel:
            raise FirmnetError(f"--kernel names two kernels for layer '{layer}': {forced[layer]} and {kernel}")
        forced[layer] = kernel
    return forced


def _load_compiled(out_dir: Path):
    """The compiled model behind OUT, recomputed from the model recorded in OUT/firmnet.json
    without touching OUT: verify then checks the C sources that are actually there."""
    meta_path = out_dir / "firmnet.json"
    if not meta_path.is_file():
        raise FirmnetError(f"{out_dir} is not a firmnet output folder (no firmnet.json): run firmnet compile first")
    meta = json.loads(meta_path.read_text())
    from .compiler import compile
    shapes = {k: tuple(v) for k, v in meta.get("input_shapes", {}).items()} or None
    warnings.simplefilter("ignore", FloatLayerWarning)   # compile already said so
    warnings.simplefilter("ignore", BinarizeWarning)
    return compile(meta["model"], out_dir, board=meta["board"], name=meta["name"], input_shapes=shapes,
                   requant=meta.get("requant", "tflm"), write=False, kernels=meta.get("kernels") or None,
                   dead_channels=meta.get("dead_channels", True), sparse=meta.get("sparse", "auto"),
                   winograd=meta.get("winograd", "auto"), codebook_kernels=meta.get("codebook_kernels", "auto"),
                   schedule=meta.get("schedule", "auto"), in_place=meta.get("in_place", "on"),
                   patches=meta.get("patches", "off"), max_recompute=meta.get("max_recompute", 0.2))


def _npz_sizes(path) -> dict:
    """{array name: (shape, element count)} of an .npz file, read from the headers only."""
    import zipfile
    try:
        sizes = {}
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape = read(f)[0]
                sizes[info.filename[:-4]] = (shape, int(np.prod(shape, dtype=np.int64)))
        return sizes
    except FileNotFoundError:
        raise FirmnetError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FirmnetError(f"cannot read inputs from {path}: not an .npz archive of arrays "
                           f"(np.savez(path, input_name=array, ...)): {exc}") from None


def _read_inputs(path, graph):
    """Arrays for the model's inputs (graph: the model as loaded, so float where it takes float):
    from an .npz, or seeded random ones (standard normal floats, integers over their dtype's range)."""
    if path is None:
        rng = np.random.default_rng(0)
        arrays = []
        for n in graph.inputs:
            t = graph.types[n]
            if np.dtype(t.dtype).kind in "iu":
                info = np.iinfo(t.dtype)
                arrays.append(rng.integers(info.min, info.max, t.shape, endpoint=True).astype(t.dtype))
            else:
                arrays.append(rng.standard_normal(t.shape).astype(t.dtype))
        return arrays
    sizes = _npz_sizes(path)
    named = all(n in sizes for n in graph.inputs)
    keys = list(graph.inputs) if named else list(sizes) if len(sizes) == len(graph.inputs) else []
    for key, n in zip(keys, graph.inputs):
        (shape, count), want = sizes[key], graph.types[n].size
        if count != want:   # checked on the file's header, before the array is read into memory
            raise FirmnetError(f"{path}: array '{key}' holds {count:,} values (shape {list(shape)}); the model's "
                               f"input '{n}' takes {want:,} (shape {list(graph.types[n].shape)})")
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise FirmnetError(f"cannot read inputs from {path}: {exc}") from None
    missing = [n for n in graph.inputs if n not in data.files]
    if missing and len(data.files) == len(graph.inputs):
        return [data[k] for k in data.files]
    if missing:
        raise FirmnetError(f"{path} lacks input(s) {', '.join(missing)} (it has {', '.join(data.files)})")
    return [data[n] for n in graph.inputs]


def cmd_compile(args) -> int:
    from .boards import get_board
    from .compiler import compile
    from .firmware import board_info
    shapes = _input_shapes(args.input_shape)
    kernels = _kernels(args.kernel)
    board = args.board
    if board.endswith(".toml"):     # a board file of the user's: recorded by its absolute path
        board = str(Path(board).resolve())
    with warnings.catch_warnings(record=True) as caught, \
            step(f"compiling {args.model}" + (f" and linking the {board} firmware" if board != "host" else "")):
        warnings.simplefilter("always", FloatLayerWarning)
        warnings.simplefilter("always", BinarizeWarning)
        cm = compile(args.model, args.output, board=board, name=args.name, input_shapes=shapes or None,
                     requant=args.requant, int8_only=args.int8_only, kernels=kernels or None,
                     dead_channels=not args.keep_dead_channels, sparse=args.sparse, winograd=args.winograd,
                     codebook_kernels=args.codebook_kernels, schedule=args.schedule, in_place=args.in_place,
                     patches=args.patches, max_recompute=args.max_recompute)
    for w in caught:   # one line per float layer of a quantized model, per note on binary layers
        if issubclass(w.category, (FloatLayerWarning, BinarizeWarning)):
            print(f"firmnet: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    meta = {"model": str(Path(args.model).resolve()), "board": board, "name": args.name,
            "input_shapes": {k: list(v) for k, v in shapes.items()}, "requant": args.requant}
    if kernels:
        meta["kernels"] = kernels
    if args.keep_dead_channels:
        meta["dead_channels"] = False
    if args.sparse != "auto":
        meta["sparse"] = args.sparse
    if args.winograd != "auto":
        meta["winograd"] = args.winograd
    if args.schedule != "auto":
        meta["schedule"] = args.schedule
    if args.codebook_kernels != "auto":
        meta["codebook_kernels"] = args.codebook_kernels
    if args.in_place != "on":
        meta["in_place"] = args.in_place
    if args.patches != "off":
        meta["patches"] = args.patches
    if args.max_recompute != 0.2:
        meta["max_recompute"] = args.max_recompute
    (Path(args.output) / "firmnet.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    r = cm.report
    print(f"compiled {args.model} → {args.output}: {len(r['layers'])} steps, {r['macs']:,} MACs, "
          f"weights {r['weights_bytes']:,} B, arena {r['arena_bytes']:,} B (lower bound {r['lower_bound_bytes']:,} B)")
    if any(l.get("quant") for l in r["layers"]):
        print(f"requantization: {r['requant']} ({r['requant_why']})")
    target = get_board(board)
    if target.bare_metal:
        print(_firmware_sizes(target, r, (board_info(args.output) or {}).get("firmware")))
    return 0


def _firmware_sizes(board, report: dict, sizes: dict | None) -> str:
    """The firmware's flash and RAM beside the memory plan's figures and the board's capacity."""
    weights, arena = report["weights_bytes"], report["arena_bytes"]
    if sizes is None or not sizes.get("linked"):
        from .boards import STATIC_RAM_ESTIMATE
        tools = board.missing_tools()
        code = board.code_estimate(report)
        why = (f"the firmware build failed: {sizes['error']}" if sizes else
               f"{', '.join(t for t, _ in tools)} not installed: Debian/Ubuntu apt-get install "
               f"{' '.join(p for _, p in tools)}")
        return (f"{board.name}: not linked ({why}); estimate: flash ≤ {weights + code:,} B "
                f"(weights {weights:,} + code ≤ {code:,}) of {board.code_flash_bytes:,}, RAM ≤ "
                f"{arena + STATIC_RAM_ESTIMATE:,} B + {board.stack_bytes:,} B stack of {board.ram_bytes:,}")
    return (f"{board.name} firmware {sizes['elf']}: flash {sizes['flash']:,} B (weights {weights:,} + code "
            f"{sizes['flash'] - weights:,}) of {board.code_flash_bytes:,}; RAM {sizes['ram']:,} B "
            f".data + .bss (arena {arena:,}) + {sizes['stack']:,} B stack = {sizes['ram'] + sizes['stack']:,} "
            f"of {board.ram_bytes:,}")


def cmd_verify(args) -> int:
    from .verify import verify
    with step(f"recompiling the model of {args.output}"):
        cm = _load_compiled(Path(args.output))
    inputs = _read_inputs(args.inputs, cm.graph)
    with step("building the C on the host and comparing it with the reference"):
        result = verify(cm, inputs)
    print(result.summary())
    return 0 if result.ok else 1


def cmd_report(args) -> int:
    from .firmware import board_info
    from .report import format_report
    path = Path(args.output) / "report.json"
    if not path.is_file():
        raise FirmnetError(f"{args.output} has no report.json: run firmnet compile first")
    if args.html:
        from .report_html import write_html
        print(f"wrote {write_html(args.output, args.html)}")
        return 0
    report = json.loads(path.read_text())
    firmware = (board_info(args.output) or {}).get("firmware")
    print(json.dumps(report, indent=1) if args.json else format_report(report, firmware))
    return 0


def cmd_compress(args) -> int:
    """The stages of compress/pipeline.py, then their table (text, or JSON with --json)."""
    from .compress.pipeline import accuracy_line, asked_stages, format_table, load_model, run_stages, to_json
    asked_stages(args)                      # bad options fail before any work
    evaluation = None
    if args.eval:
        from .compress import read_labels, read_samples
        from .compress.evaluate import Evaluation
        samples = read_samples(args.eval, load_model(args.model), what="evaluation")
        labels = read_labels(args.eval)
        if len(labels) < len(samples):
            raise FirmnetError(f"{args.eval}: {len(samples)} samples but only {len(labels)} labels")
        evaluation = Evaluation(samples, labels)
    if args.board:
        from .boards import get_board
        get_board(args.board)
    results = run_stages(args.model, args.output, args, evaluation, args.board, log=None if args.json else print)
    if args.json:
        print(json.dumps(to_json(results, args.board, len(evaluation.samples) if evaluation else None), indent=1))
        return 0
    print(format_table(results, args.board))
    line = accuracy_line(results, len(evaluation.samples)) if evaluation else None
    if line:
        print(line)
    return 0


def cmd_run(args) -> int:
    from . import qemu
    from .boards import get_board
    from .firmware import board_of, write_board_files
    out = Path(args.output)
    board = get_board(args.board)
    with step(f"recompiling the model of {args.output}"):
        cm = _load_compiled(out)
    if not board.emulated:
        raise FirmnetError(f"board '{board.name}' is not emulated: firmnet run works on "
                           f"{', '.join(b.name for b in qemu._emulated())}; for {board.name}, cross-compile "
                           f"with firmnet compile --board {board.name} and cmake")
    if board_of(out) != board.name:     # compiled for another board: add this board's files
        board.check_fits(cm.report)
        write_board_files(out, board, cm.lowered_graph, cm.name)
    inputs = to_c_inputs(cm, _read_inputs(args.inputs, cm.graph), accept_raw=True)
    with step(f"cross-building for {board.name}"):
        qemu.build(out, board, profile=args.profile)
    with step(f"running in QEMU {board.machine}"):
        result = qemu.run(out, board, inputs, profile=args.profile)   # reuses the build
    real = from_c_outputs(cm, result.outputs)
    sizes = qemu.elf_sizes(result.elf, board)
    names = [o["name"] for o in cm.report["outputs"]]
    if args.profile:   # for `firmnet report OUT --html`: measured instructions per layer
        write_profile(out, board.name, result, cm.report)
    if args.json:
        doc = {"board": board.name, "outputs": {n: o.tolist() for n, o in zip(names, result.outputs)},
               "dequantized_outputs": {n: r.tolist() for n, o, r in zip(names, result.outputs, real)
                                       if r.dtype != o.dtype},
               "instructions": result.instructions, "ticks": result.ticks,
               "instructions_per_tick": result.instructions_per_tick, "stack_bytes": result.stack_bytes,
               "flash_bytes": sizes["flash"], "ram_bytes": sizes["ram"], "sizes": sizes,
               "arena_bytes": cm.report["arena_bytes"], "weights_bytes": cm.report["weights_bytes"],
               "macs": cm.report["macs"]}
        if args.profile:
            doc["layers"] = result.layers
        print(json.dumps(doc, indent=1))
        return 0
    with np.printoptions(threshold=sys.maxsize, linewidth=100):
        for n, o, r, spec in zip(names, result.outputs, real, cm.report["outputs"]):
            print(f"{n} {list(o.shape)} {o.dtype}:\n{o}")
            if r.dtype != o.dtype:   # an int8 output the model dequantizes
                print(f"{n} dequantized (scale {spec['scale']:.9g}, zero point {spec['zero_point']}) "
                      f"{list(r.shape)} {r.dtype}:\n{r}")
    print(f"{board.name}: {result.instructions:,} instructions per inference "
          f"(±{result.instructions_per_tick:g}: SysTick under QEMU -icount), {cm.report['macs']:,} MACs; "
          f"flash {sizes['flash']:,} B, RAM {sizes['ram']:,} B static + {result.stack_bytes:,} B stack "
          f"(arena {cm.report['arena_bytes']:,} B)")
    if args.profile:
        print(f"{'#':>3} {'layer':30} {'op':16} {'instructions':>14} {'MACs':>12}")
        for layer in result.layers:
            print(f"{layer['index']:>3} {layer['name'][:30]:30} {layer['op'][:16]:16} {layer['instructions']:>14,} "
                  f"{layer['macs']:>12,}")
    return 0


def write_profile(out: Path, board: str, result, report: dict) -> Path:
    """OUT/profile-<board>.json: a profile run's instructions, per layer and in all, with the
    report's provenance (a profile of an earlier compile is not shown as this one's)."""
    path = Path(out) / f"profile-{board}.json"
    doc = {"board": board, "provenance": report["provenance"], "instructions": result.instructions,
           "layers": result.layers}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def cmd_boards(args) -> int:
    from .boards import list_boards
    print(f"{'board':18} {'cpu':14} {'flash':>11} {'RAM':>13}  {'features':28} {'toolchain':18} description")
    for b in list_boards():
        flash = f"{b.flash_bytes:,}" if b.flash_bytes else "-"
        ram = f"{b.ram_bytes:,}" if b.ram_bytes else "-"
        toolchain = b.toolchain + (f", QEMU {b.machine}" if b.emulated else "")
        print(f"{b.name:18} {b.cpu:14} {flash:>11} {ram:>13}  {', '.join(b.features) or '-':28} {toolchain:18} "
              f"{b.description}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="firmnet", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"firmnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compile", help="compile a model into C sources")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True, help="output folder")
    c.add_argument("--board", default="host", help="a board of `firmnet boards`, or the path of a board .toml "
                   "file (default: host)")
    c.add_argument("--name", default="model", help="C prefix of the generated API (default: model)")
    c.add_argument("--input-shape", action="append", metavar="NAME=D1,D2,...",
                   help="static shape for an input with dynamic dimensions (repeatable)")
    c.add_argument("--requant", choices=REQUANT_CHOICES, default="auto",
                   help="rounding of int8 requantization: auto (default: the model's own runtime, ort for ONNX "
                        "and tflm for TFLite; tflm for ONNX on a board without FPU), tflm (TFLite's double "
                        "rounding), single (one rounding, as CMSIS-NN offers), ort (onnxruntime's float "
                        "requantization)")
    c.add_argument("--kernel", action="append", metavar="LAYER=KERNEL",
                   help="run layer LAYER with kernel KERNEL instead of the cheapest supported one, for experiments "
                        "(repeatable; `firmnet report` lists each layer's kernel and rejected candidates)")
    c.add_argument("--keep-dead-channels", action="store_true",
                   help="keep filters whose weights are all zero and channels nobody reads (by default they are "
                        "removed exactly, their constants folded into the next layers' biases; `firmnet report` "
                        "lists them)")
    c.add_argument("--sparse", choices=SPARSE_CHOICES, default="auto",
                   help="CSR sparse kernels for fully connected and convolution layers: auto (default: where "
                        "estimated faster, or where only the CSR weights fit the board's flash), on (wherever they "
                        "run), off")
    c.add_argument("--winograd", choices=WINOGRAD_CHOICES, default="auto",
                   help="Winograd F(2x2,3x3) kernels for 3x3 stride-1 convolutions: auto (default: where "
                        "estimated faster and their larger weights still fit the board's flash), on (wherever they "
                        "run), off")
    c.add_argument("--in-place", choices=("on", "off"), default="on",
                   help="let kernels write their output over their input where the kernel's loop order allows "
                        "it (firmnet/in_place.py; a layer whose output must start before its input has it "
                        "moved up afterwards): on (default: where the arena gets smaller), off (every live "
                        "tensor apart)")
    c.add_argument("--patches", default="off", metavar="off|auto|CUT:BANDS",
                   help="run the layers up to tensor CUT (conv2d/pool2d, each read by the next only) in BANDS "
                        "row bands, recomputing the halo rows (firmnet/patches.py): off (default), auto (the cut "
                        "and band count of the smallest arena within --max-recompute; none when no arena gets "
                        "smaller; tries every candidate: slower compiles), or CUT:BANDS")
    c.add_argument("--max-recompute", type=float, default=0.2,
                   help="--patches auto: the recomputed MACs allowed, as a fraction of the model's (default 0.2)")
    c.add_argument("--codebook-kernels", choices=SPARSE_CHOICES, default="auto",
                   help="codebook kernels for layers whose weights hold few distinct values (a palettized model, "
                        "README 'Codebook weights'): auto (default: where estimated not slower, or where only the "
                        "packed indices + codebooks fit the board's flash), on (wherever they run), off")
    c.add_argument("--schedule", choices=SCHEDULE_CHOICES, default="auto",
                   help="order of the layers: auto (default: in a DAG, the order of the branches with the lowest "
                        "peak of live bytes; the file's order unless that is lower), file (the model's order)")
    c.add_argument("--int8-only", action="store_true",
                   help="refuse a quantized model if any compute layer would run in float")
    c.set_defaults(func=cmd_compile)
    v = sub.add_parser("verify", help="build on the host and compare the C with the numpy reference")
    v.add_argument("output")
    v.add_argument("--inputs", help=".npz with one array per model input (default: seeded random inputs)")
    v.set_defaults(func=cmd_verify)
    r = sub.add_parser("report", help="per-layer table and memory plan")
    r.add_argument("output")
    r.add_argument("--json", action="store_true")
    r.add_argument("--html", metavar="PAGE", help="write the report as one self-contained HTML page (memory "
                                                  "timeline, per-layer bars, flash and RAM, kernels)")
    r.set_defaults(func=cmd_report)
    p.add_argument("--traceback", action="store_true", help="show Python tracebacks of internal errors")
    q = sub.add_parser("compress", help="compress a model into a new ONNX model: the stages asked (pruning, SVD, "
                                        "binarization, int8 quantization) in a fixed order, and a table of what each "
                                        "costs and saves")
    q.add_argument("model")
    q.add_argument("-o", "--output", required=True, help="output .onnx")
    q.add_argument("--quantize", choices=("int8",), help="post-training quantization")
    q.add_argument("--calib", help=".npz with calibration samples (one array per model input, samples first)")
    q.add_argument("--calibration", choices=("minmax", "percentile"), default="minmax",
                   help="how activation ranges come from the calibration data (default minmax)")
    q.add_argument("--percentile", type=float, default=99.999, help="percentile for --calibration percentile")
    q.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor instead of per channel")
    q.add_argument("--prune", type=float, metavar="S",
                   help="magnitude pruning: set the smallest weights of the Conv/Gemm/MatMul layers to 0 until a "
                        "fraction S in [0, 1) of them is 0 (one global ranking; the first conv and layers under "
                        "1,000 weights are skipped unless named in --prune-per-layer)")
    q.add_argument("--prune-floor", type=float, metavar="F",   # default: compress.prune.DEFAULT_FLOOR
                   help="fraction of its weights (--prune) or channels (--prune-structured) every layer keeps "
                        "(default 0.05)")
    q.add_argument("--prune-per-layer", metavar="NAME=S,...",
                   help="prune these layers (node names, as `firmnet compress --prune` lists them) each to its own "
                        "sparsity; the others follow --prune if given")
    q.add_argument("--prune-structured", type=float, metavar="S",
                   help="remove a fraction S of the filters and neurons (smallest L1 norm) with their inputs in the "
                        "consumers: a smaller dense model")
    q.add_argument("--svd-rank", type=int, metavar="R",
                   help="SVD low rank: replace each fully connected (Gemm/MatMul) and 1x1 conv layer W (m x n) of a "
                        "float model by two of rank R, where R x (m + n) < m x n")
    q.add_argument("--svd-energy", type=float, metavar="E",
                   help="SVD low rank, per layer the smallest rank keeping a fraction E in (0, 1] of the sum of "
                        "squared singular values (e.g. 0.95)")
    q.add_argument("--svd-layers", metavar="NAME,...",
                   help="factorize only these layers (node names, as the tables list them) with --svd-rank or "
                        "--svd-energy")
    q.add_argument("--binarize", metavar="auto|NAME,...",
                   help="binarize Conv/Gemm/MatMul layers XNOR-Net style (weights sign(W) and a per-channel "
                        "scale mean|W|, inputs through Sign): auto = all but the first and last layers (and grouped "
                        "convs), or the layers named; before --quantize int8")
    q.add_argument("--codebook", type=int, metavar="K",
                   help="k-means weight sharing, last (on the int8 weights, or the float ones): each Conv/Gemm/MatMul "
                        "weight becomes K = 4, 16 or 256 shared values and packed indices, written as "
                        "Gather(codebook, indices) (README 'Codebook weights'); its row is measured with the "
                        "codebook kernels (compile --codebook-kernels on)")
    q.add_argument("--codebook-per-channel", action="store_true",
                   help="one codebook per output channel instead of one per layer")
    q.add_argument("--codebook-layers", metavar="NAME,...",
                   help="palettize these layers only (node names; default: every one-group layer with at least K "
                        "weights)")
    q.add_argument("--eval", help=".npz with inputs and labels 'y': print the accuracy of the C before and after")
    q.add_argument("--requant", choices=REQUANT_CHOICES, default="auto",
                   help="rounding mode used for --eval (default auto: ort, the host's for an ONNX model)")
    q.add_argument("--board", help="add each stage's flash, arena and estimated instructions on this board "
                                   "(see firmnet boards)")
    q.add_argument("--json", action="store_true", help="print the stage table as JSON (nothing else)")
    q.set_defaults(func=cmd_compress)
    u = sub.add_parser("run", help="cross-build for an emulated board and run one inference in QEMU")
    u.add_argument("output")
    u.add_argument("--board", required=True, help="emulated board (see firmnet boards)")
    u.add_argument("--inputs", help=".npz with one array per model input (default: seeded random inputs)")
    u.add_argument("--json", action="store_true", help="outputs, instructions per inference and sizes as JSON")
    u.add_argument("--profile", action="store_true", help="instructions per layer (a -DFIRMNET_PROFILE build)")
    u.set_defaults(func=cmd_run)
    b = sub.add_parser("boards", help="list known boards")
    b.set_defaults(func=cmd_boards)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:   # `firmnet report OUT | head -1`: the reader has had enough
        _quiet_stdout()
        return 0
    except FirmnetError as exc:
        print(f"firmnet: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug in firmnet, not in the user's input
        if args.traceback:
            raise
        text = " ".join(str(exc).split())[:300]   # one line, however long or multi-line the exception
        print(f"firmnet {__version__}: internal error: {type(exc).__name__}: {text} -- a bug in firmnet: please "
              "report it with the model and this line (rerun with --traceback for the details)", file=sys.stderr)
        return 3


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that the interpreter's final flush
    does not raise a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):   # stdout is not a real file (e.g. captured by a test)
        pass


if __name__ == "__main__":
    sys.exit(main())

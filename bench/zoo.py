"""The torchvision zoo as a new user meets it: export, quantize, compile, compare with onnxruntime.

For each model (random weights, seeded), exporter (torch.onnx.export's dynamo exporter at its
default opset; TorchScript, dynamo=False, at opset 17) and precision it prints one row:

  float       the exported model
  int8        onnxruntime's quantize_static on the exported model (QDQ, its defaults), calibrated
              on seeded standard-normal inputs
  int8+pre    the same after onnxruntime's quant_pre_process (shape inference and optimization)

and the columns:

  compiles    yes, or no with the first line of firmnet's error
  max err     float rows: max |C - onnxruntime| over the test inputs, relative to the largest
              |onnxruntime output|
  =ort def    int8 rows: % of the C's output bytes equal to onnxruntime's (its output
              DequantizeLinear undone), default session
  =ort i8     the same with session.qdqisint8allowed=1 (onnxruntime fuses the int8 QDQ groups it can
              into its integer kernels; on x86 its default session fuses fewer: bench/README.md)
  max lsb     int8 rows: the largest |difference| in LSB over both sessions (an int8 model
              whose output layers stayed float gets its relative error in max err instead)
  float left  int8 rows: compute nodes of firmnet's lowered graph that are not integer kernels
              (float32 output; dequantize, data movement and int8 ops with a float output, such
              as a final int8 ReduceMean the model leaves unquantized, not counted)
  ort float d/i8
              int8 rows: compute nodes onnxruntime's optimized graph runs on dequantized
              floats, default session / qdqisint8allowed=1 (its QLinear* kernels not counted)
  weights, arena, lower bound: bytes, from firmnet's report

PyTorch is never a firmnet dependency: on first use the script makes its own virtual
environment in CACHE/torchenv (default ~/.cache/firmnet-zoo, or --cache) and pip-installs
torch, torchvision and onnxscript there (the pins are TORCH_PACKAGES below); the exports run in
that environment, then quantization, compilation and the comparisons run here (the project's
environment with its test extras: onnxruntime). Exported and quantized models are cached in
CACHE/models, generated C in CACHE/build; delete the folder to start over.

Run from the repository root:

    .venv/bin/python bench/zoo.py                       # all models, both exporters, all precisions
    .venv/bin/python bench/zoo.py --models squeezenet1_1 --exporters dynamo --precisions float

Nothing here asserts: tests hold the assertions. Exit status 0 whether or not models compile.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import re
import time
import warnings
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "firmnet-zoo"
TORCH_PACKAGES = ["torch==2.14.1", "torchvision==0.29.1", "onnxscript", "onnx", "onnxruntime"]

# model -> (torchvision constructor keyword arguments, input height = width)
MODELS = {
    "mobilenet_v2": ({"width_mult": 0.35}, 96),
    "mobilenet_v3_small": ({}, 96),
    "squeezenet1_1": ({}, 64),
    "shufflenet_v2_x0_5": ({}, 64),
    "mnasnet0_5": ({}, 96),
    "efficientnet_b0": ({}, 64),
}
EXPORTERS = ("dynamo", "torchscript")
PRECISIONS = ("float", "int8", "int8+pre")
TORCHSCRIPT_OPSET = 17
SEED = 2026
CALIBRATION_SAMPLES, TEST_SAMPLES = 16, 4
DATA_MOVEMENT = ("dequantize", "reshape", "transpose", "concat", "split", "slice", "gather", "pad")


def log(message: str) -> None:
    print(f"[zoo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- torch side (own venv)


def torch_python(cache: Path, given: Path | None = None) -> Path:
    """The torch environment's interpreter, made and filled on first use."""
    if given:
        return given
    env = cache / "torchenv"
    python = env / "bin" / "python"
    ready = env / "installed.json"
    if ready.exists() and json.loads(ready.read_text()) == TORCH_PACKAGES:
        return python
    log(f"first use: making {env} and installing {' '.join(TORCH_PACKAGES)} (several minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *TORCH_PACKAGES], check=True)
    ready.write_text(json.dumps(TORCH_PACKAGES))
    return python


def export_worker(jobs: list[dict]) -> None:
    """Runs inside the torch environment: exports each job's model, one JSON line per job."""
    import warnings

    import torch
    import torchvision
    for job in jobs:
        try:
            torch.manual_seed(job["seed"])
            kwargs = dict(job["kwargs"], num_classes=job["classes"])
            model = getattr(torchvision.models, job["model"])(weights=None, **kwargs).eval()
            x = torch.randn(1, 3, job["size"], job["size"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if job["exporter"] == "dynamo":
                    program = torch.onnx.export(model, (x,), dynamo=True, external_data=False, verbose=False)
                    program.save(job["out"])
                else:
                    torch.onnx.export(model, (x,), job["out"], dynamo=False, opset_version=TORCHSCRIPT_OPSET,
                                      input_names=["input"], output_names=["output"])
            print(json.dumps({"out": job["out"], "ok": True}), flush=True)
        except Exception as exc:  # report and go on with the next model
            print(json.dumps({"out": job["out"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}),
                  flush=True)


def export_all(cache: Path, models, exporters, classes, python=None) -> dict[tuple, str | None]:
    """(model, exporter) -> None if its ONNX file is in the cache, else the export error."""
    jobs, errors = [], {}
    for model in models:
        kwargs, size = MODELS[model]
        for exporter in exporters:
            out = model_path(cache, model, exporter, classes, "float")
            errors[model, exporter] = None
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                jobs.append({"model": model, "exporter": exporter, "kwargs": kwargs, "size": size,
                             "classes": classes, "seed": SEED, "out": str(out)})
    if jobs:
        python = torch_python(cache, python)
        log(f"exporting {len(jobs)} models in {python.parent.parent}")
        proc = subprocess.run([str(python), __file__, "_export", json.dumps(jobs)], capture_output=True, text=True)
        results = {}
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["out"]] = r
        for job in jobs:
            r = results.get(job["out"], {"ok": False, "error": proc.stderr.strip().splitlines()[-1:] or ["?"]})
            if not r["ok"]:
                errors[job["model"], job["exporter"]] = f"export failed: {r['error']}"
    return errors


def model_path(cache: Path, model: str, exporter: str, classes: int, precision: str) -> Path:
    suffix = {"float": "", "int8": ".int8", "int8+pre": ".pre.int8"}[precision]
    return cache / "models" / f"{model}-{MODELS[model][1]}px-{classes}c.{exporter}{suffix}.onnx"


# --------------------------------------------------------------------------- data and quantization


def random_inputs(size: int, count: int, seed: int):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, 3, size, size)).astype(np.float32) for _ in range(count)]


def quantize(float_path: Path, out: Path, size: int, pre: bool) -> None:
    """onnxruntime's quantize_static with its defaults (QDQ, int8 activations and weights)."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import onnx

    name = onnx.load(str(float_path), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.data = iter(random_inputs(size, CALIBRATION_SAMPLES, SEED + 1))

        def get_next(self):
            x = next(self.data, None)
            return None if x is None else {name: x}

    source = float_path
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)      # the quantizer logs a warning per bias and tensor
    try:
        if pre:
            # the shapes are static: ONNX's shape inference suffices (the symbolic one needs sympy)
            source = out.with_name(out.name.replace(".pre.int8.onnx", ".pre.onnx"))
            quant_pre_process(str(float_path), str(source), skip_symbolic_shape=True)
        quantize_static(str(source), str(out), Reader())
    finally:
        logging.getLogger().setLevel(quiet)


# --------------------------------------------------------------------------- onnxruntime side


def ort_session(path: Path, int8_allowed: bool = False):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if int8_allowed:
        opts.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_run(session, x):
    return session.run(None, {session.get_inputs()[0].name: x})


ORT_DATA_MOVEMENT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"}


def ort_float_nodes(path: Path, int8_allowed: bool) -> int:
    """Compute nodes onnxruntime's optimized graph runs on dequantized floats (not fused into a
    QLinear* integer kernel), from its optimized model (ORT_ENABLE_EXTENDED holds the QDQ fusions;
    the default level only adds NCHWc layout changes of float nodes)."""
    import tempfile

    import onnx
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.log_severity_level = 3
    if int8_allowed:
        opts.add_session_config_entry("session.qdqisint8allowed", "1")
    with tempfile.TemporaryDirectory() as d:
        opts.optimized_model_filepath = os.path.join(d, "optimized.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        g = onnx.load(opts.optimized_model_filepath).graph
    floating = {i.name for i in g.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    floating -= {t.name for t in g.initializer}
    count = 0
    for node in g.node:                      # topological order
        if node.op_type == "DequantizeLinear":
            floating.update(node.output)
        elif node.op_type != "QuantizeLinear" and any(i in floating for i in node.input):
            floating.update(node.output)
            count += node.op_type not in ORT_DATA_MOVEMENT
    return count


# --------------------------------------------------------------------------- firmnet side


def float_layers(cm) -> int:
    """Lowered compute nodes with a float32 output that are not integer kernels (an int8 reduce
    with a float output reads int8 and is one)."""
    g = cm.lowered_graph
    return sum(1 for n in g.nodes if g.types[n.outputs[0]].dtype == "float32" and n.op not in DATA_MOVEMENT
               and getattr(n.attrs, "quant", None) is None)


def c_inputs(cm, x):
    """The model's float input as the C takes it: quantized as its QuantizeLinear does where the
    lowered graph's input is int8 (round half to even, saturate)."""
    import numpy as np
    t = cm.lowered_graph.types[cm.lowered_graph.inputs[0]]
    if t.dtype == "float32":
        return [x]
    scale, zp = float(t.quant.scale[0]), int(t.quant.zero_point[0])
    return [np.clip(np.rint(x / np.float32(scale)) + zp, -128, 127).astype(np.int8)]


def c_outputs_int8(cm, host, x):
    """The C's output for the float input x: int8 in, int8 out through run_raw where the harness
    has it; else run with the quantized input, or with the float one where run quantizes it."""
    import firmnet
    if hasattr(host, "run_raw"):
        return host.run_raw(c_inputs(cm, x))[0]
    try:
        return host.run(c_inputs(cm, x))[0]
    except firmnet.FirmnetError:
        return host.run([x])[0]


def to_int8(y, quant):
    """onnxruntime's dequantized output back to the int8 values it came from."""
    import numpy as np
    scale, zp = np.float32(quant.scale[0]), int(quant.zero_point[0])
    return np.clip(np.rint(y.astype(np.float32) / scale) + zp, -128, 127).astype(np.int8)


QUOTED = r"'[^']*'"


def error_summary(text: str) -> str:
    """The first line of a compile error; for an error listing several nodes, their operators."""
    lines = text.strip().splitlines() or [""]
    ops = Counter(m.group(1) for line in lines[1:] for m in [re.match(r"\s+node '.*?' \((\w+)\)", line)] if m)
    if not ops:
        return lines[0].split("; ")[0]
    listed = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in ops.most_common())
    return f"{sum(ops.values())} nodes: {listed}"


def measure(path: Path, precision: str, size: int, build: Path, requant: str | None,
            samples: int = TEST_SAMPLES) -> dict:
    import numpy as np

    import firmnet
    row = {}
    kwargs = {"requant": requant} if requant else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # float layers are counted below, with their reasons
            cm = firmnet.compile(path, build, name="zoo", **kwargs)
    except Exception as exc:   # FirmnetError, or a crash worth seeing in the table
        kind = "" if isinstance(exc, firmnet.FirmnetError) else f"{type(exc).__name__}: "
        row["compiles"] = f"no: {kind}{error_summary(str(exc))}"
        return row
    row["compiles"] = "yes"
    r = cm.report
    row["reasons"] = Counter(layer["op"] + ": " + re.sub(QUOTED, "'*'", layer["reason"])
                             for layer in r.get("float_layers", ()))
    row.update(weights=r["weights_bytes"], arena=r["arena_bytes"], lower=r["lower_bound_bytes"])
    try:
        host = cm.build_host()
    except Exception as exc:
        row["compiles"] = f"yes, host build failed: {str(exc).strip().splitlines()[0]}"
        return row
    xs = random_inputs(size, samples, SEED + 2)
    if precision == "float":
        row["float_left"] = "-"
        session, worst = ort_session(path), 0.0
        for x in xs:
            want = ort_run(session, x)[0].astype(np.float64)
            got = np.asarray(host.run([x])[0], np.float64)
            worst = max(worst, float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)))
        row["max_err"] = f"{worst:.1e}"
        return row
    row["float_left"] = float_layers(cm)
    row["ort_float"] = f"{ort_float_nodes(path, False)}/{ort_float_nodes(path, True)}"
    out_t = cm.lowered_graph.types[cm.lowered_graph.outputs[0]]
    worst_lsb, worst_err = 0, 0.0
    for key, allowed in (("eq_default", False), ("eq_int8", True)):
        session, equal, total = ort_session(path, allowed), 0, 0
        for x in xs:
            want = ort_run(session, x)[0]
            got = np.asarray(c_outputs_int8(cm, host, x))
            if out_t.dtype == "int8" and got.dtype == np.int8:
                want = to_int8(want, out_t.quant)
            elif out_t.quant is not None:     # a dequantized float output: compare the int8 behind it
                got, want = to_int8(got, out_t.quant), to_int8(want, out_t.quant)
            equal += int(np.sum(got == want))
            total += got.size
            if got.dtype == np.int8:
                worst_lsb = max(worst_lsb, int(np.abs(got.astype(np.int32) - want.astype(np.int32)).max()))
            else:                             # the model's last layers are float (not quantized)
                worst_err = max(worst_err, float(np.abs(got.astype(np.float64) - want).max()
                                                 / max(np.abs(want).max(), 1e-12)))
        row[key] = f"{100.0 * equal / total:.1f}%"
    if out_t.dtype == "int8":
        row["max_lsb"] = worst_lsb
    else:
        row["max_err"] = f"{worst_err:.1e}"
    return row


# --------------------------------------------------------------------------- table


COLUMNS = [("model", "model"), ("exporter", "exporter"), ("precision", "precision"), ("compiles", "compiles"),
           ("max_err", "max err"), ("eq_default", "=ort def"), ("eq_int8", "=ort i8"), ("max_lsb", "max lsb"),
           ("float_left", "float left"), ("ort_float", "ort float d/i8"), ("weights", "weights"), ("arena", "arena"), ("lower", "lower bound")]


def print_table(rows, width: int) -> None:
    def text(row, key):
        v = row.get(key, "-")
        if isinstance(v, int) and key in ("weights", "arena", "lower"):
            return f"{v:,}"
        v = str(v)
        return v if len(v) <= width else v[:width - 3] + "..."
    cells = [[head for _, head in COLUMNS]] + [[text(r, k) for k, _ in COLUMNS] for r in rows]
    widths = [max(len(c[k]) for c in cells) for k in range(len(COLUMNS))]
    right = {"weights", "arena", "lower", "float_left", "max_lsb", "ort_float"}
    for i, c in enumerate(cells):
        print("  ".join(v.rjust(w) if COLUMNS[k][0] in right else v.ljust(w)
                        for k, (v, w) in enumerate(zip(c, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/zoo.py", description=__doc__,
                                epilog=f"Cache folder (torch venv, exported and quantized models, generated C): "
                                       f"--cache, default {DEFAULT_CACHE}",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), metavar="MODEL",
                   help=f"some of: {', '.join(MODELS)} (default all)")
    p.add_argument("--exporters", nargs="+", choices=EXPORTERS, default=list(EXPORTERS), metavar="EXPORTER",
                   help="dynamo and/or torchscript (default both)")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS), metavar="PRECISION",
                   help="some of: float, int8, int8+pre (default all)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                   help=f"the torch virtual environment, models and builds (default {DEFAULT_CACHE})")
    p.add_argument("--torch-python", type=Path, default=None,
                   help="an interpreter that already has torch, torchvision and onnxscript (skips CACHE/torchenv)")
    p.add_argument("--classes", type=int, default=1000, help="classifier outputs (torchvision's default 1000)")
    p.add_argument("--requant", default=None, help="firmnet's --requant for int8 rows (default: firmnet's default)")
    p.add_argument("--inputs", type=int, default=TEST_SAMPLES,
                   help=f"test inputs per model (default {TEST_SAMPLES}; the first ones are always the same)")
    p.add_argument("--width", type=int, default=72, help="cut the compiles column (errors) to this many characters")
    args = p.parse_args(argv)
    cache = args.cache.resolve()

    export_errors = export_all(cache, args.models, args.exporters, args.classes, args.torch_python)
    rows = []
    for model in args.models:
        size = MODELS[model][1]
        for exporter in args.exporters:
            float_path = model_path(cache, model, exporter, args.classes, "float")
            for precision in args.precisions:
                row = {"model": f"{model} {size}px", "exporter": exporter, "precision": precision}
                rows.append(row)
                if export_errors[model, exporter]:
                    row["compiles"] = export_errors[model, exporter]
                    continue
                path = model_path(cache, model, exporter, args.classes, precision)
                if precision != "float" and not path.exists():
                    log(f"quantizing {path.name}")
                    try:
                        quantize(float_path, path, size, pre=precision == "int8+pre")
                    except Exception as exc:
                        row["compiles"] = f"quantize_static failed: {type(exc).__name__}: {exc}".splitlines()[0]
                        continue
                log(f"compiling {path.name}")
                build = cache / "build" / path.name.replace(".onnx", "")
                row.update(measure(path, precision, size, build, args.requant, args.inputs))
    commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True,
                            text=True).stdout.strip() or "?"
    print(f"firmnet zoo at commit {commit}: random weights (seed {SEED}), {args.classes} classes, "
          f"{args.inputs} standard-normal test inputs, {CALIBRATION_SAMPLES} calibration inputs; "
          f"dynamo = torch.onnx.export default, torchscript = dynamo=False opset {TORCHSCRIPT_OPSET}")
    print_table(rows, args.width)
    reasons = [(r, r["reasons"]) for r in rows if r.get("reasons")]
    if reasons:
        print("\nWhy layers stayed float (firmnet's report.json float_layers; tensor and node names shown as '*'):")
        for r, counts in reasons:
            print(f"  {r['model']} {r['exporter']} {r['precision']}:")
            for reason, n in counts.most_common():
                print(f"    {n:3d} x {reason}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_export"]:
        export_worker(json.loads(sys.argv[2]))
    else:
        sys.exit(main())

"""`firmnet compress` as one pipeline: the asked compression stages in a fixed order, and a
table of what each costs in accuracy and buys in weight bytes, MACs, flash, RAM and time.

The order (STAGES):

    structured pruning -> pruning -> SVD low rank -> binarization -> int8 quantization -> codebook

Pruning chooses on the trained float weights, structured pruning first because it changes
the shapes the later stages see; quantization comes after every method that rewrites float
weights, so that its calibration sees the final ones. SVD works on float weights only, and
comes before binarization, which replaces weights by their signs (binarization refuses int8
models: it needs the float weights' signs and magnitudes; quantization leaves binary layers
float, their weights ±1: binarize.binary_nodes). Codebooks (weight sharing) come last, on the
int8 weights, or on the float ones when nothing quantizes (their Gather of constants would
hide the weights from the stages before); the codebook stage's model is measured with the
codebook kernels on (Stage.compile).

A stage is a `Stage`: `run(model, options) -> (model, rows)` rewrites an onnx.ModelProto
(in place or into a new one) and returns one row per layer it touched (frozen dataclasses,
or dicts) for its printed table and the JSON; `options` is the command line's namespace
(argparse: from Python, `firmnet.cli.parser().parse_args(["compress", MODEL, "-o", OUT, ...])`),
so a stage reads its own flags there. `run_stages` applies the stages asked for,
checks each result with onnx.checker, writes every intermediate model beside the output
(OUT.<key>.onnx; the last stage writes OUT) and measures the input and every stage's model
(compress/measure.py).

How to add a stage (e.g. codebook, binarize):
1. the method itself, in compress/<method>.py: a function that rewrites an onnx.ModelProto
   and returns its rows, tested directly;
2. one `Stage(...)` entry in STAGES at its place in the order, with key (the intermediate
   file's suffix and the JSON's "stage"), label (its row in the table), asked (whether the
   options ask for it), run, and if needed check (refuse bad options before any stage runs,
   with a FirmnetError naming the flag), describe (its rows as text; default: a table of the
   rows' fields), written (what the "wrote OUT (...)" line says; default: the label) and
   compile (firmnet.compile options its model is measured with; default none);
3. its flag(s) in cli.py's `compress` parser, and the flag's name in NOTHING_TO_DO if it
   should be suggested. Nothing else changes: the table, --eval, --board and --json cover
   every stage.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import onnx

from ..ir import FirmnetError
from .evaluate import Evaluation
from .measure import Figures, is_quantized, measure

NOTHING_TO_DO = ("nothing to do: give a compression, e.g. --quantize int8 --calib data.npz, --prune 0.8, "
                 "or --svd-energy 0.95")


def format_rows(rows: list) -> str:
    """A stage's rows (dataclasses or dicts) as a plain table, one column per field."""
    if not rows:
        return ""
    dicts = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else dict(r) for r in rows]
    keys = list(dicts[0])
    cells = [[_cell(d.get(k)) for k in keys] for d in dicts]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _nothing(options) -> None:
    return None


@dataclass(frozen=True)
class Stage:
    key: str                                              # OUT.<key>.onnx, the JSON's "stage"
    label: Callable[[Any], str]                           # options -> its row in the table
    asked: Callable[[Any], bool]                          # options -> whether it runs
    run: Callable[[onnx.ModelProto, Any], tuple]          # (model, options) -> (model, rows)
    check: Callable[[Any], None] = _nothing               # options -> None, or FirmnetError
    describe: Callable[[list], str] = format_rows         # rows -> the text printed after it ran
    written: Callable[[Any], str] | None = None           # options -> "wrote OUT (...)"; None: label
    compile: Callable[[Any], dict] = lambda o: {}         # options -> firmnet.compile options its model
                                                          # is measured with (codebook: its kernels on)


# --- the stages -------------------------------------------------------------------------

def _structured_check(o) -> None:
    from .prune import check_sparsity
    check_sparsity(o.prune_structured, "--prune-structured")


def _structured(model, o):
    from .prune import DEFAULT_FLOOR
    from .structured import prune_structured
    floor = DEFAULT_FLOOR if o.prune_floor is None else o.prune_floor
    return model, prune_structured(model, o.prune_structured, floor=floor)


def _structured_text(rows) -> str:
    from .structured import format_structured
    return format_structured(rows)


def _pruning_check(o) -> None:
    from .prune import check_sparsity, parse_per_layer
    if o.prune is not None:
        check_sparsity(o.prune)
    parse_per_layer(o.prune_per_layer or "")


def _pruning(model, o):
    from .prune import DEFAULT_FLOOR, parse_per_layer, prune
    floor = DEFAULT_FLOOR if o.prune_floor is None else o.prune_floor
    return model, prune(model, o.prune, parse_per_layer(o.prune_per_layer or ""), floor=floor)


def _pruning_text(rows) -> str:
    from .prune import format_sparsity
    return format_sparsity(rows)


def _pruning_label(o) -> str:
    return f"pruned {o.prune:.0%}" if o.prune is not None and not o.prune_per_layer else "pruned"


def _svd_check(o) -> None:
    from .svd import check_energy, check_rank, parse_layers
    if o.svd_rank is not None and o.svd_energy is not None:
        raise FirmnetError("give one of --svd-rank R and --svd-energy E, not both")
    if o.svd_rank is None and o.svd_energy is None:
        raise FirmnetError("--svd-layers needs a rank: --svd-rank R or --svd-energy E")
    if o.svd_rank is not None:
        check_rank(o.svd_rank)
    else:
        check_energy(o.svd_energy)
    if o.svd_layers is not None:
        parse_layers(o.svd_layers)


def _svd(model, o):
    from .svd import parse_layers, svd
    layers = None if o.svd_layers is None else parse_layers(o.svd_layers)
    return model, svd(model, rank=o.svd_rank, energy=o.svd_energy, layers=layers)


def _svd_text(rows) -> str:
    from .svd import format_ranks
    return format_ranks(rows)


def _svd_label(o) -> str:
    return f"SVD rank {o.svd_rank}" if o.svd_rank is not None else f"SVD energy {o.svd_energy:g}"


def _binarize_check(o) -> None:
    from .binarize import parse_layers
    if not parse_layers(o.binarize):
        raise FirmnetError("--binarize: give auto or layer names (NAME,NAME,...; as the table lists them)")


def _binarize(model, o):
    from .binarize import binarize, parse_layers
    return model, binarize(model, parse_layers(o.binarize))


def _binarize_text(rows) -> str:
    from .binarize import format_binarized
    return format_binarized(rows)


def _binarize_label(o) -> str:
    from .binarize import AUTO, parse_layers
    layers = parse_layers(o.binarize)
    return "binary" if layers == AUTO else f"binary ({len(layers)} layer{'s' if len(layers) > 1 else ''})"


def _int8_check(o) -> None:
    if not o.calib:
        raise FirmnetError("--quantize int8 needs calibration data: --calib data.npz (model inputs, samples first)")


def _int8(model, o):
    from .binarize import binary_nodes
    from .quantize import quantize_int8
    with tempfile.TemporaryDirectory(prefix="firmnet-quantize-") as work:
        source, target = Path(work) / "float.onnx", Path(work) / "int8.onnx"
        onnx.save(model, str(source))
        quantize_int8(source, o.calib, target, method=o.calibration, percentile=o.percentile,
                      per_channel=not o.per_tensor, exclude=binary_nodes(model))
        return onnx.load(str(target)), []


def _int8_written(o) -> str:
    return (f"int8 QDQ: symmetric per-{'tensor' if o.per_tensor else 'channel'} weights, "
            f"activation ranges by {o.calibration}")


def _codebook_check(o) -> None:
    from .codebook import check_k
    check_k(o.codebook)


def _codebook(model, o):
    from .codebook import codebook
    layers = [n for n in (o.codebook_layers or "").split(",") if n] or None
    return model, codebook(model, o.codebook, per_channel=o.codebook_per_channel, layers=layers)


def _codebook_text(rows) -> str:
    from .codebook import format_codebook
    return format_codebook(rows)


def _codebook_label(o) -> str:
    return f"codebook {o.codebook}" + (" per channel" if o.codebook_per_channel else "")


STAGES: tuple[Stage, ...] = (
    Stage("structured", lambda o: f"pruned structured {o.prune_structured:.0%}",
          lambda o: o.prune_structured is not None, _structured, check=_structured_check, describe=_structured_text,
          written=lambda o: "pruned"),
    Stage("pruned", _pruning_label, lambda o: o.prune is not None or bool(o.prune_per_layer), _pruning,
          check=_pruning_check, describe=_pruning_text, written=lambda o: "pruned"),
    Stage("svd", _svd_label, lambda o: any(v is not None for v in (o.svd_rank, o.svd_energy, o.svd_layers)), _svd,
          check=_svd_check, describe=_svd_text),
    Stage("binary", _binarize_label, lambda o: o.binarize is not None, _binarize, check=_binarize_check,
          describe=_binarize_text, written=lambda o: "binarized"),
    Stage("int8", lambda o: "int8", lambda o: o.quantize == "int8", _int8, check=_int8_check,
          describe=lambda rows: "", written=_int8_written),
    # measured with the codebook kernels on: the table shows the packed weights' flash and cost
    Stage("codebook", _codebook_label, lambda o: o.codebook is not None, _codebook, check=_codebook_check,
          describe=_codebook_text, written=lambda o: f"{_codebook_label(o)}: Gather(codebook, indices) weights",
          compile=lambda o: {"codebook_kernels": "on"}),
)


# --- running them -----------------------------------------------------------------------

@dataclass(frozen=True)
class StageResult:
    """One row of the table: the input model (stage None) or a stage's output."""
    stage: str | None
    label: str
    path: Path
    figures: Figures
    rows: list = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        """The row's name: the label, with the int8 arithmetic measured (`int8 (ort)`)."""
        return f"{self.label} ({self.figures.requant})" if self.figures.requant else self.label


def asked_stages(options) -> list[Stage]:
    """The stages the options ask for, in the pipeline's order, their options checked."""
    stages = [s for s in STAGES if s.asked(options)]
    if not stages:
        raise FirmnetError(NOTHING_TO_DO)
    for s in stages:
        s.check(options)
    return stages


def load_model(path) -> onnx.ModelProto:
    if not str(path).endswith(".onnx"):
        raise FirmnetError(f"{path}: firmnet compress works on ONNX models (.onnx)")
    try:
        return onnx.load(str(path))
    except Exception as exc:   # a missing file, or bytes that are not an ONNX model
        raise FirmnetError(f"cannot read {path}: {exc}") from None


def stage_path(out: Path, stage: Stage, last: bool) -> Path:
    return out if last else out.with_name(f"{out.stem}.{stage.key}.onnx")


def run_stages(model_path, out, options, evaluation: Evaluation | None = None, board: str | None = None,
               log: Callable[[str], None] | None = print) -> list[StageResult]:
    """Apply the asked stages to the model at model_path, write OUT (and the intermediate
    models), and measure the input and each stage's output; log gets each stage's text."""
    stages = asked_stages(options)
    model = load_model(model_path)
    out = Path(out)
    requant = getattr(options, "requant", "auto")
    first = "input" if is_quantized(model) else "float"
    results = [StageResult(None, first, Path(model_path), measure(model, requant, evaluation, board))]
    for k, stage in enumerate(stages):
        model, rows = stage.run(model, options)
        onnx.checker.check_model(model)
        path = stage_path(out, stage, k == len(stages) - 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))
        if log is not None:
            text = stage.describe(rows)
            if text:
                log(text)
            log(f"wrote {path} ({(stage.written or stage.label)(options)})")
        results.append(StageResult(stage.key, stage.label(options), path,
                                   measure(path, requant, evaluation, board, **stage.compile(options)), list(rows)))
    return results


# --- the table --------------------------------------------------------------------------

def format_table(results: list[StageResult], board: str | None = None) -> str:
    """The stage table as printed: accuracy (when measured), weight bytes, MACs and, with a
    board, flash, arena and estimated instructions; a model that did not compile says why."""
    accuracy = any(r.figures.accuracy is not None for r in results)
    head = ["stage"] + (["accuracy"] if accuracy else []) + ["weight bytes", "MACs"]
    if board:
        head += ["flash", "arena", "est. instructions"]
    lines, notes = [], []
    for r in results:
        f = r.figures
        if f.error:
            lines.append([r.name] + ["-"] * (len(head) - 1))
            notes.append(f"{r.name}: not compiled: {_short(f.error)}")
            continue
        row = [r.name] + ([_cell(f.accuracy) if f.accuracy is None else f"{f.accuracy:.4f}"] if accuracy else [])
        row += [f"{f.weights_bytes:,}", f"{f.macs:,}"]
        if board:
            row += [f"{f.flash_bytes:,}" + ("" if f.flash_linked else " (est.)"), f"{f.arena_bytes:,}",
                    f"{f.instructions:,}"]
        lines.append(row)
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head)]
    text = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    text += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in lines]
    if board:
        text.append(f"on {board}: flash of the linked firmware (est.: weights + the board's code estimate, when it "
                    "cannot be linked here), arena bytes, instructions of one inference by the kernels' cost model")
    return "\n".join(text + notes)


def _short(error: str) -> str:
    """A compile error on one line, without the list of supported operators (firmnet compile
    of the stage's model prints it whole)."""
    lines = [line.strip() for line in error.splitlines() if not line.startswith("supported operators")]
    return " ".join([lines[0], "; ".join(lines[1:])]).strip()


def accuracy_line(results: list[StageResult], samples: int) -> str | None:
    """One line of the accuracies measured, in stage order (None: no --eval)."""
    measured = [r for r in results if r.figures.accuracy is not None]
    if not measured:
        return None
    return (f"accuracy of the generated C on {samples} samples: "
            + ", ".join(f"{r.name} {r.figures.accuracy:.4f}" for r in measured))


def to_json(results: list[StageResult], board: str | None = None, samples: int | None = None) -> dict:
    """The same table as a JSON document (rows: each stage's per-layer rows)."""
    def rows(r):
        return [dataclasses.asdict(x) if dataclasses.is_dataclass(x) else dict(x) for x in r.rows]
    return {"board": board, "samples": samples,
            "stages": [{"stage": r.stage or "input", "name": r.name, "model": str(r.path),
                        **dataclasses.asdict(r.figures), "rows": rows(r)} for r in results]}

"""The compile pipeline: load → passes → lower → plan → emit, and the CompiledModel it returns."""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from . import __version__
from .codegen.c_literals import c_identifier
from .codegen.emit import emit, sources_for
from .float_layers import FloatLayerWarning, float_layers, message
from .frontend import load
from .ir import FirmnetError, Graph
from .kernels.select import select_kernels
from .lowering import Alias, KernelCall
from .patches import apply as apply_patches, parse_spec as parse_patches
from .concat_views import apply as apply_concat_views, describe as describe_views
from .memory import MemoryPlan, analyse
from .schedule import describe as describe_schedule, schedule_graph
from .passes import pipeline, run_pipeline
from .passes.dead_channels import removal_summary, remove_dead_channels
from .passes.dead_requant import normalize_dead_requant
from .reference.fixedpoint import REQUANT_MODES
from .report import build_report
from .resources import runtime_dir


@dataclass
class CompiledModel:
    out_dir: Path
    name: str
    graph: Graph            # the model as loaded (model layout): what firmnet.reference.run takes
    lowered_graph: Graph    # after passes: the graph the C computes, node by node
    lowered: dict
    memory: MemoryPlan
    report: dict
    requant: str = "ort"     # the requantization mode the C uses (--requant auto resolved)

    @property
    def name_prefix(self) -> str:
        """The C identifier prefix of the generated API (kws → kws_invoke)."""
        return c_identifier(self.name).lower()

    def build_host(self, trace: bool = False):
        from .harness import build_host
        return build_host(self, trace=trace)


def _model_digest(model) -> str:
    if isinstance(model, (str, Path)):
        return hashlib.sha256(Path(model).read_bytes()).hexdigest()[:16]
    return hashlib.sha256(model.SerializeToString()).hexdigest()[:16]


REQUANT_CHOICES = ("auto", *REQUANT_MODES)


def resolve_requant(requant: str, model, board) -> tuple[str, str]:
    """(mode, why) for --requant: auto follows the model's own reference runtime, onnxruntime
    (ort) for ONNX and TensorFlow Lite Micro (tflm) for TFLite, except on a board without an
    FPU, where ort's float32 requantization of every output runs in soft float (measured:
    1.1-2.7x the instructions of tflm, bench/requant_cost.py) and auto takes tflm."""
    if requant not in REQUANT_CHOICES:
        raise FirmnetError(f"unknown --requant mode '{requant}' (modes: {', '.join(REQUANT_CHOICES)})")
    if requant != "auto":
        return requant, f"--requant {requant}"
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".tflite":
        return "tflm", "auto: a TFLite model, TensorFlow Lite Micro's arithmetic"
    if board.toolchain != "host" and board.fpu == "none":
        return "tflm", (f"auto: an ONNX model, but board {board.name} has no FPU (onnxruntime's float "
                        "requantization would run in soft float): TFLite's fixed-point arithmetic")
    return "ort", "auto: an ONNX model, onnxruntime's arithmetic"


def compile(model, out_dir, board: str = "host", name: str = "model", input_shapes=None,
            algorithm: str = "best", requant: str = "auto", write: bool = True,
            int8_only: bool = False, kernels: dict | None = None, dead_channels: bool = True,
            channel_align: int | None = None, sparse: str = "auto", winograd: str = "auto",
            codebook_kernels: str = "auto", schedule: str = "auto", in_place: str = "on",
            patches: str = "off", max_recompute: float = 0.2) -> CompiledModel:
    """Compile an ONNX model (path or ModelProto) into C sources in out_dir.

    In a quantized model, every compute layer left in float is named in a FloatLayerWarning
    and in report["float_layers"] with the reason; int8_only=True refuses such a model.
    write=False recomputes everything but leaves out_dir as it is (verify uses this to
    check the sources already there). kernels ({layer: kernel}, --kernel) forces the
    kernel of those layers instead of the cheapest (kernels/select.py). dead_channels=False
    (--keep-dead-channels) leaves out the last pass, the exact removal of dead filters and
    unread channels (passes/dead_channels.py); report["dead_channels"] lists what it removed.
    channel_align: the pass keeps channel counts that are multiples of it multiples (default 4
    on boards with the DSP extension, whose kernels run 4k channels faster, else 1). sparse
    (--sparse: auto, on, off) decides about the CSR kernels, winograd (--winograd: auto, on, off)
    about the Winograd kernels, codebook_kernels (--codebook-kernels) about the kernels of
    palettized weights (kernels/select.py). schedule (--schedule: auto, file) orders the nodes:
    auto runs a DAG's branches in the order of lowest peak live bytes (schedule.py), file keeps
    the model's order; report["schedule"] shows the order and both bounds. in_place (--in-place: on, off)
    lets kernels write their output over their input where in_place.py allows it (memory.py).
    patches (--patches: off, auto, or CUT:BANDS) runs the layers up to tensor CUT in BANDS row bands
    (patches.py); auto picks the cut and band count of the smallest arena among those that
    recompute at most max_recompute x the model's MACs, and only when the arena gets smaller
    (else no patches); the nodes then keep the model's order (schedule auto acts as file), and
    report["patches"] gives the cut, the recomputed MACs and the arena without patches."""
    from .boards import get_board
    target = get_board(board)
    requant, requant_why = resolve_requant(requant, model, target)
    graph = load(model, input_shapes=input_shapes, requant=requant)
    lowered_graph = run_pipeline(graph, pipeline(requant))
    removed = []
    if dead_channels:
        if channel_align is None:   # the DSP kernels want 4k channels (passes/dead_channels.py rule 4)
            channel_align = 4 if target.dsp else 1
        live = run_pipeline(lowered_graph, (partial(remove_dead_channels, align=channel_align),
                                            normalize_dead_requant))
        removed, lowered_graph = removal_summary(lowered_graph, live), live
    patch_spec = parse_patches(patches) if patches != "auto" else None
    patch_plan, arena_without, lean = None, None, 0
    if patch_spec is not None or patches == "auto":
        whole = select_kernels(lowered_graph, target, kernels, sparse, winograd, codebook_kernels)
        arena_without = _plan_with_views(lowered_graph, whole, schedule, algorithm, in_place, None)[3].arena_size
        if patch_spec is None:
            patch_spec, lean = _choose_patches(lowered_graph, target, kernels, sparse, winograd, codebook_kernels,
                                               algorithm, in_place, max_recompute, arena_without)
        if patch_spec is not None:
            lowered_graph, patch_plan = apply_patches(lowered_graph, *patch_spec)
            schedule = "file" if schedule == "auto" else schedule
            if lean:
                band_kernels = dict(list(lean_kernels(lowered_graph, select_kernels(
                    lowered_graph, target, kernels, sparse, winograd, codebook_kernels), patch_plan, target).items())[:lean])
    lowered = select_kernels(lowered_graph, target, {**(kernels or {}), **band_kernels} if lean else kernels,
                             sparse, winograd, codebook_kernels)
    if patch_plan is not None:
        lowered[patch_plan.join] = Alias()   # the bands wrote their rows in place (memory.py joins)
    joins = {patch_plan.join: (patch_plan.source, patch_plan.max_shift)} if patch_plan else None
    lowered_graph, lowered, sched, memory, views, views_note = _plan_with_views(
        lowered_graph, lowered, schedule, algorithm, in_place, joins)
    options = {"board": target.name, "name": name, "planner": algorithm, "requant": requant}
    if not dead_channels:   # (the defaults stay out, so that earlier projects keep their provenance)
        options["dead_channels"] = False
    elif channel_align is not None and channel_align != (4 if target.dsp else 1):
        options["channel_align"] = channel_align
    if kernels:
        options["kernels"] = dict(sorted(kernels.items()))
    if sparse != "auto":
        options["sparse"] = sparse
    if winograd != "auto":
        options["winograd"] = winograd
    if codebook_kernels != "auto":
        options["codebook_kernels"] = codebook_kernels
    if schedule != "auto":
        options["schedule"] = schedule
    if in_place != "on":
        options["in_place"] = in_place
    if patches != "off":
        options["patches"] = patches
        if patches == "auto" and max_recompute != 0.2:
            options["max_recompute"] = max_recompute
    if input_shapes:
        options["input_shapes"] = {k: list(v) for k, v in sorted(input_shapes.items())}
    provenance = (f"Generated by firmnet {__version__} from model sha256:{_model_digest(model)} with options "
                  f"{json.dumps(options, sort_keys=True)}. Do not edit.")
    emitted = emit(lowered_graph, lowered, memory, name, provenance, ort_paths=requant == "ort")
    report = build_report(lowered_graph, lowered, memory, name=name, provenance=provenance, board=target,
                          constants=emitted.constants)
    report["requant"], report["requant_why"] = requant, requant_why
    report["dead_channels"] = {"enabled": dead_channels, "layers": removed,
                               "macs_saved": sum(r["macs_saved"] for r in removed)}
    report["float_layers"] = float_layers(graph, lowered_graph)
    report["concat_views"] = {"elided": describe_views(views), "note": views_note}
    if patch_plan is None:
        report["schedule"] = describe_schedule(lowered_graph, sched, memory)
        report["classic_lower_bound_bytes"] = sched.classic_bound
    else:
        # The schedule's live-set model counts the bands' Concat as a copy (it is none): its
        # bounds would overstate a patched arena, so the report gives the arena without patches.
        report["schedule"] = None
    if patch_plan is not None:
        report["patches"] = {"cut": patch_plan.cut, "bands": patch_plan.bands, "layers": list(patch_plan.layers),
                             "recomputed_macs": patch_plan.recomputed_macs, "arena_without": arena_without,
                             "lean_kernels": dict(sorted(band_kernels.items())) if lean else {}}
    if int8_only and report["float_layers"]:
        raise FirmnetError(f"int8 only: {len(report['float_layers'])} layer(s) run in float: "
                           + "; ".join(message(layer) for layer in report["float_layers"]))
    for layer in report["float_layers"]:
        warnings.warn(message(layer), FloatLayerWarning, stacklevel=2)
    target.check_fits(report)
    out = Path(out_dir)
    if write:
        _write(out, emitted.files, lowered, report)
        from .firmware import write_board_files
        write_board_files(out, target, lowered_graph, name)
    return CompiledModel(out, name, graph, lowered_graph, lowered, memory, report, requant)


def _choose_patches(graph, target, kernels, sparse, winograd, codebook_kernels, algorithm, in_place,
                    max_recompute, arena_without):
    """--patches auto: ((cut, bands), lean) of the smallest arena (then the fewest recomputed MACs,
    then the kernels as selected), or (None, 0) when no candidate beats the arena without
    patches. lean: how many of the first bands run their layer that reads the run's input on
    a kernel of less scratch (lean_kernels): the whole input is live while the first bands run,
    so that scratch can make the peak; the fewest such bands that give the smallest arena."""
    from .patches import candidates

    def arena(patched, plan, forced):
        chosen = select_kernels(patched, target, {**(kernels or {}), **forced}, sparse, winograd, codebook_kernels)
        chosen[plan.join] = Alias()
        return analyse(patched, chosen, algorithm, in_place, {plan.join: (plan.source, plan.max_shift)}).arena_size

    best = None
    for cut, bands, patched, plan in candidates(graph, max_recompute):
        lowered = select_kernels(patched, target, kernels, sparse, winograd, codebook_kernels)
        forced = lean_kernels(patched, lowered, plan, target)
        for lean in (0, len(forced)) if forced else (0,):
            size = arena(patched, plan, dict(list(forced.items())[:lean]))
            key = (size, plan.recomputed_macs, lean)
            if size < arena_without and (best is None or key < best[0]):
                best = (key, (cut, bands), lean, patched, plan, forced)
    if best is None:
        return None, 0
    (size, _, lean), spec, _, patched, plan, forced = best
    for fewer in (1, 2, 3, 4, 6, 8, 12, 16):   # the fewest lean bands that keep the arena
        if fewer < lean and arena(patched, plan, dict(list(forced.items())[:fewer])) <= size:
            return spec, fewer
    return spec, lean


def lean_kernels(patched, lowered: dict, plan, target) -> dict:
    """{band layer: kernel}, in band order, for the band layers that read the run's input (its Slices), where a
    kernel that can run the layer needs less scratch than the one selected: the cheapest of
    those (estimated instructions). The whole input is live while these
    run (the peak of a patched run), so their scratch counts most."""
    from .kernels import CANDIDATES
    slices = {n.outputs[0] for n in patched.nodes if n.op == "slice" and n.inputs[0] == plan.source}
    forced = {}
    for node in patched.nodes:
        call = lowered.get(node.name)
        if not node.inputs or node.inputs[0] not in slices or not isinstance(call, KernelCall):
            continue
        modules = {k.NAME: k for k in CANDIDATES[node.op]}
        runnable = [call.kernel] + [name for name, _, runs in call.rejected if runs and name in modules]
        leaner = [k for k in runnable if modules[k].scratch_bytes(node, patched) < call.scratch_bytes]
        if leaner:
            forced[node.name] = min(leaner, key=lambda k: (modules[k].cost(node, patched, target), k))
    return forced


def _plan_with_views(graph, lowered, schedule, algorithm, in_place, joins):
    """(scheduled graph, lowered, Schedule, MemoryPlan, views, note) with the Concats whose
    producers write into their output (concat_views.py) that give the smallest arena: the
    output then lives from the first producer's write, which can cost more than the copy
    saves, so each view is dropped when the arena gets smaller without it, and all of them
    when copying everything is smaller still (ties keep the views: no copy runs)."""
    def plan(chosen):
        calls, kept = (lowered, []) if not chosen else apply_concat_views(graph, lowered, chosen)
        ordered, sched = schedule_graph(graph, calls, schedule)
        return ordered, calls, sched, analyse(ordered, calls, algorithm, in_place, joins), kept

    views = _concat_views(graph, lowered, in_place)[1]
    best = plan({v.concat for v in views})
    note = None
    if views:
        chosen = {v.concat for v in views}
        for v in views:
            trial = plan(chosen - {v.concat})
            if trial[3].arena_size < best[3].arena_size:
                chosen, best = chosen - {v.concat}, trial
        copying = plan(set())
        # the classic bound stays the whole-tensor live set of the file's order, every copy made
        best = (best[0], best[1], replace(best[2], classic_bound=copying[2].classic_bound), *best[3:])
        if copying[3].arena_size < best[3].arena_size:
            note = (f"kept the copies: {copying[3].arena_size:,} B of arena with them, "
                    f"{best[3].arena_size:,} B with the producers writing in place (the output "
                    f"would live from the first producer's write)")
            best = copying
        elif len(best[4]) < len(views):
            dropped = sorted({v.concat for v in views} - {v.concat for v in best[4]})
            note = f"kept the copy of {', '.join(dropped)}: the arena is smaller with it"
    return (*best, note)


def _concat_views(graph, lowered, in_place):
    """(lowered, views): with --in-place on, every Concat whose producers can write into its
    output becomes a no-op (concat_views.py); off keeps every copy."""
    if in_place != "on":
        return lowered, []
    return apply_concat_views(graph, lowered)


def _write(out: Path, files: dict, lowered: dict, report: dict) -> None:
    """Write the project; files firmnet wrote before but no longer produces are removed."""
    out.mkdir(parents=True, exist_ok=True)
    runtime_out = out / "runtime"
    shutil.rmtree(runtime_out, ignore_errors=True)
    (runtime_out / "src").mkdir(parents=True)
    shutil.copytree(runtime_dir() / "include", runtime_out / "include")
    for src in sources_for([c for c in lowered.values() if isinstance(c, KernelCall)]):
        shutil.copy(runtime_dir() / "src" / src, runtime_out / "src" / src)
    for fname, text in files.items():
        (out / fname).write_text(text)
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")

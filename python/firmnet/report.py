"""The compile report: per-layer table and memory figures (report.json, `firmnet report`)."""
from __future__ import annotations

from .codegen.c_layout import ABIS, Layout
from .codegen.emit import CONSTANT_KINDS
from .ir import Graph, QuantParams
from .kernels import CANDIDATES
from .lowering import Alias, CArray, CStruct, KernelCall
from .ops import OPS
from .planner import format_plan


def _quant_summary(node, call) -> dict | None:
    """Scales, zero points and the fixed-point multipliers/shifts of an integer layer."""
    q = getattr(node.attrs, "quant", None)
    if q is None:
        return None
    def pair(p):
        if p is None:
            return None
        if p.per_channel:
            return {"scale": [min(p.scale), max(p.scale)], "zero_point": list(set(p.zero_point))[:1],
                    "channels": len(p.scale)}
        return {"scale": p.scale[0], "zero_point": p.zero_point[0]}
    if isinstance(q, QuantParams):   # quantize / dequantize: the one quantization they convert to or from
        summary = {"mode": getattr(node.attrs, "mode", "-"), "inputs": [pair(q)] if node.op == "dequantize" else [],
                   "output": pair(q) if node.op == "quantize" else None}
    else:
        summary = {"mode": q.mode, "inputs": [pair(p) for p in q.inputs], "output": pair(q.output)}
    params = dict(call.params) if isinstance(call, KernelCall) else {}
    for block in [v for v in params.values() if isinstance(v, CStruct)]:   # e.g. the requant block
        params.update((k, v) for k, v in block.fields if k not in params)
    for key in ("multiplier", "shift", "output_multiplier", "output_shift", "input_multiplier", "input_left_shift"):
        value = params.get(key)
        if isinstance(value, CArray):
            value = list(value.values)
        if value is not None:
            summary[key] = value
    return summary


def constant_bytes(constants, toolchain: str) -> dict[int | None, dict[str, int]]:
    """{step: {kind: bytes}} and under None the totals, of the constants the generated C
    defines (codegen.emit.Constant), each object's sizeof under the toolchain's ABI. With
    -fdata-sections each object is one .rodata.<name> section of exactly that size."""
    layout = Layout(ABIS[toolchain])
    table: dict[int | None, dict[str, int]] = {None: dict.fromkeys(CONSTANT_KINDS, 0)}
    for c in constants:
        nbytes = layout.sizeof(c.ctype) * c.count
        for key in (c.step, None):
            row = table.setdefault(key, dict.fromkeys(CONSTANT_KINDS, 0))
            row[c.kind] += nbytes
    return table


def build_report(graph: Graph, lowered: dict, memory, name: str, provenance: str, board, constants=()) -> dict:
    layers, total_macs = [], 0
    flash = constant_bytes(constants, board.toolchain)
    none = dict.fromkeys(CONSTANT_KINDS, 0)
    for index, node in enumerate(graph.nodes):
        call = lowered[node.name]
        in_types = [graph.types[i] if i else None for i in node.inputs]
        out_types = [graph.types[o] for o in node.outputs]
        macs = int(OPS[node.op].macs(node.attrs, in_types, out_types))
        total_macs += macs
        const = flash.get(index, none)
        out = node.outputs[0]
        storage = memory.storage[out]
        rejected = []
        if isinstance(call, Alias):
            kernel = "memcpy" if node.name in memory.copies else "(view)"
            why = "copy between interface tensors" if node.name in memory.copies else "zero-copy view"
        else:
            kernel, why = call.function, call.reason or call.description
            rejected = [{"kernel": k, "reason": r, "runs": runs} for k, r, runs in call.rejected]
        sparse = dict(call.sparse) if isinstance(call, KernelCall) and call.sparse else None
        if sparse:
            sparse = {"density": sparse["density"],
                      **{kind: dict(zip(("kernel", "instructions", "weight_bytes"), sparse[kind]))
                         for kind in ("dense", "sparse")}}
        winograd = dict(call.winograd) if isinstance(call, KernelCall) and call.winograd else None
        if winograd:
            winograd = {kind: dict(zip(("kernel", "instructions", "weight_bytes"), winograd[kind]))
                        for kind in ("direct", "winograd")}
        layers.append({
            "index": index, "name": node.name, "op": node.op, "kernel": kernel, "why": why, "rejected": rejected,
            "inputs": [list(t.shape) for t in in_types if t is not None],
            "output": list(out_types[0].shape), "dtype": out_types[0].dtype,
            "macs": macs, "est_instructions": _est_instructions(node, graph, call, board),
            "weight_bytes": const["tensors"] + const["repacked"],
            "table_bytes": const["tables"], "params_bytes": const["params"],
            "storage": storage.kind,
            "arena_offset": memory.offset(out) if storage.kind == "arena" else None,
            "bytes": out_types[0].nbytes,
            "quant": _quant_summary(node, call),
            **({"sparse": sparse} if sparse else {}),
            **({"winograd": winograd} if winograd else {}),
        })
    buffers = memory.buffers
    return {
        "name": name, "provenance": provenance, "board": board.name,
        "arena_bytes": memory.arena_size,
        "lower_bound_bytes": memory.plan.lower_bound,   # the bound of the execution model used
        "live_set_bound_bytes": memory.plan.live_set_bound if memory.plan.live_set_bound is not None
        else memory.plan.lower_bound,                 # classic: every live tensor apart
        "in_place": _in_place(graph, memory),
        "activations_sum_bytes": sum(b.size for b in buffers if not b.name.endswith("#shift")),
        "weights_bytes": sum(flash[None].values()),   # every constant the C defines: flash = code + this
        "constants_bytes": flash[None],
        "constants_abi": board.toolchain,
        "tables_bytes": flash[None]["tables"],
        "io_bytes": sum(graph.types[t].nbytes for t in graph.inputs + graph.outputs),
        "macs": total_macs,
        "planner": memory.plan.algorithm,
        "layers": layers,
        "inputs": [_boundary(graph, t) for t in graph.inputs],
        "outputs": [_boundary(graph, t) for t in graph.outputs],
        "memory_plan": format_plan(buffers, memory.plan) if buffers else "(no intermediate tensors)",
        "buffers": _buffers(graph, memory),
    }


def _est_instructions(node, graph: Graph, call, board) -> int:
    """The cost model's instructions for one call of the layer's chosen variant (kernels/),
    0 for a view, a copy or an op without variants."""
    if not isinstance(call, KernelCall):
        return 0
    kernel = next((k for k in CANDIDATES.get(node.op, ()) if k.NAME == call.kernel), None)
    return int(kernel.cost(node, graph, board)) if kernel is not None else 0


def _buffers(graph: Graph, memory) -> list[dict]:
    """Every arena buffer of the plan: its bytes [offset, offset + size), its steps
    first..last (inclusive), and the tensors it holds or the layer whose scratch (or in-place
    shift buffer) it is (the HTML report's memory timeline); a tensor buffer's producer is the
    first layer that writes it, "(input)" for a graph input's; in_place: the input buffer it
    was placed over."""
    held: dict[str, list[str]] = {}
    producer = {memory.storage[t].key: "(input)" for t in graph.inputs if memory.storage[t].kind == "arena"}
    for node in graph.nodes:
        for t in node.outputs:
            if memory.storage[t].kind == "arena":
                producer.setdefault(memory.storage[t].key, node.name)
    for tensor, s in memory.storage.items():
        if s.kind == "arena":
            held.setdefault(s.key, []).append(tensor)
    layer_of = {key: ("scratch", layer) for layer, key in memory.scratch.items()}
    # an in-place plan (planner ties): the shift buffer a layer writes its output into, below
    # its place, and the input buffer each output buffer starts at
    layer_of.update({f"{layer}#shift": ("shift", layer) for layer in (getattr(memory, "shifts", None) or {})})
    over = {t.second: t.first for t in getattr(memory.plan, "ties", ())}
    rows = []
    for b in memory.buffers:
        kind, layer = layer_of.get(b.name, ("tensor", None))
        row = {"name": b.name, "kind": kind,
               "offset": memory.plan.offsets[b.name], "size": b.size, "first": b.first, "last": b.last}
        if layer is not None:
            row["layer"] = layer
        else:
            row["tensors"] = sorted(held.get(b.name, [b.name]))
            row["producer"] = producer.get(b.name, "")
            if b.name in over:
                row["in_place"] = over[b.name]
        rows.append(row)
    return rows


def _boundary(graph: Graph, name: str) -> dict:
    """A graph input or output in the C API: its shape, dtype and, when the model quantizes
    it at the boundary, the scale and zero point (real = scale * (q - zero_point))."""
    t = graph.types[name]
    entry = {"name": name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quant is not None:
        entry.update(scale=t.quant.scale[0], zero_point=t.quant.zero_point[0])
    return entry


def _sparse_text(sparse) -> str:
    """The kernels line's comparison of a layer a CSR kernel can run: density, and each option's
    estimated instructions and weight matrix flash."""
    if not sparse:
        return ""
    d, c = sparse["dense"], sparse["sparse"]
    return (f" [sparse: density {sparse['density']:.1%}: dense {d['kernel']} est. {d['instructions']:,} "
            f"instructions, {d['weight_bytes']:,} B | CSR {c['kernel']} est. {c['instructions']:,} instructions, "
            f"{c['weight_bytes']:,} B]")


def _winograd_text(winograd) -> str:
    """The kernels line's comparison of a layer a Winograd kernel can run: each option's estimated
    instructions and weight flash."""
    if not winograd:
        return ""
    d, w = winograd["direct"], winograd["winograd"]
    return (f" [winograd: direct {d['kernel']} est. {d['instructions']:,} instructions, {d['weight_bytes']:,} B | "
            f"Winograd {w['kernel']} est. {w['instructions']:,} instructions, {w['weight_bytes']:,} B]")


def format_report(report: dict, firmware: dict | None = None) -> str:
    """The human-readable table printed by `firmnet report`; firmware: the linked firmware's
    sizes (board.json), which give the code beside the weights."""
    rows = [("#", "layer", "op", "kernel", "output", "MACs", "weights B", "arena off", "bytes")]
    for l in report["layers"]:
        off = l["arena_offset"] if l["arena_offset"] is not None else l["storage"]
        packed = f" {l['dtype']}" if l.get("dtype") == "b1" else ""   # bits: 32 channels per word
        rows.append((str(l["index"]), l["name"][:28], l["op"], l["kernel"], "x".join(map(str, l["output"])) + packed,
                     f"{l['macs']:,}", f"{l['weight_bytes']:,}", str(off), f"{l['bytes']:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", "kernels (why; candidates that could run the layer; those that cannot, by name: "
                  "`firmnet report --json` says why):"]
    for l in report["layers"]:
        rejected = l.get("rejected", [])
        slower = "; ".join(f"{r['kernel']}: {r['reason']}" for r in rejected if r.get("runs", True))
        refused = ", ".join(r["kernel"] for r in rejected if not r.get("runs", True))
        lines.append(f"  #{l['index']} {l['name']}: {l['kernel']}: {l['why']}" + _sparse_text(l.get("sparse")) + _winograd_text(l.get("winograd"))
                     + (f"; rejected {slower}" if slower else "") + (f"; cannot run it: {refused}" if refused else ""))
    quantized = [l for l in report["layers"] if l.get("quant")]
    if quantized:
        lines += ["", "int8 layers (scale, zero point; multiplier/shift of the requantization):"]
        for l in quantized:
            q = l["quant"]
            ins = ", ".join(_pair_text(p) for p in q["inputs"] if p)
            fixed = ""
            for key in ("multiplier", "shift", "output_multiplier", "output_shift", "input_multiplier",
                        "input_left_shift"):
                if key in q:
                    fixed += f" {key}={_values_text(q[key])}"
            out = _pair_text(q["output"]) if q["output"] else "float"
            lines.append(f"  #{l['index']} {l['name'][:28]}: in {ins or 'float'} -> out {out} "
                         f"[{q['mode']}]{fixed}")
    lines += _dead_channels_text(report.get("dead_channels"))
    boundaries = [(kind, b) for kind in ("input", "output") for b in report.get(f"{kind}s", []) if "scale" in b]
    if boundaries:
        lines += ["", "quantized boundaries (real = scale * (q - zero point)):"]
        lines += [f"  {kind} '{b['name']}' {b['dtype']}: scale {b['scale']:.9g}, zero point {b['zero_point']}"
                  for kind, b in boundaries]
    if report.get("float_layers"):
        lines += ["", f"float layers in a quantized model ({len(report['float_layers'])}):"]
        lines += [f"  {l['name']} ({l['op']}): {l['reason']}" for l in report["float_layers"]]
    lines += [
        "",
        f"model {report['name']} for board {report['board']}",
        f"MACs:                    {report['macs']:,}",
        *([f"requantization:          {report['requant']} ({report.get('requant_why', '')})"]
          if quantized and "requant" in report else []),
        f"weights (flash):         {report['weights_bytes']:,} bytes, every constant the C defines "
        f"({_constants_text(report)})",
        _flash_text(report, firmware),
        f"arena (RAM):             {report['arena_bytes']:,} bytes (planner: {report['planner']})",
        *_bound_text(report),
        *_schedule_text(report),
        f"sum of activations:      {report['activations_sum_bytes']:,} bytes",
        f"inputs + outputs:        {report['io_bytes']:,} bytes (inside the arena)",
        "",
        report["memory_plan"],
    ]
    return "\n".join(lines)


def _in_place(graph: Graph, memory) -> dict:
    """The layers whose output overwrites their input (in_place.py), with the bytes the
    kernel writes it below its place before it is moved up."""
    shifts = memory.shifts or {}
    tied = {t.second for t in memory.plan.ties}
    layers = [{"layer": n.name, "shift_bytes": shifts.get(n.name, 0)} for n in graph.nodes
              if n.outputs and memory.storage[n.outputs[0]].kind == "arena"
              and memory.storage[n.outputs[0]].key in tied]
    return {"enabled": getattr(memory, "in_place", "on") == "on", "layers": layers}


def _bound_text(report: dict) -> list[str]:
    if "live_set_bound_bytes" not in report:     # a report of an older firmnet
        return [f"lower bound (max live):  {report['lower_bound_bytes']:,} bytes"]
    in_place = report.get("in_place", {})
    if report["lower_bound_bytes"] == report["live_set_bound_bytes"]:   # in place saves nothing here
        lines = [f"lower bound (max live):  {report['lower_bound_bytes']:,} bytes"]
    else:
        lines = [f"lower bound (in place):  {report['lower_bound_bytes']:,} bytes"
                 f" (live-set bound {report['live_set_bound_bytes']:,})"]
    if in_place.get("layers"):
        lines.append(f"in place:                {len(in_place['layers'])} layers write over their input")
    views = (report.get("concat_views") or {}).get("elided")
    if views:
        lines.append(f"concat views:            {', '.join(v['concat'] for v in views)}: the producers write "
                     "into their slices (no copy)")
    patches = report.get("patches")
    if patches:
        lines.append(f"patches:                 {len(patches['layers'])} layers up to {patches['cut']} in "
                     f"{patches['bands']} row bands, {patches['recomputed_macs']:,} MACs recomputed "
                     f"(arena without: {patches['arena_without']:,} bytes)")
        lean = patches.get("lean_kernels") or {}
        if lean:
            lines.append(f"                         {len(lean)} first band(s) on a kernel of less scratch: "
                         f"{', '.join(sorted(set(lean.values())))}")
    return lines


def _schedule_text(report: dict) -> list[str]:
    """The execution order's lines: the classic bound beside the one of the order run."""
    sched = report.get("schedule")
    if not sched:
        return []
    lines = [f"classic bound:           {report['classic_lower_bound_bytes']:,} bytes "
             "(live set of the file's order, whole tensors)"]
    if sched["method"] == "file":
        searched = f"; the search over {sched['states']:,} sets of steps found no lower peak" if sched["states"] else ""
        lines.append(f"schedule:                the file's order (bound {sched['bound_bytes']:,} bytes aligned{searched})")
    else:
        lines.append(f"schedule:                {sched['method']} search over {sched['states']:,} sets of steps: bound "
                     f"{sched['bound_bytes']:,} bytes aligned, file order {sched['file_order_bound_bytes']:,} "
                     f"(-{sched['saved_bytes']:,})")
    lines.append(f"placement:               {sched['placement']}")
    return lines


def _dead_channels_text(dead: dict | None) -> list[str]:
    if not dead:
        return []
    if not dead["enabled"]:
        return ["", "dead channels: kept (--keep-dead-channels)"]
    if not dead["layers"]:
        return ["", "dead channels: none (no all-zero filter, no unread channel)"]
    lines = ["", f"dead channels removed (filters with all-zero weights or unread outputs; constants folded "
                 f"into the next layers' biases): {dead['macs_saved']:,} MACs saved"]
    for r in dead["layers"]:
        lines.append(f"  {r['name'][:28]} ({r['op']}): {r['filters_removed']} of {r['filters']} filters, "
                     f"{r['input_channels_removed']} of {r['input_channels']} input channels removed; "
                     f"{r['macs_saved']:,} of {r['macs']:,} MACs saved")
    return lines


def _flash_text(report: dict, firmware: dict | None) -> str:
    weights = report["weights_bytes"]
    if firmware and firmware.get("linked"):
        return (f"flash:                   {firmware['flash']:,} bytes = code and initial data "
                f"{firmware['flash'] - weights:,} + weights {weights:,} (the linked firmware)")
    return "flash:                   code + weights (firmnet compile --board B measures the linked firmware)"


def _constants_text(report: dict) -> str:
    parts = report.get("constants_bytes", {})
    text = ", ".join(f"{kind} {parts[kind]:,}" for kind in CONSTANT_KINDS if parts.get(kind))
    return f"{text}; sizes for {report['constants_abi']}" if "constants_abi" in report else text


def _pair_text(p) -> str:
    if "channels" in p:
        return f"({p['channels']} channel scales {p['scale'][0]:.4g}..{p['scale'][1]:.4g})"
    return f"({p['scale']:.6g}, {p['zero_point']})"


def _values_text(v) -> str:
    if isinstance(v, list):
        return f"{v[0]}" if len(set(v)) == 1 else f"[{min(v)}..{max(v)}]x{len(v)}"
    return str(v)

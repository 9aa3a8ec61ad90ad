"""What the HTML report shows, gathered from a compiled project: report.json, the profile
runs (profile-<board>.json, written by `firmnet run --profile`), the board's limits and the
linked firmware's sizes. Pure data, no drawing (svg.py draws it, page.py lays it out).

`build_page(report, ...)` takes plain values, so tests can give it hand-made reports;
`gather(out)` reads them from OUT.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..ir import FirmnetError


@dataclass(frozen=True)
class Block:
    """One arena buffer on the timeline: bytes [offset, offset + size) during steps first..last."""
    name: str
    label: str             # the layer that produces it, or whose scratch (shift buffer) it is
    kind: str              # "tensor" | "scratch" | "shift" (an in-place layer's output, below its place)
    offset: int
    size: int
    first: int
    last: int
    tensors: tuple = ()
    in_place: tuple = ()   # the buffers it shares bytes with while both are live


@dataclass(frozen=True)
class Overlap:
    """Two buffers sharing bytes [lo, hi) while both are live (steps first..last): an output
    written over an input in place, as the kernel allows."""
    a: str
    b: str
    first: int
    last: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Timeline:
    steps: int
    layers: tuple          # layer name of each step
    arena: int
    blocks: tuple          # Block, in schedule order
    overlaps: tuple        # Overlap
    live: tuple            # bytes in use at each step (the union of its live buffers' bytes)
    peak: int
    peak_step: int         # the first step at which `peak` bytes are in use
    bounds: tuple          # ((label, bytes), ...): the lower bounds the report gives


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str
    op: str
    kernel: str
    macs: int
    instructions: int
    weight_bytes: int
    est_instructions: int = 0   # the cost model's, shown beside measured instructions


@dataclass(frozen=True)
class Bars:
    rows: tuple            # LayerRow
    measured: bool         # instructions from a profile run (else the cost model's estimate)
    source: str            # where the instructions come from, in words
    note: str = ""         # e.g. why a profile found in OUT was not used


@dataclass(frozen=True)
class Gauge:
    """Flash or RAM: the parts that use it against the board's limit (None: no limit)."""
    label: str
    parts: tuple           # ((label, bytes), ...)
    limit: int | None
    source: str

    @property
    def used(self) -> int:
        return sum(n for _, n in self.parts)


@dataclass(frozen=True)
class KernelRow:
    index: int
    name: str
    op: str
    kernel: str
    why: str
    slower: tuple          # ((kernel, reason), ...): could run the layer, estimated slower
    refused: tuple         # ((kernel, reason), ...): cannot run it


@dataclass(frozen=True)
class Page:
    name: str
    board: str
    provenance: str
    summary: tuple         # ((label, text), ...)
    timeline: Timeline
    bars: Bars
    gauges: tuple          # Gauge
    kernels: tuple         # KernelRow
    notes: tuple = ()      # extra lines (schedule, patches) when the report has them


def _need(report: dict, key: str, what: str = "report.json"):
    if key not in report:
        raise FirmnetError(f"{what} has no '{key}': recompile the model with this firmnet (firmnet compile)")
    return report[key]


def _union(intervals) -> int:
    """Bytes covered by a set of [lo, hi) intervals."""
    total, end = 0, None
    for lo, hi in sorted(intervals):
        if end is None or lo >= end:
            total, end = total + hi - lo, hi
        elif hi > end:
            total, end = total + hi - end, hi
    return total


def timeline(report: dict) -> Timeline:
    """Blocks per arena buffer, bytes in use per step, the peak and the overlaps (buffers
    live at the same step whose bytes intersect: only an in-place plan has them)."""
    layers = tuple(l["name"] for l in report["layers"])
    rows = _need(report, "buffers")
    blocks = []
    for b in rows:
        for key in ("name", "offset", "size", "first", "last"):
            _need(b, key, f"report.json buffer {b.get('name', '?')!r}")
        label = b.get("layer") if b.get("kind", "tensor") != "tensor" else b.get("producer") or b["name"]
        blocks.append(Block(b["name"], label or b["name"], b.get("kind", "tensor"), int(b["offset"]), int(b["size"]),
                            int(b["first"]), int(b["last"]), tuple(b.get("tensors", ()))))
    blocks.sort(key=lambda k: (k.first, k.offset, k.name))
    overlaps = []
    for i, a in enumerate(blocks):
        for b in blocks[i + 1:]:
            first, last = max(a.first, b.first), min(a.last, b.last)
            lo, hi = max(a.offset, b.offset), min(a.offset + a.size, b.offset + b.size)
            if first <= last and lo < hi:
                overlaps.append(Overlap(a.name, b.name, first, last, lo, hi))
    partners = {}
    for o in overlaps:
        partners.setdefault(o.a, []).append(o.b)
        partners.setdefault(o.b, []).append(o.a)
    for b in rows:   # the input buffer an in-place plan placed this one over (report.py's "in_place")
        named = b.get("in_place") or ()
        for other in [named] if isinstance(named, str) else named:
            if other not in partners.get(b["name"], ()):
                partners.setdefault(b["name"], []).append(other)
    blocks = [replace(k, in_place=tuple(partners.get(k.name, ()))) for k in blocks]
    steps = max([len(layers)] + [k.last + 1 for k in blocks])
    live = tuple(_union((k.offset, k.offset + k.size) for k in blocks if k.first <= s <= k.last)
                 for s in range(steps))
    peak = max(live, default=0)
    bounds = tuple((key[:-len("_bytes")].replace("_", " "), int(report[key])) for key in sorted(report)
                   if "bound" in key and key.endswith("_bytes") and isinstance(report[key], int))
    return Timeline(steps, layers, int(report["arena_bytes"]), tuple(blocks), tuple(overlaps), live, peak,
                    live.index(peak) if live else 0, bounds)


def bars(report: dict, profiles: dict) -> Bars:
    """Per-layer MACs, instructions and weight bytes. Instructions come from a profile run of
    this very compile (the report's board first, then the others by name), else from the
    cost model (report.json's est_instructions)."""
    layers = report["layers"]
    names = [l["name"] for l in layers]
    note, chosen = "", None
    for board in sorted(profiles, key=lambda b: (b != report.get("board"), b)):
        doc = profiles[board]
        if doc.get("provenance") != report.get("provenance") or [l.get("name") for l in doc.get("layers", ())] != names:
            note = (f"profile-{board}.json is from another compile (its layers or provenance differ): "
                    f"rerun firmnet run OUT --board {board} --profile")
            continue
        chosen = (board, doc)
        break
    if chosen:
        board, doc = chosen
        counts = [int(l["instructions"]) for l in doc["layers"]]
        source = f"measured on {board} (firmnet run --profile)"
        note = ""
    else:
        counts = [int(l.get("est_instructions", 0)) for l in layers]
        source = "estimated by the cost model, not measured (firmnet run OUT --board B --profile measures them)"
    rows = tuple(LayerRow(l["index"], l["name"], l["op"], l["kernel"], int(l["macs"]), n, int(l["weight_bytes"]),
                          int(l.get("est_instructions", 0))) for l, n in zip(layers, counts))
    return Bars(rows, chosen is not None, source, note)


def gauges(report: dict, limits: dict | None, firmware: dict | None) -> tuple:
    """Flash and RAM against the board's limits. limits: {"flash", "ram", "stack", "code_estimate",
    "static_ram_estimate"} (None values: not limited); firmware: board.json's linked sizes."""
    limits = limits or {}
    weights, arena = int(report["weights_bytes"]), int(report["arena_bytes"])
    if firmware and firmware.get("linked"):
        flash = Gauge("flash", (("weights", weights), ("code and data", int(firmware["flash"]) - weights)),
                      limits.get("flash"), "the linked firmware")
        ram = Gauge("RAM", (("arena", arena), ("other data", int(firmware["ram"]) - arena),
                            ("stack", int(firmware.get("stack", limits.get("stack") or 0)))),
                    limits.get("ram"), "the linked firmware")
        return flash, ram
    code = limits.get("code_estimate")
    flash_parts = (("weights", weights),) + ((("code (estimate)", code),) if code else ())
    ram_parts = (("arena", arena),) + tuple((label, n) for label, n in (
        ("other data (estimate)", limits.get("static_ram_estimate")), ("stack", limits.get("stack"))) if n)
    source = "estimate (not linked)" if code else "weights and arena only (no firmware for this board)"
    return (Gauge("flash", flash_parts, limits.get("flash"), source),
            Gauge("RAM", ram_parts, limits.get("ram"), source))


def kernels(report: dict) -> tuple:
    rows = []
    for l in report["layers"]:
        rejected = l.get("rejected", ())
        rows.append(KernelRow(l["index"], l["name"], l["op"], l["kernel"], l.get("why", ""),
                              tuple((r["kernel"], r["reason"]) for r in rejected if r.get("runs", True)),
                              tuple((r["kernel"], r["reason"]) for r in rejected if not r.get("runs", True))))
    return tuple(rows)


def _facts(d: dict) -> str:
    """The scalar fields of a report entry in words: "bound 45,056 B, method exact"."""
    out = []
    for key, value in d.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        label = key[:-len("_bytes")] if key.endswith("_bytes") else key
        label = label.replace("_", " ")
        if isinstance(value, str):
            out.append(f"{label} {value}")
        else:
            out.append(f"{label} {value:,}" + (" B" if key.endswith("_bytes") else ""))
    return ", ".join(out)


def _notes(report: dict) -> tuple:
    """Lines for fields other parts of the compiler add (in place, concat views, schedule, patches), when present."""
    notes = []
    in_place = report.get("in_place")
    if isinstance(in_place, dict) and in_place.get("layers"):
        names = [l.get("layer", "?") if isinstance(l, dict) else str(l) for l in in_place["layers"]]
        notes.append(f"in place: {len(names)} layers write their output over their input ({', '.join(names)})")
    views = report.get("concat_views")
    if isinstance(views, dict) and views.get("elided"):
        notes.append("concat views: " + "; ".join(
            f"{v.get('concat', '?')} ({v.get('layout', '?')}): {', '.join(v.get('producers', []))} write into "
            "their slices, no copy" for v in views["elided"] if isinstance(v, dict)))
    if isinstance(views, dict) and views.get("note"):
        notes.append(f"concat views: {views['note']}")
    for key in ("schedule", "patches"):
        entry = report.get(key)
        if isinstance(entry, dict):
            notes.append(f"{key}: {_facts(entry) or 'see report.json'}")
    return tuple(notes)


def build_page(report: dict, profiles: dict | None = None, limits: dict | None = None,
               firmware: dict | None = None) -> Page:
    for key in ("name", "board", "layers", "arena_bytes", "weights_bytes", "macs"):
        _need(report, key)
    summary = (("MACs", f"{report['macs']:,}"),
               ("arena (RAM)", f"{report['arena_bytes']:,} B" + (f" (planner {report['planner']})"
                                                                 if report.get("planner") else "")),
               ("weights (flash)", f"{report['weights_bytes']:,} B"),
               *((key.replace("_bytes", "").replace("_", " "), f"{report[key]:,} B") for key in sorted(report)
                 if "bound" in key and key.endswith("_bytes") and isinstance(report[key], int)))
    return Page(report["name"], report["board"], report.get("provenance", ""), summary, timeline(report),
                bars(report, profiles or {}), gauges(report, limits, firmware), kernels(report), _notes(report))


def board_limits(board_name: str, report: dict) -> dict | None:
    """The board's flash and RAM (None: not limited), its stack reserve and the estimates
    `firmnet compile` uses when the firmware is not linked."""
    from ..boards import STATIC_RAM_ESTIMATE, get_board
    try:
        board = get_board(board_name)
    except FirmnetError:
        return None
    return {"flash": board.code_flash_bytes, "ram": board.ram_bytes, "stack": board.stack_bytes or None,
            "code_estimate": board.code_estimate(report) if board.bare_metal else None,
            "static_ram_estimate": STATIC_RAM_ESTIMATE if board.bare_metal else None}


def read_profiles(out: Path) -> dict:
    """{board: profile-<board>.json} of OUT."""
    profiles = {}
    for path in sorted(Path(out).glob("profile-*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FirmnetError(f"{path}: not a profile written by firmnet run --profile ({exc})") from None
        profiles[doc.get("board", path.stem[len("profile-"):])] = doc
    return profiles


def gather(out) -> Page:
    """The page of the project in OUT (after firmnet compile; firmnet run --profile adds the
    measured instructions)."""
    from ..firmware import board_info
    out = Path(out)
    path = out / "report.json"
    if not path.is_file():
        raise FirmnetError(f"{out} has no report.json: run firmnet compile first")
    report = json.loads(path.read_text())
    firmware = (board_info(out) or {}).get("firmware")
    return build_page(report, read_profiles(out), board_limits(report.get("board", ""), report), firmware)

"""Inline SVG drawings of the HTML report's data (data.py): the memory timeline, the
per-layer bars, flash and RAM against the board's limits. Each function returns one
<svg> element as text; every value drawn is also in a data-* attribute and a <title>
(the tooltip), so tests and readers can check the picture against the numbers.

The drawing is plain geometry: a step is a column of equal width, an arena byte a fixed
fraction of the plot's height (offset 0 at the bottom), a bar's length its value over the
largest of its panel.
"""
from __future__ import annotations

from html import escape

from .data import Bars, Gauge, Timeline

PALETTE = ("#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#8cd17d")
SCRATCH = "#f28e2b"
PEAK = "#d62728"
FONT = 11


def _attrs(attrs: dict) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.6g}"
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def element(tag: str, body: str = "", **attrs) -> str:
    """<tag attrs>body</tag>; attribute names: data_x -> data-x, class_ -> class."""
    return f"<{tag} {_attrs(attrs)}>{body}</{tag}>" if attrs else f"<{tag}>{body}</{tag}>"


def title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def text(x: float, y: float, body: str, **attrs) -> str:
    return element("text", escape(body), x=float(x), y=float(y), **attrs)


def _svg(width: int, height: int, body: str, label: str, **attrs) -> str:
    # inline in HTML: no xmlns needed (the page names no URL at all)
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" {_attrs({"aria_label": label, **attrs})}>{body}</svg>')


def _short(name: str, n: int = 26) -> str:
    return name if len(name) <= n else name[:n - 1] + "…"


def patterns_svg() -> str:
    """The fills the drawings refer to (url(#fn-hatch), url(#fn-cross)), once per page."""
    return ('<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
            '<pattern id="fn-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{SCRATCH}" fill-opacity="0.35"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{SCRATCH}" stroke-width="3"/></pattern>'
            '<pattern id="fn-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
            '<path d="M0,0 L6,6 M6,0 L0,6" stroke="#222" stroke-width="0.8" stroke-opacity="0.45"/></pattern>'
            "</defs></svg>")


# ---- memory timeline -------------------------------------------------------------------

TIMELINE_W, TIMELINE_H = 900, 340     # the plot area, pixels
LEFT, TOP, BOTTOM, RIGHT = 70, 34, 46, 200


def timeline_scale(t: Timeline):
    """(pixels per step, pixels per byte): the plot's geometry, for drawing and for tests. The
    byte axis reaches the arena, the peak and every bound (a classic bound above the arena
    shows what in-place execution saves)."""
    return TIMELINE_W / max(t.steps, 1), TIMELINE_H / _top(t)


def _top(t: Timeline) -> int:
    return max([t.arena, t.peak, 1] + [n for _, n in t.bounds])


def timeline_svg(t: Timeline) -> str:
    col, per_byte = timeline_scale(t)
    base = TOP + TIMELINE_H

    def y(offset):
        return base - offset * per_byte

    parts = []
    # axes, step ticks and byte gridlines
    parts.append(element("rect", x=LEFT, y=TOP, width=TIMELINE_W, height=TIMELINE_H, class_="fn-plot"))
    for s in range(t.steps):
        if t.steps <= 40 or s % max(1, t.steps // 20) == 0:
            label = t.layers[s] if s < len(t.layers) else ""
            parts.append(element("g", title(f"step {s}: {label}") + text(LEFT + (s + 0.5) * col, base + 14, str(s),
                                                                       class_="fn-tick", text_anchor="middle")))
    parts.append(text(LEFT + TIMELINE_W / 2, base + 34, "step (layer in schedule order)", class_="fn-axis",
                      text_anchor="middle"))
    top = _top(t)
    for k in range(5):
        value = round(top * k / 4)
        parts.append(element("line", x1=LEFT - 4, x2=LEFT + TIMELINE_W, y1=y(value), y2=y(value), class_="fn-grid"))
        parts.append(text(LEFT - 6, y(value) + 4, f"{value:,}", class_="fn-tick", text_anchor="end"))
    parts.append(text(14, TOP + TIMELINE_H / 2, "arena offset (bytes)", class_="fn-axis", text_anchor="middle",
                      transform=f"rotate(-90 14 {TOP + TIMELINE_H / 2})"))
    # one rectangle per buffer
    producers = sorted({b.label for b in t.blocks if b.kind == "tensor"}, key=lambda n: (
        t.layers.index(n) if n in t.layers else -1, n))
    for b in t.blocks:
        x0, x1 = LEFT + b.first * col, LEFT + (b.last + 1) * col
        height = max(b.size * per_byte, 1.5)
        fill = "url(#fn-hatch)" if b.kind != "tensor" else PALETTE[producers.index(b.label) % len(PALETTE)]
        what = (f"{b.kind} of {b.label}" if b.kind != "tensor" else
                f"{', '.join(b.tensors) or b.name} (from {b.label})")
        tip = (f"{what}: bytes {b.offset:,}..{b.offset + b.size - 1:,} ({b.size:,} B), steps {b.first}..{b.last}"
               + (f"; in place with {', '.join(b.in_place)}" if b.in_place else ""))
        parts.append(element(
            "rect", title(tip), x=x0 + 0.5, y=y(b.offset) - height, width=max(x1 - x0 - 1, 1), height=height,
            fill=fill, class_=f"fn-buffer fn-{b.kind}" + (" fn-in-place" if b.in_place else ""),
            data_buffer=b.name, data_kind=b.kind, data_offset=b.offset, data_size=b.size, data_first=b.first,
            data_last=b.last, data_layer=b.label, data_in_place=",".join(b.in_place) or None))
        room = col if b.in_place else x1 - x0   # in place: the next layer's output starts one step on
        if room > 40 and b.size * per_byte > 14:
            # a scratch or shift buffer is told by its hatch: the label is its layer's name
            parts.append(text(x0 + 4, y(b.offset) - b.size * per_byte + 12, _short(b.label, int(room / 6.5)),
                              class_="fn-label"))
    for o in t.overlaps:   # in place: the shared bytes, cross-hatched
        x0, x1 = LEFT + o.first * col, LEFT + (o.last + 1) * col
        parts.append(element(
            "rect", title(f"in place: {o.a} and {o.b} share bytes {o.lo:,}..{o.hi - 1:,} at steps {o.first}..{o.last}"),
            x=x0 + 0.5, y=y(o.hi), width=max(x1 - x0 - 1, 1), height=max((o.hi - o.lo) * per_byte, 1.5),
            fill="url(#fn-cross)", class_="fn-overlap", data_a=o.a, data_b=o.b, data_first=o.first, data_last=o.last,
            data_lo=o.lo, data_hi=o.hi))
    # bytes in use per step, the arena, the bounds and the peak
    points = []
    for s, n in enumerate(t.live):
        points += [f"{LEFT + s * col:.2f},{y(n):.2f}", f"{LEFT + (s + 1) * col:.2f},{y(n):.2f}"]
    if points:
        parts.append(element("polyline", title("bytes in use at each step"), points=" ".join(points),
                             class_="fn-live"))
    marks = [("arena", t.arena, "fn-arena")] + [(label, n, "fn-bound") for label, n in t.bounds]
    placed = []
    for label, n, cls in marks:
        parts.append(element("line", title(f"{label}: {n:,} B"), x1=LEFT, x2=LEFT + TIMELINE_W, y1=y(n), y2=y(n),
                             class_=cls, data_bytes=n, data_label=label))
        ly = y(n) + 4
        while any(abs(ly - p) < 13 for p in placed):
            ly += 13
        placed.append(ly)
        parts.append(text(LEFT + TIMELINE_W + 6, ly, f"{label} {n:,} B", class_=f"{cls}-text"))
    px = LEFT + (t.peak_step + 0.5) * col
    layer = t.layers[t.peak_step] if t.peak_step < len(t.layers) else ""
    parts.append(element(
        "g", title(f"peak: {t.peak:,} B in use at step {t.peak_step} ({layer})")
        + element("line", x1=px, x2=px, y1=TOP - 4, y2=base, class_="fn-peak-line")
        + element("circle", cx=px, cy=y(t.peak), r=5, class_="fn-peak-dot")
        + text(px, TOP - 8, f"peak {t.peak:,} B (step {t.peak_step})", class_="fn-peak-text",
               text_anchor="end" if t.peak_step > t.steps / 2 else "start"),
        id="fn-peak", class_="fn-peak", data_step=t.peak_step, data_bytes=t.peak))
    return _svg(LEFT + TIMELINE_W + RIGHT, TOP + TIMELINE_H + BOTTOM, "".join(parts), "memory timeline",
                id="fn-timeline", data_steps=t.steps, data_arena=t.arena, data_step_px=col, data_byte_px=per_byte,
                data_left=LEFT, data_base=base)


# ---- per-layer bars --------------------------------------------------------------------

ROW, LABEL_W, PANEL_W, GAP = 18, 230, 210, 26


def bars_svg(b: Bars) -> str:
    """Three panels side by side (MACs, instructions, weight bytes), one bar per layer in each."""
    panels = (("macs", "MACs", lambda r: r.macs),
              ("instructions", "instructions" + ("" if b.measured else " (estimate)"), lambda r: r.instructions),
              ("weight_bytes", "weight bytes", lambda r: r.weight_bytes))
    head = 30
    parts = []
    for i, r in enumerate(b.rows):
        ty = head + i * ROW + 13
        parts.append(element("g", title(f"#{r.index} {r.name}: {r.op}, {r.kernel}")
                             + text(4, ty, f"#{r.index} {_short(r.name, 30)}", class_="fn-label")))
    for p, (metric, label, value) in enumerate(panels):
        x0 = LABEL_W + p * (PANEL_W + GAP)
        top = max([value(r) for r in b.rows] + ([r.est_instructions for r in b.rows]
                                                if metric == "instructions" and b.measured else []), default=0) or 1
        parts.append(text(x0, 16, label, class_="fn-axis"))
        for i, r in enumerate(b.rows):
            n = value(r)
            width = PANEL_W * 0.72 * n / top
            estimated = metric == "instructions" and not b.measured
            parts.append(element(
                "rect", title(f"#{r.index} {r.name}: {n:,} {label}"), x=x0, y=head + i * ROW + 3,
                width=width, height=ROW - 6, class_=f"fn-bar fn-bar-{metric}" + (" fn-estimate" if estimated else ""),
                data_layer=r.index, data_metric=metric, data_value=n))
            end = width
            if metric == "instructions" and b.measured and r.est_instructions:   # the estimate, as a tick
                ex = PANEL_W * 0.72 * r.est_instructions / top
                end = max(end, ex)
                parts.append(element("line", title(f"#{r.index}: cost model estimate {r.est_instructions:,}"),
                                     x1=x0 + ex, x2=x0 + ex, y1=head + i * ROW + 1, y2=head + (i + 1) * ROW - 1,
                                     class_="fn-est-tick", data_layer=r.index, data_value=r.est_instructions))
            if n:
                parts.append(text(x0 + end + 4, head + i * ROW + 13, f"{n:,}", class_="fn-value"))
            elif estimated and r.kernel not in ("(view)", "memcpy"):   # an op the cost model has no figure for
                parts.append(text(x0 + 4, head + i * ROW + 13, "no estimate", class_="fn-none"))
    width = LABEL_W + 3 * (PANEL_W + GAP)
    return _svg(width, head + len(b.rows) * ROW + 8, "".join(parts), "per-layer MACs, instructions and weights",
                id="fn-layers", data_measured=str(b.measured).lower())


# ---- flash and RAM ---------------------------------------------------------------------

GAUGE_W = 640


def gauges_svg(gauges: tuple[Gauge, ...]) -> str:
    parts, colors = [], ("#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d")
    for i, g in enumerate(gauges):
        y0 = 8 + i * 62
        full = max(g.limit or 0, g.used, 1)
        parts.append(text(0, y0 + 14, g.label, class_="fn-axis"))
        parts.append(element("rect", title(f"{g.label} limit: {g.limit:,} B" if g.limit else "no limit"),
                             x=60, y=y0, width=GAUGE_W, height=22, class_="fn-capacity",
                             data_limit=g.limit if g.limit else "none"))
        x = 60.0
        for k, (label, n) in enumerate(g.parts):
            width = GAUGE_W * n / full
            parts.append(element("rect", title(f"{label}: {n:,} B"), x=x, y=y0, width=max(width, 1.0), height=22,
                                 fill=colors[k % len(colors)], class_="fn-use", data_gauge=g.label, data_part=label,
                                 data_bytes=n))
            x += width
        share = f" of {g.limit:,} B ({100 * g.used / g.limit:.1f} %)" if g.limit else " (no limit on this board)"
        over = g.limit is not None and g.used > g.limit
        if over:
            lx = 60 + GAUGE_W * g.limit / full
            parts.append(element("line", x1=lx, x2=lx, y1=y0 - 3, y2=y0 + 25, class_="fn-over"))
        legend = ", ".join(f"{label} {n:,}" for label, n in g.parts)
        fits = " — does not fit" if over else ""
        parts.append(text(60, y0 + 38, f"{g.used:,} B{share}{fits}: {legend}; {g.source}", class_="fn-value"))
    return _svg(GAUGE_W + 80, 8 + len(gauges) * 62, "".join(parts), "flash and RAM against the board's limits",
                id="fn-fit")

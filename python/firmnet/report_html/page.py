"""The HTML page around the drawings: one self-contained file (inline CSS and SVG, no
network, no framework). Two tiny inline scripts: the first, in <head>, records any script
error on <html data-fn-errors>; the last, at the end of <body>, links a buffer's rectangles
on hover and sets <body data-fn-ready> to the number of SVG elements it found, so that a
headless browser's DOM dump shows the page was rendered and its script ran.
"""
from __future__ import annotations

from html import escape

from .data import Page
from .svg import bars_svg, gauges_svg, patterns_svg, timeline_svg

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:18px 26px;max-width:1180px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ddd}
.fn-prov{color:#777;font-size:11px;margin:0 0 10px}
dl.fn-summary{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}
dl.fn-summary dt{color:#555}dl.fn-summary dd{margin:0;font-variant-numeric:tabular-nums}
svg{display:block;margin:4px 0;font-size:11px}
.fn-plot{fill:#fafafa;stroke:#bbb}.fn-grid{stroke:#e4e4e4}.fn-tick{fill:#666}.fn-axis{fill:#333;font-weight:600}
.fn-label{fill:#111}.fn-value{fill:#444}.fn-none{fill:#999;font-style:italic}
.fn-buffer{stroke:#fff;stroke-width:.6;opacity:.9}.fn-buffer.hi{stroke:#000;stroke-width:2;opacity:1}
.fn-in-place{stroke:#222;stroke-dasharray:3 2}
.fn-live{fill:none;stroke:#333;stroke-width:1.3}
.fn-arena{stroke:#222;stroke-width:1.5}.fn-bound{stroke:#777;stroke-dasharray:5 3}
.fn-arena-text{fill:#222;font-weight:600}.fn-bound-text{fill:#666}
.fn-peak-line{stroke:#d62728;stroke-dasharray:4 3;stroke-width:1.5}.fn-peak-dot{fill:#d62728}
.fn-peak-text{fill:#d62728;font-weight:600}
.fn-bar-macs{fill:#4e79a7}.fn-bar-instructions{fill:#e15759}.fn-bar-weight_bytes{fill:#59a14f}
.fn-est-tick{stroke:#222;stroke-width:2}.fn-bar.fn-estimate{fill-opacity:.45;stroke:#e15759;stroke-dasharray:3 2}
.fn-capacity{fill:#f2f2f2;stroke:#999}.fn-over{stroke:#d62728;stroke-width:3}
.fn-legend span{display:inline-block;margin-right:14px}.fn-key{display:inline-block;width:12px;height:10px;
margin-right:4px;vertical-align:middle;border:1px solid #888}
table{border-collapse:collapse;font-size:12px;width:100%}th,td{border-bottom:1px solid #e6e6e6;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,Menlo,Consolas,monospace}details{color:#666}.fn-note{color:#8a5a00}
"""

ERRORS_JS = ("window.addEventListener('error',function(e){document.documentElement.setAttribute("
             "'data-fn-errors',String(e.message||e))});")

READY_JS = """(function(){
var rects=document.querySelectorAll('svg rect.fn-buffer');
function mark(name,on){document.querySelectorAll('svg rect.fn-buffer').forEach(function(r){
if(r.getAttribute('data-buffer')===name){r.classList.toggle('hi',on);}});}
rects.forEach(function(r){var n=r.getAttribute('data-buffer');
r.addEventListener('mouseenter',function(){mark(n,true);});
r.addEventListener('mouseleave',function(){mark(n,false);});});
document.body.setAttribute('data-fn-ready',String(document.querySelectorAll('svg *').length));
})();"""


def _legend(page: Page) -> str:
    keys = [("#4e79a7", "a tensor's buffer (colour: the layer that writes it)"),
            ("repeating-linear-gradient(45deg,#f28e2b 0 3px,#fbd3ad 3px 6px)", "scratch of one layer")]
    if page.timeline.overlaps:
        keys.append(("repeating-linear-gradient(45deg,#222 0 1px,#fff 1px 4px)", "bytes shared in place"))
    spans = "".join(f'<span><i class="fn-key" style="background:{bg}"></i>{escape(label)}</span>' for bg, label in keys)
    spans += ('<span><i class="fn-key" style="border-color:#d62728;background:#fff"></i>'
              'peak: the step using the most bytes</span>')
    return f'<p class="fn-legend">{spans}</p>'


def _kernel_table(page: Page) -> str:
    rows = ["<tr><th>#</th><th>layer</th><th>op</th><th>kernel</th><th>why</th><th>other candidates</th></tr>"]
    for k in page.kernels:
        slower = "<br>".join(f"<code>{escape(n)}</code>: {escape(r)}" for n, r in k.slower)
        refused = ""
        if k.refused:
            items = "<br>".join(f"<code>{escape(n)}</code>: {escape(r)}" for n, r in k.refused)
            refused = f"<details><summary>{len(k.refused)} cannot run it</summary>{items}</details>"
        rows.append(f'<tr data-layer="{k.index}"><td class="n">{k.index}</td><td>{escape(k.name)}</td>'
                    f"<td>{escape(k.op)}</td><td><code>{escape(k.kernel)}</code></td><td>{escape(k.why)}</td>"
                    f"<td>{slower}{refused}</td></tr>")
    return f'<table id="fn-kernels">{"".join(rows)}</table>'


def render(page: Page) -> str:
    """The whole page as one string."""
    t = page.timeline
    summary = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in page.summary)
    summary += (f"<dt>peak</dt><dd>{t.peak:,} B in use at step {t.peak_step}"
                f"{' (' + escape(t.layers[t.peak_step]) + ')' if t.peak_step < len(t.layers) else ''}</dd>")
    if t.overlaps:
        summary += f"<dt>in place</dt><dd>{len(t.overlaps)} pairs of buffers share bytes</dd>"
    notes = "".join(f'<p class="fn-note">{escape(n)}</p>' for n in page.notes)
    bars_note = f'<p class="fn-note">{escape(page.bars.note)}</p>' if page.bars.note else ""
    body = (
        f"{patterns_svg()}<h1>firmnet report: {escape(page.name)} on {escape(page.board)}</h1>"
        f'<p class="fn-prov">{escape(page.provenance)}</p>'
        f'<dl class="fn-summary">{summary}</dl>{notes}'
        "<h2>Memory timeline</h2>"
        "<p>Every arena buffer is a rectangle: its steps (across) by its bytes in the arena (up). "
        "The line is the bytes in use at each step.</p>"
        f"{_legend(page)}{timeline_svg(t)}"
        "<h2>Layers</h2>"
        f"<p>MACs, instructions and weight bytes per layer. Instructions: {escape(page.bars.source)}"
        f"{'; the black tick is the cost model estimate' if page.bars.measured else ''}.</p>{bars_note}"
        f"{bars_svg(page.bars)}"
        "<h2>Flash and RAM</h2>"
        f"{gauges_svg(page.gauges)}"
        "<h2>Kernels</h2>"
        "<p>The kernel each layer runs, why, and the candidates the compiler did not pick.</p>"
        f"{_kernel_table(page)}")
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>firmnet report: {escape(page.name)}</title>'
            f"<script>{ERRORS_JS}</script><style>{CSS}</style></head>"
            f'<body>{body}<script>{READY_JS}</script></body></html>\n')


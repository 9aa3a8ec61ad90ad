"""`firmnet report OUT --html PAGE`: the compile report as one self-contained HTML page.

    data.py  what the page shows, gathered from OUT (report.json, profile-<board>.json,
             the board's limits, the linked firmware's sizes)
    svg.py   the drawings: memory timeline, per-layer bars, flash and RAM
    page.py  the page around them (inline CSS, two tiny scripts)
"""
from __future__ import annotations

from pathlib import Path

from .data import Page, build_page, gather
from .page import render

__all__ = ["Page", "build_page", "gather", "render", "write_html"]


def write_html(out, path) -> Path:
    """Write the page of the project in OUT to `path`; returns the path."""
    path = Path(path)
    path.write_text(render(gather(out)), encoding="utf-8")
    return path

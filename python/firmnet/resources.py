"""Where the files that travel with the package live (templates, C runtime, boards).

They are package data (see pyproject.toml), so they are found the same way from
a source checkout, an editable install and a wheel.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path


def _package_dir(package: str) -> Path:
    return Path(str(resources.files(package)))


def runtime_dir() -> Path:
    return _package_dir("firmnet.runtime_c")


def runtime_include_dir() -> Path:
    return runtime_dir() / "include"


def runtime_sources() -> list[Path]:
    return sorted((runtime_dir() / "src").glob("*.c"))


def runtime_headers() -> list[Path]:
    """Every runtime header, each after the headers it includes (cffi reads them in order)."""
    headers = {p.name: p for p in sorted(runtime_include_dir().glob("*.h"))}
    ordered: list[Path] = []

    def visit(name, seen=()):
        if name in seen or headers[name] in ordered:
            return
        for dep in re.findall(r'#include\s+"([^"]+)"', headers[name].read_text()):
            if dep in headers:
                visit(dep, seen + (name,))
        ordered.append(headers[name])

    for name in headers:
        visit(name)
    return ordered


def templates_dir() -> Path:
    return _package_dir("firmnet.codegen") / "templates"


def boards_dir() -> Path:
    return _package_dir("firmnet.board_files")

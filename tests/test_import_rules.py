"""Which firmnet modules may import which (parsed with ast, relative imports resolved):

- reference/ is the independent oracle: it imports none of layout, lowering, kernels/ or
  codegen/ (the C interface), so a wrong parameter struct cannot be wrong in both;
- ir.py imports no op module (the ops depend on the IR, not the reverse);
- frontend/ imports no codegen/.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "firmnet"


def module_name(path: Path, root: Path) -> str:
    parts = ("firmnet",) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module path.py (a file of the package at root) imports, absolute (`from .x import y`
    in firmnet.a.b → firmnet.a.x and firmnet.a.x.y, as y may be a module), including imports
    inside functions."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations(files, forbidden) -> list[str]:
    return sorted(f"{path.relative_to(PACKAGE)} imports {name}" for path in files
                  for name in imported_modules(path)
                  if any(name == f or name.startswith(f + ".") for f in forbidden))


def test_the_parser_resolves_relative_imports(tmp_path):
    sub = tmp_path / "firmnet" / "reference"
    sub.mkdir(parents=True)
    probe = sub / "probe.py"
    probe.write_text("from .. import layout\nfrom ..kernels.params_x import y\nfrom .conv import z\n"
                     "def f():\n    import firmnet.codegen\n")
    names = imported_modules(probe, tmp_path / "firmnet")
    assert {"firmnet.layout", "firmnet.kernels.params_x", "firmnet.reference.conv", "firmnet.codegen"} <= names


@pytest.mark.parametrize("files, forbidden", [
    (sorted((PACKAGE / "reference").glob("*.py")),
     ("firmnet.layout", "firmnet.lowering", "firmnet.kernels", "firmnet.codegen")),
    ([PACKAGE / "ir.py"], ("firmnet.ops",)),
    (sorted((PACKAGE / "frontend").rglob("*.py")), ("firmnet.codegen",)),
], ids=["reference", "ir", "frontend"])
def test_import_rules(files, forbidden):
    assert files, "no files found: has the package moved?"
    assert violations(files, forbidden) == []

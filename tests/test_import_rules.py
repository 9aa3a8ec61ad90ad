"""Which firmnet modules may import which (parsed with ast, relative imports resolved):

- reference/ is the independent oracle: it imports none of layout, lowering, kernels/ or
  codegen/ (the C interface), so a wrong parameter struct cannot be wrong in both;
- ir.py imports no op module (the ops depend on the IR, not the reverse);
- frontend/ imports no codegen/;
- a test module imports no other test module nor conftest.py: what tests share lives in
  tests/support/; conftest.py holds fixtures only.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "firmnet"
TESTS = Path(__file__).resolve().parent
TEST_MODULES = {p.stem for p in TESTS.glob("test_*.py")}


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


def test_test_modules_import_only_support(tmp_path):
    """The tests' own rule, and the parser on the forms it must see (plain, from, in a function)."""
    probe = tmp_path / "probe.py"
    probe.write_text("import test_a\nfrom test_b import x\nfrom support.y import z\n"
                     "def f():\n    from conftest import w\n")
    assert {"test_a", "test_b", "conftest", "support.y"} <= imported_modules(probe, tmp_path)
    files = sorted(TESTS.glob("*.py")) + sorted((TESTS / "support").glob("*.py"))
    bad = sorted(f"{path.relative_to(TESTS)} imports {name}" for path in files
                 for name in imported_modules(path, TESTS)
                 if name.split(".")[0] in TEST_MODULES | {"conftest"})
    assert bad == [], "shared test code goes in tests/support/, which test modules import"


def test_top_of_tests_holds_test_modules_and_conftest():
    others = sorted(p.name for p in TESTS.glob("*.py") if p.stem not in TEST_MODULES and p.name != "conftest.py")
    assert others == [], f"move {others} into tests/support/"


def test_conftest_holds_fixtures_only():
    defs = [n for n in ast.parse((TESTS / "conftest.py").read_text()).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defs, "conftest.py defines the runtime fixture"
    not_fixtures = [n.name for n in defs if not any("fixture" in ast.unparse(d) for d in n.decorator_list)]
    assert not_fixtures == [], f"conftest.py is for fixtures: move {not_fixtures} into tests/support/"

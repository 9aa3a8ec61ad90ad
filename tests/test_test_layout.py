"""The test tree's import rule: a test module takes shared code from tests/support/ (and
fixtures from conftest.py), never from another test module; conftest.py holds fixtures
only; support/ imports no test module either. Read with ast, nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TEST_MODULES = {p.stem for p in TESTS.glob("test_*.py")}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module name) of every import in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_no_module_imports_a_test_module_or_conftest():
    files = sorted(TESTS.glob("*.py")) + sorted((TESTS / "support").glob("*.py"))
    bad = [f"{path.relative_to(TESTS)}:{line} imports {name}"
           for path in files for line, name in imported_modules(path)
           if name in TEST_MODULES or name == "conftest"]
    assert not bad, ("shared test code goes in tests/support/, which test modules import:\n  "
                     + "\n  ".join(bad))


def test_only_test_modules_and_conftest_at_the_top():
    others = sorted(p.name for p in TESTS.glob("*.py") if p.stem not in TEST_MODULES and p.name != "conftest.py")
    assert others == [], f"move {others} into tests/support/ (the top of tests/ holds test modules and conftest.py)"


def test_conftest_holds_fixtures_only():
    tree = ast.parse((TESTS / "conftest.py").read_text())
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defs, "conftest.py defines the runtime fixture"
    not_fixtures = [n.name for n in defs
                    if not any("fixture" in ast.unparse(d) for d in getattr(n, "decorator_list", []))]
    assert not_fixtures == [], f"conftest.py is for fixtures: move {not_fixtures} into tests/support/"


def test_the_rule_sees_every_form_of_import(tmp_path):
    """The checker itself: plain, from, dotted and function-local imports are all seen."""
    src = tmp_path / "probe.py"
    src.write_text("import test_a\nimport os.path\nfrom test_b import x\nfrom support.y import z\n"
                   "def f():\n    from conftest import w\n    from . import v\n")
    assert sorted(imported_modules(src)) == [(1, "test_a"), (2, "os"), (3, "test_b"), (4, "support"),
                                             (6, "conftest")]

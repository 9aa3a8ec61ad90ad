"""pyproject.toml ships every data folder as a listed package, so `pip install .` copies them all
without setuptools' page of "Package ... is absent from the `packages` configuration" warnings
(one ~40-line block per unlisted folder with files, as setuptools 84 prints them)."""
from __future__ import annotations

import tomllib

from support.paths import REPO


def test_every_folder_with_files_under_a_package_dir_is_a_listed_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(config["packages"])
    data = config["package-data"]
    missing, unshipped = [], []
    for package, folder in config["package-dir"].items():
        if not package:
            continue
        root = REPO / folder
        for d in [root, *sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
            files = [f for f in d.iterdir() if f.is_file() and f.suffix not in (".pyc",)]
            if not files:
                continue
            name = ".".join([package, *d.relative_to(root).parts])
            if name not in packages:
                missing.append(name)
                continue
            patterns = data.get(name, [])
            unshipped += [f"{name}/{f.name}" for f in files if f.suffix != ".py"
                          and not any(f.match(p) for p in patterns)]
    assert not missing, f"folders with files but not in [tool.setuptools] packages: {missing}"
    assert not unshipped, f"files no package-data pattern ships: {unshipped}"

"""Imports flow one way: index <- rag <- api, evals (DESIGN.md); a back-edge fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("index", "rag", "api", "evals")
# What each package may import of ours, itself included.
ALLOWED = {
    "index": {"index"},
    "rag": {"rag", "index"},
    "api": {"api", "rag", "index"},
    "evals": {"evals", "rag", "index"},
}


def imported_packages(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every import of ours in a module, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package] if node.level else [node.module or ""]  # relative: same package
        else:
            continue
        found += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in OURS]
    return found


def modules(package: str) -> list[Path]:
    """Every Python file of a package."""
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OURS)
def test_package_imports_only_what_it_may(package: str) -> None:
    assert modules(package), f"{package}/ has no modules"
    back_edges = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in modules(package)
        for line, target in imported_packages(path, package)
        if target not in ALLOWED[package]
    ]
    assert back_edges == []


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import api.app\n"
        "from evals import gold\n"
        "from . import sibling\n"
        "import json, rag.cli as c\n"
        "def later():\n"
        "    from index.store import open_index\n"
    )
    assert imported_packages(module, "rag") == [
        (1, "api"),
        (2, "evals"),
        (3, "rag"),
        (4, "rag"),
        (6, "index"),
    ]

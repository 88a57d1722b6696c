"""Imports flow one way: index <- rag <- api, evals (DESIGN.md); a back-edge fails here.

Our packages install as newsrag.index, newsrag.rag, newsrag.api and newsrag.evals: an import of
the bare folder name (`import index`) would reach whatever else is called that, so it fails too.
"""

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


NAMESPACE = "newsrag"


def imported_packages(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, package) of every import of ours in a module, nested ones included.

    `newsrag.rag.cli` is package "rag"; a bare `rag.cli` is reported as "bare rag".
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: same package
                names = [f"{NAMESPACE}.{package}"]
            elif node.module == NAMESPACE:  # from newsrag import rag
                names = [f"{NAMESPACE}.{alias.name}" for alias in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == NAMESPACE and len(parts) > 1 and parts[1] in OURS:
                found.append((node.lineno, parts[1]))
            elif parts[0] in OURS:
                found.append((node.lineno, f"bare {parts[0]}"))
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
        "import newsrag.api.app\n"
        "from newsrag.evals import goldset\n"
        "from . import sibling\n"
        "import json, newsrag.rag.cli as c\n"
        "def later():\n"
        "    from newsrag.index.store import open_index\n"
        "from newsrag import api\n"
        "import index.store\n"
    )
    assert imported_packages(module, "rag") == [
        (1, "api"),
        (2, "evals"),
        (3, "rag"),
        (4, "rag"),
        (7, "api"),
        (8, "bare index"),
        (6, "index"),
    ]

"""Tests mirror the packages (STYLE.md): every rag module has tests/rag/test_<module>.py
(and rag/extractive/<m>.py has tests/rag/extractive/test_<m>.py).

Only rag/ is held to it so far; index/, api/ and evals/ test several modules per test file.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def untested_modules(package: Path, tests: Path) -> list[str]:
    """Modules of `package` (one level, __init__ aside) without a tests/<pkg>/test_<name>.py."""
    return [
        module.name
        for module in sorted(package.glob("*.py"))
        if module.stem != "__init__" and not (tests / f"test_{module.stem}.py").is_file()
    ]


def test_every_rag_module_has_a_test_module_of_its_own() -> None:
    assert untested_modules(ROOT / "rag", ROOT / "tests" / "rag") == []
    extractive = untested_modules(
        ROOT / "rag" / "extractive", ROOT / "tests" / "rag" / "extractive"
    )
    assert extractive == []


def test_the_check_sees_a_module_without_tests(tmp_path: Path) -> None:
    package, tests = tmp_path / "pkg", tmp_path / "tests"
    package.mkdir()
    tests.mkdir()
    for name in ("__init__.py", "alpha.py", "beta.py"):
        (package / name).write_text("")
    (tests / "test_alpha.py").write_text("")
    (tests / "test_alpha_more.py").write_text("")
    assert untested_modules(package, tests) == ["beta.py"]

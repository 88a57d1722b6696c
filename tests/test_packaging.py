"""The wheel installs one namespace, newsrag.*, and the working directory cannot shadow it."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("index", "rag", "api", "evals")


def _setuptools_config() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return data["tool"]["setuptools"]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = _setuptools_config()
    on_disk = {
        "newsrag." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(config["packages"]) == on_disk  # type: ignore[arg-type]
    assert config["package-dir"] == {f"newsrag.{f}": f for f in FOLDERS}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (built,) = out.glob("newsrag-*.whl")
    return built


def test_the_wheel_installs_no_generic_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"newsrag"}
    for folder in FOLDERS:
        assert f"newsrag/{folder}/__init__.py" in names
    assert "newsrag/api/static/index.html" in names
    assert "newsrag/evals/gold/news.jsonl" in names
    assert "newsrag/evals/thresholds.toml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "rag = newsrag.rag.cli:main" in text


def test_a_folder_called_index_in_the_working_directory_does_not_shadow(tmp_path: Path) -> None:
    for name in FOLDERS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('shadowed')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", "import newsrag.rag.cli, newsrag.api.app; print('ok')"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

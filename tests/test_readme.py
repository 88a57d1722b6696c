"""The README and the CLI's help tell the truth: every setting is in the settings table with
its default, the command table's flags exist, every file they point at is in the repository,
each table of figures names the command that produced it, and help reads in plain words."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic_core import PydanticUndefined

from newsrag.rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RAG = Path(sys.executable).with_name("rag")
# Paths the README names that a run creates (outputs, caches, virtualenvs), not files it ships.
GENERATED = (".rag/", ".venv", "bench/out/", "evals/out", "artifacts/")
# The data folder beside the checkout that the eval sets and benchmarks read in place (they
# skip with a note when it is absent): data the user supplies, not a file the README cites.
DATA_FOLDER = "../shared/datasets"
OUTPUT_NAMES = {"report.md"}  # what `rag eval --out DIR` writes
TOP_LEVEL = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")}

# Typer's type labels ("<bool>", "<int range>", "<list[Path]>"), not a placeholder a help
# text writes on purpose ("<repo>").
TYPE_LABEL = re.compile(
    r"<(?:bool|int|float|str|path|uuid|datetime|file|text|list\[[^\]]*\]|\w+ range)>", re.I
)

HELP_DUMP = """
import json, sys
from typer.testing import CliRunner
from newsrag.rag.cli import _register_plugins, app
_register_plugins()
runner = CliRunner()
names = [c.name for c in app.registered_commands]
out = {"": runner.invoke(app, ["--help"], terminal_width=400).output}
for name in names:
    out[name] = runner.invoke(app, [name, "--help"], terminal_width=400).output
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def help_texts() -> dict[str, str]:
    """`rag --help` and every command's --help (plugins included), keyed by command name."""
    env = {**os.environ, "COLUMNS": "400"}  # wide: no path is broken across the help's lines
    done = subprocess.run(
        [sys.executable, "-c", HELP_DUMP],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    texts: dict[str, str] = json.loads(done.stdout)
    return texts


def section(title: str) -> str:
    """The README text under a '## title' heading, up to the next one."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def table_rows(text: str) -> list[list[str]]:
    """Body rows of the first Markdown table in text, as cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    return [r for r in rows[1:] if not set("".join(r)) <= set("-: |")]


def shown_values(default: object) -> set[str]:
    """How a default may be written in the table."""
    if default is None or default == [] or default == "":
        return {"unset"}
    if isinstance(default, bool):
        return {str(default).lower()}
    if isinstance(default, float):
        return {repr(default), f"{default:g}"}
    if isinstance(default, Path) and default.is_relative_to(Path.home()):
        return {str(default), f"~/{default.relative_to(Path.home())}"}
    return {str(default)}


def test_settings_table_lists_every_setting_with_its_default() -> None:
    documented: dict[str, str] = {}
    for cells in table_rows(section("Settings")):
        names = re.findall(r"`(RAG_\w+)`", cells[0])
        values = re.findall(r"`([^`]+)`", cells[1]) or [cells[1]]
        if len(values) != len(names):
            values = [values[-1]] * len(names)  # one default shared by the row
        documented.update(zip(names, values, strict=True))
    fields = Settings.model_fields
    expected = {f"RAG_{name.upper()}": name for name in fields}
    assert sorted(set(expected) - set(documented)) == []  # a setting missing from the table
    assert sorted(set(documented) - set(expected)) == []  # a row for no setting
    for env, name in expected.items():
        field = fields[name]
        default = field.default_factory() if field.default is PydanticUndefined else field.default  # type: ignore[call-arg, misc]
        assert documented[env] in shown_values(default), (env, documented[env], default)


def test_command_table_matches_the_commands(help_texts: dict[str, str]) -> None:
    rows = table_rows(section("Command line"))
    usages = [re.search(r"`rag ([^`]*)`", r[0]) for r in rows]
    listed = {u.group(1).split()[0] for u in usages if u}
    commands = {name for name in help_texts if name}
    assert commands <= listed, f"commands missing from the table: {commands - listed}"
    for usage in filter(None, usages):
        name = usage.group(1).split()[0]
        flags = set(re.findall(r"--[a-z][a-z-]*", usage.group(1)))
        known = set(re.findall(r"--[a-z][a-z-]*", help_texts.get(name, help_texts[""])))
        assert flags <= known, f"rag {name}: {flags - known} not in its --help"


def referenced_paths(text: str) -> set[str]:
    """Repository paths a text names: links, and `code` or bare words that look like paths."""
    found = set(re.findall(r"\]\((?!https?:|#|mailto:)([^)\s]+)\)", text))
    text = re.sub(r"\b(?:https?|file)://\S+", " ", text)  # addresses are not repository paths
    for token in re.findall(r"[\w./~*-]+", text):
        token = token.rstrip(".,:;")
        outside = token.startswith(("../", "~/", "/")) and "/" in token[1:]
        document = re.fullmatch(r"(?:[\w.-]+/)*[A-Za-z][\w-]*\.md", token) is not None
        in_repo = "/" in token and token.split("/")[0] in TOP_LEVEL
        if (outside or document or in_repo) and token not in OUTPUT_NAMES:
            found.add(token)
    return found


def unresolved(paths: set[str]) -> list[str]:
    missing = []
    for path in sorted(paths):
        if path.startswith(GENERATED) or path.startswith(("~/", "/v1", "/docs", "/static")):
            continue  # created by a run, the user's own files, or URL paths of the service
        if DATA_FOLDER in path or (path.startswith("/") and not path.startswith(str(ROOT))):
            continue  # the data folder, or a place the user picks (`--on-disk /tmp/x`)
        if "*" in path:  # a pattern: it must match something
            if not list(ROOT.glob(path)):
                missing.append(path)
            continue
        target = Path(path) if path.startswith("/") else ROOT / path
        if path.startswith("../") or not target.exists():
            missing.append(path)
    return missing


def test_every_file_the_readme_names_is_in_the_repository() -> None:
    assert unresolved(referenced_paths(README)) == []


def test_every_file_the_help_names_is_in_the_repository(help_texts: dict[str, str]) -> None:
    text = "\n".join(help_texts.values())
    assert unresolved(referenced_paths(text)) == []
    assert "DESIGN.md" not in text


def test_the_checks_above_can_fail() -> None:
    assert unresolved(referenced_paths("see DESIGN.md and `bench/nope.py`")) == [
        "DESIGN.md",
        "bench/nope.py",
    ]
    assert unresolved(referenced_paths("see ../docs/DESIGN.md")) == ["../docs/DESIGN.md"]


def test_every_table_of_figures_names_its_command() -> None:
    lines = README.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        header = lines[start].strip("| ").split(" | ")[0].strip()
        if header in ("command", "variable", "route", "field"):  # reference, not measurements
            continue
        after = "\n".join(lines[i : i + 3])
        assert "Produced by:" in after or "```bash" in after, f"table at line {start + 1}"


def test_version_and_plain_help(help_texts: dict[str, str]) -> None:
    done = subprocess.run([str(RAG), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"rag (newsrag) {version('newsrag')}"
    for name, text in help_texts.items():
        assert not TYPE_LABEL.search(text), (name, text)  # no <bool>, <list[Path]>
    assert "--version" in help_texts[""]
    assert "PATHS" in help_texts["ingest"] and "--index-dir" in help_texts["ingest"]

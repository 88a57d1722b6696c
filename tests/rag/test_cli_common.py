"""rag.cli_common: Settings from flags, the Host a test hands its embedder in, clean errors, help.

Commands run through typer's CliRunner on small apps built here; the test embedder is the
word-hashing TEST DOUBLE (tests/index/hashing.py), handed in as the Host, never patched in.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import pytest
import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.testing import CliRunner

from newsrag.rag import cli_common
from newsrag.rag.cli_common import (
    Host,
    IndexDir,
    JsonFlag,
    ReadableGroup,
    fail,
    host_embedder,
    loading_status,
    note,
    package_version,
    settings_from,
)
from tests.index.hashing import HashingEmbedder


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What cli_common prints to stderr, captured by a plain (non-terminal) rich console."""
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> int:
            lines.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(cli_common, "err", Console(file=Sink(), width=200, color_system=None))  # type: ignore[arg-type]
    return lines


def test_settings_from_lets_given_flags_beat_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_K", "5")
    env.setenv("RAG_INDEX_DIR", "/from/env")
    assert settings_from().k == 5 and settings_from().index_dir == Path("/from/env")
    given = settings_from(Path("flag"), k=2)
    assert given.index_dir == Path("flag") and given.k == 2


def test_settings_from_leaves_unset_flags_to_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("RAG_K", "5")
    env.setenv("RAG_PORT", "9100")
    settings = settings_from(None, k=None, port=None, host="0.0.0.0")
    assert (settings.k, settings.port, settings.host) == (5, 9100, "0.0.0.0")


def test_a_command_uses_the_embedder_its_host_hands_it() -> None:
    app = typer.Typer()
    seen: list[object] = []

    @app.command()
    def probe(ctx: typer.Context) -> None:
        seen.append(host_embedder(ctx))

    runner = CliRunner()
    embedder = HashingEmbedder()
    assert runner.invoke(app, [], obj=Host(embedder=embedder)).exit_code == 0
    assert runner.invoke(app, []).exit_code == 0  # the command line hands nothing
    assert runner.invoke(app, [], obj=Host()).exit_code == 0
    assert seen == [embedder, None, None]


def test_fail_prints_one_line_without_markup_and_returns_the_exit(stderr: list[str]) -> None:
    exit_ = fail("no index at [bold]/tmp/x[/bold]", code=3)
    assert isinstance(exit_, typer.Exit) and exit_.exit_code == 3
    assert "".join(stderr) == "error: no index at [bold]/tmp/x[/bold]\n"
    assert fail("again").exit_code == 1


def test_a_failing_command_exits_with_its_code_and_no_traceback(stderr: list[str]) -> None:
    app = typer.Typer()

    @app.command()
    def broken() -> None:
        raise fail("the index is corrupt", code=2)

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2 and result.exception is not None
    assert "".join(stderr) == "error: the index is corrupt\n"
    assert "Traceback" not in result.output


def test_note_and_loading_status_print_a_line_off_a_terminal(stderr: list[str]) -> None:
    note("exporting [model] to ONNX")
    ran = []
    with loading_status("loading the index"):
        ran.append(True)
    assert ran == [True]
    assert "".join(stderr) == "exporting [model] to ONNX\nloading the index\n"


def test_package_version_is_the_installed_distribution() -> None:
    assert package_version() == version("newsrag") != "unknown"


def readable_app(group: type[TyperGroup] = ReadableGroup) -> typer.Typer:
    app = typer.Typer(cls=group, add_completion=False)

    @app.callback()
    def root(
        verbose: Annotated[bool, typer.Option(help="Say more.")] = False,
        level: Annotated[int, typer.Option(help="How much.")] = 1,
    ) -> None:
        """A test group."""

    @app.command()
    def show(
        paths: Annotated[list[Path], typer.Argument(help="Files.")],
        index_dir: IndexDir = None,
        k: Annotated[int, typer.Option(min=1, help="Results.")] = 3,
        name: Annotated[str, typer.Option(help="A name.")] = "x",
        ratio: Annotated[float, typer.Option(help="A ratio.")] = 0.5,
        as_json: JsonFlag = False,
    ) -> None:
        """Show things."""

    return app


def help_text(*args: str, group: type[TyperGroup] = ReadableGroup) -> str:
    app = readable_app(group)
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_help_names_values_in_plain_words_and_flags_by_nothing() -> None:
    text = help_text("show")
    assert "<" not in text and "list[" not in text
    lines = {line.split()[1]: line.split() for line in text.splitlines() if "--" in line}
    assert lines["--index-dir"][2] == "PATH"
    assert lines["--k"][2] == "N"
    assert lines["--name"][2] == "TEXT"
    assert lines["--ratio"][2] == "NUMBER"
    assert lines["--json"][2] == "Print"  # a flag: its help follows the name directly
    assert "PATHS" in text  # the argument, by name


def test_the_group_options_are_readable_too() -> None:
    text = help_text()
    lines = {line.split()[1]: line.split() for line in text.splitlines() if "--" in line}
    assert lines["--level"][2] == "N"
    assert lines["--verbose"][2:4] == ["--no-verbose", "Say"]


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("RAG_K", "0", "error: invalid settings: RAG_K=0: Input should be greater than or equal"),
        ("RAG_PORT", "http", "error: invalid settings: RAG_PORT=http: Input should be a valid int"),
        (
            "RAG_CORS_ORIGINS",
            "http://a",
            "error: invalid settings: RAG_CORS_ORIGINS cannot be read",
        ),
    ],
)
def test_a_bad_setting_ends_the_command_with_one_line_naming_it(
    env: pytest.MonkeyPatch, stderr: list[str], name: str, value: str, line: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(typer.Exit) as info:
        settings_from()
    assert info.value.exit_code == 1
    (printed,) = "".join(stderr).splitlines()
    assert printed.startswith(line)


def test_a_bad_key_setting_is_named_without_its_value(
    env: pytest.MonkeyPatch, stderr: list[str]
) -> None:
    with pytest.raises(typer.Exit):
        settings_from(api_key=["s3cr3t-value"])
    (printed,) = "".join(stderr).splitlines()
    assert printed.startswith("error: invalid settings: RAG_API_KEY: ") and "s3cr3t" not in printed


def test_a_plain_group_would_show_python_types() -> None:
    """What ReadableGroup changes (so the tests above can fail)."""
    assert "<int range>" in help_text("show", group=TyperGroup)
    assert "<int>" in help_text(group=TyperGroup)

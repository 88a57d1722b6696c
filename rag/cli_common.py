"""What the `rag` commands share: consoles, common options, Settings from flags, clean errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup, TyperOption

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from newsrag.index import Embedder
    from newsrag.rag.settings import Settings

console = Console()
err = Console(stderr=True)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory (default: RAG_INDEX_DIR).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def settings_from(index_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with CLI flags taking precedence.

    A bad value (RAG_K=0, RAG_CORS_ORIGINS that is not JSON) ends the command with one line
    naming the variable, never a traceback.
    """
    from newsrag.rag.settings import Settings

    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        values["index_dir"] = index_dir
    return load_settings(Settings, "RAG_", **values)


_S = TypeVar("_S", bound="BaseSettings")


def load_settings(kind: type[_S], prefix: str, **values: Any) -> _S:
    """`kind` from the environment (variables `prefix` + field name); a bad value ends the
    command with one line naming the variable, never a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return kind(**values)
    except ValidationError as exc:
        problems = [_setting_problem(e, kind, prefix) for e in exc.errors()]
        raise fail("invalid settings: " + "; ".join(problems)) from None
    except SettingsError as exc:  # a list or object variable that is not JSON
        field = _QUOTED.search(str(exc))
        name = f"{prefix}{field.group(1).upper()}" if field else f"a {prefix}* variable"
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise fail(f"invalid settings: {name} cannot be read as JSON{cause}") from None


_QUOTED = re.compile(r'field "(\w+)"')


def _setting_problem(error: Any, settings: type[BaseSettings], prefix: str) -> str:
    """`RAG_K=0: Input should be ...` for one pydantic error (secrets' values left out)."""
    field = str(error["loc"][0]) if error["loc"] else ""
    name = f"{prefix}{field.upper()}" if field in settings.model_fields else field or "settings"
    secret = "key" in field
    shown = "" if secret or "input" not in error else f"={error['input']}"
    return f"{name}{shown}: {error['msg']}"


@dataclass(frozen=True, slots=True)
class Host:
    """What a program running the `rag` commands hands them instead of letting them load it.

    Passed as click's context object: `CliRunner().invoke(app, args, obj=Host(embedder=e))`
    runs a command with the test embedder `e` (the command line itself passes nothing).
    """

    embedder: Embedder | None = None


def host_embedder(ctx: typer.Context) -> Embedder | None:
    """The embedder the host handed the command (see Host), or None: load the configured one."""
    host = ctx.find_object(Host)
    return host.embedder if host is not None else None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error without a traceback and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def note(message: str) -> None:
    """One line of progress on stderr (the first-use ONNX export says what it is doing)."""
    err.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)


@contextmanager
def loading_status(message: str) -> Iterator[None]:
    """Say on stderr what is loading: a spinner on a terminal (erased when done), else a line."""
    if err.is_terminal:
        with err.status(message):
            yield
        return
    err.print(message, soft_wrap=True)
    yield


def package_version() -> str:
    """The installed newsrag version (what `rag --version` prints)."""
    try:
        return version("newsrag")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


# Typer prints each value's Python type in the help ("<bool>", "<list[Path]>"); users read
# plain words. Flags show nothing, values a word naming what to type.
_VALUE_WORDS = {"str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER", "path": "PATH"}


def _value_word(param: TyperOption | TyperArgument, ctx: Any) -> str:
    label = param.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return _VALUE_WORDS.get(label.lower(), label.upper() if label.isidentifier() else label)


def readable_param(param: object, ctx: Any) -> None:
    """Give one parameter a plain metavar: nothing for flags, PATH / N / TEXT for values."""
    if getattr(param, "_readable", False):
        return
    if isinstance(param, TyperOption):
        param.metavar = "" if param.is_flag or param.count else _value_word(param, ctx)
    elif isinstance(param, TyperArgument):
        # An argument's type column ignores its metavar: name it in the name column only.
        param.metavar = (param.name or "value").upper()
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    param._readable = True  # type: ignore[attr-defined]


class ReadableGroup(TyperGroup):
    """The `rag` group: every command's help shows plain metavars (see readable_param)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The subcommand, its parameters made readable."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in command.get_params(ctx):
                readable_param(param, ctx)
        return command

    def get_params(self, ctx: Any) -> Any:
        """The group's own options, made readable."""
        params = super().get_params(ctx)
        for param in params:
            readable_param(param, ctx)
        return params

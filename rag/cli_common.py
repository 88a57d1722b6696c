"""What the `rag` commands share: consoles, common options, Settings from flags, clean errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from newsrag.rag.settings import Settings

console = Console()
err = Console(stderr=True)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory (default: RAG_INDEX_DIR).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def settings_from(index_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with CLI flags taking precedence."""
    from newsrag.rag.settings import Settings

    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        values["index_dir"] = index_dir
    return Settings(**values)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error without a traceback and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def note(message: str) -> None:
    """One line of progress on stderr (the first-use ONNX export says what it is doing)."""
    err.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)

"""`rag eval --sets ...`: every eval set gated, one report each, and a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from newsrag.evals.cli import (
    SHIPPED_CORPUS,
    SHIPPED_GOLD,
    THRESHOLDS,
    EvalOptions,
    _print_summary,
    model_for,
)

if TYPE_CHECKING:
    from newsrag.evals.suite import SuiteResult
    from newsrag.index import Embedder
    from newsrag.rag.settings import Settings


def suite_command(
    names: str,
    mode: str,
    settings: Settings,
    out: Path,
    index_dir: Path,
    update_baseline: bool,
    datasets: Path | None,
    perturb_distance: float | None,
    *,
    embedder: Embedder | None = None,
) -> None:
    """Run every named set (or all), print each table and the summary; exit 1 on a failure.

    `embedder`: the one to index and answer with (default: the configured one).
    """
    from newsrag.evals.errors import EvalError
    from newsrag.evals.perturb import CROSS_CPU_DISTANCE
    from newsrag.evals.suite import default_datasets_dir, gate_sets, run_suite
    from newsrag.index import IndexStoreError
    from newsrag.rag import components
    from newsrag.rag.cli import err, fail

    wanted = None if names.strip() == "all" else [n.strip() for n in names.split(",") if n.strip()]
    try:
        chosen, skipped = gate_sets(datasets or default_datasets_dir(), mode, names=wanted)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    for note in skipped:
        err.print(f"[yellow]skipped[/yellow] {note}")
    base = EvalOptions(
        SHIPPED_GOLD, SHIPPED_CORPUS, mode, index_dir, THRESHOLDS, Path(), update_baseline, out
    )
    distance = CROSS_CPU_DISTANCE if perturb_distance is None else perturb_distance
    try:
        with model_for(mode, settings) as model, components.torch_threads(1):
            result = run_suite(
                chosen,
                skipped,
                base,
                settings,
                model,
                index_root=index_dir,
                perturb_distance=distance,
                embedder=embedder,
            )
    except (EvalError, IndexStoreError) as exc:
        raise fail(str(exc), 2) from None
    for item in result.results:
        _print_summary(item.report, item.prior, out / item.eval_set.name)
    _print_suite(result, out)
    if update_baseline:
        for item in result.results:
            err.print(f"baseline written: {item.eval_set.baseline}")
    if not result.passed:
        raise typer.Exit(1)


def _print_suite(result: SuiteResult, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from newsrag.evals.suite import summary_rows, write_summary

    json_path, md_path = write_summary(result, out)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    rows = summary_rows(result)
    table = Table(title="rag eval · every set")
    for i, name in enumerate(rows[0]):
        table.add_column(name, no_wrap=True, justify="left" if i == 0 else "right")
    for row in rows[1:]:
        table.add_row(*row)
    console.print(table)
    if result.robustness is not None:
        colour = "red" if result.robustness.changed else "green"
        console.print(f"[{colour}]perturbation check[/{colour}]: {result.robustness.describe()}")
    verdict = "[green]every gate passed[/green]" if result.passed else "[red]gate FAILED[/red]"
    console.print(f"{verdict}; summary: {md_path}, {json_path}")

"""The `rag` command line: ingest, delete, stats, config, plus commands other packages register."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from newsrag.index.dense import FAISS_KINDS
from newsrag.index.errors import (
    DistributedIngestError,
    IndexStoreError,
    RayUnavailableError,
)
from newsrag.rag import cli_answers, cli_watch
from newsrag.rag.cli_common import (
    IndexDir,
    JsonFlag,
    ReadableGroup,
    console,
    err,
    fail,
    note,
    package_version,
    settings_from,
)
from newsrag.rag.components import load_embedder, load_store

if TYPE_CHECKING:
    from newsrag.index import IngestReport

# Heavy modules (FAISS, bm25s, pydantic, the embedder's runtime) are imported inside the
# commands that use them: `rag --help` stays fast (issue 13, bench/startup.py).

app = typer.Typer(
    cls=ReadableGroup,
    help="Cited question answering over news articles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        print(f"rag (newsrag) {package_version()}")
        raise typer.Exit()


@app.callback()
def _before_any_command(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Cited question answering over news articles."""
    _quiet_libraries()


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders of articles.")
    ] = None,
    index_dir: IndexDir = None,
    feeds: cli_watch.FeedOption = None,
    prune: Annotated[bool, typer.Option(help="Remove articles no longer under PATHS.")] = False,
    rebuild: Annotated[bool, typer.Option(help="Re-embed everything from scratch.")] = False,
    faiss_kind: Annotated[
        str | None,
        typer.Option(
            "--faiss",
            help=f"FAISS index kind: {', '.join(FAISS_KINDS)} (default: the index's own; flat"
            " for a new one).",
        ),
    ] = None,
    target_tokens: Annotated[int, typer.Option(help="Aim for chunks of this many tokens.")] = 160,
    overlap_tokens: Annotated[int, typer.Option(help="Token overlap between chunks.")] = 32,
    on_ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help='Load, clean, cut and embed on a Ray cluster (pip install "newsrag[ray]");'
            " the index is written here.",
        ),
    ] = False,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address with --ray (default: start Ray on this machine)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Ray workers, one CPU and one model each (default: all CPUs)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add or update articles (unchanged ones are not re-embedded)."""
    from newsrag.index import ChunkingParams, IngestOptions, ingest

    paths = paths or []
    if not paths and not feeds:
        raise fail("give files or folders to ingest, --feed URL, or both")
    if feeds and (prune or on_ray):
        raise fail("--feed does not go with --prune or --ray")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or folder: {', '.join(missing)}")
    if not on_ray and (address is not None or workers is not None):
        raise fail("--address and --workers go with --ray")
    settings = settings_from(index_dir, faiss_kind=faiss_kind)
    if settings.faiss_kind is not None and settings.faiss_kind not in FAISS_KINDS:
        raise fail(f"--faiss must be one of {', '.join(FAISS_KINDS)}")
    try:
        if on_ray:
            from newsrag.index.distributed import require_ray

            require_ray(local=address is None)  # before the model loads: fail at once
        embedder = load_embedder(settings, progress=note)
        started = time.perf_counter()
        params = ChunkingParams(
            max_tokens=embedder.max_tokens,
            target_tokens=target_tokens,
            overlap_tokens=overlap_tokens,
        )
        options = IngestOptions(
            params=params,
            faiss_kind=settings.faiss_kind,
            prune=prune,
            rebuild=rebuild,
            limits=settings.load_limits(),
            progress=not as_json,
            on_step=_kill_switch(),
        )
        if on_ray:
            from newsrag.index.distributed import RayOptions, ingest_on_ray

            cluster = RayOptions(
                address=address,
                workers=workers,
                model=settings.embed_model,
                backend=settings.embed_backend,
            )
            report = ingest_on_ray(paths, settings.index_dir, embedder, options, cluster)
        elif paths:
            report = ingest(paths, settings.index_dir, embedder, options)
        if feeds:
            report = cli_watch.ingest_feed_sources(
                feeds, settings, embedder, options, report if paths else None, as_json
            )
        startup = started - process_started()
    except (IndexStoreError, ValueError, RayUnavailableError, DistributedIngestError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # e.g. the index directory cannot be created or locked
        raise fail(f"cannot use the index at {settings.index_dir}: {exc.strerror or exc}") from None
    _print_report(report, as_json, startup)
    if report.failed and not report.changed and not report.unchanged:
        raise typer.Exit(1)


@app.command("delete")
def delete_command(
    doc_ids: Annotated[list[str], typer.Argument(help="Article ids to remove.")],
    index_dir: IndexDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove articles from the index by id."""
    from newsrag.index import IngestOptions, delete_articles

    settings = settings_from(index_dir)
    try:
        embedder = load_embedder(settings, progress=note)
        started = time.perf_counter()
        options = IngestOptions(on_step=_kill_switch())
        report = delete_articles(doc_ids, settings.index_dir, embedder, options)
        startup = started - process_started()
    except KeyError as exc:
        raise fail(str(exc.args[0])) from None
    except (IndexStoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot use the index at {settings.index_dir}: {exc.strerror or exc}") from None
    _print_report(report, as_json, startup)


@app.command("compact")
def compact_command(index_dir: IndexDir = None, as_json: JsonFlag = False) -> None:
    """Merge the index's segments into one, dropping deleted rows (embeds nothing)."""
    from newsrag.index import IngestOptions
    from newsrag.index.ingest import compact

    settings = settings_from(index_dir)
    try:
        embedder = load_embedder(settings, progress=note)
        started = time.perf_counter()
        report = compact(settings.index_dir, embedder, IngestOptions(on_step=_kill_switch()))
        startup = started - process_started()
    except IndexStoreError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot use the index at {settings.index_dir}: {exc.strerror or exc}") from None
    _print_report(report, as_json, startup)


@app.command("stats")
def stats_command(index_dir: IndexDir = None, as_json: JsonFlag = False) -> None:
    """Show what the index holds."""
    settings = settings_from(index_dir)
    try:
        store = load_store(settings, load_embedder(settings, progress=note))
    except IndexStoreError as exc:
        raise fail(str(exc)) from None
    manifest = store.manifest
    stats = {
        "index_dir": str(settings.index_dir),
        "generation": store.path.name if store.path else None,
        "created_at": manifest.created_at,
        "articles": len(store.articles),
        "chunks": len(store.chunks),
        "segments": max(1, len(manifest.segments)),
        "model": manifest.embedder,
        "dim": manifest.dim,
        "faiss_kind": manifest.faiss_kind,
        "chunking": manifest.chunking,
        "size_bytes": store.size_bytes(),
    }
    if as_json:
        print(json.dumps(stats, indent=2))
        return
    table = Table(show_header=False, box=None)
    for key, value in stats.items():
        table.add_row(key, _human_bytes(value) if key == "size_bytes" else str(value))
    console.print(table)


@app.command("config")
def config_command(as_json: JsonFlag = False) -> None:
    """Show the effective settings (environment RAG_*), secrets masked."""
    values = settings_from().masked()
    if as_json:
        print(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "env", "value", box=None)
    for key, value in values.items():
        table.add_row(key, f"RAG_{key.upper()}", "" if value is None else str(value))
    console.print(table)


# Crash tests (tests/index) set this to a step name of index.generations.publish; the process
# then SIGKILLs itself at that step. Read here, at the entry point, never by library code.
KILL_AT_ENV = "RAG_TEST_KILL_AT"


def _kill_switch() -> Callable[[str], None] | None:
    target = os.environ.get(KILL_AT_ENV)
    if not target:
        return None

    def on_step(name: str) -> None:
        if name == target:
            os.kill(os.getpid(), signal.SIGKILL)

    return on_step


def process_started() -> float:
    """When this process started, on the `time.perf_counter` clock (for start-up seconds)."""
    import psutil

    return time.perf_counter() - (time.time() - psutil.Process().create_time())


def _print_report(report: IngestReport, as_json: bool, startup: float) -> None:
    """The report; `seconds` covers the indexing, `startup_seconds` the process before it
    (interpreter, imports, embedder load and, on first use, the ONNX export)."""
    startup = round(max(startup, 0.0), 3)
    if as_json:
        print(json.dumps({**report.to_dict(), "startup_seconds": startup}, indent=2))
        return
    for failure in report.failed:
        err.print(
            f"[yellow]failed:[/yellow] {escape(failure.path)}: {escape(failure.reason)}",
            soft_wrap=True,
        )
    for skip in report.skipped:
        err.print(f"[dim]skipped:[/dim] {escape(skip.path)}: {escape(skip.reason)}", soft_wrap=True)
    console.print(
        f"articles: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.failed)} failed | chunks embedded: {report.chunks_embedded} "
        f"(index holds {report.total_chunks}) | {report.seconds:.1f} s indexing, "
        f"{startup:.1f} s start-up | {report.generation}",
        soft_wrap=True,
    )


def _human_bytes(value: object) -> str:
    size = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return str(value)


cli_answers.register(app)
cli_watch.register(app)


def _register_plugins() -> None:
    # Packages above rag (evals, api) add commands through entry points, keeping the
    # import direction one-way (rag never imports them).
    for entry in entry_points(group="rag.commands"):
        try:
            register = entry.load()
        except ImportError as exc:
            logging.getLogger(__name__).debug("plugin %s unavailable: %s", entry.name, exc)
            continue
        register(app)


def _quiet_libraries() -> None:
    # transformers draws a "Loading weights" bar on every model load (its progress bars read
    # this variable when it is first imported, after this point), and bm25s sets its own
    # logger to DEBUG when it is imported (lazily, by an ingest: after this point, so a filter,
    # which its setLevel does not undo). The embedding progress bar of long ingests is the
    # ingest's own (tqdm, over articles) and stays.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is not None:  # already imported (by a plugin): switch its bars off directly
        hf_logging.disable_progress_bar()
    bm25s = logging.getLogger("bm25s")
    bm25s.setLevel(logging.WARNING)
    if not any(isinstance(f, _AtLeastWarning) for f in bm25s.filters):
        bm25s.addFilter(_AtLeastWarning())


class _AtLeastWarning(logging.Filter):
    """Drops records below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        """True (keep) for warnings and errors."""
        return record.levelno >= logging.WARNING


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register_plugins()
    app()

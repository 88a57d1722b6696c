"""`rag eval`: run a gold set through the pipeline, write reports, and gate on thresholds.

Registered on the `rag` app through the `rag.commands` entry point; imports stay light here
because every `rag` command loads this module.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from newsrag.evals.gate import Snapshot
    from newsrag.evals.judge import JudgeSettings
    from newsrag.evals.report import Report
    from newsrag.evals.runner import QuestionRun
    from newsrag.index import Embedder
    from newsrag.rag.llm import ChatModel
    from newsrag.rag.settings import Settings

PACKAGE = Path(__file__).resolve().parent
SHIPPED_GOLD = PACKAGE / "gold" / "news.jsonl"
SHIPPED_CORPUS = PACKAGE.parent / "corpus"
THRESHOLDS = PACKAGE / "thresholds.toml"
# llm-naive-double: the LLM path against evals.naive_double, a TEST DOUBLE of a model that never
# refuses (issue 15): it measures what the pipeline's verification catches, not a model.
MODES = ("extractive", "llm", "llm-naive-double")


def default_baseline(mode: str) -> Path:
    """The committed baseline of a mode (extractive gates CI; llm is kept apart)."""
    return PACKAGE / ("baseline.json" if mode == "extractive" else f"baseline-{mode}.json")


def register(app: typer.Typer) -> None:
    """Add the `eval` command to the `rag` app."""
    app.command("eval")(eval_command)


def eval_command(
    ctx: typer.Context,
    gold: Annotated[
        Path,
        typer.Option(
            help="Gold JSONL file (format: README.md, Evals).", show_default="the shipped set"
        ),
    ] = SHIPPED_GOLD,
    corpus: Annotated[
        Path | None, typer.Option(help="Articles the gold set is about (default: shipped corpus/).")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="extractive; llm (the configured endpoint); or llm-naive-double (a TEST "
            "DOUBLE on 127.0.0.1 that repeats the top passage: checks verification)."
        ),
    ] = "extractive",
    k: Annotated[int | None, typer.Option("--k", help="Passages retrieved per question.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json to stdout.")] = False,
    out: Annotated[Path, typer.Option(help="Where report.json and report.md go.")] = Path(
        ".rag/eval"
    ),
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline to compare with (default: committed one).")
    ] = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Write this run as the new baseline.")
    ] = False,
    index_dir: Annotated[
        Path, typer.Option("--index-dir", help="Index built from the corpus for the eval.")
    ] = Path(".rag/eval-index"),
    thresholds: Annotated[
        Path, typer.Option(help="Gate thresholds (TOML).", show_default="the shipped ones")
    ] = THRESHOLDS,
    torch_threads: Annotated[
        int, typer.Option(help="Torch CPU threads (0: torch's default).", min=0)
    ] = 1,
    sets: Annotated[
        str | None,
        typer.Option(
            help="Run these eval sets instead of --gold: all, or names from news, rgb-answer, "
            "rgb-reject, rgb-conflict (each with its own index, thresholds and baseline)."
        ),
    ] = None,
    datasets: Annotated[
        Path | None,
        typer.Option(
            help="Shared datasets folder for --sets (default: the one beside the repository)."
        ),
    ] = None,
    perturb_distance: Annotated[
        float | None,
        typer.Option(
            help="With --sets: re-run the news set with every vector moved this far (the "
            "cross-CPU stand-in) and fail when a verdict changes; 0 turns it off.",
            min=0.0,
        ),
    ] = None,
) -> None:
    """Score the answer pipeline on a gold set; exit 1 when the gate fails."""
    from newsrag.evals.errors import EvalError
    from newsrag.index import IndexStoreError
    from newsrag.rag.cli_common import err, fail, host_embedder, settings_from

    if mode not in MODES:
        raise fail(f"--mode must be one of {', '.join(MODES)}", 2)
    settings = settings_from(k=k)
    judge_settings()  # a bad RAG_EVAL_JUDGE_* value fails here, not after the runs
    if sets is not None:
        from newsrag.evals.cli_suite import suite_command

        suite_command(
            sets,
            mode,
            settings,
            out,
            index_dir,
            update_baseline,
            datasets,
            perturb_distance,
            embedder=host_embedder(ctx),
        )
        return
    options = EvalOptions(
        gold=gold,
        corpus=corpus or _default_corpus(settings),
        mode=mode,
        index_dir=index_dir,
        thresholds=thresholds,
        baseline=baseline or default_baseline(mode),
        update_baseline=update_baseline,
        out=out,
    )
    from newsrag.rag import components

    try:
        # Questions run one at a time on small inputs: few threads avoid oversubscribing.
        with model_for(mode, settings) as model, components.torch_threads(torch_threads):
            report, prior = run_eval(
                options, settings, model, quiet=as_json, embedder=host_embedder(ctx)
            )
    except (EvalError, IndexStoreError) as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_summary(report, prior, out)
    if update_baseline:
        err.print(f"baseline written: {options.baseline}")
    if report.gate is not None and not report.gate.passed:
        raise typer.Exit(1)


@dataclass(frozen=True, slots=True)
class EvalOptions:
    """What one `rag eval` run reads and writes."""

    gold: Path
    corpus: Path
    mode: str
    index_dir: Path
    thresholds: Path
    baseline: Path
    update_baseline: bool
    out: Path


def run_eval(
    options: EvalOptions,
    settings: Settings,
    model: ChatModel | None,
    *,
    quiet: bool = False,
    embedder: Embedder | None = None,
) -> tuple[Report, Snapshot | None]:
    """Index the corpus, answer and score every gold question, gate, write the reports.

    `embedder`: the one to index and answer with (default: the configured one, loaded here).
    """
    from newsrag.evals.gate import evaluate_gate, load_baseline, load_rules, write_baseline
    from newsrag.evals.goldset import file_digest, load_gold, missing_evidence
    from newsrag.evals.report import Report, RunInfo, write_report
    from newsrag.evals.runner import chunk_texts, pipeline_answerer, prepare_index, run_questions
    from newsrag.rag.cli_common import err
    from newsrag.rag.cli_common import note as say
    from newsrag.rag.components import load_embedder
    from newsrag.rag.pipeline import cached, pipeline_over

    questions = load_gold(options.gold)
    rules = load_rules(options.thresholds)
    prior = load_baseline(options.baseline)
    # Behind the memory cache: words and sentences recur across the questions of a run.
    embedder = cached(
        embedder if embedder is not None else load_embedder(settings, progress=say),
        progress=say,
    )
    store = prepare_index(
        options.corpus, options.index_dir, embedder, faiss_kind=settings.faiss_kind
    )
    notes = [
        f"{qid}: evidence not in the corpus: {quote!r}"
        for qid, quote in missing_evidence(questions, store.articles.values())
    ]
    for note in notes:
        err.print(f"[yellow]warning:[/yellow] {note}")
    ask = pipeline_answerer(pipeline_over(store, settings, model=model))
    with (
        err.status(f"answering {len(questions)} questions", spinner="dots")
        if not quiet
        else _quiet()
    ):
        runs = run_questions(questions, ask, chunk_texts(store))
    info = RunInfo(
        gold_path=str(options.gold),
        gold_sha256=file_digest(options.gold),
        corpus=str(options.corpus),
        mode=options.mode,
        k=settings.k,
        model=model.name if model is not None else None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report = Report(
        info, tuple(runs), ks=(1, 3, 5, settings.k), judge=_judge(runs), notes=tuple(notes)
    )
    report = replace(report, gate=evaluate_gate(report.snapshot(), rules, prior))
    write_report(report, options.out, prior)
    if options.update_baseline:
        write_baseline(options.baseline, report.snapshot())
    return report, prior


def _default_corpus(settings: Settings) -> Path:
    return SHIPPED_CORPUS if SHIPPED_CORPUS.is_dir() else settings.corpus_dir


def _quiet() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def judge_settings() -> JudgeSettings:
    """RAG_EVAL_JUDGE_* read once; a bad value ends `rag eval` with one line before any run."""
    from newsrag.evals.judge import JudgeSettings
    from newsrag.rag.cli_common import load_settings

    return load_settings(JudgeSettings, "RAG_EVAL_JUDGE_")


def _judge(runs: Sequence[QuestionRun]) -> dict[str, float | None] | None:
    from newsrag.evals.judge import judge_from_settings, judge_runs

    judge = judge_from_settings(judge_settings())
    return judge_runs(runs, judge) if judge is not None else None


@contextlib.contextmanager
def model_for(mode: str, settings: Settings) -> Iterator[ChatModel | None]:
    """The chat model a mode answers with, for the block (the naive double is served meanwhile)."""
    if mode == "extractive":
        yield None
        return
    from newsrag.rag.llm import chat_model_from_settings

    if mode == "llm-naive-double":
        from newsrag.evals.naive_double import MODEL_NAME, naive_double_server

        with naive_double_server() as base_url:
            double = settings.model_copy(
                update={"llm_base_url": base_url, "llm_model": MODEL_NAME, "llm_api_key": None}
            )
            yield chat_model_from_settings(double)
        return
    model = chat_model_from_settings(settings)
    if model is None:
        print("no LLM endpoint configured (set RAG_LLM_BASE_URL); LLM eval skipped")
        raise typer.Exit(0)
    yield model


def _print_summary(report: Report, prior: Snapshot | None, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from newsrag.evals.report import metric_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 110))  # logs and CI: do not cut the table
    rows = metric_table(report, prior)
    table = Table(title=f"rag eval · {report.info.mode} · k={report.info.k}")
    for i, name in enumerate(rows[0]):
        table.add_column(name, no_wrap=i == 0, justify="left" if i == 0 else "right")
    for row in rows[1:]:
        table.add_row(*row)
    console.print(table)
    gate = report.gate
    if report.judge is not None:
        console.print(
            "judge (never gates): " + ", ".join(f"{k}={v}" for k, v in report.judge.items())
        )
    if gate is not None:
        for failure in gate.failures:
            console.print(f"[red]FAIL[/red] {failure}")
        for flip in gate.flips:
            console.print(f"[red]FLIP[/red] {flip.describe(report.thin_margin)}")
        if report.thin:
            ids = ", ".join(r.gold.id for r in report.thin)
            console.print(f"[yellow]thin[/yellow] (|margin| < {report.thin_margin:g}): {ids}")
        for note in gate.notes:
            console.print(f"[dim]note: {note}[/dim]")
        verdict = "[green]gate passed[/green]" if gate.passed else "[red]gate FAILED[/red]"
        console.print(verdict)
    console.print(f"reports: {out / 'report.json'}, {out / 'report.md'}")

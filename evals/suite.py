"""The gate over every eval set: the shipped news set and the RGB dev cases (issue 12).

Each set has its own gold file, corpus (indexed on its own), thresholds and baseline under
evals/; RGB's data is read in place from the shared datasets folder and skipped, with a note,
when that folder is absent. The shipped set also runs once more with every vector moved by the
measured cross-CPU distance (evals.perturb): a question whose verdict changes fails the gate
(the check runs on the first set of a run: news in `--sets all`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from newsrag.evals.cli import (
    SHIPPED_CORPUS,
    SHIPPED_GOLD,
    THRESHOLDS,
    default_baseline,
    run_eval,
)
from newsrag.evals.gate import Snapshot
from newsrag.evals.report import Report, fmt

if TYPE_CHECKING:
    from newsrag.evals.cli import EvalOptions
    from newsrag.index import Embedder
    from newsrag.rag.llm import ChatModel
    from newsrag.rag.settings import Settings

PACKAGE = Path(__file__).resolve().parent
SETS_DIR = PACKAGE / "sets"
RGB_CASES = ("answer", "reject", "conflict")
SUMMARY_METRICS = (
    "hit@5",
    "answer_accuracy",
    "citation_precision",
    "false_refusal_rate",
    "refusal_accuracy",
    "conflict_flagged",
)


@dataclass(frozen=True, slots=True)
class EvalSet:
    """One gold set the gate runs: what it reads and what it is held to."""

    name: str
    gold: Path
    corpus: Path
    thresholds: Path
    baseline: Path


def default_datasets_dir() -> Path:
    """The shared datasets folder beside the checkout: <repo>/../shared/datasets."""
    return PACKAGE.parent.parent / "shared" / "datasets"


def gate_sets(
    datasets: Path, mode: str, *, names: Sequence[str] | None = None
) -> tuple[list[EvalSet], list[str]]:
    """The sets to run (all, or those named) and a note for each one skipped for lack of data."""
    suffix = "" if mode == "extractive" else f"-{mode}"
    known = [EvalSet("news", SHIPPED_GOLD, SHIPPED_CORPUS, THRESHOLDS, default_baseline(mode))]
    known += [
        EvalSet(
            f"rgb-{case}",
            datasets / "rgb-en-fact-dev" / case / "gold.jsonl",
            datasets / "rgb-en-fact-dev" / case / "corpus",
            SETS_DIR / f"rgb-{case}.toml",
            SETS_DIR / f"rgb-{case}.baseline{suffix}.json",
        )
        for case in RGB_CASES
    ]
    wanted = list(names) if names else [s.name for s in known]
    unknown = sorted(set(wanted) - {s.name for s in known})
    if unknown:
        choices = ", ".join(s.name for s in known)
        raise ValueError(f"unknown eval set {', '.join(unknown)}; choose from {choices} or all")
    sets, skipped = [], []
    for item in known:
        if item.name not in wanted:
            continue
        if item.gold.is_file() and item.corpus.exists():
            sets.append(item)
        else:
            skipped.append(f"{item.name}: {item.gold.parent} not found; skipped")
    return sets, skipped


@dataclass(frozen=True, slots=True)
class SetResult:
    """One set's report and the baseline it was compared with."""

    eval_set: EvalSet
    report: Report
    prior: Snapshot | None


@dataclass(frozen=True, slots=True)
class Robustness:
    """The shipped set re-run with every vector moved by `distance`: whose verdict changed."""

    set_name: str
    distance: float
    checked: int
    changed: tuple[str, ...]

    def describe(self) -> str:
        """One line for the console and the summary."""
        head = (
            f"{self.set_name} with every vector moved by {self.distance:g} (cross-CPU stand-in): "
        )
        if not self.changed:
            return head + f"all {self.checked} verdicts unchanged"
        return head + f"verdict changed for {', '.join(self.changed)}"


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """Every set's result, the sets skipped, and the perturbation check."""

    results: tuple[SetResult, ...]
    skipped: tuple[str, ...]
    robustness: Robustness | None = None

    @property
    def passed(self) -> bool:
        """Whether every set's gate passed and no verdict moved under perturbation."""
        gates = all(r.report.gate is None or r.report.gate.passed for r in self.results)
        return gates and (self.robustness is None or not self.robustness.changed)


def verdict_changes(first: Report, second: Report) -> tuple[str, ...]:
    """Ids of questions that pass in one report and fail in the other."""
    now = {r.gold.id: r.score.passed for r in second.runs}
    return tuple(r.gold.id for r in first.runs if now.get(r.gold.id) != r.score.passed)


def set_options(item: EvalSet, base: EvalOptions, index_root: Path, out: Path) -> EvalOptions:
    """The single-set options of one set of a suite run."""
    return replace(
        base,
        gold=item.gold,
        corpus=item.corpus,
        thresholds=item.thresholds,
        baseline=item.baseline,
        index_dir=index_root / item.name,
        out=out / item.name,
    )


def summary_rows(result: SuiteResult) -> list[list[str]]:
    """The summary table: one row per set (header first)."""
    rows = [["set", "questions", *SUMMARY_METRICS, "thin", "flips", "gate"]]
    for item in result.results:
        report, gate = item.report, item.report.gate
        metrics = report.overall
        verdict = "–" if gate is None else "passed" if gate.passed else "FAILED"
        rows.append(
            [
                item.eval_set.name,
                str(len(report.runs)),
                *[fmt(metrics.get(m)) for m in SUMMARY_METRICS],
                str(len(report.thin)),
                "–" if gate is None else str(len(gate.flips)),
                verdict,
            ]
        )
    for note in result.skipped:
        rows.append([note.split(":")[0], *["–"] * (len(rows[0]) - 2), "skipped"])
    return rows


def write_summary(result: SuiteResult, out: Path) -> tuple[Path, Path]:
    """summary.json and summary.md in `out`; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(result)
    data = {
        "passed": result.passed,
        "sets": [
            {
                "name": r.eval_set.name,
                "gold": str(r.eval_set.gold),
                "corpus": str(r.eval_set.corpus),
                "questions": len(r.report.runs),
                "metrics": {m: r.report.overall.get(m) for m in SUMMARY_METRICS},
                "thin": [run.gold.id for run in r.report.thin],
                "flips": [] if r.report.gate is None else [f.id for f in r.report.gate.flips],
                "failures": [] if r.report.gate is None else list(r.report.gate.failures),
                "passed": r.report.gate is None or r.report.gate.passed,
                "report": str(out / r.eval_set.name / "report.md"),
            }
            for r in result.results
        ],
        "skipped": list(result.skipped),
        "robustness": None
        if result.robustness is None
        else {
            "set": result.robustness.set_name,
            "distance": result.robustness.distance,
            "checked": result.robustness.checked,
            "changed": list(result.robustness.changed),
        },
    }
    json_path, md_path = out / "summary.json", out / "summary.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    lines = ["# Eval summary: " + ("PASSED" if result.passed else "FAILED"), ""]
    lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    lines.append("")
    lines += [f"- skipped: {note}" for note in result.skipped]
    if result.robustness is not None:
        lines.append(f"- perturbation check: {result.robustness.describe()}")
    lines += [f"- {r.eval_set.name}: {out / r.eval_set.name / 'report.md'}" for r in result.results]
    md_path.write_text("\n".join(lines) + "\n", "utf-8")
    return json_path, md_path


def perturbed(embedder: Embedder, distance: float) -> Embedder:
    """The embedder with every vector moved by `distance` (fixed seed)."""
    from newsrag.evals.perturb import PerturbedEmbedder

    return PerturbedEmbedder(embedder, distance=distance, seed=0)


def run_suite(
    sets: Sequence[EvalSet],
    skipped: Sequence[str],
    base: EvalOptions,
    settings: Settings,
    model: ChatModel | None,
    *,
    index_root: Path,
    perturb_distance: float,
    embedder: Embedder | None = None,
) -> SuiteResult:
    """Run and gate every set with one embedder, then the perturbation check on the first.

    `embedder`: the one to index and answer with (default: the configured one, loaded here).
    """
    from newsrag.rag.cli import err
    from newsrag.rag.components import load_embedder

    embedder = embedder if embedder is not None else load_embedder(settings)
    results = []
    for item in sets:
        err.print(f"[bold]eval set {item.name}[/bold]: {item.gold}")
        options = set_options(item, base, index_root, base.out)
        report, prior = run_eval(options, settings, model, quiet=False, embedder=embedder)
        results.append(SetResult(item, report, prior))
    robustness = None
    if perturb_distance > 0 and results:
        robustness = _robustness(
            results[0], base, settings, model, embedder, index_root, perturb_distance
        )
    return SuiteResult(tuple(results), tuple(skipped), robustness)


def _robustness(
    first: SetResult,
    base: EvalOptions,
    settings: Settings,
    model: ChatModel | None,
    embedder: Embedder,
    index_root: Path,
    distance: float,
) -> Robustness:
    """The first set (news, in `--sets all`) again with every vector moved by `distance`."""
    from newsrag.rag.cli import err

    name = first.eval_set.name
    err.print(f"[bold]perturbation check[/bold]: {name}, every vector moved by {distance:g}")
    item = first.eval_set
    moved = EvalSet(f"{name}-perturbed", item.gold, item.corpus, item.thresholds, item.baseline)
    options = replace(set_options(moved, base, index_root, base.out), update_baseline=False)
    shaken, _ = run_eval(
        options, settings, model, quiet=False, embedder=perturbed(embedder, distance)
    )
    return Robustness(name, distance, len(shaken.runs), verdict_changes(first.report, shaken))

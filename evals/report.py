"""Eval reports: report.json (everything) and report.md (readable, per question, vs baseline)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsrag.evals.gate import THIN_MARGIN, GateResult, QuestionState, Snapshot
from newsrag.evals.metrics import GATE_K, MRR_K, summarise, summarise_by_type
from newsrag.evals.runner import QuestionRun
from newsrag.rag.records import Answer

REPORT_VERSION = 1


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What was evaluated and how."""

    gold_path: str
    gold_sha256: str
    corpus: str
    mode: str
    k: int
    model: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics overall and per type, every question's answer and score, the gate's verdict."""

    info: RunInfo
    runs: tuple[QuestionRun, ...]
    ks: tuple[int, ...]
    gate: GateResult | None = None
    judge: dict[str, float | None] | None = None  # only when a judge model is configured
    notes: tuple[str, ...] = field(default=())
    thin_margin: float = THIN_MARGIN  # answers with a smaller Answer.margin are flagged thin

    @property
    def overall(self) -> dict[str, float | None]:
        """Every metric over all questions."""
        return summarise([r.score for r in self.runs], self.ks)

    @property
    def by_type(self) -> dict[str, dict[str, float | None]]:
        """Every metric per question type."""
        return summarise_by_type([r.score for r in self.runs], self.ks)

    def snapshot(self) -> Snapshot:
        """The part the gate compares and the baseline stores."""
        return Snapshot(
            gold_sha256=self.info.gold_sha256,
            mode=self.info.mode,
            k=self.info.k,
            metrics={k: v for k, v in self.overall.items() if not k.startswith("latency")},
            questions={
                r.gold.id: QuestionState(
                    r.gold.question, r.score.checks(), r.answer.answer, r.answer.margin
                )
                for r in self.runs
            },
        )

    @property
    def thin(self) -> tuple[QuestionRun, ...]:
        """Questions whose answer hinges on a margin below the cross-CPU bound."""
        return tuple(r for r in self.runs if is_thin(r, self.thin_margin))

    def to_dict(self) -> dict[str, object]:
        """The report.json document."""
        gate = self.gate
        return {
            "version": REPORT_VERSION,
            "info": vars_of(self.info),
            "metrics": {"overall": self.overall, "by_type": self.by_type},
            "judge": self.judge,
            "gate": None
            if gate is None
            else {
                "passed": gate.passed,
                "failures": list(gate.failures),
                "flips": [f.to_dict() for f in gate.flips],
                "fixed": list(gate.fixed),
                "notes": list(gate.notes),
                "compared": gate.compared,
            },
            "notes": list(self.notes),
            "thin_margin": self.thin_margin,
            "thin": [r.gold.id for r in self.thin],
            "questions": [question_row(r, self.thin_margin) for r in self.runs],
        }


def is_thin(run: QuestionRun, bound: float = THIN_MARGIN) -> bool:
    """Whether the answer's margin to its nearest threshold is within `bound`, either side."""
    return run.answer.margin is not None and abs(run.answer.margin) < bound


def vars_of(info: RunInfo) -> dict[str, object]:
    """RunInfo as a plain dict."""
    return {name: getattr(info, name) for name in RunInfo.__slots__}


def question_row(run: QuestionRun, thin_margin: float = THIN_MARGIN) -> dict[str, object]:
    """One question of report.json: gold, answer, citations, every check and the margin."""
    score, answer = run.score, run.answer
    return {
        "id": run.gold.id,
        "type": run.gold.type,
        "question": run.gold.question,
        "gold_answers": list(run.gold.answers),
        "passed": score.passed,
        "checks": score.checks(),
        "answer": answer.answer,
        "answerable": answer.answerable,
        "refusal_reason": answer.refusal_reason,
        "mode": answer.mode,
        "degraded": answer.degraded,
        "conflict": answer.conflict,
        "margin": answer.margin,
        "thin": is_thin(run, thin_margin),
        "citations": _citation_rows(answer, score.citation_holds),
        "passages": list(answer.passages),
        "evidence_ranks": list(score.evidence_ranks),
        "evidence_cited": list(score.evidence_cited),
        f"hit@{GATE_K}": score.hit(GATE_K) if score.answerable else None,
        f"rr@{MRR_K}": score.reciprocal_rank() if score.answerable else None,
        "latency_ms": score.latency_ms,
    }


def write_report(report: Report, out_dir: Path, baseline: Snapshot | None) -> tuple[Path, Path]:
    """Write report.json and report.md into `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    md_path.write_text(render_markdown(report, baseline), "utf-8")
    return json_path, md_path


def fmt(value: float | None, metric: str = "") -> str:
    """A metric value for humans: ms with one decimal, shares with three, blank when undefined."""
    if value is None:
        return "–"
    return f"{value:.1f}" if metric.endswith("_ms") else f"{value:.3f}"


def metric_table(report: Report, baseline: Snapshot | None) -> list[list[str]]:
    """Rows of metric, overall, each type and baseline (header first)."""
    by_type = report.by_type
    header = ["metric", "overall", *by_type, "baseline"]
    rows = [header]
    for metric, value in report.overall.items():
        then = baseline.metrics.get(metric) if baseline else None
        cells = [fmt(by_type[t].get(metric), metric) for t in by_type]
        rows.append([metric, fmt(value, metric), *cells, fmt(then, metric)])
    return rows


def _md_table(rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return lines + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def render_markdown(report: Report, baseline: Snapshot | None) -> str:
    """report.md: run info, gate verdict, metric table, then every question."""
    info = report.info
    lines = [
        f"# Eval report: {Path(info.gold_path).name}",
        "",
        f"- mode: {info.mode} (model: {info.model or 'none'}), k = {info.k}",
        f"- gold: {info.gold_path} (sha256 {info.gold_sha256[:12]}), corpus: {info.corpus}",
        f"- created: {info.created_at}, questions: {len(report.runs)}",
        *[f"- note: {note}" for note in report.notes],
        "",
        *_gate_lines(report.gate, report.thin_margin),
        *_thin_lines(report),
        "## Metrics",
        "",
        *_md_table(metric_table(report, baseline)),
        "",
    ]
    if report.judge is not None:
        lines += ["## Judge (informational, never gates)", ""]
        lines += [f"- {name}: {fmt(value)}" for name, value in report.judge.items()] + [""]
    lines += ["## Questions", ""]
    for run in report.runs:
        lines += _question_lines(run, baseline, report.thin_margin)
    return "\n".join(lines) + "\n"


def _thin_lines(report: Report) -> list[str]:
    known = sum(r.answer.margin is not None for r in report.runs)
    lines = [f"## Thin answers (margin below the cross-CPU bound {report.thin_margin:g})", ""]
    if not known:
        return [*lines, "- no margins reported by this answerer", ""]
    lines += [
        f"- THIN {r.gold.id} ({'PASS' if r.score.passed else 'FAIL'}): margin "
        f"{r.answer.margin:.4f}: {r.gold.question}"
        for r in report.thin
        if r.answer.margin is not None
    ]
    if not report.thin:
        lines.append(f"- none ({known} of {len(report.runs)} answers report a margin)")
    return [*lines, ""]


def _gate_lines(gate: GateResult | None, bound: float = THIN_MARGIN) -> list[str]:
    if gate is None:
        return []
    lines = ["## Gate: " + ("PASSED" if gate.passed else "FAILED"), ""]
    lines += [f"- FAIL: {failure}" for failure in gate.failures]
    lines += [f"- FLIP {f.describe(bound)}" for f in gate.flips]
    lines += [f"- fixed (fail → pass): {qid}" for qid in gate.fixed]
    lines += [f"- note: {note}" for note in gate.notes]
    return [*lines, ""]


def _question_lines(
    run: QuestionRun, baseline: Snapshot | None, bound: float = THIN_MARGIN
) -> list[str]:
    score, answer, gold = run.score, run.answer, run.gold
    checks = " · ".join(f"{name} {_mark(ok)}" for name, ok in score.checks().items())
    lines = [
        f"### {gold.id} {'PASS' if score.passed else 'FAIL'} ({gold.type})",
        "",
        f"- question: {gold.question}",
        f"- expected: {', '.join(gold.answers) if gold.answerable else 'a refusal'}",
        f"- answer ({answer.mode}{', degraded' if answer.degraded else ''}, "
        f"answerable={str(answer.answerable).lower()}"
        f"{', ' + answer.refusal_reason if answer.refusal_reason else ''}): "
        f"{_one_line(answer.answer) or '(empty)'}",
        f"- checks: {checks}",
        f"- margin: {_margin(run, bound)}",
    ]
    if gold.answerable:
        found = sum(r is not None and r <= GATE_K for r in score.evidence_ranks)
        held = sum(score.citation_holds)
        lines.append(
            f"- retrieval: hit@{GATE_K} {_mark(score.hit(GATE_K))} · evidence in top {GATE_K}: "
            f"{found}/{len(score.evidence_ranks)} · rr@{MRR_K} {score.reciprocal_rank():.2f} · "
            f"citations holding evidence: {held}/{len(score.citation_holds)} · "
            f"evidence cited: {sum(score.evidence_cited)}/{len(score.evidence_cited)}"
        )
    for row in _citation_rows(answer, score.citation_holds):
        mark = "context (unsupported)" if row["holds"] is None else _mark(bool(row["holds"]))
        lines.append(f"  - [{row['marker']}] {row['chunk_id']} evidence {mark}")
    lines += [f"- vs baseline: {_change(run, baseline)}", ""]
    return lines


def _change(run: QuestionRun, baseline: Snapshot | None) -> str:
    before = baseline.questions.get(run.gold.id) if baseline else None
    if before is None or before.question != run.gold.question:
        return "new (not in the baseline)"
    now = run.score.checks()
    moved = [
        f"{c} {_mark(before.checks[c])}→{_mark(ok)}"
        for c, ok in now.items()
        if c in before.checks and before.checks[c] != ok
    ]
    if before.passed and not run.score.passed:
        status = "FLIPPED pass → fail"
    elif run.score.passed and not before.passed:
        status = "fixed (fail → pass)"
    else:
        status = "unchanged " + ("pass" if run.score.passed else "fail")
    if moved:
        status += f"; checks: {', '.join(moved)}"
    if before.answer != run.answer.answer:
        status += f"; answer was: {_one_line(before.answer) or '(empty)'}"
    return status


def _margin(run: QuestionRun, bound: float) -> str:
    margin = run.answer.margin
    if margin is None:
        return "not reported"
    return f"{margin:.4f}" + (f" THIN (within {bound:g})" if abs(margin) < bound else "")


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _citation_rows(answer: Answer, holds: tuple[bool, ...]) -> list[dict[str, object]]:
    """Each citation with whether its passage holds evidence (scored: supported ones only)."""
    supported = iter(holds)
    return [
        {
            "marker": c.marker,
            "chunk_id": c.chunk_id,
            "supported": c.supported,
            "holds": next(supported) if c.supported else None,
        }
        for c in answer.citations
    ]

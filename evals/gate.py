"""The CI gate: thresholds, drops against the committed baseline, and pass-to-fail flips."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from newsrag.evals.errors import GateConfigError

BASELINE_VERSION = 1
_EPS = 1e-9  # metric shares are ratios of small counts; compare with a little slack
# How far a gating score of the answerer can move between CPUs (AVX2 vs AVX-512/VNNI) with the
# same corpus and question: a question whose Answer.margin is below it is flagged "thin" in
# report.md, because another machine could flip it. Measured 2026-12-01 by `bench/cross_isa.py
# $D --subset 0 --eps 1e-7 --answers` (README "Results do not depend on the CPU"): the integer
# products are identical on every CPU since onnx-int8 r4, and with every float op that ONNX
# Runtime dispatches per instruction set moved by one ulp, Answer.margin moved by at most
# 0.0078 over all 231 questions of the four eval sets (news 0.0078, RGB 0.0075 / 0.0041 /
# 0.0073; median under 1.4e-4; the fused vs the unfused graph: 3.0e-4), rounded up.
THIN_MARGIN = 0.01
# Which metric each per-question check feeds (a flip names the metric it moved).
CHECK_METRICS = {
    "answer": "answer_accuracy",
    "not_refused": "false_refusal_rate",
    "cited_evidence": "citation_precision",
    "refusal": "refusal_accuracy",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """Limits of one metric: an absolute floor or ceiling and a tolerated drop vs the baseline."""

    metric: str
    min: float | None = None
    max: float | None = None
    tolerance: float | None = None
    target: float | None = None  # the goal (reported every run, never gating)

    @property
    def lower_is_better(self) -> bool:
        """Metrics with only a ceiling (false_refusal_rate) get worse as they rise."""
        return self.max is not None and self.min is None


@dataclass(frozen=True, slots=True)
class QuestionState:
    """One question as the gate sees it: its text, its checks, and the answer given."""

    question: str
    checks: dict[str, bool]
    answer: str = ""
    margin: float | None = None  # Answer.margin: distance of its closest decision to a threshold

    @property
    def passed(self) -> bool:
        """Whether every check holds."""
        return all(self.checks.values())

    def thin(self, bound: float = THIN_MARGIN) -> bool:
        """Whether the answer hinges on a margin smaller than the cross-CPU bound.

        Either side counts: a refusal's margin is negative (its best candidate below a gate),
        and it is thin only when that candidate sits within `bound` of passing.
        """
        return self.margin is not None and abs(self.margin) < bound


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the gate compares: overall metrics and per-question checks of one run."""

    gold_sha256: str
    mode: str
    k: int
    metrics: dict[str, float | None]
    questions: dict[str, QuestionState]

    def to_dict(self) -> dict[str, object]:
        """JSON form (the baseline file)."""
        return {
            "version": BASELINE_VERSION,
            "gold_sha256": self.gold_sha256,
            "mode": self.mode,
            "k": self.k,
            "metrics": self.metrics,
            "questions": {
                qid: {
                    "question": q.question,
                    "checks": q.checks,
                    "answer": q.answer,
                    "margin": q.margin,
                }
                for qid, q in self.questions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Snapshot:
        """Parse the JSON form; raises KeyError/TypeError/ValueError when malformed."""
        if data.get("version") != BASELINE_VERSION:
            raise ValueError(f"unsupported baseline version {data.get('version')!r}")
        questions = data["questions"]
        metrics = data["metrics"]
        if not isinstance(questions, dict) or not isinstance(metrics, dict):
            raise TypeError("metrics and questions must be objects")
        return cls(
            gold_sha256=str(data["gold_sha256"]),
            mode=str(data["mode"]),
            k=int(str(data["k"])),
            metrics={str(k): None if v is None else float(v) for k, v in metrics.items()},
            questions={str(qid): _state(row) for qid, row in questions.items()},
        )


def _state(row: dict[str, object]) -> QuestionState:
    checks = row["checks"]
    if not isinstance(checks, dict):
        raise TypeError("checks must be an object")
    margin = row.get("margin")
    return QuestionState(
        str(row["question"]),
        {str(c): bool(v) for c, v in checks.items()},
        str(row.get("answer", "")),
        None if margin is None else float(str(margin)),
    )


@dataclass(frozen=True, slots=True)
class MetricMove:
    """How an overall metric moved between the baseline and this run."""

    metric: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        """after - before, None when either is undefined."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def describe(self) -> str:
        """`answer_accuracy 0.873 → 0.857 (-0.016)`."""
        if self.delta is None:
            return f"{self.metric} {_fmt(self.before)} → {_fmt(self.after)}"
        return f"{self.metric} {_fmt(self.before)} → {_fmt(self.after)} ({self.delta:+.3f})"


@dataclass(frozen=True, slots=True)
class Flip:
    """A question that passed in the baseline and fails now: its failing checks, the metrics
    they feed and how far those moved overall, and whether the answer was thin."""

    id: str
    failed_checks: tuple[str, ...]
    moves: tuple[MetricMove, ...] = ()
    margin: float | None = None
    baseline_margin: float | None = None
    thin: bool = False

    def describe(self, bound: float = THIN_MARGIN) -> str:
        """One line for the console and report.md."""
        moved = "; ".join(m.describe() for m in self.moves)
        text = f"{self.id}: pass → fail ({', '.join(self.failed_checks)})"
        if moved:
            text += f"; moved: {moved}"
        margins = f"margin {_fmt(self.margin)} (baseline {_fmt(self.baseline_margin)})"
        flag = f"THIN: below the cross-CPU bound {bound:g}" if self.thin else "not thin"
        return f"{text}; {margins}, {flag}"

    def to_dict(self) -> dict[str, object]:
        """JSON form (report.json)."""
        return {
            "id": self.id,
            "failed_checks": list(self.failed_checks),
            "moved": [
                {"metric": m.metric, "before": m.before, "after": m.after, "delta": m.delta}
                for m in self.moves
            ],
            "margin": self.margin,
            "baseline_margin": self.baseline_margin,
            "thin": self.thin,
        }


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


@dataclass(frozen=True, slots=True)
class GateResult:
    """Why the gate fails (empty means it passes), plus notes that do not fail it."""

    failures: tuple[str, ...]
    flips: tuple[Flip, ...]
    fixed: tuple[str, ...] = ()  # failed in the baseline, pass now
    notes: tuple[str, ...] = ()
    compared: bool = False  # metrics were compared with a baseline

    @property
    def passed(self) -> bool:
        """Whether nothing fails the gate."""
        return not self.failures and not self.flips


def load_rules(path: Path) -> list[Rule]:
    """Rules from thresholds.toml; raises GateConfigError when unusable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GateConfigError(f"{path}: cannot read thresholds: {exc}") from exc
    rules = []
    for metric, limits in data.get("metrics", {}).items():
        unknown = set(limits) - {"min", "max", "tolerance", "target"}
        if unknown or not limits:
            raise GateConfigError(f"{path}: metric {metric!r} needs min/max/tolerance/target only")
        if not all(isinstance(v, int | float) and v >= 0 for v in limits.values()):
            raise GateConfigError(f"{path}: limits of {metric!r} must be non-negative numbers")
        rules.append(
            Rule(
                metric,
                limits.get("min"),
                limits.get("max"),
                limits.get("tolerance"),
                limits.get("target"),
            )
        )
    return rules


def load_baseline(path: Path) -> Snapshot | None:
    """The committed baseline, or None when the file does not exist."""
    if not path.exists():
        return None
    try:
        return Snapshot.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GateConfigError(f"{path}: not a usable baseline: {exc}") from exc


def write_baseline(path: Path, snapshot: Snapshot) -> None:
    """Write the baseline file (only ever on an explicit --update-baseline)."""
    text = json.dumps(snapshot.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", "utf-8")


def evaluate_gate(
    current: Snapshot,
    rules: list[Rule],
    baseline: Snapshot | None,
    *,
    thin_margin: float = THIN_MARGIN,
) -> GateResult:
    """Thresholds always; metric drops and flips only against a comparable baseline."""
    failures = list(_threshold_failures(current, rules))
    notes = _target_misses(current, rules)
    if baseline is None:
        return GateResult(tuple(failures), (), notes=(*notes, "no baseline: thresholds only"))
    if (baseline.mode, baseline.k) != (current.mode, current.k):
        note = f"baseline is for mode={baseline.mode} k={baseline.k}; not compared"
        return GateResult(tuple(failures), (), notes=(*notes, note))
    compared = baseline.gold_sha256 == current.gold_sha256
    if compared:
        failures.extend(_drop_failures(current, rules, baseline))
    else:
        notes.append("gold set differs from the baseline's: metric drops not checked")
    flips, fixed, new = _flips(current, baseline, thin_margin)
    if new:
        notes.append(f"not in the baseline: {', '.join(new)}")
    return GateResult(tuple(failures), flips, fixed, tuple(notes), compared)


def _threshold_failures(current: Snapshot, rules: list[Rule]) -> list[str]:
    out = []
    for rule in rules:
        value = current.metrics.get(rule.metric)
        if value is None or (rule.min is None and rule.max is None):
            continue
        if rule.min is not None and value < rule.min - _EPS:
            out.append(f"{rule.metric} = {value:.3f} is below its threshold {rule.min:.3f}")
        if rule.max is not None and value > rule.max + _EPS:
            out.append(f"{rule.metric} = {value:.3f} is above its threshold {rule.max:.3f}")
    return out


def _target_misses(current: Snapshot, rules: list[Rule]) -> list[str]:
    out = []
    for rule in rules:
        value = current.metrics.get(rule.metric)
        if rule.target is None or value is None:
            continue
        missed = value > rule.target + _EPS if rule.lower_is_better else value < rule.target - _EPS
        if missed:
            out.append(
                f"target not met (not gating): {rule.metric} = {value:.3f}, "
                f"target {'<=' if rule.lower_is_better else '>='} {rule.target:.3f}"
            )
    return out


def _drop_failures(current: Snapshot, rules: list[Rule], baseline: Snapshot) -> list[str]:
    out = []
    for rule in rules:
        now, then = current.metrics.get(rule.metric), baseline.metrics.get(rule.metric)
        if rule.tolerance is None or now is None or then is None or math.isnan(now):
            continue
        worse = now - then if rule.lower_is_better else then - now
        if worse > rule.tolerance + _EPS:
            out.append(
                f"{rule.metric} fell from {then:.3f} (baseline) to {now:.3f}, "
                f"more than its tolerance {rule.tolerance:.3f}"
            )
    return out


def _flips(
    current: Snapshot, baseline: Snapshot, thin_margin: float
) -> tuple[tuple[Flip, ...], tuple[str, ...], list[str]]:
    flips, fixed, new = [], [], []
    for qid, state in current.questions.items():
        before = baseline.questions.get(qid)
        if before is None or before.question != state.question:
            new.append(qid)
            continue
        was, now = before.passed, state.passed
        if was and not now:
            failed = tuple(c for c, ok in state.checks.items() if not ok)
            metrics = dict.fromkeys(CHECK_METRICS[c] for c in failed if c in CHECK_METRICS)
            moves = tuple(
                MetricMove(m, baseline.metrics.get(m), current.metrics.get(m)) for m in metrics
            )
            thin = state.thin(thin_margin) or before.thin(thin_margin)
            flips.append(Flip(qid, failed, moves, state.margin, before.margin, thin))
        elif now and not was:
            fixed.append(qid)
    return tuple(flips), tuple(fixed), new

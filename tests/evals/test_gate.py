"""Gate logic on synthetic snapshots: thresholds, drops against the baseline, flips."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsrag.evals.errors import GateConfigError
from newsrag.evals.gate import (
    QuestionState,
    Rule,
    Snapshot,
    evaluate_gate,
    load_baseline,
    load_rules,
    write_baseline,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = [
    Rule("hit@5", min=0.95, tolerance=0.02),
    Rule("answer_accuracy", min=0.85, tolerance=0.02),
    Rule("citation_recall", tolerance=0.05),
    Rule("false_refusal_rate", max=0.10, tolerance=0.02),
]
GOOD = {"hit@5": 1.0, "answer_accuracy": 0.9, "citation_recall": 0.8, "false_refusal_rate": 0.0}
PASS = {"answer": True, "not_refused": True, "cited_evidence": True}


def snap(
    metrics: dict[str, float | None] | None = None,
    questions: dict[str, dict[str, bool]] | None = None,
    *,
    sha: str = "abc",
    mode: str = "extractive",
    texts: dict[str, str] | None = None,
) -> Snapshot:
    questions = questions if questions is not None else {"q1": PASS}
    states = {
        qid: QuestionState((texts or {}).get(qid, f"{qid}?"), checks, f"answer {qid}")
        for qid, checks in questions.items()
    }
    return Snapshot(sha, mode, 8, {**GOOD, **(metrics or {})}, states)


def test_thresholds_fail_below_min_and_above_max() -> None:
    result = evaluate_gate(snap({"hit@5": 0.9, "false_refusal_rate": 0.2}), RULES, None)
    assert not result.passed
    assert result.failures == (
        "hit@5 = 0.900 is below its threshold 0.950",
        "false_refusal_rate = 0.200 is above its threshold 0.100",
    )
    assert result.notes == ("no baseline: thresholds only",)


def test_values_on_the_threshold_and_undefined_metrics_pass() -> None:
    result = evaluate_gate(snap({"hit@5": 0.95, "answer_accuracy": None}), RULES, None)
    assert result.passed and result.failures == ()


def test_drop_beyond_tolerance_fails_even_above_threshold() -> None:
    baseline = snap({"answer_accuracy": 0.95, "citation_recall": 0.9})
    small = evaluate_gate(
        snap({"answer_accuracy": 0.935, "citation_recall": 0.86}), RULES, baseline
    )
    assert small.passed and small.compared
    big = evaluate_gate(snap({"answer_accuracy": 0.90, "citation_recall": 0.8}), RULES, baseline)
    assert big.failures == (
        "answer_accuracy fell from 0.950 (baseline) to 0.900, more than its tolerance 0.020",
        "citation_recall fell from 0.900 (baseline) to 0.800, more than its tolerance 0.050",
    )


def test_rise_of_a_lower_is_better_metric_is_a_drop() -> None:
    result = evaluate_gate(snap({"false_refusal_rate": 0.05}), RULES, snap())
    assert result.failures == (
        "false_refusal_rate fell from 0.000 (baseline) to 0.050, more than its tolerance 0.020",
    )
    assert evaluate_gate(snap(), RULES, snap({"false_refusal_rate": 0.05})).passed


def test_flips_are_listed_by_id_with_their_failing_checks() -> None:
    fail = {**PASS, "answer": False, "cited_evidence": False}
    baseline = snap(questions={"q1": PASS, "q2": fail, "q3": PASS})
    current = snap(questions={"q1": fail, "q2": PASS, "q3": PASS, "q4": PASS})
    result = evaluate_gate(current, RULES, baseline)
    assert not result.passed and result.failures == ()
    assert [(f.id, f.failed_checks) for f in result.flips] == [("q1", ("answer", "cited_evidence"))]
    assert result.fixed == ("q2",)
    assert result.notes == ("not in the baseline: q4",)


def test_other_gold_set_skips_metric_drops_but_checks_flips_of_same_questions() -> None:
    baseline = snap({"answer_accuracy": 1.0}, {"q1": PASS, "q2": PASS})
    current = snap(
        {"answer_accuracy": 0.86},
        {"q1": {"refusal": False}, "q2": {"refusal": False}},
        sha="other",
        texts={"q2": "a different question?"},
    )
    result = evaluate_gate(current, RULES, baseline)
    assert result.failures == () and not result.compared
    assert [f.id for f in result.flips] == ["q1"]
    assert "gold set differs from the baseline's: metric drops not checked" in result.notes


def test_baseline_of_another_mode_is_not_compared() -> None:
    result = evaluate_gate(
        snap({"answer_accuracy": 0.86}, {"q1": {"answer": False}}), RULES, snap(mode="llm")
    )
    assert result.passed
    assert result.notes == ("baseline is for mode=llm k=8; not compared",)


def test_baseline_round_trips_and_missing_file_means_none(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert load_baseline(path) is None
    original = snap(questions={"q1": PASS, "q2": {"refusal": False}})
    write_baseline(path, original)
    assert load_baseline(path) == original
    path.write_text('{"version": 1, "metrics": {}}', encoding="utf-8")
    with pytest.raises(GateConfigError, match="not a usable baseline"):
        load_baseline(path)


def test_shipped_thresholds_hold_the_issue_targets() -> None:
    rules = {r.metric: r for r in load_rules(ROOT / "evals" / "thresholds.toml")}
    assert (rules["hit@5"].target, rules["answer_accuracy"].target) == (0.95, 0.85)
    assert (rules["citation_precision"].target, rules["refusal_accuracy"].target) == (0.90, 0.80)
    assert rules["false_refusal_rate"].target == 0.10
    assert rules["false_refusal_rate"].max == 0.10 and rules["false_refusal_rate"].lower_is_better
    # The targets gate: every metric with a target fails CI when it misses it, except the one
    # floor the int8 recipe change (issue 12) moved below its target, documented in the file.
    below_target = {"citation_precision": 0.88}
    for rule in rules.values():
        if rule.target is not None:
            floor = below_target.get(rule.metric, rule.target)
            assert floor in (rule.min, rule.max), rule.metric
    assert all(r.tolerance is not None for r in rules.values())


def test_unmet_targets_are_reported_without_failing_the_gate() -> None:
    rules = [Rule("answer_accuracy", min=0.7, target=0.85), Rule("rate", max=0.2, target=0.1)]
    result = evaluate_gate(snap({"answer_accuracy": 0.75, "rate": 0.15}), rules, None)
    assert result.passed
    assert result.notes[:2] == (
        "target not met (not gating): answer_accuracy = 0.750, target >= 0.850",
        "target not met (not gating): rate = 0.150, target <= 0.100",
    )
    met = evaluate_gate(snap({"answer_accuracy": 0.9, "rate": 0.05}), rules, None)
    assert not any("target" in note for note in met.notes)


def test_bad_thresholds_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[metrics."hit@5"]\nminimum = 0.9\n', encoding="utf-8")
    with pytest.raises(GateConfigError, match="min/max/tolerance/target only"):
        load_rules(path)
    path.write_text("[metrics\n", encoding="utf-8")
    with pytest.raises(GateConfigError, match="cannot read thresholds"):
        load_rules(path)


def test_a_flip_names_the_metrics_it_moved_and_whether_it_was_thin() -> None:
    fail = {**PASS, "answer": False, "not_refused": False}
    states = {
        "q1": QuestionState("q1?", fail, "", margin=0.004),
        "q2": QuestionState("q2?", PASS, "", margin=0.3),
    }
    before = {
        "q1": QuestionState("q1?", PASS, "", margin=0.02),
        "q2": QuestionState("q2?", PASS, "", margin=0.3),
    }
    current = Snapshot("abc", "extractive", 8, {**GOOD, "answer_accuracy": 0.857}, states)
    baseline = Snapshot("abc", "extractive", 8, {**GOOD, "answer_accuracy": 0.873}, before)
    [flip] = evaluate_gate(current, RULES, baseline, thin_margin=0.01).flips
    assert flip.failed_checks == ("answer", "not_refused")
    assert [(m.metric, m.before, m.after) for m in flip.moves] == [
        ("answer_accuracy", 0.873, 0.857),
        ("false_refusal_rate", 0.0, 0.0),
    ]
    assert flip.thin and (flip.margin, flip.baseline_margin) == (0.004, 0.02)
    assert flip.describe(0.01) == (
        "q1: pass → fail (answer, not_refused); moved: answer_accuracy 0.873 → 0.857 (-0.016); "
        "false_refusal_rate 0.000 → 0.000 (+0.000); margin 0.004 (baseline 0.020), "
        "THIN: below the cross-CPU bound 0.01"
    )
    # the same flip with margins well clear of the bound is not thin
    wide = evaluate_gate(current, RULES, baseline, thin_margin=0.001).flips[0]
    assert not wide.thin and wide.describe(0.001).endswith("not thin")


def test_margins_round_trip_through_the_baseline_and_old_files_still_load(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baseline.json"
    original = Snapshot(
        "abc", "extractive", 8, GOOD, {"q1": QuestionState("q1?", PASS, "a", margin=0.25)}
    )
    write_baseline(path, original)
    assert load_baseline(path) == original
    old = original.to_dict()
    del old["questions"]["q1"]["margin"]  # type: ignore[index]
    path.write_text(__import__("json").dumps(old), encoding="utf-8")
    loaded = load_baseline(path)
    assert loaded is not None and loaded.questions["q1"].margin is None
    assert not loaded.questions["q1"].thin()


def test_thin_counts_either_side_of_a_threshold() -> None:
    # A refusal's margin is negative: its best candidate's distance below a gate.
    assert QuestionState("q?", PASS, "a", margin=-0.004).thin(0.01)
    assert not QuestionState("q?", PASS, "a", margin=-0.3).thin(0.01)
    assert QuestionState("q?", PASS, "a", margin=0.004).thin(0.01)
    assert not QuestionState("q?", PASS, "a", margin=0.25).thin(0.01)

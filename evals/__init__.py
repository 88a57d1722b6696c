"""Evals: gold sets, metrics, runner, reports and the CI gate (`rag eval`)."""

from newsrag.evals.errors import EvalError, GateConfigError, GoldFormatError
from newsrag.evals.gate import GateResult, Rule, Snapshot, evaluate_gate, load_baseline, load_rules
from newsrag.evals.goldset import GoldQuestion, load_gold, missing_evidence
from newsrag.evals.metrics import QuestionScore, contains, normalise, score_question, summarise

__all__ = [
    "EvalError",
    "GateConfigError",
    "GateResult",
    "GoldFormatError",
    "GoldQuestion",
    "QuestionScore",
    "Rule",
    "Snapshot",
    "contains",
    "evaluate_gate",
    "load_baseline",
    "load_gold",
    "load_rules",
    "missing_evidence",
    "normalise",
    "score_question",
    "summarise",
]

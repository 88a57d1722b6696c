"""Evals: gold sets, metrics, runner, reports and the CI gate (`rag eval`).

The public names load on first use (PEP 562): every `rag` command loads evals.cli to register
`rag eval`, and the metrics pull in numpy (issue 13: `rag --help` within 0.5 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsrag.index.lazy import lazy_names

if TYPE_CHECKING:
    from newsrag.evals.errors import EvalError, GateConfigError, GoldFormatError
    from newsrag.evals.gate import (
        GateResult,
        Rule,
        Snapshot,
        evaluate_gate,
        load_baseline,
        load_rules,
    )
    from newsrag.evals.goldset import GoldQuestion, load_gold, missing_evidence
    from newsrag.evals.metrics import (
        QuestionScore,
        contains,
        normalise,
        score_question,
        summarise,
    )

_HOMES = {
    "errors": ["EvalError", "GateConfigError", "GoldFormatError"],
    "gate": ["GateResult", "Rule", "Snapshot", "evaluate_gate", "load_baseline", "load_rules"],
    "goldset": ["GoldQuestion", "load_gold", "missing_evidence"],
    "metrics": ["QuestionScore", "contains", "normalise", "score_question", "summarise"],
}

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

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)

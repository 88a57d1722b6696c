"""Judge metrics against the scripted OpenAI-compatible server (a TEST DOUBLE, not an LLM)."""

from __future__ import annotations

from newsrag.evals.judge import JudgeSettings, judge_from_settings, judge_runs
from newsrag.evals.metrics import score_question
from newsrag.evals.runner import QuestionRun
from tests.evals.helpers import answer, citation, gold
from tests.rag.llm_double import LLMDouble, reply

HUB = "Alibaba is going to invest $15 billion to expand overseas research hubs."


def _run(qid: str, *, answerable: bool = True, refused: bool = False) -> QuestionRun:
    question = gold(qid, ("$15 billion",), ("invest $15 billion",)) if answerable else gold(qid)
    given = answer(
        "It will invest $15 billion [1].",
        answerable=not refused,
        citations=(citation(1, "a#0", HUB),),
    )
    return QuestionRun(question, given, score_question(question, given, [HUB], [HUB]))


def test_judge_is_off_without_an_endpoint() -> None:
    assert judge_from_settings(JudgeSettings(base_url=None)) is None


def test_judge_scores_answered_questions_and_counts_bad_verdicts() -> None:
    runs = [_run("a"), _run("b"), _run("refused", refused=True), _run("u", answerable=False)]
    steps = [reply('{"correct": true, "faithful": false}'), reply("I think it is fine.")]
    with LLMDouble(steps) as double:
        judge = judge_from_settings(
            JudgeSettings(base_url=double.base_url, model="judge", timeout_s=5.0)
        )
        assert judge is not None
        metrics = judge_runs(runs, judge)
        prompts = [r["messages"][1]["content"] for r in double.requests]
    assert metrics == {
        "judge_correct": 1.0,
        "judge_faithful": 0.0,
        "judged": 1.0,
        "judge_failures": 1.0,
    }
    assert len(prompts) == 2  # refused and unanswerable questions are not judged
    assert "Accepted answers: $15 billion" in prompts[0] and f"[1] {HUB}" in prompts[0]

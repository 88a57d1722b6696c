"""Optional judge-model metrics: reported only when a judge is configured, never gating."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsrag.evals.runner import QuestionRun
from newsrag.rag.errors import LLMError
from newsrag.rag.llm import ChatModel, OpenAIChatModel

log = logging.getLogger(__name__)

JUDGE_PROMPT = (
    "You grade answers of a question-answering system over news articles. Given the question, "
    "the accepted answers, the system's answer and the passages it cited, reply with only a JSON "
    'object {"correct": true|false, "faithful": true|false}: correct when the answer gives an '
    "accepted answer (or an equivalent), faithful when every claim is supported by the passages."
)


class JudgeSettings(BaseSettings):
    """The judge endpoint (environment RAG_EVAL_JUDGE_*); unset means no judge metrics."""

    model_config = SettingsConfigDict(env_prefix="RAG_EVAL_JUDGE_", extra="ignore")

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = 30.0


class Verdict(BaseModel):
    """What the judge must reply."""

    correct: bool
    faithful: bool


def judge_from_settings(settings: JudgeSettings) -> ChatModel | None:
    """The judge model, or None when RAG_EVAL_JUDGE_BASE_URL is unset."""
    if not settings.base_url:
        return None
    return OpenAIChatModel(
        base_url=settings.base_url,
        model=settings.model or "default",
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        timeout_s=settings.timeout_s,
        max_retries=2,
        deadline_s=settings.timeout_s * 3,
    )


def judge_messages(run: QuestionRun) -> list[dict[str, str]]:
    """The judge's chat messages for one answered question."""
    passages = "\n".join(f"[{c.marker}] {c.text}" for c in run.answer.citations) or "(none)"
    user = (
        f"Question: {run.gold.question}\nAccepted answers: {'; '.join(run.gold.answers)}\n"
        f"System answer: {run.answer.answer}\nCited passages:\n{passages}"
    )
    return [{"role": "system", "content": JUDGE_PROMPT}, {"role": "user", "content": user}]


def judge_runs(runs: Sequence[QuestionRun], judge: ChatModel) -> dict[str, float | None]:
    """Shares of judged answers found correct and faithful (answered, answerable questions)."""
    verdicts: list[Verdict] = []
    failed = 0
    for run in runs:
        if not (run.gold.answerable and run.answer.answerable):
            continue
        try:
            reply = judge.complete(judge_messages(run))
            verdicts.append(Verdict.model_validate_json(reply.strip()))
        except (LLMError, ValidationError) as exc:
            failed += 1
            log.warning("judge gave no verdict", extra={"id": run.gold.id, "error": str(exc)})
    n = len(verdicts)
    return {
        "judge_correct": sum(v.correct for v in verdicts) / n if n else None,
        "judge_faithful": sum(v.faithful for v in verdicts) / n if n else None,
        "judged": float(n),
        "judge_failures": float(failed),
    }

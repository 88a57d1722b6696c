"""Hand-made gold questions and Answers for metric and gate tests (no pipeline needed), and
the `rag eval` command on a typer app of its own, run with a test embedder handed in."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from newsrag.evals.cli import register
from newsrag.evals.goldset import GoldQuestion, QuestionType
from newsrag.index import Embedder
from newsrag.rag.cli_common import Host
from newsrag.rag.records import Answer, Citation


def invoke_eval(args: list[str], embedder: Embedder) -> tuple[int, str]:
    """`rag eval ARGS` with `embedder` handed in (Host): exit code and output."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test host app."""

    register(app)
    result = CliRunner().invoke(app, args, obj=Host(embedder=embedder))
    return result.exit_code, result.output


def gold(
    qid: str,
    answers: tuple[str, ...] = (),
    evidence: tuple[str, ...] = (),
    kind: QuestionType = "single",
) -> GoldQuestion:
    """A gold question; empty answers make it unanswerable."""
    if not answers:
        return GoldQuestion(qid, f"question {qid}?", (), (), False, "unanswerable")
    return GoldQuestion(qid, f"question {qid}?", answers, evidence, True, kind)


def citation(marker: int, chunk_id: str, text: str) -> Citation:
    """A citation of `text` under `marker`."""
    return Citation(marker, chunk_id, chunk_id.split("#")[0], "t", None, None, text, 0, len(text))


def answer(
    text: str,
    *,
    answerable: bool = True,
    citations: tuple[Citation, ...] = (),
    passages: tuple[str, ...] = (),
    total_ms: float = 10.0,
    conflict: bool = False,
) -> Answer:
    """An extractive Answer with the given text, citations and shown passages."""
    return Answer(
        question="q?",
        answer=text,
        answerable=answerable,
        refusal_reason=None if answerable else "no_relevant_passages",
        mode="extractive",
        degraded=False,
        citations=citations,
        timings_ms={"retrieve": 1.0, "generate": 1.0, "total": total_ms},
        conflict=conflict,
        passages=passages,
    )

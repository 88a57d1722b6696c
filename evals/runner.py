"""Run a gold set through the real answer pipeline and score every answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from newsrag.evals.goldset import GoldQuestion
from newsrag.evals.metrics import QuestionScore, score_question
from newsrag.index import (
    ChunkingParams,
    Embedder,
    EmbedderMismatchError,
    IndexStore,
    IngestOptions,
    ingest,
    open_index,
)
from newsrag.rag.records import Answer, AnswerRequest

if TYPE_CHECKING:
    from newsrag.rag.pipeline import AnswerPipeline

log = logging.getLogger(__name__)

AnswerFn = Callable[[str], Answer]


@dataclass(frozen=True, slots=True)
class QuestionRun:
    """One gold question, the answer the pipeline gave, and its score."""

    gold: GoldQuestion
    answer: Answer
    score: QuestionScore


def prepare_index(
    corpus_dir: Path, index_dir: Path, embedder: Embedder, *, faiss_kind: str | None = None
) -> IndexStore:
    """Make `index_dir` mirror `corpus_dir` (unchanged articles are not re-embedded) and open it."""
    options = IngestOptions(
        params=ChunkingParams(max_tokens=embedder.max_tokens),
        faiss_kind=faiss_kind,
        prune=True,
    )
    try:
        report = ingest([corpus_dir], index_dir, embedder, options)
    except EmbedderMismatchError as exc:
        # The eval index is a cache of the corpus: another embedder means rebuilding it.
        log.warning("eval index built with another embedder; rebuilding", extra={"why": str(exc)})
        report = ingest([corpus_dir], index_dir, embedder, replace(options, rebuild=True))
    for failure in report.failed:
        log.warning(
            "corpus file not indexed", extra={"path": failure.path, "reason": failure.reason}
        )
    return open_index(index_dir, embedder)


def pipeline_answerer(pipeline: AnswerPipeline) -> AnswerFn:
    """The production answer pipeline (retrieval, LLM or extractive) as a one-argument call."""

    def ask(question: str) -> Answer:
        return pipeline.answer(AnswerRequest(question))

    return ask


def run_questions(
    questions: Sequence[GoldQuestion],
    ask: AnswerFn,
    chunk_texts: dict[str, str],
    *,
    progress: Callable[[QuestionRun], None] | None = None,
) -> list[QuestionRun]:
    """Answer and score every question; uncited passages are looked up in `chunk_texts`."""
    runs: list[QuestionRun] = []
    for question in questions:
        answer = ask(question.question)
        unknown = [c for c in answer.passages if c not in chunk_texts]
        if unknown:
            log.warning("answer names unknown passages", extra={"id": question.id, "ids": unknown})
        # A citation carries the passage exactly as shown (retrieval may merge overlapping
        # windows into the best one's id); other passages are looked up in the store.
        shown = {c.chunk_id: c.text for c in answer.citations}
        passages = [shown.get(c) or chunk_texts.get(c, "") for c in answer.passages]
        cited = [c.text or chunk_texts.get(c.chunk_id, "") for c in answer.citations if c.supported]
        run = QuestionRun(question, answer, score_question(question, answer, passages, cited))
        runs.append(run)
        if progress is not None:
            progress(run)
    return runs


def chunk_texts(store: IndexStore) -> dict[str, str]:
    """Chunk id -> passage text of every chunk in the store."""
    return {chunk.id: chunk.text for chunk in store.chunks}

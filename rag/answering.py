"""answer_question / stream_answer: retrieve, then the LLM or the extractive answerer, then verify.

Flow (issue 3): rewrite a follow-up -> retrieve -> refuse without calling the LLM when nothing
relevant came back -> LLM (prompt, sanitise, parse and verify citations) or the extractive
answerer -> Answer. Any LLMError falls back to the extractive answer with `degraded=True`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from newsrag.index import Embedder, Hit
from newsrag.rag.candidates import Candidate
from newsrag.rag.citations import verify_citations
from newsrag.rag.conflicts import CONFLICT_TYPES
from newsrag.rag.constraints import other_organisation, source_status, time_status
from newsrag.rag.errors import LLMError
from newsrag.rag.extractive import Extract, ExtractiveAnswerer
from newsrag.rag.followup import rewrite_followup
from newsrag.rag.prompts import (
    build_answer_messages,
    constraints_note,
    is_refusal,
    sanitize_model_text,
    sanitize_stream,
)
from newsrag.rag.questions import analyse
from newsrag.rag.records import Answer, AnswerSentence, Mode, RefusalReason
from newsrag.rag.retrieval import HybridRetriever, SearchFilters
from newsrag.rag.support import SentenceVectors, VectorCache

if TYPE_CHECKING:
    from newsrag.rag.llm import ChatModel

log = logging.getLogger(__name__)

REFUSALS: dict[str, str] = {
    "no_relevant_passages": "I could not find the answer to this question in the indexed articles.",
    "not_supported": "I could not verify an answer against the retrieved articles.",
    "llm_refused": "The retrieved articles do not contain the answer to this question.",
}
# Below this question-sentence cosine (and without the question's names) a retrieval is
# off-topic: the LLM is not called at all.
MIN_RELEVANCE = 0.35


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """A streamed piece of an answer: a text delta, or the final verified Answer."""

    kind: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass(slots=True)
class _Run:
    """State of one answer: inputs, what was retrieved, and the clock."""

    question: str
    standalone: str
    hits: list[Hit]
    vectors: SentenceVectors
    started: float
    retrieve_ms: float
    generate_started: float = 0.0
    _ranked: list[Candidate] | None = None

    def ranked(self, extractor: ExtractiveAnswerer) -> list[Candidate]:
        """The retrieved sentences ranked as answers, once per answer (gate, then conflicts)."""
        if self._ranked is None:
            self._ranked = extractor.rank(self.standalone, self.hits, self.vectors)
        return self._ranked

    def finish(self, **fields: object) -> Answer:
        """The Answer record with timings filled in."""
        now = time.perf_counter()
        timings = {
            "retrieve": round(self.retrieve_ms, 2),
            "generate": round((now - self.generate_started) * 1000, 2),
            "total": round((now - self.started) * 1000, 2),
        }
        standalone = self.standalone if self.standalone != self.question else None
        return Answer(
            question=self.question,
            timings_ms=timings,
            standalone_question=standalone,
            **fields,  # type: ignore[arg-type]
        )


def answer_question(
    question: str,
    *,
    retriever: HybridRetriever,
    embedder: Embedder,
    model: ChatModel | None,
    k: int = 8,
    filters: SearchFilters | None = None,
    history: list[dict[str, str]] | None = None,
    max_context_tokens: int = 3000,
    cache: VectorCache | None = None,
) -> Answer:
    """A cited answer or an honest refusal; never raises for upstream LLM failures."""
    events = _answer(
        question, retriever, embedder, model, k, filters, history, max_context_tokens, False, cache
    )
    for event in events:
        if event.answer is not None:
            return event.answer
    raise RuntimeError("the answer flow ended without an answer")  # unreachable by design


def stream_answer(
    question: str,
    *,
    retriever: HybridRetriever,
    embedder: Embedder,
    model: ChatModel | None,
    k: int = 8,
    filters: SearchFilters | None = None,
    history: list[dict[str, str]] | None = None,
    max_context_tokens: int = 3000,
    cache: VectorCache | None = None,
) -> Iterator[AnswerEvent]:
    """Token events as the answer is generated, then exactly one final "answer" event."""
    yield from _answer(
        question, retriever, embedder, model, k, filters, history, max_context_tokens, True, cache
    )


def _answer(
    question: str,
    retriever: HybridRetriever,
    embedder: Embedder,
    model: ChatModel | None,
    k: int,
    filters: SearchFilters | None,
    history: list[dict[str, str]] | None,
    max_context_tokens: int,
    streaming: bool,
    cache: VectorCache | None = None,
) -> Iterator[AnswerEvent]:
    started = time.perf_counter()
    standalone = _rewrite(question, history, model)
    hits = retriever.search(standalone, k, filters=filters)
    retrieve_ms = (time.perf_counter() - started) * 1000
    run = _Run(question, standalone, hits, SentenceVectors(embedder, cache), started, retrieve_ms)
    run.generate_started = time.perf_counter()
    extractor = ExtractiveAnswerer()
    if model is not None and _relevant(extractor, run):
        yield from _generate(run, model, extractor, max_context_tokens, streaming)
        return
    if model is None:
        answer = _extractive(run, extractor, mode="extractive", degraded=False)
    else:
        answer = refusal(run, "no_relevant_passages", mode="llm")
    yield AnswerEvent("token", answer.answer)
    yield AnswerEvent("answer", answer=answer)


def _generate(
    run: _Run,
    model: ChatModel,
    extractor: ExtractiveAnswerer,
    max_context_tokens: int,
    streaming: bool,
) -> Iterator[AnswerEvent]:
    """The LLM path: prompt, (stream), sanitise, verify; an LLMError degrades to extractive."""
    asked = analyse(run.standalone)
    note = constraints_note(asked.time.years, asked.names, asked.source)
    messages, shown = build_answer_messages(
        run.standalone, run.hits, max_context_tokens=max_context_tokens, constraints=note
    )
    pieces: list[str] = []
    try:
        if streaming:
            for delta in sanitize_stream(model.stream(messages)):
                pieces.append(delta)
                yield AnswerEvent("token", delta)
        else:
            pieces.append(model.complete(messages))
    except LLMError as exc:
        log.warning("LLM failed; answering extractively", extra={"error": str(exc)})
        yield AnswerEvent(
            "answer", answer=_extractive(run, extractor, mode="extractive", degraded=True)
        )
        return
    yield AnswerEvent("answer", answer=_verified(run, extractor, "".join(pieces), shown))


def _verified(run: _Run, extractor: ExtractiveAnswerer, raw: str, shown: list[Hit]) -> Answer:
    """The model's text checked against the passages it was shown."""
    text = sanitize_model_text(raw)
    if is_refusal(text):
        return refusal(run, "llm_refused", mode="llm", shown=shown)
    checked = verify_citations(text, shown, run.vectors)
    if checked.supported and not _holds_constraints(run, checked.sentences, shown):
        # Verified means the sentence is in a passage, not that it answers this question: a
        # passage about another year or organisation does not; answer from what does.
        log.info("LLM answer cites passages that fail the question's constraints")
        return _extractive(run, extractor, mode="extractive", degraded=True)
    if not checked.supported:
        return refusal(
            run,
            "not_supported",
            mode="llm",
            shown=shown,
            sentences=checked.sentences,
            dropped_markers=checked.dropped_markers,
        )
    return run.finish(
        answer=checked.text,
        answerable=True,
        refusal_reason=None,
        mode="llm",
        degraded=False,
        citations=checked.citations,
        sentences=checked.sentences,
        dropped_markers=checked.dropped_markers,
        conflict=_conflict(run, extractor),
        passages=tuple(h.chunk.id for h in shown),
    )


def _holds_constraints(run: _Run, sentences: tuple[AnswerSentence, ...], shown: list[Hit]) -> bool:
    """Whether some supported sentence's cited passages satisfy the question's time and names."""
    asked = analyse(run.standalone)
    for sentence in sentences:
        if not sentence.supported:
            continue
        for n in sentence.markers:
            chunk = shown[n - 1].chunk
            if (
                time_status(asked.time, sentence.text, chunk) != "contradict"
                and source_status(asked.source, chunk) != "contradict"
                and not any(other_organisation(name, sentence.text) for name in asked.names)
            ):
                return True
    return False


def _rewrite(question: str, history: list[dict[str, str]] | None, model: ChatModel | None) -> str:
    if not history:
        return question
    return rewrite_followup(question, history, model) or question


def _relevant(extractor: ExtractiveAnswerer, run: _Run) -> bool:
    """Whether any retrieved sentence is about the question at all (else skip the LLM).

    About it: the question's names, close in meaning, and not contradicting its time, source
    or names (a passage about another year is a near miss, not context for an answer).
    """
    ranked = run.ranked(extractor)
    return any(
        c.names_ok and c.constrained_ok and c.similarity >= MIN_RELEVANCE for c in ranked[:10]
    )


def _extractive(run: _Run, extractor: ExtractiveAnswerer, *, mode: Mode, degraded: bool) -> Answer:
    """The extractive answer (or its refusal) as an Answer."""
    extract: Extract = extractor.answer(
        run.standalone, run.hits, run.vectors, run.ranked(extractor)
    )
    if extract.near_miss:
        return run.finish(
            answer=extract.text,
            answerable=False,
            refusal_reason="near_miss",
            mode=mode,
            degraded=degraded,
            citations=extract.citations,
            passages=tuple(h.chunk.id for h in run.hits),
            margin=extract.margin,
        )
    if not extract.answerable:
        return refusal(
            run, "no_relevant_passages", mode=mode, degraded=degraded, margin=extract.margin
        )
    return run.finish(
        answer=extract.text,
        answerable=True,
        refusal_reason=None,
        mode=mode,
        degraded=degraded,
        citations=extract.citations,
        sentences=extract.sentences,
        conflict=extract.conflict,
        passages=tuple(h.chunk.id for h in run.hits),
        short_answer=extract.short_answer,
        margin=extract.margin,
    )


def refusal(
    run: _Run,
    reason: RefusalReason,
    *,
    mode: Mode,
    degraded: bool = False,
    shown: list[Hit] | None = None,
    **extra: object,
) -> Answer:
    """An honest refusal with its reason."""
    return run.finish(
        answer=REFUSALS[reason],
        answerable=False,
        refusal_reason=reason,
        mode=mode,
        degraded=degraded,
        citations=(),
        passages=tuple(h.chunk.id for h in (run.hits if shown is None else shown)),
        **extra,
    )


def _conflict(run: _Run, extractor: ExtractiveAnswerer) -> bool:
    """Whether the retrieved sources disagree about the asked slot (flag for LLM answers)."""
    if analyse(run.standalone).answer_type not in CONFLICT_TYPES:
        return False
    return extractor.answer(run.standalone, run.hits, run.vectors, run.ranked(extractor)).conflict

"""AnswerPipeline: the one owner of retrieve -> answer (LLM or extractive) -> verify -> Answer.

Flow (issue 3, issue 13): rewrite a follow-up -> retrieve -> refuse without calling the LLM when
nothing relevant came back (a near miss when close) -> LLM (prompt stating the question's
constraints, sanitise, verify citations, then rag.llm_checks holds each sentence to the
extractive answerer's gates; a failing reply is replaced by the extractive answer, degraded) or
the extractive answerer -> markers renumbered 1..n in order of first appearance (issue 16) ->
Answer. Any LLMError falls back to the extractive answer with `degraded=True`. `answer` and
`stream` share one implementation; the CLI, chat, HTTP engine and eval runner hold a pipeline
built by `open_pipeline` (or `pipeline_over` an already-open store), they never assemble one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from newsrag.index import Embedder, Hit, IndexStore
from newsrag.index.word_table import open_word_table
from newsrag.rag.citations import Renumbering, renumber, sentence_pieces, verify_citations
from newsrag.rag.errors import LLMError
from newsrag.rag.extractive.answerer import Extract, ExtractiveAnswerer
from newsrag.rag.extractive.candidates import Candidate
from newsrag.rag.extractive.conflicts import CONFLICT_TYPES
from newsrag.rag.followup import rewrite_followup
from newsrag.rag.llm_checks import check_claims, replaced_because
from newsrag.rag.prompts import (
    build_answer_messages,
    constraints_note,
    is_refusal,
    sanitize_model_text,
    sanitize_stream,
)
from newsrag.rag.questions import Question, analyse, as_question, truecase
from newsrag.rag.records import (
    Answer,
    AnswerEvent,
    AnswerRequest,
    Mode,
    RefusalReason,
)
from newsrag.rag.retrieval import HybridRetriever, Retriever
from newsrag.rag.support import SentenceVectors
from newsrag.rag.vectors import CachedEmbedder, DiskVectors, VectorCache

if TYPE_CHECKING:
    from newsrag.rag.llm import ChatModel
    from newsrag.rag.settings import Settings

log = logging.getLogger(__name__)

REFUSALS: dict[str, str] = {
    "no_relevant_passages": "I could not find the answer to this question in the indexed articles.",
    "not_supported": "I could not verify an answer against the retrieved articles.",
    "llm_refused": "The retrieved articles do not contain the answer to this question.",
}
# Below this question-sentence cosine (and without the question's names) a retrieval is
# off-topic: the LLM is not called at all.
MIN_RELEVANCE = 0.35


class _FromSettings:
    """Sentinel: build the chat model from settings."""


FROM_SETTINGS = _FromSettings()


class AnswerPipeline:
    """Retriever, embedder (the store's, cached), chat model and extractive answerer, held once."""

    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        model: ChatModel | None,
        *,
        k: int = 8,
        max_context_tokens: int = 3000,
        extractor: ExtractiveAnswerer | None = None,
        store: IndexStore | None = None,
    ) -> None:
        if k < 1 or max_context_tokens < 1:
            raise ValueError(
                f"k and max_context_tokens must be >= 1, got {k}, {max_context_tokens}"
            )
        self.retriever = retriever
        self.embedder = embedder
        self.model = model
        self.k = k
        self.max_context_tokens = max_context_tokens
        self.extractor = extractor or ExtractiveAnswerer()
        self.vectors = SentenceVectors(embedder)
        self.store = store  # the index retrieved from, when built over one
        self._newest: int | None = None  # _newest_year's, 0 when no article is dated

    def _newest_year(self) -> int | None:
        """The newest publication year among the index's articles (once per pipeline)."""
        store = self.store or getattr(self.retriever, "store", None)
        if self._newest is None and isinstance(store, IndexStore):
            years = [
                int(a.published_at[:4])
                for a in store.articles.values()
                if a.published_at and a.published_at[:4].isdigit()
            ]
            self._newest = max(years, default=0)
        return self._newest or None

    def search(self, request: AnswerRequest) -> list[Hit]:
        """Ranked passages for the request's question (no answer)."""
        return self.retriever.search(request.question, request.k or self.k, filters=request.filters)

    def answer(self, request: AnswerRequest) -> Answer:
        """A cited answer or an honest refusal; never raises for upstream LLM failures."""
        for event in self._events(request, streaming=False):
            if event.answer is not None:
                return event.answer
        raise RuntimeError("the answer flow ended without an answer")  # unreachable by design

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Token events as the answer is written, then exactly one final "answer" event."""
        yield from self._events(request, streaming=True)

    def _events(self, request: AnswerRequest, *, streaming: bool) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        model = None if request.no_llm else self.model
        standalone = _rewrite(request.question, list(request.history), model)
        hits = self.search(replace(request, question=standalone))
        retrieve_ms = (time.perf_counter() - started) * 1000
        # What is answered: a request read as a question ("Tell me about X"), and a question
        # typed in lower case with its names' capitals from the passages found.
        read = as_question(truecase(standalone, (f"{h.chunk.title}\n{h.chunk.text}" for h in hits)))
        asked = analyse(read)
        if asked.time.relative is not None or asked.time.years:  # for undated articles
            asked = replace(asked, time=replace(asked.time, reference=self._newest_year()))
        run = _Run(request.question, read, asked, hits, started, retrieve_ms, standalone)
        run.generate_started = time.perf_counter()
        if model is not None and self._relevant(run):
            yield from self._generate(run, model, streaming)
            return
        if model is None:
            answer = self._extractive(run, mode="extractive", degraded=False)
        else:
            answer = self._unanswered(run, "no_relevant_passages")
        for piece in sentence_pieces(answer):  # the LLM path's event shape, one sentence each
            yield AnswerEvent("token", piece)
        yield AnswerEvent("answer", answer=answer)

    def _ranked(self, run: _Run) -> list[Candidate]:
        """The retrieved sentences ranked as answers, once per answer (gate, then conflicts)."""
        if run.ranked is None:
            run.ranked = self.extractor.rank(run.standalone, run.hits, self.vectors, run.asked)
        return run.ranked

    def _relevant(self, run: _Run) -> bool:
        """Whether any retrieved sentence is about the question at all (else skip the LLM).

        About it: the question's names, close in meaning, and not contradicting its time,
        source or names (a passage about another year is a near miss, not context for an answer).
        """
        return any(
            c.names_ok and c.constrained_ok and c.similarity >= MIN_RELEVANCE
            for c in self._ranked(run)[:10]
        )

    def _generate(self, run: _Run, model: ChatModel, streaming: bool) -> Iterator[AnswerEvent]:
        """The LLM path: prompt, (stream), sanitise, verify; an LLMError degrades to extractive."""
        asked = run.asked
        note = constraints_note(asked.time, asked.names, asked.source)
        messages, shown = build_answer_messages(
            run.standalone, run.hits, max_context_tokens=self.max_context_tokens, constraints=note
        )
        pieces: list[str] = []
        numbering = Renumbering()
        try:
            if streaming:
                for delta in sanitize_stream(model.stream(messages)):
                    pieces.append(delta)
                    yield AnswerEvent("token", numbering.apply(delta))
            else:
                pieces.append(model.complete(messages))
        except LLMError as exc:
            log.warning("LLM failed; answering extractively", extra={"error": str(exc)})
            degraded = self._extractive(run, mode="extractive", degraded=True)
            yield AnswerEvent("answer", answer=degraded)
            return
        yield AnswerEvent("answer", answer=self._verified(run, "".join(pieces), shown))

    def _verified(self, run: _Run, raw: str, shown: list[Hit]) -> Answer:
        """The model's text checked against the passages it was shown."""
        text = sanitize_model_text(raw)
        if is_refusal(text):
            return self._unanswered(run, "llm_refused", shown=shown)
        checked = verify_citations(text, shown, self.vectors)
        if not checked.supported:
            return refusal(
                run,
                "not_supported",
                mode="llm",
                shown=shown,
                sentences=checked.sentences,
                dropped_markers=checked.dropped_markers,
            )
        pool = [c.text for c in self._ranked(run)]
        claims = check_claims(
            run.asked, checked.sentences, shown, pool, self.vectors, self.extractor
        )
        why = replaced_because(
            run.asked, claims, checked.citations, self._extract(run), self._best_score(run)
        )
        if why is not None:
            # Verified means stated by a passage, not answering this question (issue 15).
            log.info("LLM answer replaced by the extractive one", extra={"why": why})
            return self._extractive(run, mode="extractive", degraded=True)
        return run.finish(
            answer=checked.text,
            answerable=True,
            refusal_reason=None,
            mode="llm",
            degraded=False,
            citations=checked.citations,
            sentences=checked.sentences,
            dropped_markers=checked.dropped_markers,
            conflict=self._conflict(run),
            passages=tuple(h.chunk.id for h in shown),
            short_answer=claims.short_answer(run.asked),
        )

    def _unanswered(
        self, run: _Run, reason: RefusalReason, *, shown: list[Hit] | None = None
    ) -> Answer:
        """An LLM-mode refusal; a near miss that says what the passages cover when they are close.

        Used when nothing relevant was retrieved (the model is not called) and when the model
        refused: the extractive answerer's near-miss check says what the articles do give.
        """
        extract = self._extract(run)
        if not extract.near_miss:
            return refusal(run, reason, mode="llm", shown=shown, margin=extract.margin)
        return run.finish(
            answer=extract.text,
            answerable=False,
            refusal_reason="near_miss",
            mode="llm",
            degraded=False,
            citations=extract.citations,
            passages=tuple(h.chunk.id for h in run.hits),
            margin=extract.margin,
        )

    def _extractive(self, run: _Run, *, mode: Mode, degraded: bool) -> Answer:
        """The extractive answer (or its refusal) as an Answer."""
        extract = self._extract(run)
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

    def _extract(self, run: _Run) -> Extract:
        """The extractive answerer's pick over the run's ranked sentences (once per answer)."""
        if run.extract is None:
            run.extract = self.extractor.answer(
                run.standalone, run.hits, self.vectors, self._ranked(run), run.asked
            )
        return run.extract

    def _best_score(self, run: _Run) -> float | None:
        """The score of the best sentence that answers extractively (None: none answers)."""
        passing = (c.score for c in self._ranked(run) if self.extractor.answers(run.asked, c))
        return max(passing, default=None)

    def _conflict(self, run: _Run) -> bool:
        """Whether the retrieved sources disagree about the asked slot (flag for LLM answers)."""
        if run.asked.answer_type not in CONFLICT_TYPES:
            return False
        return bool(self._extract(run).conflict)


@dataclass(slots=True)
class _Run:
    """State of one answer: inputs, the question analysed once, what was retrieved, the clock."""

    question: str
    standalone: str
    asked: Question
    hits: list[Hit]
    started: float
    retrieve_ms: float
    rewritten: str = ""  # the follow-up rewritten to stand alone (`standalone` is it as read)
    generate_started: float = 0.0
    ranked: list[Candidate] | None = None
    extract: Extract | None = None

    def finish(self, **fields: object) -> Answer:
        """The Answer record with timings filled in and markers numbered 1..n."""
        now = time.perf_counter()
        timings = {
            "retrieve": round(self.retrieve_ms, 2),
            "generate": round((now - self.generate_started) * 1000, 2),
            "total": round((now - self.started) * 1000, 2),
        }
        rewritten = self.rewritten or self.standalone
        standalone = rewritten if rewritten != self.question else None
        answer = Answer(
            question=self.question,
            timings_ms=timings,
            standalone_question=standalone,
            **fields,  # type: ignore[arg-type]
        )
        return renumber(answer)


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


def _rewrite(question: str, history: list[dict[str, str]], model: ChatModel | None) -> str:
    if not history:
        return question
    return rewrite_followup(question, history, model) or question


def pipeline_over(
    store: IndexStore, settings: Settings, *, model: ChatModel | _FromSettings | None = None
) -> AnswerPipeline:
    """A pipeline over an already-open store (its embedder is the one road vectors take)."""
    if isinstance(model, _FromSettings):
        from newsrag.rag.llm import chat_model_from_settings

        model = chat_model_from_settings(settings)
    return AnswerPipeline(
        HybridRetriever(store),
        store.dense.embedder,
        model,
        k=settings.k,
        max_context_tokens=settings.llm_max_context_tokens,
        store=store,
    )


def cached(
    embedder: Embedder,
    settings: Settings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    word_table: bool = True,
) -> CachedEmbedder:
    """`embedder` behind the vector cache: memory, its word table (built on first use, which
    `progress` hears about; none when not `word_table`) and the on-disk layer when settings
    set one."""
    directory = settings.vector_cache_dir if settings is not None else None
    disk = DiskVectors(directory, embedder.name, embedder.dim) if directory else None
    words = open_word_table(embedder, progress=progress) if word_table else None
    return CachedEmbedder(embedder, VectorCache(), disk, words)


def open_pipeline(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    model: ChatModel | _FromSettings | None = FROM_SETTINGS,
    progress: Callable[[str], None] | None = None,
) -> AnswerPipeline:
    """The pipeline from Settings: embedder (loaded unless given), cached, index, chat model.

    `progress` hears what loading the embedder does (the first-use export).
    """
    from newsrag.rag.components import load_embedder, load_store

    inner = embedder if embedder is not None else load_embedder(settings, progress=progress)
    vectors = cached(inner, settings, word_table=False)
    store = load_store(settings, vectors)  # no index: said before the word table's first build
    vectors.words = open_word_table(inner, progress=progress)
    return pipeline_over(store, settings, model=model)

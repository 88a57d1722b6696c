"""answer_question / stream_answer without an LLM, and the refusal that never calls one."""

from __future__ import annotations

import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.answering import REFUSALS, answer_question, stream_answer
from newsrag.rag.citations import parse_markers
from newsrag.rag.retrieval import HybridRetriever, SearchFilters
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble

FACT_Q = "How much will Alibaba invest in its overseas research hubs?"


@pytest.fixture(scope="module")
def retriever(corpus_store: IndexStore) -> HybridRetriever:
    return HybridRetriever(corpus_store)


def test_extractive_answer_contract(
    retriever: HybridRetriever, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answer_question(FACT_Q, retriever=retriever, embedder=embedder, model=None, k=6)
    assert answer.answerable and answer.mode == "extractive" and not answer.degraded
    assert "$15 billion" in answer.answer and answer.refusal_reason is None
    markers = parse_markers(answer.answer)
    cited = {c.marker: c for c in answer.citations}
    assert markers and set(markers) == set(cited)
    assert all("$15 billion" in cited[m].text for m in markers)
    assert len(answer.passages) == 6 and cited[markers[0]].chunk_id in answer.passages
    assert set(answer.timings_ms) == {"retrieve", "generate", "total"}
    assert answer.timings_ms["total"] >= answer.timings_ms["retrieve"] > 0
    assert answer.to_dict()["citations"][0]["supported"] is True


def test_off_topic_question_is_refused(
    retriever: HybridRetriever, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answer_question(
        "What is the capital of Australia?", retriever=retriever, embedder=embedder, model=None
    )
    assert not answer.answerable and answer.refusal_reason == "no_relevant_passages"
    assert answer.answer == REFUSALS["no_relevant_passages"] and answer.citations == ()


def test_irrelevant_question_never_reaches_the_llm(
    llm_double: LLMDouble,
    make_model: ModelFactory,
    retriever: HybridRetriever,
    embedder: SentenceTransformerEmbedder,
) -> None:
    answer = answer_question(
        "Who won the 2018 World Cup?", retriever=retriever, embedder=embedder, model=make_model()
    )
    assert (answer.answerable, answer.refusal_reason, answer.mode) == (
        False,
        "no_relevant_passages",
        "llm",
    )
    assert llm_double.calls == 0


def test_stream_without_llm_ends_with_one_answer(
    retriever: HybridRetriever, embedder: SentenceTransformerEmbedder
) -> None:
    events = list(stream_answer(FACT_Q, retriever=retriever, embedder=embedder, model=None))
    assert [e.kind for e in events] == ["token", "answer"]
    final = events[-1].answer
    assert final is not None and events[0].text == final.answer


def test_filters_reach_retrieval(
    retriever: HybridRetriever, embedder: SentenceTransformerEmbedder
) -> None:
    answer = answer_question(
        "How much is Alibaba investing?",
        retriever=retriever,
        embedder=embedder,
        model=None,
        filters=SearchFilters(source="benzinga"),
    )
    assert answer.answerable and "$1 billion" in answer.answer
    assert {c.source for c in answer.citations} == {"Benzinga"}
    dated = answer_question(
        FACT_Q,
        retriever=retriever,
        embedder=embedder,
        model=None,
        filters=SearchFilters(since="2030-01-01"),
    )
    assert not dated.answerable and dated.passages == ()


def test_followup_is_made_standalone_without_an_llm(
    retriever: HybridRetriever, embedder: SentenceTransformerEmbedder
) -> None:
    history = [
        {"role": "user", "content": FACT_Q},
        {"role": "assistant", "content": "Alibaba will invest $15 billion [1]."},
    ]
    answer = answer_question(
        "and how many researchers?",
        retriever=retriever,
        embedder=embedder,
        model=None,
        history=history,
    )
    assert answer.standalone_question and "Alibaba" in answer.standalone_question
    assert answer.answerable and "100" in answer.answer

"""AnswerPipeline without an LLM: the answer contract, refusals, filters, follow-ups, markers
numbered 1..n in order of first appearance, and extractive streaming sentence by sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.citations import parse_markers
from newsrag.rag.pipeline import REFUSALS, AnswerPipeline, open_pipeline
from newsrag.rag.records import AnswerRequest, SearchFilters
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.settings import Settings
from newsrag.rag.vectors import CachedEmbedder
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble

FACT_Q = "How much will Alibaba invest in its overseas research hubs?"
MULTI_Q = "Which companies do the articles name as Alibaba's competitors, abroad and at home?"


@pytest.fixture(scope="module")
def pipeline(corpus_store: IndexStore) -> AnswerPipeline:
    return AnswerPipeline(HybridRetriever(corpus_store), corpus_store.dense.embedder, None, k=6)


def test_extractive_answer_contract(pipeline: AnswerPipeline) -> None:
    answer = pipeline.answer(AnswerRequest(FACT_Q))
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


def test_markers_run_one_to_n_in_order_of_first_appearance(pipeline: AnswerPipeline) -> None:
    questions = [FACT_Q, "How much is Alibaba investing?", "Who leads the DAMO Academy?"]
    for answer in (pipeline.answer(AnswerRequest(q)) for q in questions):
        markers = parse_markers(answer.answer)
        assert markers == list(range(1, len(markers) + 1)), answer.answer
        assert [c.marker for c in answer.citations][: len(markers)] == markers
        for sentence in answer.sentences:
            assert all(1 <= m <= len(answer.citations) for m in sentence.markers)


def test_off_topic_question_is_refused(pipeline: AnswerPipeline) -> None:
    answer = pipeline.answer(AnswerRequest("What is the capital of Australia?"))
    assert not answer.answerable and answer.refusal_reason == "no_relevant_passages"
    assert answer.answer == REFUSALS["no_relevant_passages"] and answer.citations == ()


def test_irrelevant_question_never_reaches_the_llm(
    llm_double: LLMDouble, make_model: ModelFactory, corpus_store: IndexStore
) -> None:
    with_llm = AnswerPipeline(
        HybridRetriever(corpus_store), corpus_store.dense.embedder, make_model()
    )
    answer = with_llm.answer(AnswerRequest("Who won the 2018 World Cup?"))
    assert (answer.answerable, answer.refusal_reason, answer.mode) == (
        False,
        "no_relevant_passages",
        "llm",
    )
    assert llm_double.calls == 0
    # no_llm answers extractively even though the pipeline holds a model.
    extractive = with_llm.answer(AnswerRequest(FACT_Q, no_llm=True))
    assert extractive.mode == "extractive" and extractive.answerable and llm_double.calls == 0


def test_extractive_stream_sends_one_token_per_sentence_then_the_answer(
    pipeline: AnswerPipeline,
) -> None:
    counts = []
    for question in (FACT_Q, MULTI_Q, "What is the capital of Australia?"):
        events = list(pipeline.stream(AnswerRequest(question)))
        final = events[-1].answer
        assert final is not None and all(e.kind == "token" for e in events[:-1])
        tokens = [e.text for e in events[:-1]]
        assert "".join(tokens) == final.answer == pipeline.answer(AnswerRequest(question)).answer
        assert len(tokens) == max(len(final.sentences), 1)
        counts.append(len(tokens))
    assert max(counts) > 1  # a two-sentence answer arrives in two events


def test_filters_reach_retrieval(pipeline: AnswerPipeline) -> None:
    answer = pipeline.answer(
        AnswerRequest("How much is Alibaba investing?", filters=SearchFilters(source="benzinga"))
    )
    assert answer.answerable and "$1 billion" in answer.answer
    assert {c.source for c in answer.citations} == {"Benzinga"}
    dated = pipeline.answer(AnswerRequest(FACT_Q, filters=SearchFilters(since="2030-01-01")))
    assert not dated.answerable and dated.passages == ()


def test_followup_is_made_standalone_without_an_llm(pipeline: AnswerPipeline) -> None:
    history = (
        {"role": "user", "content": FACT_Q},
        {"role": "assistant", "content": "Alibaba will invest $15 billion [1]."},
    )
    answer = pipeline.answer(AnswerRequest("and how many researchers?", history))
    assert answer.standalone_question and "Alibaba" in answer.standalone_question
    assert answer.answerable and "100" in answer.answer


def test_open_pipeline_takes_a_test_embedder_and_caches_vectors_on_disk(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    settings = Settings(index_dir=corpus_index_dir, vector_cache_dir=tmp_path)
    built = open_pipeline(settings, embedder=embedder)
    assert isinstance(built.embedder, CachedEmbedder) and built.embedder.inner is embedder
    assert built.store is not None and built.store.dense.embedder is built.embedder  # one road
    assert built.model is None  # no RAG_LLM_BASE_URL: extractive
    answer = built.answer(AnswerRequest(FACT_Q))
    assert answer.answerable and built.embedder.disk is not None and len(built.embedder.disk) > 0


def test_an_empty_vector_cache_dir_turns_the_disk_layer_off(
    corpus_index_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(index_dir=corpus_index_dir, vector_cache_dir="")
    assert settings.vector_cache_dir is None
    built = open_pipeline(settings, embedder=embedder, model=None)
    assert isinstance(built.embedder, CachedEmbedder) and built.embedder.disk is None


def test_a_lower_case_question_is_answered_as_if_its_names_were_capitalised(
    pipeline: AnswerPipeline,
) -> None:
    typed = pipeline.answer(AnswerRequest("how much is alibaba investing in southeast asia?"))
    assert typed.answerable and typed.short_answer == "$1 billion"
    assert not typed.conflict  # the $15 billion research programme is not Southeast Asia's
    assert typed.standalone_question is None  # read with capitals, not rewritten
    asked = pipeline.answer(AnswerRequest("Tell me about Project AsiaForward."))
    assert asked.answerable and "AsiaForward" in asked.answer


def test_last_year_counts_from_each_article_and_undated_ones_from_the_newest(
    pipeline: AnswerPipeline,
) -> None:
    # The shipped fine was in April of its article's year (2021): not last year's.
    fined = pipeline.answer(AnswerRequest("How much was Alibaba fined last year?"))
    assert not fined.answerable and fined.refusal_reason == "near_miss"
    assert pipeline.answer(AnswerRequest("How much was Alibaba fined this year?")).answerable

"""The LLM path holds to the question's constraints (scripted OpenAI-compatible TEST DOUBLE).

A naive model that never refuses and repeats the first sentence of the top passage must not
get a near miss (another year) or a counterfactual copy through as a verified answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.pipeline import AnswerPipeline
from newsrag.rag.records import AnswerRequest
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.vectors import CachedEmbedder
from tests.rag.articles import store_of
from tests.rag.conftest import ModelFactory
from tests.rag.llm_double import LLMDouble, Request, reply

PASSAGE = re.compile(
    r'<passage id="(\d+)">\n\[\d+\] \([^)]*\) Title: [^\n]*\n(.*?)\n</passage>', re.S
)

NEAR_MISSES = [
    {
        "id": "r19",
        "title": "Harbour Regatta 2019",
        "body": "Ole Brandt won the 2019 Harbour Regatta after a tight final race on Sunday.",
        "published_at": "2019-06-02",
    },
    {
        "id": "r20",
        "title": "Harbour Regatta 2020",
        "body": "Ada Lind won the 2020 Harbour Regatta in strong winds off the north pier.",
        "published_at": "2020-06-07",
    },
]
WITH_ANSWER = [
    *NEAR_MISSES,
    {
        "id": "r17",
        "title": "Harbour Regatta 2017",
        "body": "Mara Quist won the 2017 Harbour Regatta after a tight final race on Sunday.",
        "published_at": "2017-06-04",
    },
]


def naive(body: Request) -> str:
    """Repeat the first sentence of passage [1] and cite it: never refuses, never checks."""
    first = dict(PASSAGE.findall(body["messages"][-1]["content"]))["1"]
    return first.split(". ")[0].rstrip(".") + " [1]."


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> dict[str, IndexStore]:
    root: Path = tmp_path_factory.mktemp("regatta")
    for name in ("near", "answer"):
        (root / name).mkdir()
    return {
        "near": store_of(NEAR_MISSES, root / "near", embedder),
        "answer": store_of(WITH_ANSWER, root / "answer", embedder),
    }


def ask(store: IndexStore, embedder: SentenceTransformerEmbedder, model: object):  # type: ignore[no-untyped-def]
    pipeline = AnswerPipeline(HybridRetriever(store), CachedEmbedder(embedder), model, k=4)  # type: ignore[arg-type]
    return pipeline.answer(AnswerRequest("Who won the 2017 Harbour Regatta?"))


def test_the_prompt_states_the_asked_time_and_names(
    stores: dict[str, IndexStore],
    embedder: SentenceTransformerEmbedder,
    llm_double: LLMDouble,
    make_model: ModelFactory,
) -> None:
    llm_double.script(reply(naive))
    ask(stores["answer"], embedder, make_model())
    prompt = llm_double.requests[-1]["messages"][-1]["content"]
    assert "time: 2017" in prompt and "Harbour Regatta" in prompt


def test_a_naive_model_over_near_misses_is_not_passed_through(
    stores: dict[str, IndexStore],
    embedder: SentenceTransformerEmbedder,
    llm_double: LLMDouble,
    make_model: ModelFactory,
) -> None:
    llm_double.script(reply(naive))
    answer = ask(stores["near"], embedder, make_model())
    assert not answer.answerable
    assert "Ole Brandt" not in answer.answer and "Ada Lind" not in answer.answer


def test_a_naive_model_citing_the_wrong_year_falls_back_to_what_holds(
    stores: dict[str, IndexStore],
    embedder: SentenceTransformerEmbedder,
    llm_double: LLMDouble,
    make_model: ModelFactory,
) -> None:
    def wrong_year(body: Request) -> str:
        shown = dict(PASSAGE.findall(body["messages"][-1]["content"]))
        n = next(k for k, text in shown.items() if "2019" in text)
        return f"Ole Brandt won the regatta [{n}]."

    llm_double.script(reply(wrong_year))
    answer = ask(stores["answer"], embedder, make_model())
    assert "Ole Brandt" not in answer.answer
    assert answer.answerable and answer.degraded and answer.mode == "extractive"
    assert answer.short_answer == "Mara Quist"
